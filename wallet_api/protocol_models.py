"""Tables of the standards layer of the wallet API (OpenID4VCI 1.0, RFC 9449, HAIP 1.0), on
the issuer's declarative ``Base`` like ``wallet_api/models.py``:

    wallet_grant_bindings      per grant: the DPoP key (jkt) its tokens are bound to, the
                               wallet attestation's client id and instance key, and the
                               credential identifiers of its token responses
    wallet_offer_references    an offer by reference: the single-use credential_offer_uri
    wallet_deferred            deferred issuance: transaction_id (SHA-256), grant, proven keys
    wallet_replay              seen DPoP and attestation-PoP ``jti`` values until they expire
    wallet_tenant_settings     a tenant's wallet policy (stricter than the deployment's only)
                               and its logo

Secrets (transaction ids, offer URIs) are stored as SHA-256 digests only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from issuer.db.base import Base, UTCDateTime


class DeferredState:
    """Values of ``WalletDeferred.state``."""

    PENDING = "pending"  # the permit awaits payment
    ISSUED = "issued"  # delivered once; the transaction_id is spent
    DENIED = "denied"  # the permit ended before it could be delivered


class WalletGrantBinding(Base):
    """What a grant's tokens are bound to and which credential identifiers it answers."""

    __tablename__ = "wallet_grant_bindings"

    grant_id: Mapped[str] = mapped_column(
        ForeignKey("wallet_grants.id", ondelete="CASCADE"), primary_key=True
    )
    dpop_jkt: Mapped[str | None] = mapped_column(String(43), nullable=True)
    client_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attestation_jkt: Mapped[str | None] = mapped_column(String(43), nullable=True)
    wallet_provider: Mapped[str | None] = mapped_column(String(255), nullable=True)
    # identifier -> credential configuration id; returned only when asked for (OID4VCI §6.2)
    credential_identifiers: Mapped[dict[str, str]] = mapped_column(JSON)
    details_returned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WalletOfferReference(Base):
    """A ``credential_offer_uri``: fetched once, then spent (OID4VCI §4.1.3)."""

    __tablename__ = "wallet_offer_references"

    offer_id: Mapped[str] = mapped_column(
        ForeignKey("wallet_offers.id", ondelete="CASCADE"), primary_key=True
    )
    uri_digest: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WalletDeferred(Base):
    """A credential request answered with a ``transaction_id`` (OID4VCI §8.3, §9)."""

    __tablename__ = "wallet_deferred"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    transaction_digest: Mapped[str] = mapped_column(String(64), unique=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    grant_id: Mapped[str] = mapped_column(
        ForeignKey("wallet_grants.id", ondelete="CASCADE"), index=True
    )
    permit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("permits.id"), nullable=True)
    configuration_id: Mapped[str] = mapped_column(String(64))
    # the proven public keys (JWK) and their device ids, in request order
    keys: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default=DeferredState.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WalletReplay(Base):
    """A ``jti`` seen in a DPoP proof or an attestation PoP, kept until it could not pass."""

    __tablename__ = "wallet_replay"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class WalletTenantSettings(Base):
    """A tenant's wallet policy (None: the deployment's setting) and its logo (PNG)."""

    __tablename__ = "wallet_tenant_settings"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    dpop: Mapped[str | None] = mapped_column(String(16), nullable=True)
    wallet_attestation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    key_attestation: Mapped[str | None] = mapped_column(String(16), nullable=True)
    logo_png: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    logo_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
