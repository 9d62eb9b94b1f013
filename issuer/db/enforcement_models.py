"""Enforcement clients and their handhelds: who may fetch which plate indexes.

An enforcement client is an organisation (a city's Ordnungsamt, or a Zweckverband's
enforcement service covering several municipalities). Each handheld is enrolled with a
one-time code and then authenticates with its own key (RFC 7523 ``private_key_jwt``); only
the SHA-256 of codes, access tokens and assertion ids is stored. No personal data here.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db.base import Base, UTCDateTime


class EnforcementClient(Base):
    """An enforcement organisation; covers one or more municipalities (tenants)."""

    __tablename__ = "enforcement_clients"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    coverage: Mapped[list[EnforcementCoverage]] = relationship(
        back_populates="client",
        cascade="all, delete-orphan",
        order_by="EnforcementCoverage.tenant_id",
    )


class EnforcementCoverage(Base):
    """One municipality an enforcement client may see plate indexes of."""

    __tablename__ = "enforcement_coverage"

    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("enforcement_clients.id", ondelete="CASCADE"), primary_key=True
    )
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)

    client: Mapped[EnforcementClient] = relationship(back_populates="coverage")


class EnforcementDevice(Base):
    """A handheld: created with its enrolment code, bound to a key when it enrols."""

    __tablename__ = "enforcement_devices"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("enforcement_clients.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(200))
    # SHA-256 hex of the one-time code; cleared when redeemed
    code_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    code_expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    public_jwk: Mapped[str | None] = mapped_column(Text)
    key_thumbprint: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    enrolled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class EnforcementAssertion(Base):
    """A client assertion id seen (``jti``), kept until the assertion expires: replays fail."""

    __tablename__ = "enforcement_assertions"
    __table_args__ = (UniqueConstraint("device_id", "jti_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("enforcement_devices.id", ondelete="CASCADE"), index=True
    )
    jti_digest: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())


class EnforcementToken(Base):
    """A short-lived access token of a device (SHA-256 hex; the token is never stored)."""

    __tablename__ = "enforcement_tokens"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("enforcement_devices.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
