"""Nonce, credential, deferred credential and notification endpoints (OpenID4VCI 1.0 §7,
§8, §9, §11). Every answer carries a fresh `DPoP-Nonce` (RFC 9449 §8.2)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from wallet_api.deps import GrantDep, WalletSessionDep, WalletStateDep
from wallet_api.errors import CredentialError, NotificationError
from wallet_api.resource_auth import nonce_header
from wallet_api.routes._body import read_json
from wallet_api.services.credentials import IssuedCredentials, issue_credentials
from wallet_api.services.deferred import collect
from wallet_api.services.nonces import new_nonce
from wallet_api.services.notifications import record_notification

router = APIRouter(tags=["wallet"])
NO_STORE = {"Cache-Control": "no-store"}


@router.post("/wallet/nonce")
def nonce(state: WalletStateDep, session: WalletSessionDep) -> JSONResponse:
    """A fresh single-use c_nonce (§7.2)."""
    now = state.clock.now()
    value = new_nonce(session, now=now, policy=state.policy)
    session.commit()
    return JSONResponse({"c_nonce": value}, headers={**NO_STORE, **nonce_header(state, now)})


def _credential_response(issued: IssuedCredentials, headers: dict[str, str]) -> JSONResponse:
    if issued.transaction_id is not None:
        # §8.3: not yet issuable: 202 with the transaction_id and the interval to wait
        deferred = {"transaction_id": issued.transaction_id, "interval": issued.interval}
        return JSONResponse(deferred, status_code=202, headers=headers)
    response: dict[str, object] = {"credentials": [{"credential": c} for c in issued.credentials]}
    if issued.notification_id is not None:
        response["notification_id"] = issued.notification_id
    return JSONResponse(response, headers=headers)


@router.post("/wallet/credential")
async def credential(
    request: Request, state: WalletStateDep, session: WalletSessionDep, grant: GrantDep
) -> JSONResponse:
    """Issue the credential(s) of the grant's offer, one per proven key (§8)."""
    body = await read_json(
        request, state.policy.max_body_bytes, CredentialError, "invalid_credential_request"
    )
    now = state.clock.now()
    issued = await run_in_threadpool(
        issue_credentials,
        session,
        settings=state.settings,
        keys=state.keys,
        policy=state.policy,
        grant=grant,
        body=body,
        credential_issuer=state.credential_issuer,
        now=now,
        anchors=state.trust_anchors,
    )
    await run_in_threadpool(session.commit)
    return _credential_response(issued, {**NO_STORE, **nonce_header(state, now)})


@router.post("/wallet/deferred_credential")
async def deferred_credential(
    request: Request, state: WalletStateDep, session: WalletSessionDep, grant: GrantDep
) -> JSONResponse:
    """The credentials of a deferred request once they can be issued (§9)."""
    body = await read_json(request, 4096, CredentialError, "invalid_credential_request")
    now = state.clock.now()
    issued = await run_in_threadpool(
        collect,
        session,
        settings=state.settings,
        keys=state.keys,
        policy=state.policy,
        grant=grant,
        body=body,
        credential_issuer=state.credential_issuer,
        now=now,
    )
    await run_in_threadpool(session.commit)
    return _credential_response(issued, {**NO_STORE, **nonce_header(state, now)})


@router.post("/wallet/notification", status_code=204)
async def notification(request: Request, session: WalletSessionDep, grant: GrantDep) -> Response:
    """Record credential_accepted / credential_failure / credential_deleted (§11)."""
    body = await read_json(request, 4096, NotificationError, "invalid_notification_request")
    await run_in_threadpool(record_notification, session, grant=grant, body=body)
    await run_in_threadpool(session.commit)
    return Response(status_code=204)
