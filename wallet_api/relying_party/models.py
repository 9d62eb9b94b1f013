"""Tables of the relying party and of the authorization code flow, on the issuer's ``Base``:

    rp_transactions        one OpenID4VP presentation request: what it asks (DCQL), for
                           whom (purpose, tenant, API client), bound to which browser
                           session (HMAC digest), its request_uri and response_code
                           (SHA-256 digests), nonce and state, and, between verification
                           and the one fetch of it, the verified result
    rp_client_policies     per municipal API client: the claims it may ask for, per
                           credential type, and the redirect URIs of its pages
    wallet_authorizations  the OpenID4VCI authorization code flow: a pushed authorization
                           request (request_uri digest), PKCE challenge, redirect URI, who
                           authenticated, the authorization code (digest) and its grant

Secrets (request URIs, response codes, authorization codes, browser-session keys) are stored
as digests only. A result holds personal data for minutes at most: it is deleted when it is
fetched, and every row goes when it has expired (``transactions.prune``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from issuer.db.base import Base, UTCDateTime


class TxStatus:
    """Values of ``RpTransaction.status``."""

    PENDING = "pending"  # created; the wallet has not fetched the request object yet
    REQUESTED = "requested"  # the request object was fetched (once)
    VERIFIED = "verified"  # a response was verified; the result waits to be fetched
    FAILED = "failed"  # the response was refused (error holds the code)
    TAKEN = "taken"  # the result was fetched; nothing personal is left


class RpTransaction(Base):
    """One presentation request and its outcome."""

    __tablename__ = "rp_transactions"
    __table_args__ = (Index("ix_rp_transactions_expires_at", "expires_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))  # Purpose
    tenant_id: Mapped[int | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True, index=True
    )
    api_client_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), nullable=True
    )
    request_digest: Mapped[str] = mapped_column(String(64), unique=True)
    nonce: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(64), unique=True)
    dcql: Mapped[dict[str, Any]] = mapped_column(JSON)
    response_mode: Mapped[str] = mapped_column(String(24))
    client_id: Mapped[str] = mapped_column(String(255))
    binding_digest: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    flow: Mapped[str | None] = mapped_column(String(16), nullable=True)  # Flow, when fetched
    status: Mapped[str] = mapped_column(String(16), default=TxStatus.PENDING)
    error: Mapped[str | None] = mapped_column(String(40), nullable=True)
    response_code_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    authorization_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RpClientPolicy(Base):
    """What one municipal API client may ask residents to show."""

    __tablename__ = "rp_client_policies"

    api_client_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("api_clients.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    # credential kind ("residence", "pid") -> claim names (top level or "address.locality")
    allowed_claims: Mapped[dict[str, list[str]]] = mapped_column(JSON)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuthorizationState:
    """Values of ``WalletAuthorization.status``."""

    PUSHED = "pushed"  # PAR accepted; the request_uri waits for the authorization endpoint
    STARTED = "started"  # the authorization endpoint was opened (request_uri spent)
    AUTHENTICATED = "authenticated"  # the person presented a credential; consent pending
    CODE_ISSUED = "code_issued"  # consent given; the code went to the wallet
    REDEEMED = "redeemed"  # the code was exchanged for tokens
    DENIED = "denied"  # refused, or a replay ended it


class WalletAuthorization(Base):
    """One run of the authorization code flow (PAR + PKCE)."""

    __tablename__ = "wallet_authorizations"
    __table_args__ = (Index("ix_wallet_authorizations_expires_at", "expires_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    request_uri_digest: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(255))
    redirect_uri: Mapped[str] = mapped_column(String(1000))
    code_challenge: Mapped[str] = mapped_column(String(128))
    configuration_ids: Mapped[list[str]] = mapped_column(JSON)
    client_state: Mapped[str | None] = mapped_column(String(500), nullable=True)
    dpop_jkt: Mapped[str | None] = mapped_column(String(43), nullable=True)
    # the wallet instance whose attestation authenticated the PAR: the code is for it alone
    attestation_jkt: Mapped[str | None] = mapped_column(String(43), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=AuthorizationState.PUSHED)
    binding_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), nullable=True
    )
    code_digest: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    offer_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
