"""Discovery documents: credential issuer metadata (OpenID4VCI 1.0 §12.2), authorization
server metadata (RFC 8414; the issuer is its own AS) and JWT VC issuer metadata
(draft-ietf-oauth-sd-jwt-vc §5) with each tenant's JWKS.

Well-known documents are served at the path the specifications form from an identifier:
`/.well-known/<name>` followed by the identifier's path (OpenID4VCI §12.2.2, RFC 8414 §3),
so a public base URL with a path works too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from wallet_api.deps import WalletSessionDep, WalletStateDep
from wallet_api.errors import WalletProblem
from wallet_api.relying_party.authorization import AUTHORIZATION_CODE_GRANT
from wallet_api.services import bridge, tenant_settings
from wallet_api.services.configurations import configurations_for_tenant
from wallet_api.services.credential_types import RESIDENCE
from wallet_api.services.issuers import tenant_for_issuer
from wallet_api.services.offers import PRE_AUTHORIZED_GRANT, REFRESH_GRANT

router = APIRouter(tags=["wallet metadata"])
CACHE = {"Cache-Control": "public, max-age=300"}
DPOP_ALGS = ["ES256"]


def _require_base_path(state: WalletStateDep, path: str) -> None:
    """Only the identifier's own path (none, or the public base URL's path) is served."""
    own = urlsplit(state.credential_issuer).path.strip("/")
    if path.strip("/") != own:
        raise WalletProblem("not_found", "no such credential issuer", status=404)


def _credential_issuer(state: WalletStateDep, session: WalletSessionDep) -> JSONResponse:
    base = state.credential_issuer
    configurations: dict[str, Any] = {}
    for tenant in bridge.all_tenants(session):
        needs = tenant_settings.requirements(session, state.settings, tenant.id)
        configurations.update(
            configurations_for_tenant(
                tenant.ags,
                tenant.name,
                tenant.issuer_url,
                public_base_url=base,
                key_attestation=needs.key_attestation,
                key_storage=tuple(state.settings.wallet_key_storage),
            )
        )
    for configuration_id, configuration in configurations.items():
        if configuration_id.endswith(f".{RESIDENCE}"):
            # the authorization code flow asks for it by scope or authorization_details
            configuration["scope"] = configuration_id
    name = state.settings.wallet_display_name
    body = {
        "credential_issuer": base,
        "credential_endpoint": f"{base}/wallet/credential",
        "nonce_endpoint": f"{base}/wallet/nonce",
        "deferred_credential_endpoint": f"{base}/wallet/deferred_credential",
        "notification_endpoint": f"{base}/wallet/notification",
        "batch_credential_issuance": {"batch_size": state.policy.batch_size},
        "display": [{"name": name, "locale": "de"}, {"name": name, "locale": "en"}],
        "credential_configurations_supported": configurations,
    }
    return JSONResponse(body, headers=CACHE)


@router.get("/.well-known/openid-credential-issuer")
def credential_issuer_metadata(state: WalletStateDep, session: WalletSessionDep) -> JSONResponse:
    """Endpoints and every tenant's credential configurations."""
    _require_base_path(state, "")
    return _credential_issuer(state, session)


@router.get("/.well-known/openid-credential-issuer/{path:path}")
def credential_issuer_metadata_at(
    path: str, state: WalletStateDep, session: WalletSessionDep
) -> JSONResponse:
    """The same document when the Credential Issuer Identifier has a path."""
    _require_base_path(state, path)
    return _credential_issuer(state, session)


def _authorization_server(state: WalletStateDep) -> JSONResponse:
    base = state.credential_issuer
    settings = state.settings
    # client authentication: anonymous pre-authorized access, or a wallet attestation
    methods = ["attest_jwt_client_auth"]
    if settings.wallet_attestation != "required":
        methods.insert(0, "none")
    body = {
        "issuer": base,
        "token_endpoint": f"{base}/wallet/token",
        # the authorization code flow (HAIP 1.0): PAR required, PKCE S256, RFC 9207 iss
        "authorization_endpoint": f"{base}/wallet/authorize",
        "pushed_authorization_request_endpoint": f"{base}/wallet/par",
        "require_pushed_authorization_requests": True,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": True,
        "grant_types_supported": [AUTHORIZATION_CODE_GRANT, PRE_AUTHORIZED_GRANT, REFRESH_GRANT],
        "token_endpoint_auth_methods_supported": methods,
        "client_attestation_signing_alg_values_supported": ["ES256"],
        "client_attestation_pop_signing_alg_values_supported": ["ES256"],
        "dpop_signing_alg_values_supported": DPOP_ALGS,
        "authorization_details_types_supported": ["openid_credential"],
        "pre-authorized_grant_anonymous_access_supported": (
            settings.wallet_attestation != "required"
        ),
        "response_types_supported": ["code"],
    }
    return JSONResponse(body, headers=CACHE)


@router.get("/.well-known/oauth-authorization-server")
def authorization_server_metadata(state: WalletStateDep) -> JSONResponse:
    """RFC 8414 metadata of the token endpoint."""
    _require_base_path(state, "")
    return _authorization_server(state)


@router.get("/.well-known/oauth-authorization-server/{path:path}")
def authorization_server_metadata_at(path: str, state: WalletStateDep) -> JSONResponse:
    """The same document when the issuer identifier has a path (RFC 8414 §3.1)."""
    _require_base_path(state, path)
    return _authorization_server(state)


def _jwt_vc_issuer(
    state: WalletStateDep, session: WalletSessionDep, request: Request, path: str
) -> JSONResponse:
    tenant = tenant_for_issuer(session, host=request.headers.get("host", ""), path=path)
    if tenant is None:
        raise WalletProblem("not_found", "no issuer at this path", status=404)
    jwks = bridge.tenant_jwks(state.keys, tenant, state.clock.now())
    return JSONResponse({"issuer": tenant.issuer_url, "jwks": jwks}, headers=CACHE)


@router.get("/.well-known/jwt-vc-issuer")
def jwt_vc_issuer_root(
    state: WalletStateDep, session: WalletSessionDep, request: Request
) -> JSONResponse:
    """JWT VC issuer metadata of the tenant whose issuer URL has no path."""
    return _jwt_vc_issuer(state, session, request, "")


@router.get("/.well-known/jwt-vc-issuer/{path:path}")
def jwt_vc_issuer(
    path: str, state: WalletStateDep, session: WalletSessionDep, request: Request
) -> JSONResponse:
    """JWT VC issuer metadata of the tenant whose issuer URL path is ``path`` (§5.1)."""
    return _jwt_vc_issuer(state, session, request, path)


@router.get("/.well-known/jwt-vc-issuer-jwks/{ags}")
def tenant_jwks(ags: str, state: WalletStateDep, session: WalletSessionDep) -> JSONResponse:
    """One tenant's JWKS by AGS (what relying parties pin)."""
    tenant = bridge.tenant_by_ags(session, ags) if len(ags) == 8 else None
    if tenant is None:
        raise WalletProblem("not_found", "no such issuer", status=404)
    return JSONResponse(bridge.tenant_jwks(state.keys, tenant, state.clock.now()), headers=CACHE)
