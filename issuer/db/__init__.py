"""Database layer: the shared declarative base, engine/session factory and platform models."""

from __future__ import annotations
