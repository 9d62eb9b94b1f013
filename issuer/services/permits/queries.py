"""Finding permits: one for a change (locked), one to read, a tenant's list."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from issuer.db.models import Resident
from issuer.db.permit_models import Permit, PermitPlate
from issuer.errors import Conflict, ErrorCode, NotFound
from issuer.services import status_lists
from issuer.services.permits.rules import canonical_plates
from issuer.services.permits.vocabulary import TRANSITIONS, Action

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


def get_permit(
    session: Session, *, tenant_id: int, permit_id: uuid.UUID, for_update: bool = False
) -> Permit:
    """A permit of this tenant (row-locked for a change, after the tenant lock), else 404
    permit_not_found."""
    stmt = select(Permit).where(Permit.id == permit_id, Permit.tenant_id == tenant_id)
    if for_update:
        status_lists.lock_tenant(session, tenant_id)
        stmt = stmt.with_for_update()
    permit = session.scalar(stmt)
    if permit is None:
        raise NotFound(ErrorCode.PERMIT_NOT_FOUND)
    if for_update:
        session.refresh(permit)
    return permit


def lock_for_change(
    session: Session,
    *,
    tenant_id: int,
    permit_id: uuid.UUID,
    action: Action,
    expected_version: int | None = None,
) -> Permit:
    """The permit, locked, if `action` may start from its state (409 illegal_transition) and
    it is at `expected_version` when one is given (409 stale_version)."""
    permit = get_permit(session, tenant_id=tenant_id, permit_id=permit_id, for_update=True)
    require(permit, action, expected_version)
    return permit


def require(permit: Permit, action: Action, expected_version: int | None = None) -> None:
    """409 stale_version or illegal_transition unless `action` may start from the permit."""
    if expected_version is not None and permit.version != expected_version:
        raise Conflict(ErrorCode.STALE_VERSION)
    if permit.state not in TRANSITIONS[action]:
        raise Conflict(ErrorCode.ILLEGAL_TRANSITION, f"{action} from {permit.state}")


def list_permits(
    session: Session,
    *,
    tenant_id: int,
    state: str | None = None,
    resident_id: uuid.UUID | None = None,
    plate: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Permit]:
    """A tenant's permits; residents with a register block are never listed."""
    stmt = (
        select(Permit)
        .outerjoin(Resident, Resident.id == Permit.resident_id)
        .where(Permit.tenant_id == tenant_id)
        .where((Resident.id.is_(None)) | (Resident.register_block.is_(False)))
    )
    if state is not None:
        stmt = stmt.where(Permit.state == state)
    if resident_id is not None:
        stmt = stmt.where(Permit.resident_id == resident_id)
    if plate is not None:
        plates = canonical_plates([plate])
        stmt = stmt.join(PermitPlate, PermitPlate.permit_id == Permit.id).where(
            PermitPlate.plate == plates[0]
        )
    stmt = (
        stmt.options(selectinload(Permit.plates), selectinload(Permit.charges))
        .order_by(Permit.number)
        .limit(min(limit, 1000))
        .offset(offset)
    )
    return list(session.scalars(stmt))
