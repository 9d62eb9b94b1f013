"""Schemas of the municipal offer endpoint."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class OfferIn(BaseModel):
    """Offer a residence credential (``resident_id``) or a permit (``permit_id``)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["residence", "permit"]
    resident_id: uuid.UUID | None = None
    permit_id: uuid.UUID | None = None
    ttl_seconds: int | None = Field(default=None, ge=60, le=72 * 3600)
    tx_code_digits: int | None = Field(default=None, ge=6, le=12)

    @model_validator(mode="after")
    def _subject(self) -> OfferIn:
        if self.kind == "residence" and (self.resident_id is None or self.permit_id is not None):
            raise ValueError("a residence offer names resident_id only")
        if self.kind == "permit" and (self.permit_id is None or self.resident_id is not None):
            raise ValueError("a permit offer names permit_id only")
        return self


class OfferOut(BaseModel):
    """The offer, shown once: hand ``tx_code`` to the citizen out of band (letter, counter)."""

    offer_id: str
    credential_offer_uri: str
    credential_offer: dict[str, Any]
    tx_code: str
    expires_at: datetime


class DeviceRemovedOut(BaseModel):
    """What a device removal ended: the grants that bound its key, the other keys those grants
    bound (the same phone's), and the credentials bound to any of them."""

    device_id: str
    revoked_credentials: int
    ended_grants: int
    removed_devices: int
