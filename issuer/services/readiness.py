"""Readiness: can this process do its work? One check per dependency, each failure with a
reason code, so `/readyz` never says ready while issuing or publication would answer 503.

    check        passes when                                         reasons
    database     it answers and is migrated to the head revision     database_unreachable,
                                                                     database_not_migrated
    root_ring    the operator's root ring opens and its active       the `KeysCode` of the
                 `bundle` key loads (trust bundles)                  failure, e.g.
    tenant_keys  per tenant: its ring opens and the active keys      ring_not_found,
                 for permits (BEW), status lists, the plate index    no_active_key,
                 and credentials load                                key_file_decrypt (wrong
                                                                     passphrase or a changed
                                                                     file), passphrase_required,
                                                                     pkcs11_login, …

"Loads" means decrypted with the configured passphrase (or opened on the HSM), exactly as
signing does; a key that loaded stays loaded (the ring caches its signer), so later checks
cost a few metadata reads. A key that failed is not tried again for `RETRY_SECONDS`: the
endpoint is unauthenticated and every try costs an argon2 derivation.

The probe logs each failing check (`not_ready` with check, tenant and reason) when it is first
seen and whenever its reason changes, and `ready` once everything passes: the cause of a 503
is always in the log, and a load balancer polling `/readyz` does not flood it. The app runs
the probe once at start-up, so a wrong passphrase or a missing root ring is logged at once.

The periodic jobs (`buergerid-issuer worker`) are reported, not checked: `jobs()` gives each
job's last success and whether it is stale (no success for `worker_stale_periods` of its
periods, or never). A stale job never makes an instance unready: the instance still serves
well, and taking every instance out of the load balancer would not bring the worker back. A
job that turns stale is logged once (`job_stale`); alert on the metric
`buergerid_job_last_success_timestamp_seconds`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from issuer.db.models import Tenant
from issuer.errors import NoSigningKey
from issuer.services.signing import ROOT_PURPOSES, TENANT_PURPOSES, KeyStore
from issuer.settings import Settings
from keys.errors import KeysError
from keys.lifecycle import KeyType
from keys.ring import KeyRing

log = logging.getLogger(__name__)

RETRY_SECONDS = 30.0
DATABASE, ROOT_RING, TENANT_KEYS = "database", "root_ring", "tenant_keys"


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check: `reason` None when it passed."""

    check: str
    reason: str | None
    tenant: str | None = None  # the AGS, for tenant_keys

    def as_error(self) -> dict[str, str]:
        """The entry of the 503 problem's `errors` member."""
        entry = {"check": self.check, "code": self.reason or ""}
        if self.tenant is not None:
            entry["tenant"] = self.tenant
        return entry


@dataclass(frozen=True, slots=True)
class Readiness:
    """Every check of one probe run."""

    results: tuple[CheckResult, ...]

    @property
    def ready(self) -> bool:
        """True when every check passed."""
        return all(r.reason is None for r in self.results)

    @property
    def failures(self) -> tuple[CheckResult, ...]:
        """The checks that failed."""
        return tuple(r for r in self.results if r.reason is not None)


@dataclass(frozen=True, slots=True)
class JobFreshness:
    """A periodic job as `/readyz` reports it."""

    job: str
    last_success: datetime | None
    stale: bool


class ReadinessProbe:
    """The checks of the module docstring for one app; thread-safe, one run at a time."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        keys: KeyStore,
        *,
        check_root_ring: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._keys = keys
        self._check_root_ring = check_root_ring
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._failed_keys: dict[tuple[str, str], tuple[str, float]] = {}  # (ring, kid) -> why
        self._logged: dict[tuple[str, str | None], str] | None = None  # None: never ran
        self._stale_logged: set[str] = set()

    @cached_property
    def _head_revisions(self) -> frozenset[str]:
        from alembic.script import ScriptDirectory

        from issuer.migrations import alembic_config

        config = alembic_config(self._settings.database_url)
        return frozenset(ScriptDirectory.from_config(config).get_heads())

    def check(self, now: int) -> Readiness:
        """Run every check at unix time `now`; logs what changed since the last run."""
        with self._lock:
            results = tuple(self._run(now))
            self._log_changes(results)
        return Readiness(results)

    def _run(self, now: int) -> Iterator[CheckResult]:
        database, tenants = self._database()
        yield database
        if self._check_root_ring:
            yield CheckResult(
                ROOT_RING, self._ring(self._settings.root_key_ring, now, ROOT_PURPOSES)
            )
        for ags, ring in tenants:
            yield CheckResult(TENANT_KEYS, self._ring(ring, now, TENANT_PURPOSES), tenant=ags)

    def _database(self) -> tuple[CheckResult, list[Any]]:
        try:
            with self._sessions() as session, session.begin():
                session.execute(text("SELECT 1"))
        except SQLAlchemyError:
            return CheckResult(DATABASE, "database_unreachable"), []
        try:  # a failed statement ends a PostgreSQL transaction: one transaction per question
            with self._sessions() as session, session.begin():
                versions = set(session.scalars(text("SELECT version_num FROM alembic_version")))
                if versions != self._head_revisions:
                    return CheckResult(DATABASE, "database_not_migrated"), []
                tenants = list(session.execute(select(Tenant.ags, Tenant.key_ring)).all())
        except SQLAlchemyError:  # no alembic_version table (never migrated), or no tenants
            return CheckResult(DATABASE, "database_not_migrated"), []
        return CheckResult(DATABASE, None), tenants

    def _ring(self, relative: str, now: int, purposes: tuple[KeyType, ...]) -> str | None:
        """None when every purpose has an active key that loads, else the reason code."""
        try:
            ring: KeyRing = self._keys.ring(relative)
            kids = sorted({ring.active(now, purpose).kid for purpose in purposes})
        except NoSigningKey as exc:  # no ring: the KeysCode is the detail
            return exc.detail or exc.code.value
        except KeysError as exc:
            return exc.code.value
        ring_path = ring.location
        for kid in kids:
            failed = self._failed_keys.get((ring_path, kid))
            if failed is not None and failed[1] > self._monotonic():
                return failed[0]
            try:
                ring.signer(kid)
            except KeysError as exc:
                self._failed_keys[(ring_path, kid)] = (
                    exc.code.value,
                    self._monotonic() + RETRY_SECONDS,
                )
                return exc.code.value
            self._failed_keys.pop((ring_path, kid), None)
        return None

    def jobs(self, now: datetime) -> list[JobFreshness]:
        """Each periodic job's last success and staleness (empty when the database is away)."""
        from issuer.db.job_models import WorkerJob
        from issuer.worker.jobs import JOBS, interval_of

        try:
            with self._sessions() as session, session.begin():
                rows = {r.name: r.succeeded_at for r in session.scalars(select(WorkerJob))}
        except SQLAlchemyError:
            return []
        out = []
        for job in JOBS:
            last = rows.get(job.name)
            bound = timedelta(seconds=interval_of(job, self._settings) * self._stale_periods)
            stale = last is None or now - last > bound
            out.append(JobFreshness(job.name, last, stale))
        with self._lock:
            for item in out:
                if item.stale and item.job not in self._stale_logged:
                    log.warning("job_stale", extra={"job": item.job})
                    self._stale_logged.add(item.job)
                elif not item.stale:
                    self._stale_logged.discard(item.job)
        return out

    @property
    def _stale_periods(self) -> int:
        return int(getattr(self._settings, "worker_stale_periods", 3))

    def _log_changes(self, results: tuple[CheckResult, ...]) -> None:
        first_run = self._logged is None
        before = self._logged or {}
        now_failing = {(r.check, r.tenant): r.reason or "" for r in results if r.reason}
        for result in results:
            if result.reason and before.get((result.check, result.tenant)) != result.reason:
                log.error(
                    "not_ready",
                    extra={"check": result.check, "tenant": result.tenant, "reason": result.reason},
                )
        if not now_failing and (first_run or before):
            log.info("ready", extra={"checks": len(results)})
        self._logged = now_failing
