"""Dependencies of the wallet routes (``Annotated`` aliases), as in ``issuer/deps.py``.

``WalletStateDep`` is the per-app state (settings, key store, session factory, clock, policy,
rate limiter, DPoP nonces, wallet-provider trust anchors), set by ``create_wallet_app``;
``WalletSessionDep`` a session routes commit explicitly before answering; ``GrantDep`` the
live grant behind ``Authorization: Bearer`` or, for a DPoP-bound grant, ``Authorization:
DPoP`` with a valid proof (``wallet_api/resource_auth.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from cryptography import x509
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from issuer.services.clock import Clock
from issuer.services.signing import KeyStore
from issuer.settings import Settings
from wallet_api.models import WalletGrant
from wallet_api.services.dpop import DpopNonces
from wallet_api.services.offers import grant_for_access_token
from wallet_api.services.policy import WalletPolicy
from wallet_api.services.rate_limits import RateLimiter

MAX_BEARER_CHARS = 512


@dataclass
class WalletState:
    """Everything a wallet request needs, built once per app."""

    settings: Settings
    keys: KeyStore
    sessions: sessionmaker[Session]
    clock: Clock
    policy: WalletPolicy
    token_limiter: RateLimiter
    dpop_nonces: DpopNonces
    trust_anchors: tuple[x509.Certificate, ...] = ()

    @property
    def credential_issuer(self) -> str:
        """The Credential Issuer Identifier (OpenID4VCI 1.0 §11.2.1): our public base URL."""
        return self.settings.public_base_url.rstrip("/")


def get_state(request: Request) -> WalletState:
    """The app's wallet state."""
    state: WalletState = request.app.state.wallet
    return state


WalletStateDep = Annotated[WalletState, Depends(get_state)]


def get_session(state: WalletStateDep) -> Iterator[Session]:
    """A session; routes commit what they mean to keep, the rest is rolled back."""
    with state.sessions() as session:
        try:
            yield session
        finally:
            session.rollback()


WalletSessionDep = Annotated[Session, Depends(get_session)]


def get_grant(state: WalletStateDep, session: WalletSessionDep, request: Request) -> WalletGrant:
    """The live grant of the request's access token, sender-constrained when bound."""
    from wallet_api.resource_auth import authorize

    return authorize(state, session, request, grant_for_access_token)


GrantDep = Annotated[WalletGrant, Depends(get_grant)]
