"""Permit tables: rules, fee schedules, permits, charges, tokens, status lists, publication.

Migration 0002 creates them. Invariants the database itself enforces:

- a status index is never handed out twice: unique (tenant, list_no, idx) on `status_entries`;
- one live permit per resident and type where the tenant wants it: unique
  (tenant, type, exclusive_key), the key being the resident id while the permit is live and
  NULL afterwards (NULLs never collide);
- one live permit per plate and type likewise: unique (tenant, type, lock_key) on
  `permit_plates`;
- a trust bundle `seq` is taken once: primary key.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from issuer.db.base import Base, UTCDateTime


class PermitRuleSet(Base):
    """A tenant's eligibility rules for one permit type (JSON of `eligibility.Rules`)."""

    __tablename__ = "permit_rule_sets"
    __table_args__ = (UniqueConstraint("tenant_id", "permit_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    permit_type: Mapped[str] = mapped_column(String(3))
    rules: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FeeSchedule(Base):
    """An effective-dated fee schedule; voided ones stay for the permits that used them."""

    __tablename__ = "fee_schedules"
    __table_args__ = (Index("ix_fee_schedules_lookup", "tenant_id", "permit_type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    permit_type: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(16))
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())
    effective_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(String(200))
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("fee_schedules.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PermitCounter(Base):
    """Next permit number per tenant (row-locked while taken)."""

    __tablename__ = "permit_counters"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    next_number: Mapped[int] = mapped_column(Integer, default=1)


class Permit(Base):
    """One permit; `version` counts every change (optimistic locking)."""

    __tablename__ = "permits"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        UniqueConstraint("tenant_id", "permit_type", "exclusive_key"),
        Index("ix_permits_tenant_state_until", "tenant_id", "state", "valid_until"),
        Index("ix_permits_resident", "resident_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    number: Mapped[int] = mapped_column(Integer)
    permit_type: Mapped[str] = mapped_column(String(3))
    state: Mapped[str] = mapped_column(String(24))
    resident_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("residents.id"))
    holder_label: Mapped[str | None] = mapped_column(String(200))  # business (HAN/PFL)
    zone_codes: Mapped[list[str]] = mapped_column(JSON)
    fleet: Mapped[str | None] = mapped_column(String(200))
    use_kind: Mapped[str | None] = mapped_column(String(16))
    proof_ref: Mapped[str | None] = mapped_column(String(200))
    max_stay_minutes: Mapped[int | None] = mapped_column(Integer)
    windows: Mapped[list[list[int]] | None] = mapped_column(JSON)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())  # exclusive
    is_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    auto_renew: Mapped[bool] = mapped_column(Boolean, default=False)
    display_required: Mapped[bool] = mapped_column(Boolean, default=True)
    legal_basis: Mapped[str] = mapped_column(String(32), default="§45 Abs. 1b StVO")
    exclusive_key: Mapped[str | None] = mapped_column(String(64))
    state_reason: Mapped[str | None] = mapped_column(String(64))  # revocation / suspension code
    predecessor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    successor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    flagged: Mapped[str | None] = mapped_column(String(64))  # e.g. vehicle_left, for review
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    pseudonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy mapper config

    plates: Mapped[list[PermitPlate]] = relationship(
        back_populates="permit", order_by="PermitPlate.position", cascade="all, delete-orphan"
    )
    charges: Mapped[list[PermitCharge]] = relationship(
        back_populates="permit", order_by="PermitCharge.id", cascade="all, delete-orphan"
    )


class PermitPlate(Base):
    """A plate on a permit; `lock_key` is the plate while the permit is live and exclusive."""

    __tablename__ = "permit_plates"
    __table_args__ = (
        UniqueConstraint("tenant_id", "permit_type", "lock_key"),
        Index("ix_permit_plates_plate", "tenant_id", "plate"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    permit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permits.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[int] = mapped_column(Integer)
    permit_type: Mapped[str] = mapped_column(String(3))
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    plate: Mapped[str] = mapped_column(String(32))
    vehicle_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    lock_key: Mapped[str | None] = mapped_column(String(32))

    permit: Mapped[Permit] = relationship(back_populates="plates")


class PermitCharge(Base):
    """A fee charged for a permit (issue, renewal, replacement) and its payment."""

    __tablename__ = "permit_charges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    permit_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("permits.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(16))  # issue | renew | replace
    fee_schedule_id: Mapped[int | None] = mapped_column(ForeignKey("fee_schedules.id"))
    amount_cents: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    payment_ref: Mapped[str | None] = mapped_column(String(100))

    permit: Mapped[Permit] = relationship(back_populates="charges")


class StatusList(Base):
    """One status list of a tenant (2^17 entries, 2 bits) and its cached signed tokens.

    `version` is bumped in the same transaction as every status change; the cached tokens
    carry the version they were built from, so a stale cache is rebuilt, never re-signed
    per request.
    """

    __tablename__ = "status_lists"
    __table_args__ = (UniqueConstraint("tenant_id", "list_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    list_no: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    bits: Mapped[int] = mapped_column(SmallInteger, default=2)
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    built_version: Mapped[int | None] = mapped_column(Integer)
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cwt: Mapped[bytes | None] = mapped_column(LargeBinary)
    jwt: Mapped[str | None] = mapped_column(Text)


class StatusEntry(Base):
    """One allocated index (any token: QR, SD-JWT VC, wallet credential) and its status."""

    __tablename__ = "status_entries"
    __table_args__ = (UniqueConstraint("tenant_id", "list_no", "idx"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    list_no: Mapped[int] = mapped_column(Integer)
    idx: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(SmallInteger, default=0)
    allocated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PermitToken(Base):
    """A token issued for a permit (QR or SD-JWT VC) with its own status index."""

    __tablename__ = "permit_tokens"
    __table_args__ = (UniqueConstraint("tenant_id", "list_no", "idx"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    permit_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("permits.id", ondelete="CASCADE"), index=True
    )
    permit_version: Mapped[int] = mapped_column(Integer)
    list_no: Mapped[int] = mapped_column(Integer)
    idx: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(8))  # qr | sd-jwt
    iat: Mapped[int] = mapped_column(Integer)
    exp: Mapped[int] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text)  # the QR text, served again until it expires
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PublicationState(Base):
    """Per-tenant change counter for the plate index (bumped with every permit change)."""

    __tablename__ = "publication_state"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class TrustBundleRecord(Base):
    """Every published trust bundle: `seq` strictly increasing, the bytes served as built."""

    __tablename__ = "trust_bundles"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    fingerprint: Mapped[str] = mapped_column(String(64))
    body: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)  # loaded for a 200 only
    etag: Mapped[str] = mapped_column(String(80))
    iat: Mapped[int] = mapped_column(Integer)
    exp: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PlateIndexRecord(Base):
    """The latest plate index of a tenant (a new salt for each build)."""

    __tablename__ = "plate_indexes"

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    state_version: Mapped[int] = mapped_column(Integer)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str] = mapped_column(String(80))
    iat: Mapped[int] = mapped_column(Integer)
    exp: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
