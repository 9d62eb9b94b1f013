"""Which tenant an issuer URL names, so every tenant's issuer URL is answered here: JWT VC
Issuer Metadata at `/.well-known/jwt-vc-issuer<path>` (draft-ietf-oauth-sd-jwt-vc §5.1)
and Type Metadata at `<issuer URL>/vct/<kind>`.

Two ways a tenant's URL reaches this service (docs/operations.md): a path under the public
base URL (`https://wallet.example/issuers/05513000`), or a host of its own
(`https://ausweis.gelsenkirchen.de`) that the proxy forwards with its `Host` header. A
request is matched on its path first; when several tenants share that path (host-based
tenants all have the empty path), the request's host decides.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from issuer.db.models import Tenant
from wallet_api.services import bridge


def _path(url: str) -> str:
    return urlsplit(url).path.strip("/")


def _host(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return f"{host}:{parts.port}" if parts.port else host


def tenant_for_issuer(session: Session, *, host: str, path: str) -> Tenant | None:
    """The tenant whose issuer URL has `path` (and, among several, `host`), or None."""
    wanted = path.strip("/")
    candidates = [t for t in bridge.all_tenants(session) if _path(t.issuer_url) == wanted]
    if len(candidates) == 1:
        return candidates[0]
    request_host = host.lower()
    by_host = [t for t in candidates if _host(t.issuer_url) == request_host]
    if len(by_host) == 1:
        return by_host[0]
    # default ports: "example.de" and "example.de:443" name the same host
    bare = request_host.rsplit(":", 1)[0] if request_host.endswith((":443", ":80")) else None
    by_bare = [t for t in candidates if bare is not None and _host(t.issuer_url) == bare]
    return by_bare[0] if len(by_bare) == 1 else None
