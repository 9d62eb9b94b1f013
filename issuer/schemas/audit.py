"""Audit log bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

_ENTRY: dict[str, Any] = {
    "seq": 7,
    "at": "2026-01-15T09:00:00Z",
    "actor": "3f9a1c0b7d2e4a51",
    "action": "resident_updated",
    "object_type": "resident",
    "object_id": "0b5f7c1e-2d3a-4e5f-9a8b-7c6d5e4f3a2b",
    "reason": None,
    "prev_hash": "9c1e…",
    "hash": "4b7a…",
}


class AuditEntryOut(BaseModel):
    """One chained audit entry (ids only)."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_ENTRY]})

    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    reason: str | None
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    """A page of the tenant's chain; pass `next_after_seq` as `after_seq`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_ENTRY], "next_after_seq": None}]}
    )

    items: list[AuditEntryOut]
    next_after_seq: int | None
