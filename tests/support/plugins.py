"""Fixture modules shared across the test folders, registered once from tests/conftest.py.

Each helper module owns one concern (the throwaway PostgreSQL server, uvicorn servers,
clocks). Add a module here by listing it in ``pytest_plugins`` below.
"""

from __future__ import annotations

pytest_plugins: list[str] = [
    "tests.support.browser",
    "tests.support.clock",
    "tests.support.db",
    "tests.support.http",
    "tests.support.logs",
]
