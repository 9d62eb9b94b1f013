"""Access tokens at the protected endpoints (credential, deferred credential, notification,
devices): `Authorization: Bearer <token>`, or for a DPoP-bound grant `Authorization: DPoP
<token>` with a `DPoP` proof (RFC 9449 §7.1) whose key is the one the token is bound to,
whose `ath` is the token's hash and whose `htu` is this endpoint's public URL.

A DPoP proof is checked (and its `jti` recorded) before the request's own session opens its
transaction (see `services/replay.py`); failures answer 401 with the DPoP challenge and a
fresh `DPoP-Nonce`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import Request
from sqlalchemy.orm import Session

from wallet_api.deps import MAX_BEARER_CHARS, WalletState
from wallet_api.errors import BearerError, DpopError
from wallet_api.models import WalletGrant
from wallet_api.services import dpop
from wallet_api.services.grant_bindings import binding_of

Lookup = Callable[..., WalletGrant]


def public_url(state: WalletState, request: Request) -> str:
    """The URL the client addressed: our public base URL and the request's path."""
    return state.credential_issuer + request.url.path


def nonce_header(state: WalletState, now: datetime) -> dict[str, str]:
    """A fresh `DPoP-Nonce` response header (RFC 9449 §8.2)."""
    return {dpop.NONCE_HEADER: state.dpop_nonces.issue(int(now.timestamp()))}


def authorize(
    state: WalletState, session: Session, request: Request, lookup: Lookup
) -> WalletGrant:
    """The live grant of the request's access token, held to its sender constraint."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    scheme, token = scheme.lower(), token.strip()
    if scheme not in ("bearer", "dpop") or not token or len(token) > MAX_BEARER_CHARS:
        raise BearerError("invalid_token", "an access token is required")
    now = state.clock.now()
    headers = nonce_header(state, now)

    def refuse(description: str) -> DpopError:
        return DpopError("invalid_dpop_proof", description, headers=headers)

    def use_nonce(description: str) -> DpopError:
        return DpopError("use_dpop_nonce", description, headers=headers)

    proof: dpop.DpopProof | None = None
    if scheme == "dpop":
        proof = dpop.check_proof(
            request.headers.getlist("dpop"),
            method=request.method,
            url=public_url(state, request),
            now=int(now.timestamp()),
            nonces=state.dpop_nonces,
            refuse=refuse,
            use_nonce=use_nonce,
            access_token=token,
        )
        dpop.remember(state.sessions, proof, now=now, refuse=refuse)
    grant = lookup(session, access_token=token, now=now)
    binding = binding_of(session, grant.id)
    bound = binding.dpop_jkt if binding is not None else None
    if bound is not None:
        if proof is None:
            raise DpopError("invalid_token", "the access token is DPoP-bound", headers=headers)
        if proof.jkt != bound:
            raise refuse("the proof's key is not the one the token is bound to")
    elif proof is not None:
        raise DpopError("invalid_token", "the access token is not DPoP-bound", headers=headers)
    request.state.dpop_nonce_headers = headers
    return grant
