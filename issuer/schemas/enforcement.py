"""Enforcement clients and handhelds: request and response bodies. A code appears once."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from issuer.schemas.common import ApiModel

_ID = "2b7e5c1a-4d3f-4e8a-9c61-0f5d2a7b9e13"
_DEVICE = "8c1f0e2d-3b4a-4c5d-8e9f-1a2b3c4d5e6f"
AGS_PATTERN = r"^\d{8}$"


class EnforcementClientCreate(ApiModel):
    """An enforcement organisation and the municipalities (AGS) it enforces in."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "Ordnungsdienst Emscher-Lippe", "municipalities": ["05513000", "05562032"]}
            ]
        }
    )

    name: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    municipalities: list[str] = Field(min_length=1, max_length=100)


class EnforcementClientOut(BaseModel):
    """An enforcement client."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _ID,
                    "name": "Ordnungsdienst Emscher-Lippe",
                    "municipalities": ["05513000", "05562032"],
                    "created_at": "2026-03-01T08:00:00Z",
                    "revoked_at": None,
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    municipalities: list[str]
    created_at: datetime
    revoked_at: datetime | None


class EnforcementClientList(BaseModel):
    """Every enforcement client."""

    items: list[EnforcementClientOut]


class EnrolmentCodeCreate(ApiModel):
    """A new handheld of the client: a label the operator recognises it by."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"label": "Handheld 7"}]})

    label: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")


class DeviceOut(BaseModel):
    """A handheld (never its code or tokens)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": _DEVICE,
                    "client_id": _ID,
                    "label": "Handheld 7",
                    "created_at": "2026-03-01T08:00:00Z",
                    "enrolled_at": "2026-03-01T09:12:00Z",
                    "last_seen_at": "2026-03-02T06:00:00Z",
                    "withdrawn_at": None,
                    "key_thumbprint": "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
                }
            ]
        }
    )

    id: uuid.UUID
    client_id: uuid.UUID
    label: str
    created_at: datetime
    enrolled_at: datetime | None
    last_seen_at: datetime | None
    withdrawn_at: datetime | None
    key_thumbprint: str | None


class DeviceList(BaseModel):
    """A client's handhelds."""

    items: list[DeviceOut]


class EnrolmentCodeOut(BaseModel):
    """A new handheld slot with its one-time enrolment code: shown exactly once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "device": DeviceOut.model_config["json_schema_extra"]["examples"][0],  # type: ignore[index]
                    "code": "BIDE-K7Q2M-XW4PA-9RT3E-LN6HB",
                    "expires_at": "2026-03-08T08:00:00Z",
                }
            ]
        }
    )

    device: DeviceOut
    code: str
    expires_at: datetime


class EnrolRequest(ApiModel):
    """The handheld's enrolment: a compact JWS signed by its new key (JWK in the header)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"enrolment_request": "eyJhbGciOiJFUzI1NiIs…"}]}
    )

    enrolment_request: str = Field(min_length=1, max_length=4096)


class EnrolOut(BaseModel):
    """What the handheld needs after enrolment."""

    device_id: uuid.UUID
    municipalities: list[str]
    token_endpoint: str
    trust_bundle_url: str
    plate_index_url: str


class TokenOut(BaseModel):
    """RFC 6749 §5.1 access token answer, plus the municipalities the device may see."""

    access_token: str
    token_type: str
    expires_in: int
    municipalities: list[str]
