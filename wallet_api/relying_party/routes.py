"""The relying party's HTTP face (docs/relying-party.md).

For wallets (OpenID4VP 1.0):

    GET|POST /rp/request/{token}?flow=…   the signed request object, once
    POST     /rp/response/{transaction}    the response (direct_post.jwt or direct_post)

For the citizen's browser (pages bound to the session cookie ``bid_rp``):

    GET /rp/login/{ags}          log in with the Bürger-ID of that municipality
    GET /rp/buergerid/{ags}      the Bürger-ID without a letter: present the PID
    GET /rp/return/{transaction} where the wallet sends the browser back (same device,
                                 ``?response_code=``), or where polling goes on (other device)
    GET /rp/transactions/{id}    the transaction's state, for polling (JSON)
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from issuer.db.models import Tenant
from wallet_api.deps import WalletSessionDep, WalletState, WalletStateDep
from wallet_api.errors import OAuthError, WalletApiError, WalletProblem
from wallet_api.relying_party import dcql, pages
from wallet_api.relying_party import transactions as tx
from wallet_api.relying_party.identity import RelyingParty
from wallet_api.relying_party.letterless import offer_after_pid
from wallet_api.relying_party.models import RpTransaction
from wallet_api.relying_party.presentations import PresentationError
from wallet_api.relying_party.starts import Spent, SpentDep
from wallet_api.routes._body import read_form
from wallet_api.services import bridge
from wallet_api.services.credential_types import RESIDENCE
from wallet_api.services.type_metadata import vct_for

router = APIRouter(tags=["relying party"])

COOKIE = "bid_rp"
MAX_RESPONSE_FORM_BYTES = 64 * 1024
MAX_REQUEST_FORM_BYTES = 8 * 1024
_COOKIE_VALUE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_AGS = re.compile(r"^\d{8}$")
NO_STORE = {"Cache-Control": "no-store"}
REQUEST_MEDIA_TYPE = "application/oauth-authz-req+jwt"


class ResponseError(OAuthError):
    """The response endpoint refused a wallet's answer (OAuth error JSON)."""


def get_rp(request: Request) -> RelyingParty:
    """The app's relying party."""
    rp: RelyingParty = request.app.state.relying_party
    return rp


RpDep = Annotated[RelyingParty, Depends(get_rp)]
Lang = Annotated[str | None, Query(max_length=2)]


# ------------------------------------------------------------------------------- wallet


def _request_object_response(jws: str) -> Response:
    return Response(jws, media_type=REQUEST_MEDIA_TYPE, headers=NO_STORE)


@router.get("/rp/request/{token}", include_in_schema=True)
def get_request_object(
    token: str,
    rp: RpDep,
    session: WalletSessionDep,
    flow: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """The signed request object (RFC 9101), once per transaction."""
    jws = tx.request_object(session, rp, token=token, flow=flow, now=rp.clock.now())
    session.commit()
    return _request_object_response(jws)


@router.post("/rp/request/{token}")
async def post_request_object(
    token: str,
    request: Request,
    rp: RpDep,
    session: WalletSessionDep,
    flow: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """``request_uri_method=post`` (OpenID4VP 1.0 §5.10): with the wallet's ``wallet_nonce``."""
    form = await read_form(request, MAX_REQUEST_FORM_BYTES, ResponseError)
    nonce = form.get("wallet_nonce")
    if nonce is not None and not 0 < len(nonce) <= 256:
        raise ResponseError("invalid_request", "wallet_nonce is malformed")

    def run() -> str:
        jws = tx.request_object(
            session, rp, token=token, flow=flow, now=rp.clock.now(), wallet_nonce=nonce
        )
        session.commit()
        return jws

    return _request_object_response(await run_in_threadpool(run))


@router.post("/rp/response/{transaction_id}")
async def post_response(
    transaction_id: str, request: Request, rp: RpDep, session: WalletSessionDep
) -> JSONResponse:
    """The wallet's authorization response; same device: ``redirect_uri`` with a code."""
    form = await read_form(request, MAX_RESPONSE_FORM_BYTES, ResponseError)
    if len(transaction_id) > 36:
        raise ResponseError("invalid_request", "unknown transaction", status=404)

    def run() -> tx.ResponseOutcome:
        return tx.receive_response(
            session, rp, transaction_id=transaction_id, form=form, now=rp.clock.now()
        )

    try:
        outcome = await run_in_threadpool(run)
    except PresentationError as exc:
        raise ResponseError(exc.code, exc.description, status=exc.status) from exc
    body = {"redirect_uri": outcome.redirect_uri} if outcome.redirect_uri else {}
    return JSONResponse(body, headers=NO_STORE)


# ------------------------------------------------------------------------------- browser


def _binding(request: Request) -> str | None:
    value = request.cookies.get(COOKIE)
    return value if value and _COOKIE_VALUE.match(value) else None


def _html(
    page: pages.Page, status: int = 200, cookie: str | None = None, rp: RelyingParty | None = None
) -> HTMLResponse:
    response = HTMLResponse(page.html, status_code=status, headers=page.headers)
    if cookie is not None and rp is not None:
        response.set_cookie(
            COOKIE,
            cookie,
            httponly=True,
            samesite="lax",  # the wallet's redirect back is a top-level navigation
            secure=rp.base_url.startswith("https://"),
            path="/",
        )
    return response


def _tenant(session: Session, ags: str) -> Tenant:
    tenant = bridge.tenant_by_ags(session, ags) if _AGS.match(ags) else None
    if tenant is None:
        raise WalletProblem("tenant_not_found", "no such municipality", status=404)
    return tenant


def start_page(
    session: Session,
    rp: RelyingParty,
    request: Request,
    _spent: Spent,
    *,
    purpose: str,
    query: dict[str, object],
    tenant_id: int | None,
    lang: str,
    title_key: str,
    intro_key: str,
    self_path: str,
    authorization_id: str | None = None,
    binding: str | None = None,
) -> HTMLResponse:
    """Start a transaction for this browser and show the waiting page: an anonymous start,
    counted by the route's ``SpentDep`` (relying_party.starts) before it touched anything."""
    binding = binding or _binding(request) or secrets.token_urlsafe(32)
    started = tx.start(
        session,
        rp,
        purpose=purpose,
        query=dict(query),
        binding=binding,
        return_url=f"{rp.base_url}/rp/return/{{transaction_id}}?lang={lang}",
        now=rp.clock.now(),
        tenant_id=tenant_id,
        authorization_id=authorization_id,
    )
    session.commit()
    other = "en" if lang == "de" else "de"
    page = pages.waiting_page(
        lang,
        title_key=title_key,
        intro_key=intro_key,
        same_device_url=started.same_device_url,
        cross_device_url=started.cross_device_url,
        status_url=f"/rp/transactions/{started.id}",
        continue_url=f"/rp/return/{started.id}?lang={lang}",
        other_lang_href=f"{self_path}?lang={other}",
    )
    return _html(page, cookie=binding, rp=rp)


@router.get("/rp/login/{ags}", response_class=HTMLResponse)
def login_page(
    ags: str,
    request: Request,
    spent: SpentDep,
    rp: RpDep,
    session: WalletSessionDep,
    lang: Lang = None,
) -> HTMLResponse:
    """Log in with the Bürger-ID of the municipality `ags`."""
    language = pages.lang_of(lang)
    tenant = _tenant(session, ags)
    return start_page(
        session,
        rp,
        request,
        spent,
        purpose=tx.Purpose.LOGIN,
        query=dcql.residence_query([vct_for(tenant.issuer_url, RESIDENCE)]),
        tenant_id=tenant.id,
        lang=language,
        title_key="login_title",
        intro_key="login_intro",
        self_path=f"/rp/login/{ags}",
    )


@router.get("/rp/buergerid/{ags}", response_class=HTMLResponse)
def buergerid_page(
    ags: str,
    request: Request,
    spent: SpentDep,
    rp: RpDep,
    session: WalletSessionDep,
    lang: Lang = None,
) -> HTMLResponse:
    """The Bürger-ID without a letter: present the PID."""
    language = pages.lang_of(lang)
    tenant = _tenant(session, ags)
    return start_page(
        session,
        rp,
        request,
        spent,
        purpose=tx.Purpose.BUERGERID,
        query=dcql.pid_query(),
        tenant_id=tenant.id,
        lang=language,
        title_key="pid_title",
        intro_key="pid_intro",
        self_path=f"/rp/buergerid/{ags}",
    )


@router.get("/rp/transactions/{transaction_id}")
def transaction_status(
    transaction_id: str, request: Request, rp: RpDep, session: WalletSessionDep
) -> JSONResponse:
    """The state of this browser's transaction (for polling)."""
    binding = _binding(request)
    if binding is None:
        raise WalletProblem("transaction_not_found", "no such transaction", status=404)
    view = tx.status(
        session, rp, transaction_id=transaction_id, binding=binding, now=rp.clock.now()
    )
    return JSONResponse(
        {"status": view.status, "error": view.error, "flow": view.flow}, headers=NO_STORE
    )


def _retry_href(result_purpose: str, tenant: Tenant | None, lang: str) -> str | None:
    if tenant is None:
        return None
    if result_purpose == tx.Purpose.BUERGERID:
        return f"/rp/buergerid/{tenant.ags}?lang={lang}"
    if result_purpose == tx.Purpose.LOGIN:
        return f"/rp/login/{tenant.ags}?lang={lang}"
    return None


@router.get("/rp/return/{transaction_id}", response_class=HTMLResponse)
def return_page(
    transaction_id: str,
    request: Request,
    rp: RpDep,
    state: WalletStateDep,
    session: WalletSessionDep,
    lang: Lang = None,
    response_code: Annotated[str | None, Query(max_length=128)] = None,
) -> HTMLResponse:
    """Where the browser lands after the wallet answered; shows the outcome."""
    language = pages.lang_of(lang)
    binding = _binding(request)
    if binding is None:
        return _html(pages.message_page(language, "login_title", "other_session", None), 403)
    now = rp.clock.now()
    try:
        view = tx.status(session, rp, transaction_id=transaction_id, binding=binding, now=now)
    except WalletProblem:
        return _html(pages.message_page(language, "login_title", "other_session", None), 403)
    tenant = None
    if view.status in ("pending", "requested"):
        return _html(pages.message_page(language, "login_title", "waiting", None), 202)
    try:
        result = tx.take_result(
            session,
            rp,
            transaction_id=transaction_id,
            binding=binding,
            response_code=response_code,
            now=now,
        )
    except WalletApiError as exc:
        session.rollback()
        key = {"response_code_mismatch": "other_session", "expired": "expired"}.get(
            exc.code, "refused"
        )
        row = session.get(RpTransaction, transaction_id)
        tenant = session.get(Tenant, row.tenant_id) if row and row.tenant_id else None
        retry = _retry_href(view.purpose, tenant, language)
        return _html(pages.message_page(language, "login_title", key, retry), 400)
    tenant = session.get(Tenant, result.tenant_id) if result.tenant_id is not None else None
    return _outcome(session, state, rp, rp.binding_digest(binding), result, tenant, language)


def _outcome(
    session: Session,
    state: WalletState,
    rp: RelyingParty,
    binding_digest: str,
    result: tx.Result,
    tenant: Tenant | None,
    lang: str,
) -> HTMLResponse:
    presentation = result.presentations[0]
    if result.purpose == tx.Purpose.BUERGERID and tenant is not None:
        _match, offer = offer_after_pid(
            session,
            tenant=tenant,
            pid_claims=presentation["claims"],
            credential_issuer=state.credential_issuer,
            policy=state.policy,
            now=state.clock.now(),
        )
        session.commit()
        if offer is None:
            return _html(pages.message_page(lang, "no_match_title", "no_match", None), 200)
        return _html(pages.offer_page(lang, offer.credential_offer_url))
    if result.purpose == tx.Purpose.AUTHORIZE and result.authorization_id is not None:
        from wallet_api.relying_party.authorization_routes import after_authentication

        return after_authentication(session, state, rp, result, binding_digest, lang)
    session.commit()
    return _html(pages.logged_in_page(lang, presentation))
