"""The periodic jobs: what each does, and how often by default (seconds; `worker_intervals`
in the settings overrides any of them).

    job                 every   does
    expire_permits      300     live permits past their end become expired (status lists too)
    auto_renew          3600    permits with automatic renewal that are due are renewed
    retention           86400   personal data past the tenants' retention periods is erased
    idempotency_purge   3600    stored Idempotency-Key answers older than idempotency_keep_hours
    status_lists        300     lists whose statuses changed are re-signed (well within their
                                `ttl`), the others `status_list_refresh_seconds` after the last
                                signature, long before they expire
    trust_bundle        900     a new bundle when keys, tenants or lists changed, or half its
                                freshness period passed, so it is renewed before `fresh_until`
    plate_indexes       60      a tenant's plate index when none was built yet, permits changed
                                (at most every 5 minutes) or half its lifetime passed
    key_rotation        21600   a ring whose active key stops signing within
                                `key_rotation_lead_seconds` gets its successor (keys/lifecycle.py
                                plans it), published well before it signs

Every job calls the services' public functions and is idempotent: a second run in the same
period finds nothing to do. Work per tenant runs in a transaction of its own, so one tenant's
failure (a missing key, say) leaves the others' work done; the job then counts as failed and
is retried. Results are counts, never personal data.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from issuer.db.models import Tenant
from issuer.db.session import transaction
from issuer.errors import IssuerError
from issuer.services import audit
from keys.errors import KeysError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from issuer.services.signing import KeyStore
    from issuer.settings import Settings

ACTOR = "worker"


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a job gets: the settings, the key store, sessions and the instant it runs at."""

    settings: Settings
    keys: KeyStore
    sessions: sessionmaker[Session]
    now: datetime


@dataclass(slots=True)
class JobResult:
    """Counts of what a job did, and the failures of its steps (codes, AGS, never data)."""

    counts: dict[str, int] = field(default_factory=dict)
    errors: list[dict[str, str]] = field(default_factory=list)

    def add(self, name: str, n: int) -> None:
        """Add `n` to the count `name`."""
        self.counts[name] = self.counts.get(name, 0) + int(n)


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic job: its name, default period and function."""

    name: str
    interval: int
    run: Callable[[JobContext], JobResult]
    help: str


def error_code(exc: BaseException) -> str:
    """A stable, data-free code for a failure: the problem or key code, else the type."""
    if isinstance(exc, IssuerError | KeysError):
        return str(getattr(exc.code, "value", exc.code))[:64]
    if isinstance(exc, SQLAlchemyError):
        return "database_error"
    return type(exc).__name__[:64]


def _tenants(ctx: JobContext) -> list[tuple[int, str]]:
    with transaction(ctx.sessions) as session:
        return [(int(i), str(a)) for i, a in session.execute(select(Tenant.id, Tenant.ags))]


def for_each_tenant(
    ctx: JobContext, step: Callable[[Session, Tenant, JobResult], None]
) -> JobResult:
    """Run `step` for every tenant, each in a transaction of its own; a failing tenant is
    recorded (AGS and code) and the others go on."""
    result = JobResult()
    for tenant_id, ags in _tenants(ctx):
        try:
            with transaction(ctx.sessions) as session:
                tenant = session.get(Tenant, tenant_id)
                if tenant is not None:
                    step(session, tenant, result)
        except Exception as exc:  # one tenant's failure must not stop the others
            result.errors.append({"tenant": ags, "code": error_code(exc)})
    return result


# ------------------------------------------------------------------------ the jobs


def expire_permits(ctx: JobContext) -> JobResult:
    """Live permits past their end become expired."""
    from issuer.services import permits

    def step(session: Session, tenant: Tenant, result: JobResult) -> None:
        result.add("expired", permits.expire_due(session, tenant_id=tenant.id, now=ctx.now))

    return for_each_tenant(ctx, step)


def auto_renew(ctx: JobContext) -> JobResult:
    """Permits with automatic renewal that are due are renewed (refusals are flagged)."""
    from issuer.services import permits

    def step(session: Session, tenant: Tenant, result: JobResult) -> None:
        counts = permits.auto_renew(
            session, ctx.keys, tenant_id=tenant.id, actor=ACTOR, now=ctx.now
        )
        for name, n in counts.items():
            result.add(name, n)

    return for_each_tenant(ctx, step)


def retention(ctx: JobContext) -> JobResult:
    """Personal data past each tenant's retention period is erased or pseudonymised."""
    from issuer.services import retention as service

    def step(session: Session, tenant: Tenant, result: JobResult) -> None:
        for report in service.run(session, now=ctx.now, tenant_id=tenant.id, actor=ACTOR):
            for name, n in report.counts().items():
                result.add(name, n)

    return for_each_tenant(ctx, step)


def idempotency_purge(ctx: JobContext) -> JobResult:
    """Stored Idempotency-Key answers older than `idempotency_keep_hours` are deleted."""
    from issuer.middleware import purge_idempotency_records

    before = ctx.now - timedelta(hours=ctx.settings.idempotency_keep_hours)
    result = JobResult()
    with transaction(ctx.sessions) as session:
        result.add("purged", purge_idempotency_records(session, before=before))
    return result


def status_lists(ctx: JobContext) -> JobResult:
    """Every list that changed or nears its refresh is signed again."""
    from issuer.services import status_lists as service

    refresh = service.status_refresh(ctx.settings)

    def step(session: Session, tenant: Tenant, result: JobResult) -> None:
        for row in service.tenant_lists(session, tenant_id=tenant.id):
            if service.needs_rebuild(row, ctx.now, refresh):
                service.ensure_built(session, ctx.keys, tenant=tenant, row=row, now=ctx.now)
                result.add("signed", 1)

    return for_each_tenant(ctx, step)


def trust_bundle(ctx: JobContext) -> JobResult:
    """A new trust bundle when what it embeds changed or half its freshness period passed."""
    from issuer.services import publication

    result = JobResult()
    with transaction(ctx.sessions) as session:
        before = publication.latest_bundle(session)
        record = publication.trust_bundle(session, ctx.keys, now=ctx.now)
        result.add("built", int(before is None or record.seq != before.seq))
    return result


def plate_indexes(ctx: JobContext) -> JobResult:
    """Each tenant's plate index is built when due; handhelds get the last one built."""
    from issuer.services import plate_index

    def step(session: Session, tenant: Tenant, result: JobResult) -> None:
        built = plate_index.refresh(session, ctx.keys, tenant=tenant, now=ctx.now)
        result.add("built", int(built))

    return for_each_tenant(ctx, step)


def rotation_due(records: list[Any], at: int, lead: int) -> bool:
    """A ring needs its next key when none is pending and every active key stops signing
    within `lead` seconds (or none is active at all)."""
    from keys.lifecycle import KeyState

    if any(r.state is KeyState.PENDING for r in records):
        return False
    active = [r for r in records if r.state is KeyState.ACTIVE]
    if not active:
        return True
    return bool(max(r.window.sign_until for r in active) - at <= lead)


def key_rotation(ctx: JobContext) -> JobResult:
    """Rings whose active keys stop signing soon get their successor (audited with its kid)."""
    at = int(ctx.now.timestamp())
    lead = ctx.settings.key_rotation_lead_seconds
    result = JobResult()
    with transaction(ctx.sessions) as session:
        targets: list[tuple[int | None, str, str]] = [
            (int(i), str(a), str(r))
            for i, a, r in session.execute(select(Tenant.id, Tenant.ags, Tenant.key_ring))
        ]
    targets.append((None, "root", ctx.settings.root_key_ring))
    for tenant_id, label, relative in targets:
        try:
            ring = ctx.keys.ring(relative)
            if not rotation_due(ring.records(at), at, lead):
                continue
            kid = ctx.keys.rotate(relative, now=ctx.now)
            if kid is None:
                continue
            with transaction(ctx.sessions) as session:
                audit.record(
                    session,
                    tenant_id=tenant_id,
                    actor=ACTOR,
                    action="keys.rotated",
                    object_type="key_ring",
                    object_id=kid,
                    now=ctx.now,
                )
            result.add("rotated", 1)
        except Exception as exc:  # one ring's failure must not stop the others
            result.errors.append({"tenant": label, "code": error_code(exc)})
    return result


JOBS: tuple[Job, ...] = (
    Job("expire_permits", 300, expire_permits, "live permits past their end expire"),
    Job("auto_renew", 3600, auto_renew, "due permits with automatic renewal are renewed"),
    Job("retention", 86400, retention, "personal data past retention is erased"),
    Job("idempotency_purge", 3600, idempotency_purge, "old Idempotency-Key answers go"),
    Job("status_lists", 300, status_lists, "changed or ageing status lists are re-signed"),
    Job("trust_bundle", 900, trust_bundle, "the trust bundle is renewed before fresh_until"),
    Job("plate_indexes", 60, plate_indexes, "plate indexes are built for the handhelds"),
    Job("key_rotation", 21600, key_rotation, "keys that stop signing soon get successors"),
)
JOB_NAMES = tuple(job.name for job in JOBS)


def interval_of(job: Job, settings: Settings) -> int:
    """The job's period in seconds: the settings' override, else its default."""
    return int(settings.worker_intervals.get(job.name, job.interval))


def select_jobs(names: list[str] | None) -> tuple[Job, ...]:
    """The jobs named (all when None); an unknown name raises ValueError."""
    if not names:
        return JOBS
    unknown = sorted(set(names) - set(JOB_NAMES))
    if unknown:
        raise ValueError("unknown job: " + ", ".join(unknown))
    return tuple(job for job in JOBS if job.name in names)
