"""Token endpoint (OpenID4VCI 1.0 §6): pre-authorized_code and refresh_token grants."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from issuer.client_address import client_address
from wallet_api.deps import WalletSessionDep, WalletStateDep
from wallet_api.errors import TokenError
from wallet_api.routes._body import read_form
from wallet_api.services import secrets as wsecrets
from wallet_api.services.offers import (
    PRE_AUTHORIZED_GRANT,
    REFRESH_GRANT,
    redeem_offer,
    refresh_grant,
)

router = APIRouter(tags=["wallet"])
MAX_FORM_BYTES = 4096


@router.post("/wallet/token")
async def token(request: Request, state: WalletStateDep, session: WalletSessionDep) -> JSONResponse:
    """Exchange a pre-authorized code (+ tx_code) or a refresh token for tokens."""
    now = state.clock.now()
    unix = int(now.timestamp())
    address = client_address(request)
    if not await run_in_threadpool(state.token_limiter.allow, f"addr:{address}", unix):
        raise TokenError("slow_down", "too many token requests", status=429)
    form = await read_form(request, MAX_FORM_BYTES, TokenError)
    grant_type = form.get("grant_type")
    if grant_type == PRE_AUTHORIZED_GRANT:
        code = form.get("pre-authorized_code")
        if not code or len(code) > 256:
            raise TokenError("invalid_request", "pre-authorized_code is required")
        code_key = "code:" + wsecrets.token_digest(code)
        if not await run_in_threadpool(state.token_limiter.allow, code_key, unix):
            raise TokenError("slow_down", "too many attempts for this code", status=429)
        issued = await run_in_threadpool(
            redeem_offer,
            session,
            pre_authorized_code=code,
            tx_code=form.get("tx_code"),
            now=now,
            policy=state.policy,
        )
    elif grant_type == REFRESH_GRANT:
        refresh = form.get("refresh_token")
        if not refresh or len(refresh) > 256:
            raise TokenError("invalid_request", "refresh_token is required")
        issued = await run_in_threadpool(
            refresh_grant, session, refresh_token=refresh, now=now, policy=state.policy
        )
    elif grant_type is None:
        raise TokenError("invalid_request", "grant_type is required")
    else:
        raise TokenError("unsupported_grant_type", "unsupported grant_type")
    await run_in_threadpool(session.commit)
    body = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "refresh_token": issued.refresh_token,
        "authorization_details": [
            {"type": "openid_credential", "credential_configuration_id": cid}
            for cid in issued.configuration_ids
        ],
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})
