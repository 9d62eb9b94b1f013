"""Wallet functions of the municipal API (API key, tenant scoped, issuer dependencies).

POST   /api/v1/offers                          permits:issue   create a credential offer
GET    /api/v1/residents/{id}/devices          permits:issue | permits:revoke
DELETE /api/v1/devices/{id}                    permits:revoke  a lost phone: end and revoke all
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from issuer.deps import ClockDep, SessionDep, TenantDep, require_scope
from issuer.errors import NotFound
from issuer.services.clients import Principal
from wallet_api.deps import get_state
from wallet_api.schemas.devices import DeviceOut, device_out
from wallet_api.schemas.offers import DeviceRemovedOut, OfferIn, OfferOut
from wallet_api.services import bridge
from wallet_api.services.devices import list_devices, remove_device
from wallet_api.services.municipal import offer_for

router = APIRouter(prefix="/api/v1", tags=["wallet (municipal)"])

Issuer = Annotated[Principal, Depends(require_scope("permits:issue"))]
Revoker = Annotated[Principal, Depends(require_scope("permits:revoke"))]
Reader = Annotated[Principal, Depends(require_scope("permits:issue", "permits:revoke"))]


@router.post("/offers", status_code=201)
def create_offer(
    body: OfferIn,
    request: Request,
    principal: Issuer,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> OfferOut:
    """A credential offer for a resident's Bürger-ID or a permit; the tx_code is shown once."""
    state = get_state(request)
    created = offer_for(
        session,
        tenant=tenant,
        body=body,
        credential_issuer=state.credential_issuer,
        now=clock.now(),
        policy=state.policy,
    )
    bridge.audit(
        session,
        tenant_id=tenant.id,
        actor=principal.key_id,
        action="wallet_offer_created",
        object_type="wallet_offer",
        object_id=created.offer_id,
        reason=body.kind,
        now=clock.now(),
    )
    return OfferOut(
        offer_id=created.offer_id,
        credential_offer_uri=created.credential_offer_uri,
        credential_offer=created.credential_offer,
        tx_code=created.tx_code,
        expires_at=created.expires_at,
    )


@router.get("/residents/{resident_id}/devices")
def resident_devices(
    resident_id: uuid.UUID, _principal: Reader, tenant: TenantDep, session: SessionDep
) -> list[DeviceOut]:
    """The wallet devices of a resident."""
    if bridge.find_resident(session, tenant_id=tenant.id, resident_id=resident_id) is None:
        raise NotFound()
    views = list_devices(session, tenant_id=tenant.id, resident_id=resident_id)
    return [device_out(v) for v in views]


@router.delete("/devices/{device_id}")
def delete_device(
    device_id: str, principal: Revoker, tenant: TenantDep, session: SessionDep, clock: ClockDep
) -> DeviceRemovedOut:
    """Remove a (lost) device: every grant that bound its key ends (its tokens stop working)
    and every credential bound to its key is revoked."""
    removed = remove_device(
        session, tenant_id=tenant.id, device_id=device_id, now=clock.now(), actor=principal.key_id
    )
    return DeviceRemovedOut(
        device_id=device_id,
        revoked_credentials=removed.revoked_credentials,
        ended_grants=removed.ended_grants,
        removed_devices=removed.removed_devices,
    )
