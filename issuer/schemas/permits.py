"""Permit API schemas (requests and answers); the DB models live in issuer.db.permit_models."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from issuer.schemas.common import ApiModel
from issuer.services.fees import FeeKind
from issuer.services.permits.vocabulary import (
    ChargeReason,
    LegalBasis,
    PermitState,
    RevocationReason,
    SuspensionReason,
)
from issuer.text import JsonObject
from verifier import PermitType

_REASONS = (
    "A reason code: for a revocation "
    + ", ".join(f"`{r}`" for r in RevocationReason)
    + "; for a suspension "
    + ", ".join(f"`{r}`" for r in SuspensionReason)
    + " (another code of lower-case letters and underscores is recorded as given)."
)


def _bounded(value: datetime) -> datetime:
    if not 2000 <= value.year <= 2200:
        raise ValueError("year out of range")
    return value.astimezone(UTC)


# an aware instant between 2000 and 2200 (naive times are refused: whose local time?)
Instant = Annotated[AwareDatetime, AfterValidator(_bounded)]


class PermitCreate(ApiModel):
    """An application (`POST /api/v1/permits`)."""

    model_config = ConfigDict(
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra={
            "examples": [
                {
                    "permit_type": "BEW",
                    "resident_id": "0b5f2b8e-4c1e-4a49-9d51-0c3f6a1e2d10",
                    "zones": ["A3"],
                    "vehicle_ids": ["6f1c2b8e-4c1e-4a49-9d51-0c3f6a1e2d10"],
                    "months": 12,
                }
            ]
        },
    )

    permit_type: PermitType = PermitType.BEW
    resident_id: uuid.UUID | None = None
    zones: list[str] = Field(min_length=1, max_length=8)
    vehicle_ids: list[uuid.UUID] = Field(default_factory=list, max_length=5)
    plates: list[str] = Field(default_factory=list, max_length=5)
    fleet: str | None = Field(default=None, max_length=200)
    holder_label: str | None = Field(default=None, max_length=200)
    valid_from: Instant | None = None
    valid_until: Instant | None = None
    months: int | None = Field(default=None, ge=1, le=60)
    windows: list[list[int]] = Field(default_factory=list, max_length=14)
    max_stay_minutes: int | None = Field(default=None, ge=1, le=1440)
    provisional: bool = False
    auto_renew: bool = False
    display_required: bool = True


class ChargeOut(BaseModel):
    """A fee charged for the permit."""

    model_config = ConfigDict(from_attributes=True)

    reason: ChargeReason
    fee_schedule_id: int | None
    amount_cents: int
    paid_at: datetime | None
    payment_ref: str | None


class PermitOut(BaseModel):
    """A permit as the municipal system sees it (no token text, no personal data)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    number: int
    permit_type: PermitType
    state: PermitState
    state_reason: str | None
    resident_id: uuid.UUID | None
    holder_label: str | None
    zones: list[str]
    plates: list[str]
    fleet: str | None
    max_stay_minutes: int | None
    windows: list[list[int]] | None
    valid_from: datetime
    valid_until: datetime
    is_provisional: bool
    auto_renew: bool
    display_required: bool
    legal_basis: LegalBasis
    flagged: str | None
    predecessor_id: uuid.UUID | None
    successor_id: uuid.UUID | None
    version: int
    charges: list[ChargeOut]
    qr: str | None = None  # the QR text, only in the answer that issued it

    @classmethod
    def of(cls, permit: Any, qr: str | None = None) -> PermitOut:
        """From the DB row."""
        return cls(
            id=permit.id,
            number=permit.number,
            permit_type=permit.permit_type,
            state=permit.state,
            state_reason=permit.state_reason,
            resident_id=permit.resident_id,
            holder_label=permit.holder_label,
            zones=list(permit.zone_codes),
            plates=[p.plate for p in permit.plates],
            fleet=permit.fleet,
            max_stay_minutes=permit.max_stay_minutes,
            windows=permit.windows,
            valid_from=permit.valid_from,
            valid_until=permit.valid_until,
            is_provisional=permit.is_provisional,
            auto_renew=permit.auto_renew,
            display_required=permit.display_required,
            legal_basis=permit.legal_basis,
            flagged=permit.flagged,
            predecessor_id=permit.predecessor_id,
            successor_id=permit.successor_id,
            version=permit.version,
            charges=[ChargeOut.model_validate(c) for c in permit.charges],
            qr=qr,
        )


class PermitList(BaseModel):
    """A page of permits."""

    items: list[PermitOut]


class ReasonIn(ApiModel):
    """A state change with a reason code and, optionally, the version it expects."""

    reason: str = Field(min_length=1, max_length=64, pattern=r"^[a-z_]+$", description=_REASONS)
    expected_version: int | None = Field(default=None, ge=1)


class ResumeIn(ApiModel):
    """Resume a suspended permit."""

    expected_version: int | None = Field(default=None, ge=1)


class RenewIn(ApiModel):
    """Renew for `months` (default: the current duration)."""

    months: int | None = Field(default=None, ge=1, le=60)
    expected_version: int | None = Field(default=None, ge=1)


class FinaliseIn(ApiModel):
    """Turn a provisional permit into the regular one."""

    months: int | None = Field(default=None, ge=1, le=60)


class ReplaceIn(ApiModel):
    """Replace: new vehicles or plates (plate correction), or new zones (a move)."""

    reason: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^[a-z_]+$",
        description="A reason code, e.g. `plate_correction` (named plates: the fast path).",
    )
    vehicle_ids: list[uuid.UUID] | None = Field(default=None, max_length=5)
    plates: list[str] | None = Field(default=None, max_length=5)
    zones: list[str] | None = Field(default=None, max_length=8)
    expected_version: int | None = Field(default=None, ge=1)


class PaymentIn(ApiModel):
    """The payment provider's callback."""

    amount_cents: int = Field(ge=0, le=10_000_000)
    payment_ref: str = Field(min_length=1, max_length=100)


class RulesIn(ApiModel):
    """A tenant's eligibility rules for one permit type (see docs/permits.md)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"rules": {}}]})

    rules: JsonObject


class RulesOut(BaseModel):
    """The rules in force."""

    permit_type: PermitType
    rules: dict[str, Any]


class FeeScheduleIn(ApiModel):
    """A fee schedule (kinds: flat, duration, length_bands, area)."""

    permit_type: PermitType = PermitType.BEW
    kind: FeeKind
    params: JsonObject
    effective_from: Instant
    effective_until: Instant | None = None


class FeeScheduleOut(BaseModel):
    """A stored schedule."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    permit_type: PermitType
    kind: FeeKind
    params: dict[str, Any]
    effective_from: datetime
    effective_until: datetime | None
    voided_at: datetime | None
    void_reason: str | None
    replaces_id: int | None


class FeeScheduleList(BaseModel):
    """Every schedule of the tenant."""

    items: list[FeeScheduleOut]


class VoidIn(ApiModel):
    """Void a schedule (court ruling) and optionally replace it."""

    reason: str = Field(min_length=1, max_length=200)
    replacement: FeeScheduleIn | None = None


class ExtendIn(ApiModel):
    """Tenant-wide extension of validity (Münster case)."""

    permit_type: PermitType = PermitType.BEW
    ending_from: Instant
    ending_before: Instant
    new_until: Instant
    reason: str = Field(min_length=1, max_length=200)


class CountOut(BaseModel):
    """How many objects a bulk operation changed."""

    count: int
    ids: list[uuid.UUID] = Field(default_factory=list)


class JobOut(BaseModel):
    """Counts of a job run."""

    counts: dict[str, int]
