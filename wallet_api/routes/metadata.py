"""Discovery documents: credential issuer metadata (OpenID4VCI 1.0 §11.2), authorization
server metadata (RFC 8414, the issuer is its own AS) and JWT VC issuer metadata
(draft-ietf-oauth-sd-jwt-vc §5) with each tenant's JWKS."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from wallet_api.deps import WalletSessionDep, WalletStateDep
from wallet_api.errors import WalletProblem
from wallet_api.services import bridge
from wallet_api.services.configurations import configurations_for_tenant
from wallet_api.services.offers import PRE_AUTHORIZED_GRANT, REFRESH_GRANT

router = APIRouter(tags=["wallet metadata"])
CACHE = {"Cache-Control": "public, max-age=300"}


@router.get("/.well-known/openid-credential-issuer")
def credential_issuer_metadata(state: WalletStateDep, session: WalletSessionDep) -> JSONResponse:
    """Endpoints and every tenant's credential configurations."""
    base = state.credential_issuer
    configurations: dict[str, Any] = {}
    for tenant in bridge.all_tenants(session):
        configurations.update(configurations_for_tenant(tenant.ags, tenant.name, tenant.issuer_url))
    body = {
        "credential_issuer": base,
        "credential_endpoint": f"{base}/wallet/credential",
        "nonce_endpoint": f"{base}/wallet/nonce",
        "notification_endpoint": f"{base}/wallet/notification",
        "batch_credential_issuance": {"batch_size": state.policy.batch_size},
        "display": [{"name": "buergerid", "locale": "de-DE"}],
        "credential_configurations_supported": configurations,
    }
    return JSONResponse(body, headers=CACHE)


@router.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata(state: WalletStateDep) -> JSONResponse:
    """RFC 8414 metadata of the token endpoint (pre-authorized code, anonymous access)."""
    base = state.credential_issuer
    body = {
        "issuer": base,
        "token_endpoint": f"{base}/wallet/token",
        "grant_types_supported": [PRE_AUTHORIZED_GRANT, REFRESH_GRANT],
        "token_endpoint_auth_methods_supported": ["none"],
        "pre-authorized_grant_anonymous_access_supported": True,
        "response_types_supported": [],
    }
    return JSONResponse(body, headers=CACHE)


def _jwt_vc_issuer(state: WalletStateDep, session: WalletSessionDep, path: str) -> JSONResponse:
    for tenant in bridge.all_tenants(session):
        if urlsplit(tenant.issuer_url).path.strip("/") == path.strip("/"):
            jwks = bridge.tenant_jwks(state.settings, tenant, state.clock.now())
            return JSONResponse({"issuer": tenant.issuer_url, "jwks": jwks}, headers=CACHE)
    raise WalletProblem("not_found", "no issuer at this path", status=404)


@router.get("/.well-known/jwt-vc-issuer")
def jwt_vc_issuer_root(state: WalletStateDep, session: WalletSessionDep) -> JSONResponse:
    """JWT VC issuer metadata of the tenant whose issuer URL has no path."""
    return _jwt_vc_issuer(state, session, "")


@router.get("/.well-known/jwt-vc-issuer/{path:path}")
def jwt_vc_issuer(path: str, state: WalletStateDep, session: WalletSessionDep) -> JSONResponse:
    """JWT VC issuer metadata of the tenant whose issuer URL path is ``path`` (§5.1)."""
    return _jwt_vc_issuer(state, session, path)


@router.get("/.well-known/jwt-vc-issuer-jwks/{ags}")
def tenant_jwks(ags: str, state: WalletStateDep, session: WalletSessionDep) -> JSONResponse:
    """One tenant's JWKS by AGS (what relying parties pin)."""
    tenant = bridge.tenant_by_ags(session, ags) if len(ags) == 8 else None
    if tenant is None:
        raise WalletProblem("not_found", "no such issuer", status=404)
    return JSONResponse(
        bridge.tenant_jwks(state.settings, tenant, state.clock.now()), headers=CACHE
    )
