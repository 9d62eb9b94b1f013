"""Time as a value: services take `now`, entry points hold a `Clock` (tests: `FixedClock`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Source of the current time (aware, UTC)."""

    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """Current aware UTC time."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (tests, replays)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        """The fixed instant."""
        return self._at

    def set(self, at: datetime) -> None:
        """Jump to `at`."""
        self._at = at.astimezone(UTC)

    def advance(self, seconds: float = 0, **kwargs: float) -> datetime:
        """Move forward by `seconds` (and/or timedelta keyword arguments); returns the new now."""
        self._at += timedelta(seconds=seconds, **kwargs)
        return self._at


def as_utc(value: datetime) -> datetime:
    """An aware UTC instant; a datetime read back from SQLite is naive UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
