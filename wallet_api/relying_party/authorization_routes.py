"""HTTP face of the authorization code flow (``authorization``):

POST /wallet/par                          pushed authorization request (RFC 9126)
GET  /wallet/authorize                    authorization endpoint (browser): presentation
POST /wallet/authorize/consent/{id}       the citizen's consent (browser), then redirect
GET  /wallet/authorize/offer/{ags}        an issuer-initiated offer (authorization code grant)
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from issuer.db.models import Tenant
from wallet_api.deps import WalletSessionDep, WalletState, WalletStateDep
from wallet_api.errors import TokenError, WalletProblem
from wallet_api.relying_party import authorization as authz_service
from wallet_api.relying_party import dcql, pages
from wallet_api.relying_party import transactions as tx
from wallet_api.relying_party.identity import RelyingParty
from wallet_api.relying_party.models import WalletAuthorization
from wallet_api.relying_party.routes import (
    NO_STORE,
    RpDep,
    _binding,
    _html,
    _tenant,
    start_page,
)
from wallet_api.relying_party.starts import SpentDep
from wallet_api.resource_auth import nonce_header
from wallet_api.routes._body import read_form
from wallet_api.routes.token import authenticate_client
from wallet_api.services.credential_types import RESIDENCE, TYPES
from wallet_api.services.rate_limits import retry_after
from wallet_api.services.token_grants import client_binding
from wallet_api.services.type_metadata import vct_for

router = APIRouter(tags=["wallet authorization"])
MAX_PAR_BYTES = 16 * 1024
MAX_CONSENT_BYTES = 1024


@router.post("/wallet/par", status_code=201)
async def pushed_authorization_request(
    request: Request, state: WalletStateDep, session: WalletSessionDep, rp: RpDep
) -> JSONResponse:
    """RFC 9126: store the authorization request, answer a single-use request_uri."""
    now = state.clock.now()
    wait = await run_in_threadpool(rp.pushes.wait, request, now)
    if wait is not None:  # each pushed request is stored: bounded per client address
        raise TokenError(
            "slow_down",
            "too many pushed authorization requests",
            status=429,
            headers=retry_after(wait),
        )
    form = await read_form(request, MAX_PAR_BYTES, TokenError)
    nonce = nonce_header(state, now)
    client_id = form.get("client_id")
    if client_id is not None and not 0 < len(client_id) <= 255:
        raise TokenError("invalid_request", "client_id is malformed")
    # HAIP: the wallet authenticates at PAR as at the token endpoint (DPoP key, attestation)
    jkt, attestation = await run_in_threadpool(
        authenticate_client, state, request, client_id, now, nonce
    )

    def run() -> authz_service.Pushed:
        pushed = authz_service.push(
            session,
            form=form,
            credential_issuer=state.credential_issuer,
            secret=rp.server_secret,
            client=client_binding(jkt, attestation),
            settings=state.settings,
            now=now,
        )
        session.commit()
        return pushed

    pushed = await run_in_threadpool(run)
    return JSONResponse(
        {"request_uri": pushed.request_uri, "expires_in": pushed.expires_in},
        status_code=201,
        headers={**NO_STORE, **nonce},
    )


@router.get("/wallet/authorize", response_class=HTMLResponse)
def authorization_endpoint(
    request: Request,
    spent: SpentDep,  # counted before the request_uri is spent: a refused start keeps it
    rp: RpDep,
    session: WalletSessionDep,
    client_id: Annotated[str, Query(max_length=255)] = "",
    request_uri: Annotated[str, Query(max_length=200)] = "",
    lang: Annotated[str | None, Query(max_length=2)] = None,
) -> HTMLResponse:
    """The citizen's browser arrives here from the wallet: authenticate with PID or Bürger-ID."""
    language = pages.lang_of(lang)
    binding = _binding(request) or secrets.token_urlsafe(32)
    try:
        authz = authz_service.open_authorization(
            session,
            client_id=client_id,
            request_uri=request_uri,
            binding_digest=rp.binding_digest(binding),
            now=rp.clock.now(),
        )
    except WalletProblem:
        # never redirect to a redirect_uri that no valid request_uri vouches for
        return _html(pages.message_page(language, "authorize_title", "expired", None), 400)
    tenant = session.get(Tenant, authz.tenant_id)
    assert tenant is not None
    query = dcql.either_query(
        dcql.residence_query([vct_for(tenant.issuer_url, RESIDENCE)]), dcql.pid_query()
    )
    return start_page(
        session,
        rp,
        request,
        spent,
        purpose=tx.Purpose.AUTHORIZE,
        query=query,
        tenant_id=tenant.id,
        lang=language,
        title_key="authorize_title",
        intro_key="authorize_intro",
        self_path="/wallet/authorize",
        authorization_id=authz.id,
        binding=binding,
    )


def _credential_label(configuration_id: str, lang: str) -> str:
    """What a credential configuration is, in the citizen's words: "Bürger-ID: Meldebestätigung
    der Gemeinde: …" rather than its identifier."""
    spec = TYPES.get(configuration_id.rpartition(".")[2])
    if spec is None:
        return configuration_id
    return f"{spec.name[lang]} – {spec.description[lang]}"


def after_authentication(
    session: Session,
    state: WalletState,
    rp: RelyingParty,
    result: tx.Result,
    binding_digest: str,
    lang: str,
) -> HTMLResponse:
    """After the presentation: who is it; the consent page, or the Bürgerbüro."""
    authz = session.get(WalletAuthorization, result.authorization_id)
    if authz is None or not authz_service.authenticated(
        session,
        authz=authz,
        presentation=result.presentations[0],
        binding_digest=binding_digest,
        now=state.clock.now(),
    ):
        session.commit()
        return _html(pages.message_page(lang, "no_match_title", "no_match", None), 200)
    session.commit()
    claims = result.presentations[0].get("claims", {})
    who = " ".join(str(claims.get(k, "")) for k in ("given_name", "family_name") if claims.get(k))
    page = pages.consent_page(
        lang,
        credentials=[_credential_label(c, lang) for c in authz.configuration_ids],
        action=f"/wallet/authorize/consent/{authz.id}?lang={lang}",
        csrf=authz_service.consent_token(rp.server_secret, authz.id, binding_digest),
        name=who,
    )
    return _html(page)


@router.post("/wallet/authorize/consent/{authorization_id}")
async def consent(
    authorization_id: str,
    request: Request,
    state: WalletStateDep,
    session: WalletSessionDep,
    rp: RpDep,
) -> Response:
    """The citizen's decision; 303 to the wallet's redirect_uri with the code or the error."""
    form = await read_form(request, MAX_CONSENT_BYTES, TokenError)
    binding = _binding(request)
    if binding is None:
        raise WalletProblem("authorization_not_found", "no such authorization", status=404)

    def run() -> str:
        target = authz_service.decide(
            session,
            authz_id=authorization_id,
            allow=form.get("decision") == "allow",
            csrf=form.get("csrf", ""),
            binding_digest=rp.binding_digest(binding),
            secret=rp.server_secret,
            credential_issuer=state.credential_issuer,
            now=state.clock.now(),
        )
        session.commit()
        return target

    target = await run_in_threadpool(run)
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


@router.get("/wallet/authorize/offer/{ags}")
def issuer_initiated_offer(
    ags: str, state: WalletStateDep, session: WalletSessionDep, rp: RpDep
) -> JSONResponse:
    """A credential offer with the authorization code grant for a municipality's Bürger-ID:
    no resident, no code; its ``issuer_state`` names the municipality (a web page or a poster
    links it as ``openid-credential-offer://?credential_offer_uri=…``)."""
    tenant = _tenant(session, ags)
    now = int(state.clock.now().timestamp())
    offer = {
        "credential_issuer": state.credential_issuer,
        "credential_configuration_ids": [f"{tenant.ags}.{RESIDENCE}"],
        "grants": {
            "authorization_code": {
                "issuer_state": authz_service.issuer_state_for(
                    rp.server_secret, ags=tenant.ags, now=now
                )
            }
        },
    }
    return JSONResponse(offer, headers=NO_STORE)
