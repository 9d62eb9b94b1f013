"""Clock fixtures: `clock` is a FixedClock at T0 (2026-01-15 09:00 UTC); move it with advance().

`WallClock` is for servers that talk to a process reading the wall clock (the handheld's
CLI): it runs with the wall clock, and set()/advance() shift it by an offset."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from issuer.services.clock import FixedClock

T0 = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    """A FixedClock at T0; `clock.advance(days=1)` moves it."""
    return FixedClock(T0)


class WallClock(FixedClock):
    """The wall clock plus an offset that set() and advance() change."""

    def __init__(self) -> None:
        super().__init__(datetime.now(UTC))
        self._offset = timedelta(0)

    def now(self) -> datetime:
        """The wall clock, shifted."""
        return datetime.now(UTC) + self._offset

    def set(self, at: datetime) -> None:
        """From now on, the clock reads `at` and runs on."""
        self._offset = at.astimezone(UTC) - datetime.now(UTC)

    def advance(self, seconds: float = 0, **kwargs: float) -> datetime:
        """Shift forward by `seconds` (and/or timedelta keyword arguments); the new now."""
        self._offset += timedelta(seconds=seconds, **kwargs)
        return self.now()
