"""Routes (stub; filled in by the permits engineer)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
