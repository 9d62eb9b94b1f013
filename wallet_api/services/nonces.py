"""c_nonce values (OpenID4VCI 1.0 §7): random, short-lived, consumed by exactly one request."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from wallet_api.errors import CredentialError
from wallet_api.models import WalletNonce
from wallet_api.services import secrets as wsecrets
from wallet_api.services.policy import WalletPolicy


def new_nonce(session: Session, *, now: datetime, policy: WalletPolicy) -> str:
    """A fresh c_nonce; expired ones are swept on the way."""
    session.execute(delete(WalletNonce).where(WalletNonce.expires_at <= now))
    nonce = wsecrets.new_token()
    session.add(
        WalletNonce(
            digest=wsecrets.token_digest(nonce),
            expires_at=now + timedelta(seconds=policy.nonce_ttl_seconds),
        )
    )
    session.flush()
    return nonce


def consume_nonce(session: Session, *, nonce: str, now: datetime) -> None:
    """Mark a nonce used; unknown, expired or already used → ``invalid_nonce``."""
    done = session.execute(
        update(WalletNonce)
        .where(
            WalletNonce.digest == wsecrets.token_digest(nonce),
            WalletNonce.used_at.is_(None),
            WalletNonce.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise CredentialError("invalid_nonce", "unknown, expired or used c_nonce")
