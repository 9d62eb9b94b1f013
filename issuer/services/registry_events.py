"""Registry event hooks called by the registry service (stub)."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def on_resident_changed(session: Any, *, tenant_id: Any, resident_id: Any, now: datetime) -> None:
    """Called after a resident or one of their residences changed."""
    return None


def on_vehicle_changed(session: Any, *, tenant_id: Any, vehicle_id: Any, now: datetime) -> None:
    """Called after a vehicle changed (holder, permanent use, deregistration)."""
    return None
