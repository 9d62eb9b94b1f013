"""Nonce, credential and notification endpoints (OpenID4VCI 1.0 §7, §8, §11)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from wallet_api.deps import GrantDep, WalletSessionDep, WalletStateDep
from wallet_api.errors import CredentialError, NotificationError
from wallet_api.routes._body import read_json
from wallet_api.services.credentials import issue_credentials
from wallet_api.services.nonces import new_nonce
from wallet_api.services.notifications import record_notification

router = APIRouter(tags=["wallet"])
NO_STORE = {"Cache-Control": "no-store"}


@router.post("/wallet/nonce")
def nonce(state: WalletStateDep, session: WalletSessionDep) -> JSONResponse:
    """A fresh single-use c_nonce (§7.2)."""
    value = new_nonce(session, now=state.clock.now(), policy=state.policy)
    session.commit()
    return JSONResponse({"c_nonce": value}, headers=NO_STORE)


@router.post("/wallet/credential")
async def credential(
    request: Request, state: WalletStateDep, session: WalletSessionDep, grant: GrantDep
) -> JSONResponse:
    """Issue the credential(s) of the grant's offer, one per proven key (§8)."""
    body = await read_json(
        request, state.policy.max_body_bytes, CredentialError, "invalid_credential_request"
    )
    issued = await run_in_threadpool(
        issue_credentials,
        session,
        settings=state.settings,
        policy=state.policy,
        grant=grant,
        body=body,
        credential_issuer=state.credential_issuer,
        now=state.clock.now(),
    )
    await run_in_threadpool(session.commit)
    response: dict[str, object] = {"credentials": [{"credential": c} for c in issued.credentials]}
    if issued.notification_id is not None:
        response["notification_id"] = issued.notification_id
    return JSONResponse(response, headers=NO_STORE)


@router.post("/wallet/notification", status_code=204)
async def notification(request: Request, session: WalletSessionDep, grant: GrantDep) -> Response:
    """Record credential_accepted / credential_failure / credential_deleted (§11)."""
    body = await read_json(request, 4096, NotificationError, "invalid_notification_request")
    await run_in_threadpool(record_notification, session, grant=grant, body=body)
    await run_in_threadpool(session.commit)
    return Response(status_code=204)
