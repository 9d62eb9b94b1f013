"""Changes of an existing permit that judge no application: payment, suspension, resumption,
revocation, a tenant-wide extension of validity, and the registry's revocations and flags.

Each is one `Change` written by the change protocol (issuer/services/permits/changes.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from issuer.db.models import Tenant
from issuer.db.permit_models import Permit
from issuer.errors import Conflict, ErrorCode, InvalidRequest, NoSigningKey
from issuer.services import audit, status_lists
from issuer.services.clock import as_utc
from issuer.services.permits.changes import Change, revoked, write_change, write_changes
from issuer.services.permits.issuance import Issued
from issuer.services.permits.queries import lock_for_change
from issuer.services.permits.rules import rules_for
from issuer.services.permits.tokens import issue_qr_token, tokens_of
from issuer.services.permits.vocabulary import Action, Event, PermitState
from keys.lifecycle import Purpose
from verifier import PermitType
from verifier.formats import StatusValue

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from issuer.services.signing import KeyStore


def record_payment(
    session: Session,
    keys: KeyStore,
    *,
    tenant_id: int,
    permit_id: uuid.UUID,
    amount_cents: int,
    payment_ref: str,
    actor: str,
    now: datetime,
) -> Issued:
    """The payment provider's callback: marks the open charge paid, activates the permit."""
    permit = lock_for_change(session, tenant_id=tenant_id, permit_id=permit_id, action=Action.PAY)
    open_charges = [c for c in permit.charges if c.paid_at is None]
    if not open_charges:
        # a repeated callback with the same reference is answered, not refused
        if any(c.payment_ref == payment_ref for c in permit.charges):
            return Issued(permit=permit)
        raise Conflict(ErrorCode.ILLEGAL_TRANSITION, "nothing to pay")
    charge = open_charges[-1]
    if charge.amount_cents != amount_cents:
        raise InvalidRequest(ErrorCode.PAYMENT_MISMATCH)
    charge.paid_at = now
    charge.payment_ref = payment_ref
    activates = permit.state == PermitState.AWAITING_PAYMENT
    change = Change(
        Event.PAID, state=PermitState.ACTIVE if activates else None, keeps_state_reason=True
    )
    write_change(session, permit, change, actor=actor, now=now)
    qr = None
    if permit.state == PermitState.ACTIVE and not tokens_of(session, permit):
        qr = issue_qr_token(session, keys, permit=permit, now=now)
    return Issued(permit=permit, qr=qr)


def suspend(
    session: Session,
    *,
    tenant_id: int,
    permit_id: uuid.UUID,
    reason: str,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
) -> Permit:
    """active → suspended; every VALID token index of the permit becomes SUSPENDED."""
    permit = lock_for_change(
        session,
        tenant_id=tenant_id,
        permit_id=permit_id,
        action=Action.SUSPEND,
        expected_version=expected_version,
    )
    change = Change(
        Event.SUSPENDED,
        state=PermitState.SUSPENDED,
        reason=reason,
        tokens=StatusValue.SUSPENDED,
        tokens_from=StatusValue.VALID,
    )
    write_change(session, permit, change, actor=actor, now=now)
    return permit


def resume(
    session: Session,
    *,
    tenant_id: int,
    permit_id: uuid.UUID,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
) -> Permit:
    """suspended → active; the SUSPENDED token indices go back to VALID (a token revoked on
    its own, a lost phone's credential, stays revoked)."""
    permit = lock_for_change(
        session,
        tenant_id=tenant_id,
        permit_id=permit_id,
        action=Action.RESUME,
        expected_version=expected_version,
    )
    change = Change(
        Event.RESUMED,
        state=PermitState.ACTIVE,
        tokens=StatusValue.VALID,
        tokens_from=StatusValue.SUSPENDED,
    )
    write_change(session, permit, change, actor=actor, now=now)
    return permit


def revoke(
    session: Session,
    *,
    tenant_id: int,
    permit_id: uuid.UUID,
    reason: str,
    actor: str,
    now: datetime,
    expected_version: int | None = None,
) -> Permit:
    """Any live state → revoked with a reason code; every token index becomes INVALID."""
    permit = lock_for_change(
        session,
        tenant_id=tenant_id,
        permit_id=permit_id,
        action=Action.REVOKE,
        expected_version=expected_version,
    )
    write_change(session, permit, revoked(reason), actor=actor, now=now)
    return permit


def revoke_locked(
    session: Session, permit: Permit, *, reason: str, actor: str, now: datetime
) -> None:
    """Revoke a live permit its caller already locked (the registry's revocations)."""
    write_change(session, permit, revoked(reason), actor=actor, now=now)


def extend_validity(
    session: Session,
    keys: KeyStore,
    *,
    tenant_id: int,
    permit_type: str,
    ending_from: datetime,
    ending_before: datetime,
    new_until: datetime,
    reason: str,
    actor: str,
    now: datetime,
) -> list[uuid.UUID]:
    """Tenant-wide: permits ending in [from, before) stay valid until `new_until` (Münster).

    Expired permits in that range come back to active (unless their resident or plate holds
    another live permit meanwhile). New QR tokens are issued when fetched next.

    Bounded like a new permit: `new_until` at most the type's maximum validity after `now`
    (422 extension_too_long), and not after the end of the keys that sign the type's QR
    tokens and the wallet's credentials now (422 validity_beyond_key).
    """
    if new_until <= ending_from:
        raise Conflict(ErrorCode.ILLEGAL_TRANSITION, "new_until")
    rules = rules_for(session, tenant_id=tenant_id, permit_type=permit_type)
    max_days = rules.max_validity_days
    if permit_type == PermitType.BES:
        max_days = min(max_days, rules.visitor_max_days)
    if new_until > now + timedelta(days=max_days):
        raise InvalidRequest(ErrorCode.EXTENSION_TOO_LONG, f"at most {max_days} days from now")
    tenant = session.get(Tenant, tenant_id)
    assert tenant is not None
    until = int(new_until.timestamp())
    if until > keys.key_end(tenant, permit_type, now):
        raise InvalidRequest(ErrorCode.VALIDITY_BEYOND_KEY, "the signing key ends earlier")
    try:  # the wallet's credentials of these permits, where the tenant issues any
        if until > keys.key_end(tenant, Purpose.CREDENTIAL, now):
            raise InvalidRequest(ErrorCode.VALIDITY_BEYOND_KEY, "the signing key ends earlier")
    except NoSigningKey:
        pass
    status_lists.lock_tenant(session, tenant_id)
    rows = session.scalars(
        select(Permit)
        .where(
            Permit.tenant_id == tenant_id,
            Permit.permit_type == permit_type,
            Permit.state.in_((PermitState.ACTIVE, PermitState.SUSPENDED, PermitState.EXPIRED)),
            Permit.valid_until >= ending_from,
            Permit.valid_until < ending_before,
        )
        .options(selectinload(Permit.plates))
        .with_for_update()
    ).all()
    extended: list[tuple[Permit, Change]] = []
    change = Change(Event.VALIDITY_EXTENDED, reason=reason)
    for permit in rows:
        if as_utc(permit.valid_until) >= new_until:
            continue
        try:
            with session.begin_nested():
                if permit.state == PermitState.EXPIRED:
                    # back to active: it takes its slots again, if nobody took them meanwhile
                    permit.state = PermitState.ACTIVE
                    permit.ended_at = None
                    if rules.one_per_resident and permit.resident_id:
                        permit.exclusive_key = str(permit.resident_id)
                    for plate in permit.plates:
                        plate.lock_key = plate.plate if rules.one_per_vehicle else None
                permit.valid_until = new_until
                permit.updated_at = now
                session.flush()
        except IntegrityError:
            session.refresh(permit)
            continue
        extended.append((permit, change))
    write_changes(session, tenant_id, extended, actor=actor, now=now)
    audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="permits.validity_extended",
        object_type="tenant",
        object_id=str(tenant_id),
        reason=f"{reason}; count={len(extended)}",
        now=now,
    )
    return [permit.id for permit, _ in extended]
