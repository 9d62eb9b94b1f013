"""API client request/response bodies. Secrets appear only in `ClientSecretOut`, once."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from issuer.schemas.common import ApiModel
from issuer.services.clients import Scope

_CLIENT_ID = "6f1c2b1e-9a57-4f4e-8f6e-3b1f0a2c9d11"


class ClientCreate(ApiModel):
    """A new API client of the caller's tenant."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Bürgerbüro", "scopes": ["registry:write"]}]}
    )

    name: str = Field(min_length=1, max_length=200)
    scopes: list[Scope] = Field(min_length=1)


class ClientRotate(ApiModel):
    """Rotation: how long the old secret stays valid (0 = revoke it now)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"grace_seconds": 86400}]})

    grace_seconds: int | None = Field(default=None, ge=0, le=30 * 86400)


class ClientOut(BaseModel):
    """A client (never its secret)."""

    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": _CLIENT_ID,
                    "name": "Bürgerbüro",
                    "scopes": ["registry:write"],
                    "created_at": "2026-01-15T09:00:00Z",
                    "revoked_at": None,
                }
            ]
        },
    )

    id: uuid.UUID
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class ClientSecretOut(BaseModel):
    """A client with a fresh secret: shown exactly once."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client": {
                        "id": _CLIENT_ID,
                        "name": "Bürgerbüro",
                        "scopes": ["registry:write"],
                        "created_at": "2026-01-15T09:00:00Z",
                        "revoked_at": None,
                    },
                    "key_id": "3f9a1c0b7d2e4a51",
                    "token": "bid_3f9a1c0b7d2e4a51.<secret shown once>",
                }
            ]
        }
    )

    client: ClientOut
    key_id: str
    token: str


class ClientList(BaseModel):
    """The tenant's clients."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "id": _CLIENT_ID,
                            "name": "Bürgerbüro",
                            "scopes": ["registry:write"],
                            "created_at": "2026-01-15T09:00:00Z",
                            "revoked_at": None,
                        }
                    ]
                }
            ]
        }
    )

    items: list[ClientOut]
