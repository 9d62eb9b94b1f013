"""Shared fixtures. Package-specific fixtures live in tests/support/ and each folder's conftest."""

from __future__ import annotations

pytest_plugins = ["tests.support.plugins"]
