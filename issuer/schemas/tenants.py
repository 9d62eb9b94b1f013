"""Tenant request/response bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from issuer.schemas.common import ApiModel

_TENANT_EXAMPLE: dict[str, Any] = {
    "ags": "05513000",
    "name": "Stadt Gelsenkirchen",
    "issuer_url": "https://ausweis.gelsenkirchen.de",
    "retention_days": 365,
}


class TenantCreate(ApiModel):
    """A new municipality."""

    model_config = ConfigDict(json_schema_extra={"examples": [_TENANT_EXAMPLE]})

    ags: str = Field(pattern=r"^[0-9]{8}$")
    name: str = Field(min_length=1, max_length=200)
    issuer_url: str = Field(pattern=r"^https://[^\s]+$", max_length=500)
    retention_days: int = Field(default=365, ge=1, le=36500)
    # use the key ring a key custodian already made at keys/<ags>/ (e.g. on an HSM) instead of
    # making one; it must be this tenant's issuer ring and its keys must load
    adopt_key_ring: bool = False


class TenantOut(BaseModel):
    """A municipality."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={"examples": [{**_TENANT_EXAMPLE, "created_at": "2026-01-15T09:00:00Z"}]},
    )

    ags: str
    name: str
    issuer_url: str
    retention_days: int
    created_at: datetime


class TenantList(BaseModel):
    """Tenants visible to the caller."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [{**_TENANT_EXAMPLE, "created_at": "2026-01-15T09:00:00Z"}]}]
        }
    )

    items: list[TenantOut]
