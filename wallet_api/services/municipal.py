"""Offers as the municipal API makes them: which configurations a subject gets, by value or
by reference; a permit still awaiting payment can be offered (its credentials are deferred
until it is paid)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from issuer.db.models import Tenant
from issuer.errors import InvalidRequest, NotFound
from issuer.services.permits.vocabulary import PermitState
from wallet_api.models import WalletOffer
from wallet_api.schemas.offers import OfferIn
from wallet_api.services import bridge
from wallet_api.services.configurations import PERMIT_QR
from wallet_api.services.offer_references import create_reference, offer_uri_for
from wallet_api.services.offers import CreatedOffer, create_offer, offer_url_by_reference
from wallet_api.services.policy import WalletPolicy
from wallet_api.services.sd_jwt_vc import PARKING_PERMIT, RESIDENCE

OFFERABLE_PERMIT_STATES = (PermitState.ACTIVE, PermitState.AWAITING_PAYMENT)


@dataclass(frozen=True, slots=True)
class MunicipalOffer:
    """An offer as the municipality hands it out (by value or by reference)."""

    created: CreatedOffer
    delivery: str
    credential_offer_url: str
    credential_offer_uri: str | None
    uri_expires_at: datetime | None


def offer_for(
    session: Session,
    *,
    tenant: Tenant,
    body: OfferIn,
    credential_issuer: str,
    now: datetime,
    policy: WalletPolicy,
) -> MunicipalOffer:
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
        if permit.state not in OFFERABLE_PERMIT_STATES:
            raise InvalidRequest(detail="only an active permit or one awaiting payment")
        resident_id, permit_id = permit.resident_id, permit.id
        configurations = [f"{tenant.ags}.{PARKING_PERMIT}", f"{tenant.ags}.{PERMIT_QR}"]
    created = create_offer(
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
    if body.delivery == "value":
        return MunicipalOffer(created, "value", created.credential_offer_url, None, None)
    offer = session.get(WalletOffer, created.offer_id)
    assert offer is not None
    token, uri_expires_at = create_reference(session, offer=offer, now=now, policy=policy)
    uri = offer_uri_for(credential_issuer, token)
    return MunicipalOffer(created, "reference", offer_url_by_reference(uri), uri, uri_expires_at)
