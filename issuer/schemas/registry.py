"""Registry request/response bodies: residents (+ residences), vehicles, zones.

Separate from the DB models; services take the `*In`/`*Update` models as plain data.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from issuer.schemas.common import ApiModel
from issuer.vocabulary import Parity, ResidenceKind, VehicleClass, VehicleKind

_RESIDENCE_EXAMPLE: dict[str, Any] = {
    "kind": "main",
    "street": "Bahnhofstraße",
    "house_number": "12a",
    "postcode": "45879",
    "valid_from": "2020-04-01",
    "valid_until": None,
}
_RESIDENT_EXAMPLE: dict[str, Any] = {
    "external_ref": "MR-2024-000123",
    "given_name": "Erika",
    "family_name": "Mustermann",
    "birth_date": "1980-02-29",
    "register_block": False,
    "residences": [_RESIDENCE_EXAMPLE],
}
_ID = "0b5f7c1e-2d3a-4e5f-9a8b-7c6d5e4f3a2b"
_VEHICLE_EXAMPLE: dict[str, Any] = {
    "external_ref": "ZFZR-778899",
    "plate": "GE-AB 1234",
    "kind": "leasing",
    "proof_ref": "Leasingvertrag 2025-17",
    "holder_id": _ID,
    "vehicle_class": "pkw",
    "length_mm": 4300,
    "width_mm": 1800,
    "valid_until": None,
}
_ZONE_EXAMPLE: dict[str, Any] = {
    "code": "A3",
    "name": "Altstadt Nord",
    "segments": [
        {"street": "Bahnhofstraße", "number_from": 1, "number_to": 99, "parity": "odd"},
        {"street": "Bahnhofstraße", "number_from": 2, "number_to": 40, "parity": "even"},
    ],
}


class ResidenceIn(ApiModel):
    """A registered address."""

    model_config = ConfigDict(json_schema_extra={"examples": [_RESIDENCE_EXAMPLE]})

    kind: ResidenceKind
    street: str = Field(min_length=1, max_length=200)
    house_number: str = Field(pattern=r"^[0-9]{1,5}( ?[a-zA-Z])?$")
    postcode: str = Field(pattern=r"^[0-9]{5}$")
    valid_from: date
    valid_until: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ResidenceIn:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until before valid_from")
        return self


class ResidenceUpdate(ApiModel):
    """Change a residence (typically: set `valid_until` when the resident moves out)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"valid_until": "2026-03-31"}]})

    street: str | None = Field(default=None, min_length=1, max_length=200)
    house_number: str | None = Field(default=None, pattern=r"^[0-9]{1,5}( ?[a-zA-Z])?$")
    postcode: str | None = Field(default=None, pattern=r"^[0-9]{5}$")
    valid_until: date | None = None


class ResidenceOut(BaseModel):
    """A registered address."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [{"id": _ID, **_RESIDENCE_EXAMPLE}]},
    )

    id: uuid.UUID
    kind: str
    street: str
    house_number: str
    postcode: str
    valid_from: date
    valid_until: date | None


class ResidentCreate(ApiModel):
    """A resident from the Melderegister."""

    model_config = ConfigDict(json_schema_extra={"examples": [_RESIDENT_EXAMPLE]})

    external_ref: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    birth_date: date | None = None
    register_block: bool = False
    residences: list[ResidenceIn] = Field(default_factory=list, max_length=10)


class ResidentUpdate(ApiModel):
    """Change names, birth date or the register block."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"register_block": True}]})

    given_name: str | None = Field(default=None, min_length=1, max_length=200)
    family_name: str | None = Field(default=None, min_length=1, max_length=200)
    birth_date: date | None = None
    register_block: bool | None = None


class ResidentOut(BaseModel):
    """A resident with residences."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    **_RESIDENT_EXAMPLE,
                    "residences": [{"id": _ID, **_RESIDENCE_EXAMPLE}],
                    "created_at": "2026-01-15T09:00:00Z",
                    "updated_at": "2026-01-15T09:00:00Z",
                    "version": 1,
                }
            ]
        },
    )

    id: uuid.UUID
    external_ref: str
    given_name: str
    family_name: str
    birth_date: date | None
    register_block: bool
    residences: list[ResidenceOut]
    created_at: datetime
    updated_at: datetime
    version: int


class ResidentPage(BaseModel):
    """A page of residents (never those with a register block)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [], "next_cursor": None}]})

    items: list[ResidentOut]
    next_cursor: str | None


class VehicleCreate(ApiModel):
    """A vehicle; kinds other than `own` need a proof reference."""

    model_config = ConfigDict(json_schema_extra={"examples": [_VEHICLE_EXAMPLE]})

    external_ref: str | None = Field(default=None, min_length=1, max_length=64)
    plate: str = Field(min_length=1, max_length=32)
    kind: VehicleKind = VehicleKind.OWN
    proof_ref: str | None = Field(default=None, min_length=1, max_length=200)
    holder_id: uuid.UUID | None = None
    vehicle_class: VehicleClass = VehicleClass.PKW
    length_mm: int | None = Field(default=None, ge=500, le=25000)
    width_mm: int | None = Field(default=None, ge=300, le=3000)
    valid_until: date | None = None

    @model_validator(mode="after")
    def _proof(self) -> VehicleCreate:
        if self.kind is not VehicleKind.OWN and not self.proof_ref:
            raise ValueError("proof_ref required unless kind is own")
        return self


class VehicleUpdate(ApiModel):
    """Change a vehicle (holder, basis of use, dimensions, end of registration)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"valid_until": "2026-06-30"}]})

    plate: str | None = Field(default=None, min_length=1, max_length=32)
    kind: VehicleKind | None = None
    proof_ref: str | None = Field(default=None, min_length=1, max_length=200)
    holder_id: uuid.UUID | None = None
    vehicle_class: VehicleClass | None = None
    length_mm: int | None = Field(default=None, ge=500, le=25000)
    width_mm: int | None = Field(default=None, ge=300, le=3000)
    valid_until: date | None = None


class VehicleOut(BaseModel):
    """A vehicle."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    **_VEHICLE_EXAMPLE,
                    "created_at": "2026-01-15T09:00:00Z",
                    "updated_at": "2026-01-15T09:00:00Z",
                    "version": 1,
                }
            ]
        },
    )

    id: uuid.UUID
    external_ref: str | None
    plate: str
    kind: str
    proof_ref: str | None
    holder_id: uuid.UUID | None
    vehicle_class: str
    length_mm: int | None
    width_mm: int | None
    valid_until: date | None
    created_at: datetime
    updated_at: datetime
    version: int


class VehiclePage(BaseModel):
    """A page of vehicles (never those of residents with a register block)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [], "next_cursor": None}]})

    items: list[VehicleOut]
    next_cursor: str | None


class SegmentIn(ApiModel):
    """Street + house-number range + parity."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ZONE_EXAMPLE["segments"][0]]})

    street: str = Field(min_length=1, max_length=200)
    number_from: int = Field(ge=1, le=99999)
    number_to: int = Field(ge=1, le=99999)
    parity: Parity = Parity.ALL

    @model_validator(mode="after")
    def _ordered(self) -> SegmentIn:
        if self.number_to < self.number_from:
            raise ValueError("number_to before number_from")
        return self


class SegmentOut(BaseModel):
    """A street segment of a zone."""

    model_config = ConfigDict(from_attributes=True)

    street: str
    number_from: int
    number_to: int
    parity: str


class ZoneCreate(ApiModel):
    """A resident parking zone."""

    model_config = ConfigDict(json_schema_extra={"examples": [_ZONE_EXAMPLE]})

    code: str = Field(min_length=1, max_length=16)
    name: str = Field(min_length=1, max_length=200)
    segments: list[SegmentIn] = Field(default_factory=list, max_length=2000)


class ZoneUpdate(ApiModel):
    """Rename a zone or replace its segments."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"segments": _ZONE_EXAMPLE["segments"]}]}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    segments: list[SegmentIn] | None = Field(default=None, max_length=2000)


class ZoneOut(BaseModel):
    """A zone with its segments."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    **_ZONE_EXAMPLE,
                    "created_at": "2026-01-15T09:00:00Z",
                    "updated_at": "2026-01-15T09:00:00Z",
                    "version": 1,
                }
            ]
        },
    )

    id: uuid.UUID
    code: str
    name: str
    segments: list[SegmentOut]
    created_at: datetime
    updated_at: datetime
    version: int


class ZoneList(BaseModel):
    """The tenant's zones."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": []}]})

    items: list[ZoneOut]
