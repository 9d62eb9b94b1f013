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
    # "value": the offer travels in the link (a letter, an e-mail); "reference": the link
    # holds a short https URL the wallet fetches once (a QR code on a counter screen)
    delivery: Literal["value", "reference"] = "value"

    @model_validator(mode="after")
    def _subject(self) -> OfferIn:
        if self.kind == "residence" and (self.resident_id is None or self.permit_id is not None):
            raise ValueError("a residence offer names resident_id only")
        if self.kind == "permit" and (self.permit_id is None or self.resident_id is not None):
            raise ValueError("a permit offer names permit_id only")
        return self


class OfferOut(BaseModel):
    """The offer, shown once: hand ``tx_code`` to the citizen out of band (letter, counter).

    ``credential_offer_url`` is what the citizen's wallet opens (link or QR code):
    ``openid-credential-offer://?credential_offer=…`` by value, or
    ``openid-credential-offer://?credential_offer_uri=…`` by reference. By value,
    ``credential_offer`` is the offer object in it; by reference, ``credential_offer_uri``
    is the https URL the wallet fetches (once, before ``credential_offer_uri_expires_at``).
    """

    offer_id: str
    delivery: Literal["value", "reference"]
    credential_offer_url: str
    credential_offer: dict[str, Any] | None = None
    credential_offer_uri: str | None = None
    credential_offer_uri_expires_at: datetime | None = None
    tx_code: str
    expires_at: datetime


class DeviceRemovedOut(BaseModel):
    """What a device removal ended: the grants that bound its key, the other keys those grants
    bound (the same phone's), and the credentials bound to any of them."""

    device_id: str
    revoked_credentials: int
    ended_grants: int
    removed_devices: int


class WalletPolicyIn(BaseModel):
    """A tenant's wallet policy; null keeps the deployment's setting (a floor, never lowered)."""

    model_config = ConfigDict(extra="forbid")

    dpop: Literal["optional", "required"] | None = None
    wallet_attestation: Literal["optional", "required"] | None = None
    key_attestation: Literal["optional", "required"] | None = None


class WalletPolicyOut(BaseModel):
    """The tenant's own choices and what is in force (the stricter of tenant and deployment)."""

    tenant: WalletPolicyIn
    effective: dict[str, Literal["optional", "required"]]


class LogoOut(BaseModel):
    """Where the tenant's logo is served and the SHA-256 of what is served."""

    uri: str
    sha256: str
