"""The permit jobs a scheduler (or `POST /api/v1/permits:run-jobs`) runs: expiry and
automatic renewal. Each is one public function taking a Session and `now`, and runs in the
caller's transaction; retention (issuer/services/retention.py) expires first too.

Both work in batches of `BATCH` permits: the facts of a batch are read with one statement
per kind, its changes written with each step of the change protocol once, and its QR tokens
signed together, so renewing 100,000 permits takes seconds per ten thousand, not hours.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, or_, select, text
from sqlalchemy.orm import selectinload

from issuer import collector
from issuer.db.models import Tenant
from issuer.db.permit_models import Permit
from issuer.errors import IssuerError
from issuer.services import status_lists
from issuer.services.permits.changes import expire, flagged, write_changes
from issuer.services.permits.issuance import renew_many
from issuer.services.permits.rules import tenant_rules
from issuer.services.permits.vocabulary import LIVE_STATES, Flag, PermitState

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.orm import Session

    from issuer.services.signing import KeyStore

BATCH = 2000

# the collector's setting while batches run (see `_collector_for_batches`)
FULL_COLLECTION_EVERY = 100  # young collections between full ones (Python's default: 10)
_collector_lock = threading.Lock()
_collector_jobs = 0
_collector_saved = (700, 10, 10)


@contextmanager
def _collector_for_batches() -> Iterator[None]:
    """Set the garbage collector for a job of many batches while it runs, and back after.

    Each batch makes tens of thousands of objects (rows, ORM states, claims) that live until
    the batch ends; they are promoted to the oldest generation, and with Python's defaults a
    full collection followed every batch or two, each walking every object of the process.
    While the job runs, the objects the process held before (the app, its modules and
    caches, which the job does not touch) are frozen (`issuer.collector.frozen`; in a
    server they already are), and a full collection waits for `FULL_COLLECTION_EVERY` young
    ones instead of 10; the job's own garbage is still collected, a few batches later at
    most. Jobs running at once in threads set this once, and the last to end restores it."""
    global _collector_jobs, _collector_saved
    with _collector_lock:
        if _collector_jobs == 0:
            _collector_saved = gc.get_threshold()
            young, middle, full = _collector_saved
            gc.set_threshold(young, middle, max(full, FULL_COLLECTION_EVERY))
        _collector_jobs += 1
    try:
        with collector.frozen():
            yield
    finally:
        with _collector_lock:
            _collector_jobs -= 1
            if _collector_jobs == 0:
                gc.set_threshold(*_collector_saved)


def _batches(ids: Sequence[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    for start in range(0, len(ids), BATCH):
        yield list(ids[start : start + BATCH])


def _locked(session: Session, ids: list[uuid.UUID]) -> list[Permit]:
    return list(
        session.scalars(
            select(Permit)
            .where(Permit.id.in_(ids))
            .options(selectinload(Permit.plates))
            .order_by(Permit.number)
            .with_for_update()
        )
    )


def expire_due(session: Session, *, tenant_id: int | None = None, now: datetime) -> int:
    """Mark live permits past their end expired, of one tenant or of all (also done lazily
    when an application meets one); the number expired."""
    if tenant_id is None:
        tenants = list(session.scalars(select(Tenant.id).order_by(Tenant.id)))
    else:
        tenants = [tenant_id]
    count = 0
    for tid in tenants:
        status_lists.lock_tenant(session, tid)
        ids = list(
            session.scalars(
                select(Permit.id)
                .where(
                    Permit.tenant_id == tid,
                    Permit.state.in_(LIVE_STATES),
                    Permit.valid_until <= now,
                )
                .order_by(Permit.number)
            )
        )
        for batch in _batches(ids):
            count += expire(session, _locked(session, batch), now=now)
    return count


def auto_renew(
    session: Session, keys: KeyStore, *, tenant_id: int, actor: str, now: datetime
) -> dict[str, int]:
    """Renew the tenant's `auto_renew` permits that are due (the type's
    `auto_renew_days_before`, within its renewal window), each for its current duration.

    A permit whose renewal is refused is flagged (`auto_renew_refused`) and audited with the
    rule codes; the others are renewed. Answers the counts `renewed` and `refused`."""
    status_lists.lock_tenant(session, tenant_id)
    rules = tenant_rules(session, tenant_id=tenant_id)
    due = or_(
        *(
            and_(
                Permit.permit_type == kind,
                Permit.valid_until
                <= now + timedelta(days=min(r.auto_renew_days_before, r.renewal_window_days)),
            )
            for kind, r in rules.items()
        )
    )
    ids = list(
        session.scalars(
            select(Permit.id)
            .where(
                Permit.tenant_id == tenant_id,
                Permit.state == PermitState.ACTIVE,
                Permit.auto_renew.is_(True),
                Permit.valid_until > now,
                due,
            )
            .order_by(Permit.number)
        )
    )
    if len(ids) > BATCH:
        _refresh_statistics(session)
    renewed = refused = 0
    with _collector_for_batches():
        for batch in _batches(ids):
            permits = _locked(session, batch)
            outcomes = renew_many(
                session,
                keys,
                tenant_id=tenant_id,
                permits=permits,
                months=None,
                actor=actor,
                now=now,
            )
            flags = [
                (permit, flagged(Flag.AUTO_RENEW_REFUSED, reason=_codes(outcome)))
                for permit, outcome in zip(permits, outcomes, strict=True)
                if isinstance(outcome, IssuerError)
            ]
            write_changes(session, tenant_id, flags, actor=actor, now=now)
            refused += len(flags)
            renewed += len(permits) - len(flags)
            # written and flushed: the batch leaves the session, which stays small over 100,000
            for permit in permits:
                session.expunge(permit)
    return {"renewed": renewed, "refused": refused}


def _refresh_statistics(session: Session) -> None:
    """PostgreSQL plans each batch's look-ups (the live permits holding a resident's or a
    plate's slot) from its table statistics. Right after a bulk load of permits there are none
    yet (autovacuum analyses later), and it would then scan both tables for every batch, so a
    job about to judge many permits has them analysed first (a sample; reads and writes go on)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE permits, permit_plates"))


def _codes(error: IssuerError) -> str:
    return ",".join(e.get("code", "") for e in error.errors)
