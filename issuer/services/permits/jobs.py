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

_frozen_lock = threading.Lock()
_frozen_jobs = 0


@contextmanager
def _old_objects_frozen() -> Iterator[None]:
    """Keep the objects the process held before the job out of the garbage collector's full
    collections while the job runs (`gc.freeze`), and give them back after (`gc.unfreeze`).

    Each batch makes tens of thousands of objects (rows, ORM states, claims) that live
    until the batch ends, so the collector's full collections come every batch or two, and
    each one walks every object of the process — the app, its modules and caches, which the
    job does not touch — for nothing. Frozen, those are left out; the job's own objects are
    still collected. A process that froze objects itself keeps its freeze; jobs running at
    once in threads freeze once, and the last to end unfreezes."""
    global _frozen_jobs
    with _frozen_lock:
        if _frozen_jobs == 0 and gc.get_freeze_count() == 0:
            gc.freeze()
            _frozen_jobs = 1
        elif _frozen_jobs:
            _frozen_jobs += 1
        owner = _frozen_jobs > 0
    try:
        yield
    finally:
        if owner:
            with _frozen_lock:
                _frozen_jobs -= 1
                if _frozen_jobs == 0:
                    gc.unfreeze()


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
    with _old_objects_frozen():
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
