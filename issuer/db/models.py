"""Platform and registry tables: tenants, API clients, residents, vehicles, zones, audit,
idempotency, shared rate counters. Permit tables live in `permit_models.py`, wallet tables in
`wallet_api`.

Every tenant-owned row carries `tenant_id`; services always filter on it.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db.base import Base, UTCDateTime


class Tenant(Base):
    """A municipality (AGS = Amtlicher Gemeindeschlüssel, 8 digits)."""

    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ags: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    issuer_url: Mapped[str] = mapped_column(String(500))
    retention_days: Mapped[int] = mapped_column(Integer, default=365)
    # key ring location, relative to Settings.keys_dir (never an absolute path in the DB)
    key_ring: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ApiClient(Base):
    """A calling system; `tenant_id` None = operator-level client (creates tenants)."""

    __tablename__ = "api_clients"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[str] = mapped_column(String(500))  # space-separated Scope values
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    credentials: Mapped[list[ApiCredential]] = relationship(
        back_populates="client", order_by="ApiCredential.created_at"
    )


class ApiCredential(Base):
    """One secret of a client, looked up by its non-secret key id; rotation adds a row."""

    __tablename__ = "api_credentials"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_clients.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[str] = mapped_column(String(200))  # argon2id PHC string
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    client: Mapped[ApiClient] = relationship(back_populates="credentials")


class Resident(Base):
    """A person from the Melderegister, known by the register's reference."""

    __tablename__ = "residents"
    __table_args__ = (UniqueConstraint("tenant_id", "external_ref"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    external_ref: Mapped[str] = mapped_column(String(64))
    given_name: Mapped[str] = mapped_column(String(200))
    family_name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date | None] = mapped_column(Date)
    register_block: Mapped[bool] = mapped_column(Boolean, default=False)  # Auskunftssperre
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    residences: Mapped[list[Residence]] = relationship(
        back_populates="resident", order_by="Residence.valid_from", cascade="all, delete-orphan"
    )


class Residence(Base):
    """A registered address of a resident (main or secondary), valid from/until."""

    __tablename__ = "residences"
    __table_args__ = (Index("ix_residences_resident_kind", "resident_id", "kind"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    resident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("residents.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # issuer.vocabulary.ResidenceKind
    street: Mapped[str] = mapped_column(String(200))
    house_number: Mapped[str] = mapped_column(String(16))
    postcode: Mapped[str] = mapped_column(String(5))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)

    resident: Mapped[Resident] = relationship(back_populates="residences")


class Vehicle(Base):
    """A vehicle with its canonical plate, held by or in proven use of a resident."""

    __tablename__ = "vehicles"
    __table_args__ = (
        UniqueConstraint("tenant_id", "external_ref"),
        Index("ix_vehicles_tenant_plate", "tenant_id", "plate"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    external_ref: Mapped[str | None] = mapped_column(String(64))
    plate: Mapped[str] = mapped_column(String(32))  # canonical; foreign plates "CC:..."
    kind: Mapped[str] = mapped_column(String(16))  # issuer.vocabulary.VehicleKind
    proof_ref: Mapped[str | None] = mapped_column(String(200))
    holder_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("residents.id"), index=True)
    vehicle_class: Mapped[str] = mapped_column(String(16), default="pkw")
    length_mm: Mapped[int | None] = mapped_column(Integer)
    width_mm: Mapped[int | None] = mapped_column(Integer)
    valid_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)


class Zone(Base):
    """A resident parking zone (Bewohnerparkgebiet) of a tenant."""

    __tablename__ = "zones"
    __table_args__ = (UniqueConstraint("tenant_id", "code"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    version: Mapped[int] = mapped_column(Integer, default=1)

    segments: Mapped[list[ZoneSegment]] = relationship(
        back_populates="zone", order_by="ZoneSegment.position", cascade="all, delete-orphan"
    )


class ZoneSegment(Base):
    """A street segment of a zone: house numbers from..to with a parity."""

    __tablename__ = "zone_segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    zone_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("zones.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    street: Mapped[str] = mapped_column(String(200))
    number_from: Mapped[int] = mapped_column(Integer)
    number_to: Mapped[int] = mapped_column(Integer)
    parity: Mapped[str] = mapped_column(String(8))  # issuer.vocabulary.Parity

    zone: Mapped[Zone] = relationship(back_populates="segments")


class AuditHead(Base):
    """The head of one hash chain: locked while appending so appends serialise."""

    __tablename__ = "audit_heads"

    chain: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """One append-only, hash-chained audit record; ids only, no personal data."""

    __tablename__ = "audit_entries"
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    tenant_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class IdempotencyRecord(Base):
    """First answer to a POST with an Idempotency-Key, per API credential's client."""

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("client_id", "key_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int | None] = mapped_column(Integer)
    client_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    # HMAC-SHA256 (server secret) of the Idempotency-Key, hex; the key itself is never stored
    key_hash: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)  # None while in progress
    content_type: Mapped[str | None] = mapped_column(String(100))
    # AES-256-GCM sealed (issuer/middleware.py): version, nonce, ciphertext and tag
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)


class RateCounter(Base):
    """One fixed-window counter shared by every worker (issuer/services/rate_limits.py)."""

    __tablename__ = "rate_counters"

    # "<limit name>:<keyed hash of the subject>": never an address or a key in clear
    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger)  # unix seconds
    hits: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)  # unix seconds
