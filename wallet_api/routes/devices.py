"""The holder's devices (wallet side): list, register with a proof, remove a lost phone.

The municipality can do the same for a resident at the counter (``routes/municipal.py``).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from wallet_api.deps import GrantDep, WalletSessionDep, WalletStateDep
from wallet_api.errors import CredentialError
from wallet_api.routes._body import read_json
from wallet_api.schemas.devices import DeviceOut, device_out
from wallet_api.services.credentials import key_policy
from wallet_api.services.devices import DeviceView, list_devices, register_device, remove_device
from wallet_api.services.offers import offer_of

router = APIRouter(tags=["wallet"])


@router.get("/wallet/devices")
def devices(session: WalletSessionDep, grant: GrantDep) -> list[DeviceOut]:
    """Every device of the token's holder."""
    offer = offer_of(session, grant)
    views = list_devices(session, tenant_id=offer.tenant_id, resident_id=offer.resident_id)
    return [device_out(v) for v in views]


@router.post("/wallet/devices", status_code=201)
async def register(
    request: Request, state: WalletStateDep, session: WalletSessionDep, grant: GrantDep
) -> JSONResponse:
    """Register a device key by a proof (``{"proof": "<openid4vci-proof+jwt>"}``)."""
    body = await read_json(request, 16384, CredentialError, "invalid_proof")
    proof = body.get("proof") if isinstance(body, dict) else None

    def run() -> DeviceView:
        policy = key_policy(
            session,
            settings=state.settings,
            policy=state.policy,
            grant=grant,
            tenant_id=offer_of(session, grant).tenant_id,
            anchors=state.trust_anchors,
        )
        view = register_device(
            session,
            state.settings,
            grant=grant,
            proof=proof,
            audience=state.credential_issuer,
            now=state.clock.now(),
            key_policy=policy,
        )
        session.commit()
        return view

    view = await run_in_threadpool(run)
    return JSONResponse(device_out(view).model_dump(mode="json"), status_code=201)


@router.delete("/wallet/devices/{device_id}")
def remove(
    device_id: str, state: WalletStateDep, session: WalletSessionDep, grant: GrantDep
) -> dict[str, int]:
    """Remove one of the holder's devices: every grant that bound it ends (this one too, if it
    did) and every credential bound to it is revoked."""
    offer = offer_of(session, grant)
    removed = remove_device(
        session,
        tenant_id=offer.tenant_id,
        resident_id=offer.resident_id,
        device_id=device_id,
        now=state.clock.now(),
    )
    session.commit()
    return {
        "revoked_credentials": removed.revoked_credentials,
        "ended_grants": removed.ended_grants,
        "removed_devices": removed.removed_devices,
    }
