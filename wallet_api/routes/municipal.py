"""Wallet functions of the municipal API (API key, tenant scoped, issuer dependencies).

POST   /api/v1/offers                          permits:issue   create a credential offer
GET    /api/v1/residents/{id}/devices          permits:issue | permits:revoke
DELETE /api/v1/devices/{id}                    permits:revoke  a lost phone: end and revoke all
GET    /api/v1/wallet/policy                   admin           the tenant's wallet policy
PUT    /api/v1/wallet/policy                   admin           require DPoP / attestations
PUT    /api/v1/wallet/logo                     admin           the logo wallets show (PNG)
DELETE /api/v1/wallet/logo                     admin           back to the default logo
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request

from issuer.deps import ClockDep, SessionDep, SettingsDep, TenantAdmin, TenantDep, require_scope
from issuer.errors import NotFound
from issuer.services.clients import Principal
from wallet_api.deps import get_state
from wallet_api.errors import WalletProblem
from wallet_api.routes._body import read_bounded
from wallet_api.schemas.devices import DeviceOut, device_out
from wallet_api.schemas.offers import (
    DeviceRemovedOut,
    LogoOut,
    OfferIn,
    OfferOut,
    WalletPolicyIn,
    WalletPolicyOut,
)
from wallet_api.services import bridge, tenant_settings
from wallet_api.services.devices import list_devices, remove_device
from wallet_api.services.municipal import offer_for
from wallet_api.services.type_metadata import logo_url

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
        object_id=created.created.offer_id,
        reason=f"{body.kind} by {created.delivery}",
        now=clock.now(),
    )
    by_value = created.delivery == "value"
    return OfferOut(
        offer_id=created.created.offer_id,
        delivery=body.delivery,
        credential_offer_url=created.credential_offer_url,
        credential_offer=created.created.credential_offer if by_value else None,
        credential_offer_uri=created.credential_offer_uri,
        credential_offer_uri_expires_at=created.uri_expires_at,
        tx_code=created.created.tx_code,
        expires_at=created.created.expires_at,
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


def _policy_out(session: SessionDep, settings: SettingsDep, tenant_id: int) -> WalletPolicyOut:
    own = tenant_settings.tenant_policy(session, tenant_id)
    effective = tenant_settings.requirements(session, settings, tenant_id)

    def level(required: bool) -> Literal["optional", "required"]:
        return "required" if required else "optional"

    return WalletPolicyOut(
        tenant=WalletPolicyIn(
            dpop=own.dpop,  # type: ignore[arg-type]
            wallet_attestation=own.wallet_attestation,  # type: ignore[arg-type]
            key_attestation=own.key_attestation,  # type: ignore[arg-type]
        ),
        effective={
            "dpop": level(effective.dpop),
            "wallet_attestation": level(effective.wallet_attestation),
            "key_attestation": level(effective.key_attestation),
        },
    )


@router.get("/wallet/policy")
def get_wallet_policy(
    _principal: TenantAdmin, tenant: TenantDep, session: SessionDep, settings: SettingsDep
) -> WalletPolicyOut:
    """The tenant's wallet policy and what is in force."""
    return _policy_out(session, settings, tenant.id)


@router.put("/wallet/policy")
def put_wallet_policy(
    body: WalletPolicyIn,
    principal: TenantAdmin,
    tenant: TenantDep,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> WalletPolicyOut:
    """Require DPoP, wallet attestations or key attestations for this tenant's wallets."""
    now = clock.now()
    tenant_settings.set_policy(
        session,
        tenant.id,
        tenant_settings.TenantPolicy(body.dpop, body.wallet_attestation, body.key_attestation),
        now,
    )
    bridge.audit(
        session,
        tenant_id=tenant.id,
        actor=principal.key_id,
        action="wallet_policy_changed",
        object_type="tenant",
        object_id=tenant.ags,
        reason=f"dpop={body.dpop} wallet={body.wallet_attestation} key={body.key_attestation}",
        now=now,
    )
    return _policy_out(session, settings, tenant.id)


@router.put("/wallet/logo")
async def put_logo(
    request: Request,
    principal: TenantAdmin,
    tenant: TenantDep,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> LogoOut:
    """Upload the logo wallets show for this tenant's credentials (PNG, ≤ 48 KiB, ≤ 1024 px)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "image/png":
        raise WalletProblem("invalid_logo", "Content-Type: image/png is required", status=415)
    data = await read_bounded(request, tenant_settings.MAX_LOGO_BYTES, WalletProblem)
    now = clock.now()
    digest = tenant_settings.set_logo(session, tenant.id, data, now)
    bridge.audit(
        session,
        tenant_id=tenant.id,
        actor=principal.key_id,
        action="wallet_logo_changed",
        object_type="tenant",
        object_id=tenant.ags,
        now=now,
    )
    return LogoOut(uri=logo_url(settings.public_base_url, tenant.ags), sha256=digest)


@router.delete("/wallet/logo", status_code=204)
def delete_logo(
    principal: TenantAdmin, tenant: TenantDep, session: SessionDep, clock: ClockDep
) -> None:
    """Serve the default logo again."""
    now = clock.now()
    tenant_settings.clear_logo(session, tenant.id, now)
    bridge.audit(
        session,
        tenant_id=tenant.id,
        actor=principal.key_id,
        action="wallet_logo_changed",
        object_type="tenant",
        object_id=tenant.ags,
        reason="default",
        now=now,
    )
