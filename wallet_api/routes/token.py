"""Token endpoint (OpenID4VCI 1.0 §6): pre-authorized_code, authorization_code (with PKCE,
wallet_api/relying_party/authorization.py) and refresh_token grants, with DPoP (RFC 9449)
and wallet attestations (attestation-based client authentication)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from issuer.client_address import client_address
from wallet_api.deps import WalletSessionDep, WalletState, WalletStateDep
from wallet_api.errors import TokenError
from wallet_api.relying_party.authorization import AUTHORIZATION_CODE_GRANT, exchange
from wallet_api.resource_auth import nonce_header, public_url
from wallet_api.routes._body import read_form
from wallet_api.services import dpop
from wallet_api.services import secrets as wsecrets
from wallet_api.services.attestations import (
    ATTESTATION_HEADER,
    POP_HEADER,
    WalletAttestation,
    remember_pop,
    verify_wallet_attestation,
)
from wallet_api.services.offers import PRE_AUTHORIZED_GRANT, REFRESH_GRANT
from wallet_api.services.rate_limits import retry_after
from wallet_api.services.token_grants import client_binding, pre_authorized, refresh

router = APIRouter(tags=["wallet"])
MAX_FORM_BYTES = 8192


def authenticate_client(
    state: WalletState,
    request: Request,
    client_id: str | None,
    now: datetime,
    nonce: dict[str, str],
) -> tuple[str | None, WalletAttestation | None]:
    """The DPoP key and the wallet attestation the request proves (each recorded once); the
    token endpoint and the pushed authorization request authenticate wallets alike."""

    def dpop_refuse(description: str) -> TokenError:
        return TokenError("invalid_dpop_proof", description, headers=nonce)

    def use_nonce(description: str) -> TokenError:
        return TokenError("use_dpop_nonce", description, headers=nonce)

    def client_refuse(description: str) -> TokenError:
        return TokenError("invalid_client", description, status=401, headers=nonce)

    unix = int(now.timestamp())
    jkt: str | None = None
    proofs = request.headers.getlist("dpop")
    if proofs:
        proof = dpop.check_proof(
            proofs,
            method="POST",
            url=public_url(state, request),
            now=unix,
            nonces=state.dpop_nonces,
            refuse=dpop_refuse,
            use_nonce=use_nonce,
        )
        dpop.remember(state.sessions, proof, now=now, refuse=dpop_refuse)
        jkt = proof.jkt
    attestations = request.headers.getlist(ATTESTATION_HEADER)
    pops = request.headers.getlist(POP_HEADER)
    attestation: WalletAttestation | None = None
    # a deployment without wallet-provider anchors evaluates no attestations (policy then
    # refuses tenants that require one)
    if (attestations or pops) and state.trust_anchors:
        attestation, jti, iat = verify_wallet_attestation(
            attestations,
            pops,
            anchors=state.trust_anchors,
            audience=state.credential_issuer,
            client_id=client_id,
            now=unix,
            refuse=client_refuse,
        )
        remember_pop(state.sessions, attestation, jti, iat, now=now, refuse=client_refuse)
    return jkt, attestation


@router.post("/wallet/token")
async def token(request: Request, state: WalletStateDep, session: WalletSessionDep) -> JSONResponse:
    """Exchange a pre-authorized code (+ tx_code) or a refresh token for tokens."""
    now = state.clock.now()
    unix = int(now.timestamp())
    address = client_address(request)
    wait = await run_in_threadpool(state.token_limiter.wait, f"addr:{address}", unix)
    if wait is not None:
        raise TokenError(
            "slow_down", "too many token requests", status=429, headers=retry_after(wait)
        )
    form = await read_form(request, MAX_FORM_BYTES, TokenError)
    nonce = nonce_header(state, now)
    resource = form.get("resource")
    if resource is not None and resource.rstrip("/") != state.credential_issuer:
        # RFC 8707 §2: a resource we are not
        raise TokenError("invalid_target", "resource is not this credential issuer")
    grant_type = form.get("grant_type")
    if grant_type not in (PRE_AUTHORIZED_GRANT, REFRESH_GRANT, AUTHORIZATION_CODE_GRANT):
        if grant_type is None:
            raise TokenError("invalid_request", "grant_type is required")
        raise TokenError("unsupported_grant_type", "unsupported grant_type")
    client_id = form.get("client_id")
    if client_id is not None and not 0 < len(client_id) <= 255:
        raise TokenError("invalid_request", "client_id is malformed")
    jkt, attestation = await run_in_threadpool(
        authenticate_client, state, request, client_id, now, nonce
    )
    client = client_binding(jkt, attestation)

    def dpop_error(description: str) -> TokenError:
        return TokenError("invalid_dpop_proof", description, headers=nonce)

    details = form.get("authorization_details")
    if grant_type == PRE_AUTHORIZED_GRANT:
        code = form.get("pre-authorized_code")
        if not code or len(code) > 256:
            raise TokenError("invalid_request", "pre-authorized_code is required")
        code_key = "code:" + wsecrets.token_digest(code)
        wait = await run_in_threadpool(state.token_limiter.wait, code_key, unix)
        if wait is not None:
            raise TokenError(
                "slow_down",
                "too many attempts for this code",
                status=429,
                headers=retry_after(wait),
            )
        result = await run_in_threadpool(
            pre_authorized,
            session,
            settings=state.settings,
            policy=state.policy,
            credential_issuer=state.credential_issuer,
            code=code,
            tx_code=form.get("tx_code"),
            authorization_details=details,
            client=client,
            now=now,
            dpop_error=dpop_error,
        )
    elif grant_type == AUTHORIZATION_CODE_GRANT:
        result = await run_in_threadpool(
            exchange,
            session,
            form=form,
            client=client,
            credential_issuer=state.credential_issuer,
            settings=state.settings,
            policy=state.policy,
            now=now,
        )
    else:
        refresh_token = form.get("refresh_token")
        if not refresh_token or len(refresh_token) > 256:
            raise TokenError("invalid_request", "refresh_token is required")
        result = await run_in_threadpool(
            refresh,
            session,
            settings=state.settings,
            policy=state.policy,
            credential_issuer=state.credential_issuer,
            refresh_token=refresh_token,
            authorization_details=details,
            client=client,
            now=now,
            dpop_error=dpop_error,
        )
    await run_in_threadpool(session.commit)
    body: dict[str, object] = {
        "access_token": result.tokens.access_token,
        "token_type": result.token_type,
        "expires_in": result.tokens.expires_in,
        "refresh_token": result.tokens.refresh_token,
    }
    if result.authorization_details is not None:
        body["authorization_details"] = result.authorization_details
    return JSONResponse(body, headers={"Cache-Control": "no-store", **nonce})
