"""Business logic: plain functions taking a Session (and `now`), raising IssuerError; no FastAPI."""

from __future__ import annotations
