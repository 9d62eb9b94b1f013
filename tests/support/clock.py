"""Clock fixtures: `clock` is a FixedClock at T0 (2026-01-15 09:00 UTC); move it with advance()."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from issuer.services.clock import FixedClock

T0 = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    """A FixedClock at T0; `clock.advance(days=1)` moves it."""
    return FixedClock(T0)
