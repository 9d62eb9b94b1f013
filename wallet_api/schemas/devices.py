"""Device schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from wallet_api.services.devices import DeviceView


class DeviceOut(BaseModel):
    """A device: its id, key thumbprint (JWS kid form) and how many credentials it holds."""

    id: str
    thumbprint: str
    created_at: datetime
    removed_at: datetime | None
    credentials: int


def device_out(view: DeviceView) -> DeviceOut:
    """Map a service view to the schema."""
    return DeviceOut(
        id=view.id,
        thumbprint=view.thumbprint,
        created_at=view.created_at,
        removed_at=view.removed_at,
        credentials=view.credentials,
    )
