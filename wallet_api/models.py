"""Wallet tables, on the issuer's declarative ``Base`` (one database, docs/architecture.md).

    wallet_offers        a credential offer: pre-authorized code (SHA-256), tx_code (argon2id),
                         wrong-attempt counter, state, lifetime
    wallet_grants        access and refresh tokens of a redeemed offer (SHA-256 each), why and
                         when the grant ended
    wallet_grant_devices every device key a grant has bound (removing the device ends the grant)
    wallet_retired_tokens refresh tokens rotated out of a grant (SHA-256): one presented again
                         ends the grant (refresh token reuse)
    wallet_nonces        c_nonce values (SHA-256), single use, short-lived
    wallet_devices       a wallet's proven device key (thumbprint unique: one citizen per key)
    wallet_credentials   every credential issued, with its status list number and index

Secrets are never stored in clear. Times are UTC datetimes (timezone-aware). Every row of a
resident goes when the resident is erased (ON DELETE CASCADE, migration 0006).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from issuer.db.base import Base, UTCDateTime


class OfferState:
    """Values of ``WalletOffer.state``."""

    PENDING = "pending"  # created, code not yet redeemed
    REDEEMED = "redeemed"  # the pre-authorized code was exchanged for tokens
    DEAD = "dead"  # too many wrong tx_codes, or withdrawn


class WalletOffer(Base):
    """A credential offer made through the municipal API."""

    __tablename__ = "wallet_offers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    resident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    permit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("permits.id"), nullable=True)
    configuration_ids: Mapped[list[str]] = mapped_column(JSON)
    code_digest: Mapped[str] = mapped_column(String(64), unique=True)
    tx_code_hash: Mapped[str] = mapped_column(String(200))
    tx_code_digits: Mapped[int] = mapped_column(Integer)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=OfferState.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class GrantEnd:
    """Values of ``WalletGrant.revoked_reason``."""

    CODE_REPLAYED = "code_replayed"  # the pre-authorized code was presented twice
    DEVICE_REMOVED = "device_removed"  # a device key the grant bound was removed (lost phone)
    REFRESH_REUSED = "refresh_reused"  # a rotated-out refresh token came back


class WalletGrant(Base):
    """Tokens of one redeemed offer; refresh rotates both digests."""

    __tablename__ = "wallet_grants"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    offer_id: Mapped[str] = mapped_column(
        ForeignKey("wallet_offers.id", ondelete="CASCADE"), unique=True
    )
    access_digest: Mapped[str] = mapped_column(String(64), unique=True)
    access_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refresh_digest: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WalletGrantDevice(Base):
    """A device key bound through a grant (a credential issued to it, or a registration)."""

    __tablename__ = "wallet_grant_devices"

    grant_id: Mapped[str] = mapped_column(
        ForeignKey("wallet_grants.id", ondelete="CASCADE"), primary_key=True
    )
    device_id: Mapped[str] = mapped_column(
        ForeignKey("wallet_devices.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WalletRetiredToken(Base):
    """A refresh token rotated out of a grant; kept until it would have expired."""

    __tablename__ = "wallet_retired_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    grant_id: Mapped[str] = mapped_column(
        ForeignKey("wallet_grants.id", ondelete="CASCADE"), index=True
    )
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class WalletNonce(Base):
    """A c_nonce handed out by the nonce endpoint."""

    __tablename__ = "wallet_nonces"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WalletDevice(Base):
    """A device key proven by a wallet; a key belongs to exactly one resident."""

    __tablename__ = "wallet_devices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    resident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    thumbprint: Mapped[str] = mapped_column(String(43), unique=True)
    jwk: Mapped[dict[str, str]] = mapped_column(JSON)
    label: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class WalletCredential(Base):
    """One credential issued to one device key, with its own status index."""

    __tablename__ = "wallet_credentials"
    __table_args__ = (
        UniqueConstraint("tenant_id", "status_list", "status_idx", name="uq_wallet_cred_status"),
        Index("ix_wallet_credentials_device", "device_id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    resident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    grant_id: Mapped[str] = mapped_column(
        ForeignKey("wallet_grants.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[str] = mapped_column(ForeignKey("wallet_devices.id", ondelete="CASCADE"))
    permit_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("permits.id"), nullable=True)
    configuration_id: Mapped[str] = mapped_column(String(64))
    status_list: Mapped[int] = mapped_column(Integer)
    status_idx: Mapped[int] = mapped_column(Integer)
    notification_id: Mapped[str] = mapped_column(String(64), index=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    wallet_event: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # a Bürger-ID: the digest of the register facts it states (residence_events.facts_digest);
    # when the register changes them, the credential is revoked
    facts_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
