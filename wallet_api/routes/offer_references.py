"""`GET /wallet/credential-offer/{token}`: an offer by reference (OpenID4VCI 1.0 §4.1.3),
answered once as `application/json`, never cached."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from wallet_api.deps import WalletSessionDep, WalletStateDep
from wallet_api.services.offer_references import fetch_offer

router = APIRouter(tags=["wallet"])


@router.get("/wallet/credential-offer/{token}")
async def credential_offer(
    token: str, state: WalletStateDep, session: WalletSessionDep
) -> JSONResponse:
    """The Credential Offer object, with a fresh pre-authorized code; the URI is then spent."""
    offer = await run_in_threadpool(
        fetch_offer,
        session,
        token=token,
        credential_issuer=state.credential_issuer,
        now=state.clock.now(),
    )
    await run_in_threadpool(session.commit)
    return JSONResponse(offer, headers={"Cache-Control": "no-store"})
