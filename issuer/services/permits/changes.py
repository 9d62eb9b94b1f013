"""The one change protocol: every change of a permit is written in the same four steps.

    1. row             state, state reason, end and freed slots, flag, `updated_at`; then
                       flushed, so the permit's `version` moves by one (SQLAlchemy's version
                       counter) and a new permit is inserted
    2. token statuses  every token issued for the permit (QR codes, wallet credentials)
                       moves to the status the change asks for (revoked: INVALID, ...)
    3. audit           one hash-chained entry `permit.<event>` per permit
    4. publication     the tenant's publication version moves (plate index, trust bundle)

Every service that changes a permit describes the change as a `Change` and hands it to
`write_change` — applying, paying, renewing, replacing, finalising, suspending, resuming,
revoking, expiring, extending, flagging, and the registry's revocations. The caller sets
only the fields its change is about (a new end, a charge) before. `write_changes` writes many
permits of one tenant with each step once (the jobs). Everything runs in the caller's
transaction, after the tenant lock (`status_lists.lock_tenant`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from issuer.db.permit_models import Permit, PermitToken
from issuer.services import audit, publication, status_lists
from issuer.services.permits.vocabulary import (
    LIVE_STATES,
    SYSTEM_ACTOR,
    Event,
    Flag,
    PermitState,
)
from verifier.formats import StatusValue

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

CHUNK = 500


@dataclass(frozen=True, slots=True)
class Change:
    """What one change does to a permit (see the module docstring for the order)."""

    event: Event
    state: PermitState | None = None  # the new state, if it changes
    reason: str | None = None  # the audit entry's reason; with `state`, the state's reason
    keeps_state_reason: bool = False  # expiry keeps the reason of the state it ends
    ends: bool = False  # records the end and frees the one-per-resident/vehicle slots
    tokens: StatusValue | None = None  # every token of the permit moves to this status
    tokens_from: StatusValue | None = None  # ... only those at this status now
    flag: Flag | None = None  # marks the permit for a person's review
    publishes: bool = True  # bumps the tenant's publication version


def write_change(
    session: Session, permit: Permit, change: Change, *, actor: str, now: datetime
) -> None:
    """Write one change of one permit: row → token statuses → audit → publication."""
    write_changes(session, permit.tenant_id, [(permit, change)], actor=actor, now=now)


def write_changes(
    session: Session,
    tenant_id: int,
    changes: Sequence[tuple[Permit, Change]],
    *,
    actor: str,
    now: datetime,
) -> None:
    """Write changes of many permits of one tenant, each of the four steps once for all."""
    if not changes:
        return
    for permit, change in changes:
        set_row(permit, change, now)
    session.flush()
    _set_token_statuses(session, tenant_id, changes)
    audit.record_many(
        session,
        tenant_id=tenant_id,
        entries=[
            audit.Entry(actor, change.event.audit_action, "permit", str(permit.id), change.reason)
            for permit, change in changes
        ],
        now=now,
    )
    if any(change.publishes for _, change in changes):
        publication.bump_version(session, tenant_id)


def set_row(permit: Permit, change: Change, now: datetime) -> None:
    """The change's first step alone, for a caller that must write the row before the rest
    (a replacement frees its predecessor's slots before it takes them). Setting it again in
    `write_changes` changes nothing more."""
    # every field is set before the plates are read (reading them flushes), so the version
    # moves by one
    if change.state is not None:
        permit.state = change.state
        if not change.keeps_state_reason:
            permit.state_reason = change.reason
    if change.flag is not None:
        permit.flagged = change.flag
    if permit.updated_at != now:  # a row written already (renewals) stays untouched
        permit.updated_at = now
    if change.ends:
        permit.ended_at = now
        release_slots(permit)


def release_slots(permit: Permit) -> None:
    """Free the permit's one-per-resident and one-per-vehicle slots (its locks)."""
    permit.exclusive_key = None
    for plate in permit.plates:
        plate.lock_key = None


def _set_token_statuses(
    session: Session, tenant_id: int, changes: Sequence[tuple[Permit, Change]]
) -> None:
    groups: dict[tuple[StatusValue, StatusValue | None], list[Permit]] = {}
    for permit, change in changes:
        if change.tokens is not None:
            groups.setdefault((change.tokens, change.tokens_from), []).append(permit)
    for (value, only_from), permits in groups.items():
        entries: list[tuple[int, int]] = []
        ids = [p.id for p in permits]
        for start in range(0, len(ids), CHUNK):
            rows = session.execute(
                select(PermitToken.list_no, PermitToken.idx).where(
                    PermitToken.permit_id.in_(ids[start : start + CHUNK])
                )
            )
            entries.extend((int(list_no), int(idx)) for list_no, idx in rows)
        if entries:
            status_lists.set_statuses(
                session, tenant_id=tenant_id, entries=entries, value=value, only_from=only_from
            )


# ------------------------------------------------------------------- the common changes


def revoked(reason: str) -> Change:
    """Any live state → revoked: every token INVALID, the slots freed."""
    return Change(
        Event.REVOKED,
        state=PermitState.REVOKED,
        reason=reason,
        ends=True,
        tokens=StatusValue.INVALID,
    )


def flagged(flag: Flag, *, reason: str | None = None) -> Change:
    """Marks the permit for a person's review; nothing a handheld sees changes. The audit
    event is the flag's own for a refused automatic renewal, else `flagged`."""
    event = Event.AUTO_RENEW_REFUSED if flag is Flag.AUTO_RENEW_REFUSED else Event.FLAGGED
    return Change(event, reason=reason, flag=flag, publishes=False)


def expire(session: Session, permits: Sequence[Permit], *, now: datetime) -> int:
    """Mark live permits past their end expired (their tokens expire on their own); the
    number marked."""
    due = [p for p in permits if p.state in LIVE_STATES]
    by_tenant: dict[int, list[tuple[Permit, Change]]] = {}
    change = Change(Event.EXPIRED, state=PermitState.EXPIRED, keeps_state_reason=True, ends=True)
    for permit in due:
        by_tenant.setdefault(permit.tenant_id, []).append((permit, change))
    for tenant_id, changes in by_tenant.items():
        write_changes(session, tenant_id, changes, actor=SYSTEM_ACTOR, now=now)
    return len(due)
