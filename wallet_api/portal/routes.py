"""The citizen portal's pages (docs/citizen-portal.md), per tenant under ``/portal/{ags}``.

    GET  /portal/{ags}                           start page: the login (Bürger-ID or PID)
    GET  /portal/{ags}/login?with=buergerid|pid  log in: wallet link, QR code, polling
    GET  /portal/{ags}/login/status              the login's state (polling, JSON)
    GET  /portal/{ags}/login/return/{tx}         where the wallet sends the browser back
    GET  /portal/{ags}/confirm?with=…&next=…     a fresh presentation before a sensitive step
    POST /portal/{ags}/logout
    GET  /portal/{ags}/lang?to=de|en&next=…      the language switch
    GET  /portal/{ags}/permits                   Meine Parkausweise (and the application)
    GET  /portal/{ags}/permits/{id}              one permit and what she can do next
                                                 (paid=1|new=1: with the wallet's offer)
    POST /portal/{ags}/permits/{id}/pay|wallet|renew|vehicle
    GET  /portal/{ags}/permits/{id}/return       (fresh presentation) then the form
    POST /portal/{ags}/permits/{id}/return
    POST /portal/{ags}/apply                     apply for the chosen vehicle (then pay)
    GET  /portal/{ags}/visitors, POST …/visitors
    GET  /portal/{ags}/devices, GET|POST …/devices/{id}/remove (fresh presentation)
    GET|POST /portal/pay/dev/{payment}           the development payment provider's page
    POST /portal/payments/{provider}/callback    a provider's signed callback (JSON)

Every page is rendered here and works without script; every POST carries the session's
CSRF token; anything of another resident answers 404.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from issuer.db.models import Tenant, Vehicle
from issuer.db.permit_models import Permit
from issuer.errors import IssuerError
from issuer.services import windscreen
from issuer.services.clock import as_utc
from issuer.services.permits import PermitState
from verifier import PermitType
from wallet_api.deps import WalletSessionDep, WalletState
from wallet_api.errors import WalletApiError, WalletProblem
from wallet_api.portal import html, payments, service, sessions
from wallet_api.portal.brand import DEFAULT_COLOUR, Brand, tenant_and_brand
from wallet_api.portal.models import PortalPayment, PortalSession
from wallet_api.portal.texts import REFUSALS, STATES, TYPES, day, euros, lang_of, refusal, t
from wallet_api.relying_party import dcql
from wallet_api.relying_party import transactions as tx
from wallet_api.relying_party.identity import RelyingParty
from wallet_api.relying_party.matching import MatchOutcome, match_resident
from wallet_api.relying_party.pages import poll_script, qr_svg
from wallet_api.relying_party.starts import StartsSpent
from wallet_api.routes._body import read_bounded
from wallet_api.services.credential_types import RESIDENCE
from wallet_api.services.devices import list_devices, remove_device
from wallet_api.services.type_metadata import vct_for

MAX_FORM_BYTES = 8 * 1024
NO_STORE = {"Cache-Control": "no-store"}
_AGS = re.compile(r"^\d{8}$")
LOGIN = "login"
STEPUP = "stepup"
ANY = "any"  # the start page asks for the Bürger-ID or the PID


@dataclass
class PortalState:
    """What the portal needs, built once per app."""

    wallet: WalletState
    rp: RelyingParty
    provider: payments.PaymentProvider | None
    secret: bytes

    @property
    def secure(self) -> bool:
        return self.rp.base_url.startswith("https://")


def _error_page(request: Request, status: int, key: str) -> HTMLResponse:
    lang = lang_of(request.query_params.get("lang"))
    brand = Brand(name=t(lang, "portal"), colour=DEFAULT_COLOUR, logo_url="")
    ags = request.path_params.get("ags", "")
    frame = html.Frame(lang, brand, str(ags), request.url.path, None, False)
    body = f'<p role="alert" class="alert">{escape(t(lang, key))}</p>'
    page = html.page(frame, t(lang, "error_title"), body)
    return HTMLResponse(page, status, headers=html.security_headers(frame))


class PortalRoute(APIRoute):
    """Refusals of the services become pages, never JSON or a stack trace."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except IssuerError as exc:
                key = "not_found" if exc.status == 404 else "conflict"
                return _error_page(request, exc.status if exc.status < 500 else 409, key)
            except WalletApiError as exc:
                key = "not_found" if exc.status == 404 else "conflict"
                return _error_page(request, exc.status if exc.status < 500 else 409, key)

        return handler


router = APIRouter(tags=["citizen portal"], route_class=PortalRoute, include_in_schema=False)
callbacks = APIRouter(tags=["citizen portal"])


def _state(request: Request) -> PortalState:
    state: PortalState = request.app.state.portal
    return state


@dataclass
class Ctx:
    """One request of the portal."""

    state: PortalState
    tenant: Tenant
    row: PortalSession | None
    cookie: str | None
    frame: html.Frame
    now: datetime

    @property
    def lang(self) -> str:
        return self.frame.lang

    @property
    def base(self) -> str:
        return self.frame.base

    @property
    def resident_id(self) -> uuid.UUID:
        assert self.row is not None and self.row.resident_id is not None
        return self.row.resident_id

    def html(self, title: str, body: str, status: int = 200, script: str = "") -> HTMLResponse:
        page = html.page(self.frame, title, body, script=script)
        return HTMLResponse(page, status, headers=html.security_headers(self.frame, script))

    def redirect(self, path: str) -> RedirectResponse:
        return RedirectResponse(path, 303, headers=NO_STORE)


def _context(request: Request, ags: str, session: Session, *, login: bool = True) -> Ctx | Response:
    state = _state(request)
    found = tenant_and_brand(session, ags, state.rp.base_url) if _AGS.match(ags) else None
    if found is None:
        return _error_page(request, 404, "not_found")
    tenant, brand = found
    now = state.wallet.clock.now()
    loaded = sessions.load(session, request, tenant_id=tenant.id, secure=state.secure, now=now)
    row, cookie = loaded if loaded else (None, None)
    session.commit()  # the session's last use; later service calls may roll back
    lang = row.lang if row else lang_of(request.query_params.get("lang"))
    logged_in = row is not None and row.resident_id is not None
    if login and not logged_in:
        response = RedirectResponse(f"/portal/{ags}?lang={lang}", 303, headers=NO_STORE)
        return response
    # the language switch goes back to this page; after a form, to the overview
    here = request.url.path if request.method == "GET" else f"/portal/{ags}/permits"
    frame = html.Frame(lang, brand, ags, here, row.csrf if row else None, logged_in)
    return Ctx(state, tenant, row, cookie, frame, now)


async def _form(request: Request, ctx: Ctx) -> dict[str, str] | Response:
    """The form's fields once its CSRF token is this session's (else 403)."""
    body = await read_bounded(request, MAX_FORM_BYTES, WalletProblem)
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        pairs = []
    form = dict(pairs)
    if ctx.row is None or not sessions.csrf_ok(ctx.row, form.get("csrf")):
        return ctx.html(t(ctx.lang, "error_title"), _alert(t(ctx.lang, "csrf")), 403)
    return form


def _alert(text: str) -> str:
    return f'<p role="alert" class="alert">{escape(text)}</p>'


def _ok(text: str) -> str:
    return f'<p role="status" class="ok">{escape(text)}</p>'


# ----------------------------------------------------------------------------- login


@router.get("/portal/{ags}", response_class=HTMLResponse)
def home(ags: str, request: Request, session: WalletSessionDep) -> Response:
    """The start page is the login: her wallet's link and QR code right away, answered with
    the Bürger-ID or the PID, whichever her wallet holds (or her permits when logged in)."""
    ctx = _context(request, ags, session, login=False)
    if isinstance(ctx, Response):
        return ctx
    if ctx.frame.logged_in:
        return ctx.redirect(f"{ctx.base}/permits")
    lang = ctx.lang
    extra = (
        f"<p>{escape(t(lang, 'no_buergerid'))} "
        f'<a href="/rp/buergerid/{ags}?lang={lang}">{escape(t(lang, "get_buergerid"))}</a></p>'
    )
    return _begin_login(request, ctx, session, ANY, "home_title", "home_intro", extra)


def _query(tenant: Tenant, kind: str) -> dict[str, Any]:
    buergerid = dcql.residence_query([vct_for(tenant.issuer_url, RESIDENCE)])
    if kind == "pid":
        return dcql.pid_query()
    if kind == ANY:
        return dcql.either_query(buergerid, dcql.pid_query())
    return buergerid


def _waiting(
    ctx: Ctx, started: tx.Started, title_key: str, intro_key: str, extra: str = ""
) -> HTMLResponse:
    lang = ctx.lang
    continue_url = f"{ctx.base}/login/return/{started.id}"
    body = (
        f"<p>{escape(t(lang, intro_key))}</p>"
        f"<p>{html.link_button(started.same_device_url, t(lang, 'same_device'))}</p>"
        f'<figure><figcaption id="qr-caption">{escape(t(lang, "cross_device"))}</figcaption>'
        f"{qr_svg(started.cross_device_url, t(lang, 'qr_label'))}</figure>"
        f'<p id="status" role="status" aria-live="polite">{escape(t(lang, "waiting"))}</p>'
        f'<p><a href="{escape(continue_url)}">{escape(t(lang, "continue"))}</a></p>{extra}'
    )
    script = poll_script(f"{ctx.base}/login/status", continue_url)
    return ctx.html(t(lang, title_key), body, script=script)


def _start(
    ctx: Ctx, session: Session, *, kind: str, purpose: str, binding: str, next_path: str | None
) -> tx.Started:
    rp = ctx.state.rp
    started = tx.start(
        session,
        rp,
        purpose=tx.Purpose.LOGIN,
        query=_query(ctx.tenant, kind),
        binding=binding,
        return_url=f"{rp.base_url}{ctx.base}/login/return/{{transaction_id}}",
        now=ctx.now,
        tenant_id=ctx.tenant.id,
    )
    assert ctx.row is not None
    ctx.row.pending_tx = started.id
    ctx.row.pending_purpose = purpose
    ctx.row.pending_next = next_path
    session.commit()
    return started


Kind = Annotated[str, Query(alias="with", max_length=16)]


@router.get("/portal/{ags}/login", response_class=HTMLResponse)
def login(
    ags: str, request: Request, session: WalletSessionDep, kind: Kind = "buergerid"
) -> Response:
    """Start a login: always in a new session (a planted cookie never carries over)."""
    ctx = _context(request, ags, session, login=False)
    if isinstance(ctx, Response):
        return ctx
    if ctx.frame.logged_in:
        return ctx.redirect(f"{ctx.base}/permits")
    kind = "pid" if kind == "pid" else "buergerid"
    return _begin_login(request, ctx, session, kind, "login_title", "login_intro")


def _begin_login(
    request: Request,
    ctx: Ctx,
    session: Session,
    kind: str,
    title_key: str,
    intro_key: str,
    extra: str = "",
) -> HTMLResponse:
    """A login in a new session (a planted cookie never carries over): the waiting page.
    An anonymous start: once this address has spent its budget, a page asking her to wait
    (429, ``Retry-After``), and nothing stored or ended."""
    try:
        ctx.state.rp.starts.spend(request, ctx.now)
    except StartsSpent as exc:
        response = ctx.html(t(ctx.lang, "wait_title"), _alert(t(ctx.lang, "too_many_starts")), 429)
        response.headers.update(exc.headers)
        return response
    if ctx.row is not None:
        # a reload: her earlier login is bound to the session that ends here, so nobody can
        # finish it; both rows go, and reloading costs no rows
        if ctx.row.pending_tx is not None:
            tx.discard(session, ctx.row.pending_tx)
        sessions.end(session, ctx.row)
    ctx.row, ctx.cookie = sessions.create(
        session, tenant_id=ctx.tenant.id, now=ctx.now, lang=ctx.lang
    )
    started = _start(ctx, session, kind=kind, purpose=LOGIN, binding=ctx.cookie, next_path=None)
    response = _waiting(ctx, started, title_key, intro_key, extra)
    sessions.set_cookie(response, ctx.cookie, secure=ctx.state.secure)
    return response


@router.get("/portal/{ags}/confirm", response_class=HTMLResponse)
def confirm(
    ags: str,
    request: Request,
    session: WalletSessionDep,
    kind: Kind = "buergerid",
    next_path: Annotated[str, Query(alias="next", max_length=300)] = "",
) -> Response:
    """A fresh presentation before a step that cannot be undone."""
    ctx = _context(request, ags, session)
    if isinstance(ctx, Response):
        return ctx
    target = next_path if _own_path(ctx, next_path) else f"{ctx.base}/permits"
    assert ctx.cookie is not None
    started = _start(
        ctx,
        session,
        kind="pid" if kind == "pid" else "buergerid",
        purpose=STEPUP,
        binding=ctx.cookie,
        next_path=target,
    )
    other = "buergerid" if kind == "pid" else "pid"
    switch = (
        f'<p><a href="{ctx.base}/confirm?{urlencode({"with": other, "next": target})}">'
        f"{escape(t(ctx.lang, 'login_pid' if other == 'pid' else 'login_buergerid'))}</a></p>"
    )
    return _waiting(ctx, started, "stepup_title", "stepup_intro", switch)


def _own_path(ctx: Ctx, path: str) -> bool:
    return path.startswith(f"{ctx.base}/") and "//" not in path and "\\" not in path


@router.get("/portal/{ags}/login/status")
def login_status(ags: str, request: Request, session: WalletSessionDep) -> Response:
    """The pending login's state, for the polling script."""
    ctx = _context(request, ags, session, login=False)
    if isinstance(ctx, Response) or ctx.row is None or ctx.row.pending_tx is None:
        return JSONResponse({"status": "unknown"}, 404, headers=NO_STORE)
    assert ctx.cookie is not None
    view = tx.status(
        session, ctx.state.rp, transaction_id=ctx.row.pending_tx, binding=ctx.cookie, now=ctx.now
    )
    return JSONResponse({"status": view.status, "flow": view.flow}, headers=NO_STORE)


def _resident_of(session: Session, ctx: Ctx, presentation: dict[str, Any]) -> uuid.UUID | None:
    if presentation.get("kind") == "residence":
        if presentation.get("tenant_id") != ctx.tenant.id or not presentation.get("resident_id"):
            return None
        return uuid.UUID(str(presentation["resident_id"]))
    match = match_resident(
        session,
        tenant_id=ctx.tenant.id,
        claims=dict(presentation.get("claims") or {}),
        today=ctx.now.date(),
    )
    return match.resident_id if match.outcome == MatchOutcome.MATCHED else None


@router.get("/portal/{ags}/login/return/{transaction_id}", response_class=HTMLResponse)
def login_return(
    ags: str,
    transaction_id: str,
    request: Request,
    session: WalletSessionDep,
    response_code: Annotated[str | None, Query(max_length=128)] = None,
) -> Response:
    """The wallet answered: log in (a new session) or mark the session fresh."""
    ctx = _context(request, ags, session, login=False)
    if isinstance(ctx, Response):
        return ctx
    lang = ctx.lang
    retry = f"<p>{html.link_button(f'{ctx.base}/login', t(lang, 'retry'))}</p>"
    row = ctx.row
    if row is None or row.pending_tx != transaction_id or ctx.cookie is None:
        return ctx.html(t(lang, "login_title"), _alert(t(lang, "login_other_session")) + retry, 403)
    try:
        result = tx.take_result(
            session,
            ctx.state.rp,
            transaction_id=transaction_id,
            binding=ctx.cookie,
            response_code=response_code,
            now=ctx.now,
        )
    except WalletApiError as exc:
        session.rollback()
        if exc.code == "result_not_ready":
            href = f"{ctx.base}/login/return/{escape(transaction_id)}"
            link = f'<p><a href="{href}">{escape(t(lang, "continue"))}</a></p>'
            return ctx.html(
                t(lang, "login_title"),
                f'<p role="status">{escape(t(lang, "waiting"))}</p>{link}',
                202,
            )
        key = "login_other_session" if exc.code == "response_code_mismatch" else "login_failed"
        return ctx.html(t(lang, "login_title"), _alert(t(lang, key)) + retry, 400)
    resident_id = _resident_of(session, ctx, result.presentations[0])
    purpose, next_path = row.pending_purpose, row.pending_next
    row.pending_tx = row.pending_purpose = row.pending_next = None
    if resident_id is None:
        session.commit()
        return ctx.html(t(lang, "login_title"), _alert(t(lang, "login_not_resident")), 403)
    if purpose == STEPUP:
        if resident_id != row.resident_id:
            session.commit()
            return ctx.html(t(lang, "stepup_title"), _alert(t(lang, "login_wrong_person")), 403)
        row.fresh_until = ctx.now + sessions.FRESH
        session.commit()
        return ctx.redirect(next_path or f"{ctx.base}/permits")
    _new, cookie = sessions.rotate(session, row, resident_id=resident_id, now=ctx.now)
    session.commit()
    response = ctx.redirect(f"{ctx.base}/permits")
    sessions.set_cookie(response, cookie, secure=ctx.state.secure)
    return response


@router.post("/portal/{ags}/logout")
async def logout(ags: str, request: Request, session: WalletSessionDep) -> Response:
    """Log out: the session ends here and in the browser."""
    ctx = _context(request, ags, session)
    if isinstance(ctx, Response):
        return ctx
    form = await _form(request, ctx)
    if isinstance(form, Response):
        return form
    assert ctx.row is not None
    lang = ctx.lang
    sessions.end(session, ctx.row)
    session.commit()
    response = ctx.redirect(f"{ctx.base}?lang={lang}")
    sessions.clear_cookie(response, secure=ctx.state.secure)
    return response


@router.get("/portal/{ags}/lang")
def switch_language(
    ags: str,
    request: Request,
    session: WalletSessionDep,
    to: Annotated[str, Query(max_length=2)] = "de",
    next_path: Annotated[str, Query(alias="next", max_length=300)] = "",
) -> Response:
    """Switch the language of this session (or of the next page) and go back."""
    ctx = _context(request, ags, session, login=False)
    if isinstance(ctx, Response):
        return ctx
    lang = lang_of(to)
    if ctx.row is not None:
        ctx.row.lang = lang
        session.commit()
    target = next_path if _own_path(ctx, next_path) or next_path == ctx.base else ctx.base
    if ctx.row is None or ctx.row.resident_id is None:
        target = f"{ctx.base}?lang={lang}"
    return ctx.redirect(target)


# ----------------------------------------------------------------------------- permits


def _plates(permit: Permit) -> str:
    return ", ".join(p.plate for p in permit.plates)


def _zone(permit: Permit, names: dict[str, str]) -> str:
    return ", ".join(f"{c} {names[c]}" if c in names else c for c in permit.zone_codes)


def _facts(ctx: Ctx, permit: Permit, names: dict[str, str]) -> str:
    lang = ctx.lang
    rows = (
        ("type", TYPES[lang].get(permit.permit_type, permit.permit_type)),
        ("state", STATES[lang].get(permit.state, permit.state)),
        ("zone", _zone(permit, names)),
        ("plate", _plates(permit)),
        (
            "valid",
            t(
                lang,
                "valid_from_until",
                start=day(lang, as_utc(permit.valid_from)),
                end=day(lang, as_utc(permit.valid_until)),
            ),
        ),
    )
    return (
        "<dl>"
        + "".join(f"<dt>{escape(t(lang, k))}</dt><dd>{escape(v)}</dd>" for k, v in rows)
        + "</dl>"
    )


def _next_steps(ctx: Ctx, session: Session, permit: Permit) -> list[str]:
    lang = ctx.lang
    steps = []
    amount = payments.open_amount(permit)
    if amount is not None and permit.state in (PermitState.AWAITING_PAYMENT, PermitState.ACTIVE):
        key = "fee_open" if permit.state == PermitState.AWAITING_PAYMENT else "fee_open_renewal"
        steps.append(t(lang, key, amount=euros(lang, amount)))
    if permit.state == PermitState.ACTIVE and permit.permit_type == PermitType.BEW:
        opens = service.renewal_opens(session, permit, ctx.now)
        if opens is not None:
            steps.append(t(lang, "renew_from", date=day(lang, opens)))
    return steps


@router.get("/portal/{ags}/permits", response_class=HTMLResponse)
def permit_list(ags: str, request: Request, session: WalletSessionDep) -> Response:
    """Meine Parkausweise; without a running resident permit, the application right here."""
    ctx = _context(request, ags, session)
    if isinstance(ctx, Response):
        return ctx
    return _permits_page(ctx, session)


def _permits_page(ctx: Ctx, session: Session, notice: str = "", status: int = 200) -> HTMLResponse:
    lang = ctx.lang
    found = service.her_permits(session, tenant_id=ctx.tenant.id, resident_id=ctx.resident_id)
    names = service.zone_names(session, tenant_id=ctx.tenant.id)
    parts = [] if found else [f"<p>{escape(t(lang, 'permits_none'))}</p>"]
    for permit in found:
        steps = "".join(f"<li>{escape(s)}</li>" for s in _next_steps(ctx, session, permit))
        heading = t(lang, "permit_title", number=permit.number)
        parts.append(
            f'<section class="card" aria-labelledby="p{permit.number}">'
            f'<h2 id="p{permit.number}">{escape(heading)}</h2>{_facts(ctx, permit, names)}'
            + (f"<ul>{steps}</ul>" if steps else "")
            + f'<p><a href="{ctx.base}/permits/{permit.id}">'
            f"{escape(t(lang, 'details', number=permit.number))}</a></p></section>"
        )
    if not service.live_resident_permit(found):
        parts.append(_apply_section(ctx, session, names, notice))
    elif notice:
        parts.insert(0, notice)
    return ctx.html(t(lang, "permits_title"), "".join(parts), status)


def _windscreen_link(ctx: Ctx, permit: Permit) -> str:
    """The printable windscreen permit (PDF), for an active permit only."""
    if permit.state != PermitState.ACTIVE:
        return ""
    href = f"{ctx.base}/permits/{permit.id}/windscreen.pdf"
    return f"<p>{html.link_button(href, t(ctx.lang, 'windscreen'), 'button secondary')}</p>"


def _permit_page(
    ctx: Ctx,
    session: Session,
    permit: Permit,
    notice: str = "",
    status: int = 200,
    *,
    offer: bool = False,
) -> HTMLResponse:
    lang = ctx.lang
    base = f"{ctx.base}/permits/{permit.id}"
    names = service.zone_names(session, tenant_id=ctx.tenant.id)
    steps = _next_steps(ctx, session, permit)
    parts = [notice, _facts(ctx, permit, names)]
    offer = offer and service.offerable(permit)
    if offer:
        parts.append(
            f'<section aria-labelledby="into-wallet"><h2 id="into-wallet">'
            f"{escape(t(lang, 'wallet'))}</h2>{_offer_html(ctx, session, permit)}</section>"
        )
    if steps:
        parts.append(
            f"<h2>{escape(t(lang, 'next'))}</h2><ul>"
            + "".join(f"<li>{escape(s)}</li>" for s in steps)
            + "</ul>"
        )
    amount = payments.open_amount(permit)
    if amount is not None and permit.state in (PermitState.AWAITING_PAYMENT, PermitState.ACTIVE):
        parts.append(html.post_button(ctx.frame, f"{base}/pay", t(lang, "pay")))
    if service.offerable(permit) and not offer:
        parts.append(html.post_button(ctx.frame, f"{base}/wallet", t(lang, "wallet")))
    parts.append(_windscreen_link(ctx, permit))
    if permit.state == PermitState.ACTIVE and permit.permit_type == PermitType.BEW:
        parts.append(html.post_button(ctx.frame, f"{base}/renew", t(lang, "renew"), "secondary"))
        vehicles = service.her_vehicles(
            session, tenant_id=ctx.tenant.id, resident_id=ctx.resident_id
        )
        if vehicles:
            parts.append(
                f"<h2>{escape(t(lang, 'change_vehicle'))}</h2>"
                f"<p>{escape(t(lang, 'change_intro'))}</p>"
                + _vehicle_form(
                    ctx, f"{base}/vehicle", vehicles, t(lang, "change_submit"), "change"
                )
            )
    if permit.state in (PermitState.ACTIVE, PermitState.AWAITING_PAYMENT, PermitState.SUSPENDED):
        parts.append(
            f"<p>{html.link_button(f'{base}/return', t(lang, 'return'), 'button danger')}</p>"
        )
    parts.append(f'<p><a href="{ctx.base}/permits">{escape(t(lang, "nav_permits"))}</a></p>')
    return ctx.html(t(lang, "permit_title", number=permit.number), "".join(parts), status)


def _her_permit(ctx: Ctx, session: Session, permit_id: str) -> Permit:
    return service.her_permit(
        session, tenant_id=ctx.tenant.id, resident_id=ctx.resident_id, permit_id=permit_id
    )


@router.get("/portal/{ags}/permits/{permit_id}", response_class=HTMLResponse)
def permit_page(ags: str, permit_id: str, request: Request, session: WalletSessionDep) -> Response:
    """One permit and what she can do next."""
    ctx = _context(request, ags, session)
    if isinstance(ctx, Response):
        return ctx
    paid = request.query_params.get("paid") == "1"
    new = request.query_params.get("new") == "1"
    notice = _ok(t(ctx.lang, "paid")) if paid else ""
    # just paid or applied for: the wallet's offer is on the page (a single-use offer of her
    # own permit; the permit itself does not change)
    permit = _her_permit(ctx, session, permit_id)
    return _permit_page(ctx, session, permit, notice, offer=paid or new)


@router.get(
    "/portal/{ags}/permits/{permit_id}/windscreen.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def permit_windscreen_pdf(
    ags: str, permit_id: str, request: Request, session: WalletSessionDep
) -> Response:
    """Her active permit to print for the windscreen (PDF, A6): the same page a clerk prints,
    with the permit's current QR and no name or address."""
    ctx = _context(request, ags, session)
    if isinstance(ctx, Response):
        return ctx
    permit = _her_permit(ctx, session, permit_id)
    if permit.state != PermitState.ACTIVE:
        refused = escape(t(ctx.lang, "windscreen_inactive"))
        notice = f'<div role="alert" class="alert"><p>{refused}</p></div>'
        return _permit_page(ctx, session, permit, notice, 409)
    # the permit's current QR token is signed now if it has none: stored with this commit
    pdf = windscreen.printed_pdf(
        session, ctx.state.wallet.keys, tenant=ctx.tenant, permit=permit, now=ctx.now
    )
    session.commit()
    return Response(pdf.body, media_type=pdf.media_type, headers=pdf.headers)


def _refusal_html(ctx: Ctx, refused: service.Refusal) -> str:
    items = "".join(
        f"<li>{escape(refusal(ctx.lang, c, **refused.facts))}</li>" for c in refused.codes
    )
    intro = escape(t(ctx.lang, "apply_refused"))
    return f'<div role="alert" class="alert"><p>{intro}</p><ul>{items}</ul></div>'


async def _permit_form(
    request: Request, ags: str, session: Session, permit_id: str
) -> tuple[Ctx, dict[str, str], Permit] | Response:
    """A form posted about one of her permits: the context, its fields, the permit."""
    ctx = _context(request, ags, session)
    if isinstance(ctx, Response):
        return ctx
    form = await _form(request, ctx)
    if isinstance(form, Response):
        return form
    return ctx, form, _her_permit(ctx, session, permit_id)


@router.post("/portal/{ags}/permits/{permit_id}/pay")
async def pay(ags: str, permit_id: str, request: Request, session: WalletSessionDep) -> Response:
    """Pay the open fee: off to the payment provider's page."""
    found = await _permit_form(request, ags, session, permit_id)
    if isinstance(found, Response):
        return found
    ctx, _fields, permit = found
    provider = ctx.state.provider
    if provider is None:
        return _permit_page(ctx, session, permit, _alert(t(ctx.lang, "pay_unavailable")), 409)
    return _begin_payment(ctx, session, permit, provider)


def _begin_payment(
    ctx: Ctx, session: Session, permit: Permit, provider: payments.PaymentProvider
) -> Response:
    """Off to the provider's page; it sends her back to the permit (paid=1)."""
    payment = payments.start(
        session, permit=permit, resident_id=ctx.resident_id, provider=provider.name, now=ctx.now
    )
    session.commit()
    target = provider.begin(
        payment,
        purpose=f"{t(ctx.lang, 'permit_title', number=permit.number)}",
        return_url=f"{ctx.state.rp.base_url}{ctx.base}/permits/{permit.id}?paid=1",
    )
    return ctx.redirect(target)


@router.post("/portal/{ags}/permits/{permit_id}/wallet", response_class=HTMLResponse)
async def into_wallet(
    ags: str, permit_id: str, request: Request, session: WalletSessionDep
) -> Response:
    """The permit into her wallet in one step: a link on this device or a QR code."""
    found = await _permit_form(request, ags, session, permit_id)
    if isinstance(found, Response):
        return found
    ctx, _fields, permit = found
    if not service.offerable(permit):
        return _permit_page(ctx, session, permit, _alert(t(ctx.lang, "conflict")), 409)
    number, pid = permit.number, permit.id
    lang = ctx.lang
    body = (
        _offer_html(ctx, session, permit)
        + f'<p><a href="{ctx.base}/permits/{pid}">{escape(t(lang, "back_permit"))}</a></p>'
    )
    return ctx.html(t(lang, "wallet_title") + f" ({number})", body)


def _offer_html(ctx: Ctx, session: Session, permit: Permit) -> str:
    """A new single-use offer of the permit: a link on this device and a QR code."""
    offer = service.wallet_offer(
        session,
        tenant=ctx.tenant,
        permit=permit,
        credential_issuer=ctx.state.wallet.credential_issuer,
        policy=ctx.state.wallet.policy,
        now=ctx.now,
    )
    lang = ctx.lang
    return (
        f"<p>{escape(t(lang, 'wallet_intro'))}</p>"
        + (f"<p>{escape(t(lang, 'wallet_deferred'))}</p>" if offer.deferred else "")
        + f"<p>{html.link_button(offer.url, t(lang, 'wallet_link'))}</p>"
        f"<figure><figcaption>{escape(t(lang, 'cross_device'))}</figcaption>"
        f"{qr_svg(offer.url, t(lang, 'qr_label'))}</figure>"
    )


@router.post("/portal/{ags}/permits/{permit_id}/renew", response_class=HTMLResponse)
async def renew(ags: str, permit_id: str, request: Request, session: WalletSessionDep) -> Response:
    """Renew in the renewal window; the renewal's fee is then open."""
    found = await _permit_form(request, ags, session, permit_id)
    if isinstance(found, Response):
        return found
    ctx, _fields, permit = found
    outcome = service.renew(
        session, ctx.state.wallet.keys, permit=permit, resident_id=ctx.resident_id, now=ctx.now
    )
    if isinstance(outcome, service.Refusal):
        again = _her_permit(ctx, session, permit_id)
        return _permit_page(ctx, session, again, _refusal_html(ctx, outcome), 422)
    notice = _ok(t(ctx.lang, "renew_done", date=day(ctx.lang, as_utc(outcome.valid_until))))
    return _permit_page(ctx, session, _her_permit(ctx, session, permit_id), notice)


def _vehicle_form(
    ctx: Ctx, action: str, vehicles: list[Any], submit: str, prefix: str, error: str = ""
) -> str:
    lang = ctx.lang
    described = f' aria-describedby="{prefix}-error"' if error else ""
    radios = "".join(
        f'<label><input type="radio" name="vehicle" value="{v.id}" id="{prefix}-{i}"'
        f"{' required' if i == 0 else ''}{described}> {escape(v.plate)}</label>"
        for i, v in enumerate(vehicles)
    )
    err = f'<p id="{prefix}-error" class="error">{escape(error)}</p>' if error else ""
    return (
        f'<form method="post" action="{escape(action)}">{html.hidden_csrf(ctx.frame)}'
        f"<fieldset><legend>{escape(t(lang, 'apply_vehicle'))}</legend>{err}{radios}</fieldset>"
        f'<button type="submit">{escape(submit)}</button></form>'
    )


@router.post("/portal/{ags}/permits/{permit_id}/vehicle", response_class=HTMLResponse)
async def change_vehicle(
    ags: str, permit_id: str, request: Request, session: WalletSessionDep
) -> Response:
    """Another vehicle or a new plate: the old permit ends at once, a new one follows."""
    found = await _permit_form(request, ags, session, permit_id)
    if isinstance(found, Response):
        return found
    ctx, form, permit = found
    vehicles = service.her_vehicles(session, tenant_id=ctx.tenant.id, resident_id=ctx.resident_id)
    vehicle_id = service.vehicle_of(vehicles, form.get("vehicle"))
    if vehicle_id is None:
        return _permit_page(ctx, session, permit, _alert(t(ctx.lang, "apply_choose")), 422)
    outcome = service.change_vehicle(
        session,
        ctx.state.wallet.keys,
        tenant=ctx.tenant,
        permit=permit,
        resident_id=ctx.resident_id,
        vehicle_id=vehicle_id,
        now=ctx.now,
    )
    if isinstance(outcome, service.Refusal):
        return _permit_page(
            ctx, session, _her_permit(ctx, session, permit_id), _refusal_html(ctx, outcome), 422
        )
    return ctx.redirect(f"{ctx.base}/permits/{outcome.id}")


def _needs_fresh(ctx: Ctx, path: str) -> Response | None:
    assert ctx.row is not None
    if sessions.is_fresh(ctx.row, ctx.now):
        return None
    return ctx.redirect(f"{ctx.base}/confirm?{urlencode({'next': path})}")


@router.get("/portal/{ags}/permits/{permit_id}/return", response_class=HTMLResponse)
def return_form(ags: str, permit_id: str, request: Request, session: WalletSessionDep) -> Response:
    """Return a permit: after a fresh presentation, what it means and the button."""
    ctx = _context(request, ags, session)
    if isinstance(ctx, Response):
        return ctx
    permit = _her_permit(ctx, session, permit_id)
    path = f"{ctx.base}/permits/{permit.id}/return"
    fresh = _needs_fresh(ctx, path)
    if fresh is not None:
        return fresh
    lang = ctx.lang
    body = (
        f"<p>{escape(t(lang, 'return_intro'))}</p>"
        + html.post_button(ctx.frame, path, t(lang, "return_submit"), "danger")
        + f'<p><a href="{ctx.base}/permits/{permit.id}">{escape(t(lang, "back_permit"))}</a></p>'
    )
    return ctx.html(t(lang, "return") + f" ({permit.number})", body)


@router.post("/portal/{ags}/permits/{permit_id}/return", response_class=HTMLResponse)
async def return_permit(
    ags: str, permit_id: str, request: Request, session: WalletSessionDep
) -> Response:
    """Return: revoked with the reason ``returned`` (only after a fresh presentation)."""
    found = await _permit_form(request, ags, session, permit_id)
    if isinstance(found, Response):
        return found
    ctx, _fields, permit = found
    fresh = _needs_fresh(ctx, f"{ctx.base}/permits/{permit.id}/return")
    if fresh is not None:
        return fresh
    service.give_back(session, permit=permit, now=ctx.now)
    return _permit_page(
        ctx, session, _her_permit(ctx, session, permit_id), _ok(t(ctx.lang, "returned"))
    )


# ------------------------------------------------------------------------------ apply


def _apply_section(ctx: Ctx, session: Session, names: dict[str, str], notice: str) -> str:
    """The application on "Meine Parkausweise": each of her vehicles with the period and the
    fee it would cost, and its own button, so that choosing the car and applying is one
    click and the fee is on screen before it."""
    lang = ctx.lang
    head = f'<section aria-labelledby="apply"><h2 id="apply">{escape(t(lang, "apply_title"))}</h2>'
    vehicles = service.her_vehicles(session, tenant_id=ctx.tenant.id, resident_id=ctx.resident_id)
    if not vehicles:
        return f"{head}{notice}<p>{escape(t(lang, 'apply_no_vehicles'))}</p></section>"
    zone = service.her_zone(
        session, tenant_id=ctx.tenant.id, resident_id=ctx.resident_id, today=ctx.now.date()
    )
    if zone is None:
        return f"{head}{notice}{_alert(t(lang, 'no_zone'))}</section>"
    quotes = service.quotes(
        session,
        tenant_id=ctx.tenant.id,
        resident_id=ctx.resident_id,
        zone=zone,
        vehicles=vehicles,
        now=ctx.now,
    )
    items = []
    for i, quote in enumerate(quotes):
        summary = t(
            lang,
            "apply_summary",
            zone=f"{zone} {names.get(zone, '')}".strip(),
            plate=quote.plate,
            start=day(lang, quote.valid_from),
            end=day(lang, quote.valid_until),
        )
        fee = (
            t(lang, "apply_fee", months=quote.months, amount=euros(lang, quote.amount_cents))
            if quote.amount_cents
            else t(lang, "apply_free")
        )
        label = t(lang, "apply_confirm" if quote.amount_cents else "apply_submit_free")
        items.append(
            f'<li class="card"><form method="post" action="{ctx.base}/apply">'
            f"{html.hidden_csrf(ctx.frame)}"
            f'<input type="hidden" name="vehicle" value="{quote.vehicle_id}">'
            f'<input type="hidden" name="fee" value="{quote.amount_cents}">'
            f'<h3 id="v{i}">{escape(quote.plate)}</h3><p>{escape(summary)}</p>'
            f"<p><strong>{escape(fee)}</strong></p>"
            f'<button type="submit">{escape(label)}'
            f'<span class="skip"> ({escape(quote.plate)})</span></button></form></li>'
        )
    return (
        f"{head}{notice}<p>{escape(t(lang, 'apply_intro'))}</p>"
        f'<ul class="plain">{"".join(items)}</ul></section>'
    )


def _fee_as_shown(
    ctx: Ctx,
    session: Session,
    shown: str | None,
    vehicles: Sequence[Vehicle],
    vehicle_id: uuid.UUID,
    zone: str,
) -> bool:
    """Whether the fee her form showed (its hidden ``fee``, in cents) is what applying now
    charges: she commits to the amount she saw, never to another one. A form without the
    field (not one of our pages) is not checked."""
    if shown is None:
        return True
    chosen = [v for v in vehicles if v.id == vehicle_id]
    quoted = service.quotes(
        session,
        tenant_id=ctx.tenant.id,
        resident_id=ctx.resident_id,
        zone=zone,
        vehicles=chosen,
        now=ctx.now,
    )
    return shown.isdigit() and len(shown) <= 9 and int(shown) == quoted[0].amount_cents


@router.post("/portal/{ags}/apply", response_class=HTMLResponse)
async def apply(ags: str, request: Request, session: WalletSessionDep) -> Response:
    """Apply for good for the chosen vehicle: every failed rule in words, or the permit; a
    fee to pay first goes straight to the payment provider's page."""
    ctx = _context(request, ags, session)
    if isinstance(ctx, Response):
        return ctx
    form = await _form(request, ctx)
    if isinstance(form, Response):
        return form
    lang = ctx.lang
    vehicles = service.her_vehicles(session, tenant_id=ctx.tenant.id, resident_id=ctx.resident_id)
    vehicle_id = service.vehicle_of(vehicles, form.get("vehicle"))
    zone = service.her_zone(
        session, tenant_id=ctx.tenant.id, resident_id=ctx.resident_id, today=ctx.now.date()
    )
    if vehicle_id is None:
        return _permits_page(ctx, session, _alert(t(lang, "apply_choose")), 422)
    if zone is None:
        return _permits_page(ctx, session, _alert(t(lang, "no_zone")), 422)
    if not _fee_as_shown(ctx, session, form.get("fee"), vehicles, vehicle_id, zone):
        return _permits_page(ctx, session, _alert(t(lang, "fee_changed")), 409)
    outcome = service.apply(
        session,
        ctx.state.wallet.keys,
        tenant=ctx.tenant,
        resident_id=ctx.resident_id,
        zone=zone,
        vehicle_id=vehicle_id,
        now=ctx.now,
    )
    if isinstance(outcome, service.Refusal):
        return _permits_page(ctx, session, _refusal_html(ctx, outcome), 422)
    if outcome.state == PermitState.AWAITING_PAYMENT and ctx.state.provider is not None:
        return _begin_payment(ctx, session, outcome, ctx.state.provider)
    return ctx.redirect(f"{ctx.base}/permits/{outcome.id}?new=1")


# --------------------------------------------------------------------------- visitors


def _visitors_page(
    ctx: Ctx,
    session: Session,
    notice: str = "",
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    from issuer.services import permits as permit_services

    lang = ctx.lang
    errors = errors or {}
    rules = permit_services.rules_for(session, tenant_id=ctx.tenant.id, permit_type=PermitType.BES)
    if not rules.offered or rules.visitor_quota_per_year <= 0:
        return ctx.html(
            t(lang, "visitors_title"), notice + f"<p>{escape(t(lang, 'visitors_none'))}</p>", status
        )
    used = service.visitors_used(
        session, tenant_id=ctx.tenant.id, resident_id=ctx.resident_id, now=ctx.now
    )

    def field(name: str, label: str, kind: str, extra: str, hint: str = "") -> str:
        ids = [f"{name}-hint"] if hint else []
        if name in errors:
            ids.append(f"{name}-error")
        described = f' aria-describedby="{" ".join(ids)}"' if ids else ""
        invalid = ' aria-invalid="true"' if name in errors else ""
        return (
            f'<label for="{name}">{escape(label)}</label>'
            + (f'<p id="{name}-hint" class="hint">{escape(hint)}</p>' if hint else "")
            + (
                f'<p id="{name}-error" class="error">{escape(errors[name])}</p>'
                if name in errors
                else ""
            )
            + f'<input type="{kind}" id="{name}" name="{name}" {extra}'
            + f"{described}{invalid} required>"
        )

    body = (
        notice + f"<p>{escape(t(lang, 'visitors_intro'))}</p>"
        f"<p>{escape(t(lang, 'visitors_quota', used=used, quota=rules.visitor_quota_per_year))}</p>"
        f'<form method="post" action="{ctx.base}/visitors">{html.hidden_csrf(ctx.frame)}'
        + field(
            "plate",
            t(lang, "visitors_plate"),
            "text",
            'autocomplete="off" maxlength="16"',
            t(lang, "visitors_plate_hint"),
        )
        + field("start", t(lang, "visitors_from"), "date", f'value="{ctx.now.date().isoformat()}"')
        + field(
            "days",
            t(lang, "visitors_days"),
            "number",
            f'min="1" max="{rules.visitor_max_days}" value="1"',
        )
        + f'<p><button type="submit">{escape(t(lang, "visitors_submit"))}</button></p></form>'
    )
    return ctx.html(t(lang, "visitors_title"), body, status)


@router.get("/portal/{ags}/visitors", response_class=HTMLResponse)
def visitors_page(ags: str, request: Request, session: WalletSessionDep) -> Response:
    """Visitor permits from her quota."""
    ctx = _context(request, ags, session)
    if isinstance(ctx, Response):
        return ctx
    return _visitors_page(ctx, session)


def _date(raw: str) -> date | None:
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(raw.strip(), fmt).date()
        except ValueError:
            continue
    return None


@router.post("/portal/{ags}/visitors", response_class=HTMLResponse)
async def visitor_permit(ags: str, request: Request, session: WalletSessionDep) -> Response:
    """Issue a visitor permit (checked field by field first)."""
    from issuer.services import permits as permit_services

    ctx = _context(request, ags, session)
    if isinstance(ctx, Response):
        return ctx
    form = await _form(request, ctx)
    if isinstance(form, Response):
        return form
    lang = ctx.lang
    rules = permit_services.rules_for(session, tenant_id=ctx.tenant.id, permit_type=PermitType.BES)
    errors: dict[str, str] = {}
    plate = form.get("plate", "").strip()
    if not 2 <= len(plate) <= 16:
        errors["plate"] = t(lang, "bad_plate")
    start = _date(form.get("start", ""))
    if start is None or start < ctx.now.date():
        errors["start"] = t(lang, "bad_date")
    days = int(form["days"]) if form.get("days", "").isdigit() and len(form["days"]) < 4 else 0
    if not 1 <= days <= rules.visitor_max_days:
        errors["days"] = t(lang, "bad_days", max=rules.visitor_max_days)
    zone = service.her_zone(
        session, tenant_id=ctx.tenant.id, resident_id=ctx.resident_id, today=ctx.now.date()
    )
    if errors or start is None:
        return _visitors_page(ctx, session, errors=errors, status=422)
    if zone is None:
        return _visitors_page(ctx, session, notice=_alert(t(lang, "no_zone")), status=422)
    try:
        outcome = service.visitor_permit(
            session,
            ctx.state.wallet.keys,
            tenant=ctx.tenant,
            resident_id=ctx.resident_id,
            zone=zone,
            plate=plate,
            start=start,
            days=days,
            now=ctx.now,
        )
    except IssuerError:
        session.rollback()
        return _visitors_page(ctx, session, errors={"plate": t(lang, "bad_plate")}, status=422)
    if isinstance(outcome, service.Refusal):
        if outcome.codes == ("invalid_plate",):
            return _visitors_page(ctx, session, errors={"plate": t(lang, "bad_plate")}, status=422)
        return _visitors_page(ctx, session, notice=_refusal_html(ctx, outcome), status=422)
    return ctx.redirect(f"{ctx.base}/permits/{outcome.id}")


# ---------------------------------------------------------------------------- devices


@router.get("/portal/{ags}/devices", response_class=HTMLResponse)
def devices_page(
    ags: str,
    request: Request,
    session: WalletSessionDep,
    removed: Annotated[int | None, Query(ge=0, le=10**6)] = None,
) -> Response:
    """Meine Geräte: her wallets' devices, and removing a lost phone."""
    ctx = _context(request, ags, session)
    if isinstance(ctx, Response):
        return ctx
    lang = ctx.lang
    found = list_devices(session, tenant_id=ctx.tenant.id, resident_id=ctx.resident_id)
    notice = _ok(t(lang, "device_removed_done", credentials=removed)) if removed is not None else ""
    items = []
    for device in found:
        text = t(lang, "device", date=day(lang, device.created_at), count=device.credentials)
        if device.removed_at is not None:
            text += f" – {t(lang, 'device_removed', date=day(lang, device.removed_at))}"
            action = ""
        else:
            action = (
                f' <a href="{ctx.base}/devices/{device.id}/remove">'
                f"{escape(t(lang, 'device_remove'))}"
                f'<span class="skip"> ({escape(device.thumbprint[:8])})</span></a>'
            )
        items.append(
            f"<li>{escape(text)} <code>{escape(device.thumbprint[:8])}</code>{action}</li>"
        )
    listing = f"<ul>{''.join(items)}</ul>" if items else f"<p>{escape(t(lang, 'devices_none'))}</p>"
    body = (
        notice
        + f"<p>{escape(t(lang, 'devices_intro'))}</p>{listing}"
        + f"<p>{escape(t(lang, 'device_remove_intro'))}</p>"
    )
    return ctx.html(t(lang, "devices_title"), body)


def _her_device(ctx: Ctx, session: Session, device_id: str) -> Any:
    for device in list_devices(session, tenant_id=ctx.tenant.id, resident_id=ctx.resident_id):
        if device.id == device_id and device.removed_at is None:
            return device
    raise WalletProblem("not_found", "no such device", status=404)


@router.get("/portal/{ags}/devices/{device_id}/remove", response_class=HTMLResponse)
def remove_form(ags: str, device_id: str, request: Request, session: WalletSessionDep) -> Response:
    """Remove a device: after a fresh presentation, what it does and the button."""
    ctx = _context(request, ags, session)
    if isinstance(ctx, Response):
        return ctx
    device = _her_device(ctx, session, device_id)
    path = f"{ctx.base}/devices/{device.id}/remove"
    fresh = _needs_fresh(ctx, path)
    if fresh is not None:
        return fresh
    lang = ctx.lang
    text = t(lang, "device", date=day(lang, device.created_at), count=device.credentials)
    body = (
        f"<p>{escape(text)} <code>{escape(device.thumbprint[:8])}</code></p>"
        f"<p>{escape(t(lang, 'device_remove_intro'))}</p>"
        + html.post_button(ctx.frame, path, t(lang, "device_remove_submit"), "danger")
    )
    return ctx.html(t(lang, "device_remove"), body)


@router.post("/portal/{ags}/devices/{device_id}/remove")
async def remove(ags: str, device_id: str, request: Request, session: WalletSessionDep) -> Response:
    """Remove a lost phone: its credentials are revoked, its grants end."""
    ctx = _context(request, ags, session)
    if isinstance(ctx, Response):
        return ctx
    form = await _form(request, ctx)
    if isinstance(form, Response):
        return form
    device = _her_device(ctx, session, device_id)
    fresh = _needs_fresh(ctx, f"{ctx.base}/devices/{device.id}/remove")
    if fresh is not None:
        return fresh
    done = remove_device(
        session,
        tenant_id=ctx.tenant.id,
        device_id=device.id,
        now=ctx.now,
        resident_id=ctx.resident_id,
        actor="portal",
    )
    session.commit()
    return ctx.redirect(f"{ctx.base}/devices?removed={done.revoked_credentials}")


# ---------------------------------------------------------------------------- payments


def _her_payment(
    request: Request, session: Session, payment_id: str
) -> tuple[Ctx, PortalPayment] | Response:
    payment = session.get(PortalPayment, payment_id) if len(payment_id) <= 36 else None
    if payment is None:
        return _error_page(request, 404, "not_found")
    tenant = session.get(Tenant, payment.tenant_id)
    assert tenant is not None
    ctx = _context(request, tenant.ags, session)
    if isinstance(ctx, Response):
        return ctx
    if payment.resident_id != ctx.resident_id:
        return _error_page(request, 404, "not_found")
    return ctx, payment


@router.get("/portal/pay/dev/{payment_id}", response_class=HTMLResponse)
def dev_payment_page(payment_id: str, request: Request, session: WalletSessionDep) -> Response:
    """The development provider's page: "Zahlung bestätigen"."""
    found = _her_payment(request, session, payment_id)
    if isinstance(found, Response):
        return found
    ctx, payment = found
    lang = ctx.lang
    permit = _her_permit(ctx, session, str(payment.permit_id))
    rows = (
        (t(lang, "pay_amount"), euros(lang, payment.amount_cents)),
        (
            t(lang, "pay_for"),
            f"{ctx.frame.brand.name} · {t(lang, 'permit_title', number=permit.number)}",
        ),
    )
    facts = "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows) + "</dl>"
    body = (
        f"<p>{escape(t(lang, 'pay_intro'))}</p>{facts}"
        + html.post_button(ctx.frame, f"/portal/pay/dev/{payment.id}", t(lang, "pay_confirm"))
        + f'<p><a href="{ctx.base}/permits/{permit.id}">{escape(t(lang, "back_permit"))}</a></p>'
    )
    return ctx.html(t(lang, "pay_title"), body)


@router.post("/portal/pay/dev/{payment_id}")
async def dev_payment_confirm(
    payment_id: str, request: Request, session: WalletSessionDep
) -> Response:
    """Confirm: the development provider signs its callback and delivers it, as a real
    provider would (through the same check)."""
    found = _her_payment(request, session, payment_id)
    if isinstance(found, Response):
        return found
    ctx, payment = found
    form = await _form(request, ctx)
    if isinstance(form, Response):
        return form
    if not isinstance(ctx.state.provider, payments.DevelopmentProvider):
        return _error_page(request, 404, "not_found")
    body = payments.callback_body(payment, provider_ref=f"dev-{uuid.uuid4().hex[:16]}")
    permit_id = payment.permit_id
    payments.receive_callback(
        session,
        ctx.state.wallet.keys,
        secret=ctx.state.secret,
        body=body,
        signature=payments.sign(ctx.state.secret, body),
        now=ctx.now,
    )
    return ctx.redirect(f"{ctx.base}/permits/{permit_id}?paid=1")


@callbacks.post("/portal/payments/{provider}/callback")
async def payment_callback(
    provider: str, request: Request, session: WalletSessionDep
) -> JSONResponse:
    """A payment provider's signed callback (``X-Payment-Signature: sha256=<hex>``)."""
    state = _state(request)
    if state.provider is None or provider != state.provider.name:
        raise WalletProblem("unknown_provider", "no such payment provider", status=404)
    body = await read_bounded(request, payments.MAX_CALLBACK_BYTES, WalletProblem)
    payment = payments.receive_callback(
        session,
        state.wallet.keys,
        secret=state.secret,
        body=body,
        signature=request.headers.get(payments.SIGNATURE_HEADER),
        now=state.wallet.clock.now(),
    )
    return JSONResponse({"payment_id": payment.id, "status": payment.status}, headers=NO_STORE)


__all__ = ["REFUSALS", "PortalState", "callbacks", "router"]
