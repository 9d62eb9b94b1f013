"""A permit row written straight into the database, for tests that need one to exist without
applying for it (the wallet's tests: a resident who already holds a permit).

The row is what `issuer.services.permits.apply` would leave for a resident permit (BEW) with
one registry-free plate: the resident's and the plate's one-permit slots held, the legal
basis of the type, and for a permit awaiting payment its open charge.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from issuer.db.permit_models import Permit, PermitCharge, PermitPlate
from issuer.services.permits.vocabulary import ChargeReason, PermitState, legal_basis
from verifier import PermitType


def seed_permit(
    session: Session,
    *,
    tenant_id: int,
    number: int,
    resident_id: uuid.UUID,
    plate: str,
    valid_from: datetime,
    valid_until: datetime,
    now: datetime,
    state: PermitState = PermitState.ACTIVE,
    zone: str = "A3",
    open_charge_cents: int | None = None,
) -> uuid.UUID:
    """Write a resident permit of `resident_id` for `plate` (canonical); its id."""
    kind = PermitType.BEW
    permit = Permit(
        tenant_id=tenant_id,
        number=number,
        permit_type=kind,
        state=state,
        resident_id=resident_id,
        zone_codes=[zone],
        valid_from=valid_from,
        valid_until=valid_until,
        legal_basis=legal_basis(kind),
        exclusive_key=str(resident_id),
        created_at=now,
        updated_at=now,
    )
    permit.plates = [
        PermitPlate(tenant_id=tenant_id, permit_type=kind, position=0, plate=plate, lock_key=plate)
    ]
    if open_charge_cents is not None:
        permit.charges = [
            PermitCharge(
                tenant_id=tenant_id,
                reason=ChargeReason.ISSUE,
                amount_cents=open_charge_cents,
                created_at=now,
            )
        ]
    session.add(permit)
    session.flush()
    return permit.id
