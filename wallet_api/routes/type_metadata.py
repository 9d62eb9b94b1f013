"""Documents wallets and relying parties fetch for display and trust:

GET <issuer URL>/vct/<kind>        SD-JWT VC Type Metadata of a tenant's credential type
GET /wallet/logos/<ags>.png        the tenant's logo (display metadata points here)
GET /wallet/issuing-ca.pem         the issuing CA's root certificate (x5c trust anchor)

Type Metadata is answered for the tenant whose issuer URL the request names (by path, or by
host when several tenants share a path, `services/issuers.py`), byte for byte the document
whose digest credentials carry as `vct#integrity`.
"""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request
from fastapi.responses import Response

from issuer.services.certificates import root_certificate
from keys.x509 import to_pem
from wallet_api.deps import WalletSessionDep, WalletStateDep
from wallet_api.errors import WalletProblem
from wallet_api.services import bridge, tenant_settings
from wallet_api.services.credential_types import TYPES
from wallet_api.services.issuers import tenant_for_issuer
from wallet_api.services.type_metadata import type_metadata_bytes

router = APIRouter(tags=["wallet metadata"])


def _cached(request: Request, body: bytes, media_type: str, prefix: str) -> Response:
    """`body` with a strong ETag and an hour's caching; 304 for the same ETag."""
    etag = f'"{prefix}-{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {"Cache-Control": "public, max-age=3600", "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


def _not_found() -> WalletProblem:
    return WalletProblem("not_found", "no such document", status=404)


def _type_metadata(
    state: WalletStateDep, session: WalletSessionDep, request: Request, prefix: str, kind: str
) -> Response:
    if kind not in TYPES:
        raise _not_found()
    tenant = tenant_for_issuer(session, host=request.headers.get("host", ""), path=prefix)
    if tenant is None:
        raise _not_found()
    body = type_metadata_bytes(
        kind,
        issuer_url=tenant.issuer_url,
        public_base_url=state.credential_issuer,
        ags=tenant.ags,
    )
    return _cached(request, body, "application/json", "tm")


@router.get("/vct/{kind}", response_class=Response)
def type_metadata_root(
    kind: str, state: WalletStateDep, session: WalletSessionDep, request: Request
) -> Response:
    """Type Metadata of a tenant whose issuer URL has no path (a host of its own)."""
    return _type_metadata(state, session, request, "", kind)


@router.get("/{prefix:path}/vct/{kind}", response_class=Response)
def type_metadata(
    prefix: str, kind: str, state: WalletStateDep, session: WalletSessionDep, request: Request
) -> Response:
    """Type Metadata of the tenant whose issuer URL path is ``prefix``."""
    return _type_metadata(state, session, request, prefix, kind)


@router.get("/wallet/logos/{ags}.png", response_class=Response)
def logo(ags: str, session: WalletSessionDep, request: Request) -> Response:
    """The tenant's logo, or the default one."""
    tenant = bridge.tenant_by_ags(session, ags) if len(ags) == 8 and ags.isdigit() else None
    if tenant is None:
        raise _not_found()
    return _cached(request, tenant_settings.logo(session, tenant.id), "image/png", "logo")


@router.get("/wallet/issuing-ca.pem", response_class=Response)
def issuing_ca(state: WalletStateDep) -> Response:
    """The root certificate of the issuing CA (the anchor of every x5c chain we send)."""
    root = root_certificate(state.keys)
    if root is None:
        raise _not_found()
    return Response(
        to_pem([root]),
        media_type="application/x-pem-file",
        headers={"Cache-Control": "public, max-age=3600"},
    )
