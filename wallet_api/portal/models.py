"""Tables of the citizen portal, on the issuer's ``Base``:

    portal_sessions   one browser session: its id is the SHA-256 of the cookie value (the
                      value itself is never stored), the tenant, the resident once she
                      logged in, the CSRF token of its forms, the language, the presentation
                      it waits for (login or a fresh one before a sensitive step) and when
                      that fresh presentation ends
    portal_payments   one payment started from the portal: the permit, the amount asked,
                      which provider, and the provider's reference once its signed
                      callback arrived (a payment is paid once: a replayed callback finds
                      it paid and is refused)
    portal_brands     a tenant's portal colour and the name it shows (the logo is the
                      tenant's wallet logo)

Rows of a resident go with her (``ON DELETE CASCADE``); sessions are pruned after their
idle or absolute timeout.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from issuer.db.base import Base, UTCDateTime


class PortalSession(Base):
    """One browser session of the portal."""

    __tablename__ = "portal_sessions"
    __table_args__ = (Index("ix_portal_sessions_last_seen_at", "last_seen_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256(cookie value)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    resident_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), nullable=True, index=True
    )
    csrf: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(2), default="de")
    pending_tx: Mapped[str | None] = mapped_column(String(36), nullable=True)
    pending_purpose: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pending_next: Mapped[str | None] = mapped_column(String(300), nullable=True)
    fresh_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentStatus:
    """Values of ``PortalPayment.status``."""

    OPEN = "open"
    PAID = "paid"


class PortalPayment(Base):
    """A payment of a permit's open fee through a payment provider."""

    __tablename__ = "portal_payments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    resident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), index=True
    )
    permit_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("permits.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    amount_cents: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=PaymentStatus.OPEN)
    provider_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PortalBrand(Base):
    """How a tenant's portal looks: the name it shows and its colour."""

    __tablename__ = "portal_brands"

    tenant_id: Mapped[int] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    display_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    colour: Mapped[str] = mapped_column(String(7))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
