"""Offers as the municipal API makes them: which configurations a subject gets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from issuer.db.models import Tenant
from issuer.errors import InvalidRequest, NotFound
from wallet_api.schemas.offers import OfferIn
from wallet_api.services import bridge
from wallet_api.services.configurations import PERMIT_QR
from wallet_api.services.offers import CreatedOffer, create_offer
from wallet_api.services.policy import WalletPolicy
from wallet_api.services.sd_jwt_vc import PARKING_PERMIT, RESIDENCE


def offer_for(
    session: Session,
    *,
    tenant: Tenant,
    body: OfferIn,
    credential_issuer: str,
    now: datetime,
    policy: WalletPolicy,
) -> CreatedOffer:
    """Check the subject belongs to the tenant (404 otherwise) and create the offer."""
    if body.kind == "residence":
        assert body.resident_id is not None
        resident = bridge.find_resident(session, tenant_id=tenant.id, resident_id=body.resident_id)
        if resident is None:
            raise NotFound()
        resident_id, permit_id = resident.id, None
        configurations = [f"{tenant.ags}.{RESIDENCE}"]
    else:
        assert body.permit_id is not None
        permit = bridge.find_permit(session, tenant=tenant, permit_id=body.permit_id)
        if permit is None:
            raise NotFound()
        if permit.resident_id is None:
            raise InvalidRequest(detail="the permit has no resident holder")
        if permit.state != "active":
            raise InvalidRequest(detail="only an active permit can be offered")
        resident_id, permit_id = permit.resident_id, permit.id
        configurations = [f"{tenant.ags}.{PARKING_PERMIT}", f"{tenant.ags}.{PERMIT_QR}"]
    return create_offer(
        session,
        tenant_id=tenant.id,
        resident_id=resident_id,
        permit_id=permit_id,
        configuration_ids=configurations,
        credential_issuer=credential_issuer,
        now=now,
        policy=policy,
        ttl_seconds=body.ttl_seconds,
        tx_code_digits=body.tx_code_digits,
    )
