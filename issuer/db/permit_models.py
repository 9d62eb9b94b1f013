"""Permit database models (stub; tables arrive with migration 0002)."""

from __future__ import annotations
