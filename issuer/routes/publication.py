"""Public artefacts: status lists (CWT/JWT by content negotiation), the trust bundle, the JWKS.

Served with a strong ETag and Cache-Control; `If-None-Match` answers 304. The bytes are built
when state changed and stored, never signed per request; when nothing changed they come from
process memory after one cheap statement (issuer/services/publication.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Request, Response

from issuer.deps import get_clock, get_keys, get_session_factory, get_settings
from issuer.schemas.common import PROBLEM_RESPONSES
from issuer.services import publication as service

router = APIRouter(tags=["publication"], responses=PROBLEM_RESPONSES)

TRUST_BUNDLE_TYPE = "application/vnd.buergerid.trust-bundle+cbor"
STATUS_LIST_JWT = "application/statuslist+jwt"
STATUS_LIST_CWT = "application/statuslist+cwt"
MAX_ACCEPT_RANGES = 32


def _quality(ranges: list[tuple[str, float]], media_type: str) -> float:
    """The q of the most specific media range matching `media_type` (RFC 9110 §12.5.1)."""
    major = media_type.split("/", 1)[0]
    best: tuple[int, float] = (-1, 0.0)
    for value, q in ranges:
        if value == media_type:
            rank = 2
        elif value == f"{major}/*":
            rank = 1
        elif value == "*/*":
            rank = 0
        else:
            continue
        if rank > best[0]:
            best = (rank, q)
    return best[1]


def status_list_form(accept: str) -> str:
    """ "jwt" unless `accept` prefers the CWT: SD-JWT VC relying parties fetch the JWT form
    (draft-ietf-oauth-sd-jwt-vc §3.2.2.2), often without an Accept header; a handheld asks
    for `application/statuslist+cwt`."""
    ranges: list[tuple[str, float]] = []
    for part in accept.split(",")[:MAX_ACCEPT_RANGES]:
        value, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            name, _, raw = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(raw), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        if value:
            ranges.append((value.lower(), q))
    if not ranges:
        return "jwt"
    return "cwt" if _quality(ranges, STATUS_LIST_CWT) > _quality(ranges, STATUS_LIST_JWT) else "jwt"


def _matches(request: Request, etag: str) -> bool:
    header = request.headers.get("if-none-match", "")
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return etag in tags


def _serve(
    request: Request, body: bytes, etag: str, media_type: str, cache_control: str
) -> Response:
    headers = {"ETag": etag, "Cache-Control": cache_control, "Vary": "Accept"}
    if _matches(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


@router.get(
    "/status-lists/{ags}/{list_no}",
    response_class=Response,
    responses={200: {"content": {STATUS_LIST_JWT: {}, STATUS_LIST_CWT: {}}}},
)
def get_status_list(
    request: Request,
    ags: str = Path(pattern=r"^\d{8}$"),
    list_no: int = Path(ge=0, le=2**31 - 1),
) -> Response:
    """A Status List Token: the JWT by default, the CWT for `Accept: application/statuslist+cwt`."""
    form = status_list_form(request.headers.get("accept", ""))
    # no dependencies beyond the request: each would cost a thread-pool hop on the hot path;
    # one session and transaction, committed before the response, as SessionDep does
    now = get_clock(request).now()
    with get_session_factory(request)() as session, session.begin():
        artefact = service.status_list(
            session, get_keys(request), ags=ags, list_no=list_no, form=form, now=now
        )
    max_age = min(get_settings(request).status_list_ttl_seconds, 300)
    return _serve(
        request,
        artefact.body,
        artefact.etag,
        artefact.media_type,
        f"public, max-age={max_age}, must-revalidate",
    )


@router.get(
    "/trust-bundle",
    response_class=Response,
    responses={200: {"content": {TRUST_BUNDLE_TYPE: {}}}},
)
def get_trust_bundle(request: Request) -> Response:
    """The signed trust bundle (docs/formats.md); `seq` grows whenever its content changes."""
    now = get_clock(request).now()
    with get_session_factory(request)() as session, session.begin():
        artefact = service.trust_bundle_artefact(session, get_keys(request), now=now)
    cache_control = "public, max-age=60, must-revalidate"
    return _serve(request, artefact.body, artefact.etag, TRUST_BUNDLE_TYPE, cache_control)


@router.get(
    "/.well-known/jwks.json",
    response_class=Response,
    responses={200: {"content": {"application/jwk-set+json": {}}}},
)
def get_jwks(request: Request) -> Response:
    """Every tenant's published public keys (kid = JWS kid)."""
    now = get_clock(request).now()
    with get_session_factory(request)() as session, session.begin():
        artefact = service.jwks(session, get_keys(request), now=now)
    return _serve(
        request,
        artefact.body,
        artefact.etag,
        artefact.media_type,
        "public, max-age=300, must-revalidate",
    )
