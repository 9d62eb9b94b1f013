"""Shared rate limits: fixed-window counters in the database, so that every worker process and
every instance on the same database counts together, on SQLite and PostgreSQL alike.

A counter is named by its limit and a keyed hash (HMAC-SHA256 under the server secret, the same
on every worker) of its subject, a client address, an API key id or a code digest: the table
never holds an address or a key in clear. One statement adds to a counter and reads it back
(`INSERT … ON CONFLICT DO UPDATE … RETURNING`, atomic on both databases); a counter whose
window ended starts again at one. Windows are aligned to multiples of their length.

Within a process, a subject seen at its limit is remembered until its window ends (a count only
grows within its window), so a flood of refused requests costs no database work at all. Rows
of ended windows are deleted at most once a minute per process. Time is a parameter (unix
seconds); nothing here reads a clock.

    counters = SharedCounters(session_factory, secret=lambda: b"...")
    LOGIN = RateLimit("auth-addr", max_hits=20, window_seconds=60)
    decision = counters.hit(LOGIN, "192.0.2.7", now=now)   # counts one, says whether allowed
    counters.blocked([(LOGIN, "192.0.2.7")], now=now)      # seconds until free, or None
"""

from __future__ import annotations

import hmac
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import case, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from issuer.db.models import RateCounter

_NAME_RE = re.compile(r"^[a-z0-9-]{1,24}$")
_KEY_LABEL = b"buergerid/rate-counter/v1\0"
PURGE_EVERY_SECONDS = 60
MAX_REMEMBERED_BLOCKS = 10_000


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `max_hits` events per subject in each window of `window_seconds`."""

    name: str  # lower-case letters, digits and dashes; part of the stored key
    max_hits: int
    window_seconds: int

    def __post_init__(self) -> None:
        if not _NAME_RE.match(self.name) or self.max_hits < 1 or self.window_seconds < 1:
            raise ValueError("a limit needs a short [a-z0-9-] name, max_hits >= 1, a window")

    def window_end(self, window_start: int) -> int:
        """The first second after the window that began at `window_start`."""
        return window_start + self.window_seconds


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of counting one event."""

    hits: int  # events in the window, this one included (a remembered block: not counted)
    allowed: bool  # hits <= max_hits
    retry_after_seconds: int  # until the window ends (at least 1)


class SharedCounters:
    """Fixed-window counters in the `rate_counters` table (see the module docstring)."""

    def __init__(self, sessions: sessionmaker[Session], *, secret: Callable[[], bytes]) -> None:
        self._sessions = sessions
        self._secret_source = secret
        self._blocks: dict[str, int] = {}  # stored key -> end of the window it is full in
        self._lock = threading.Lock()
        self._next_purge = 0

    @cached_property
    def _secret(self) -> bytes:
        return self._secret_source()

    def key(self, limit: RateLimit, subject: str) -> str:
        """The stored key of `subject` under `limit` (no subject in clear)."""
        mac = hmac.new(
            self._secret, _KEY_LABEL + limit.name.encode() + b"\0" + subject.encode(), "sha256"
        )
        return f"{limit.name}:{mac.hexdigest()[:40]}"

    def _remembered(self, key: str, now: int) -> int | None:
        with self._lock:
            until = self._blocks.get(key)
            if until is None:
                return None
            if until <= now:
                del self._blocks[key]
                return None
            return until

    def _remember(self, key: str, until: int, now: int) -> None:
        with self._lock:
            if len(self._blocks) >= MAX_REMEMBERED_BLOCKS:
                self._blocks = {k: v for k, v in self._blocks.items() if v > now}
                if len(self._blocks) >= MAX_REMEMBERED_BLOCKS:
                    self._blocks.clear()  # only a shortcut: the database still counts
            self._blocks[key] = until

    def remembered_block(self, limit: RateLimit, subject: str, *, now: int) -> int | None:
        """Seconds until `subject` is below `limit` again, if this process saw it at its limit;
        None otherwise (then only the database knows). No database work."""
        until = self._remembered(self.key(limit, subject), now)
        return None if until is None else max(1, until - now)

    def hit(self, limit: RateLimit, subject: str, *, now: int) -> Decision:
        """Count one event of `subject`; allowed while the window holds at most `max_hits`."""
        key = self.key(limit, subject)
        until = self._remembered(key, now)
        if until is not None:
            return Decision(limit.max_hits + 1, False, max(1, until - now))
        window_start = now - now % limit.window_seconds
        with self._sessions() as session, session.begin():
            hits, stored_start = _add_one(session, key, window_start, limit.window_seconds)
            if now >= self._next_purge:
                self._next_purge = now + PURGE_EVERY_SECONDS
                session.execute(delete(RateCounter).where(RateCounter.expires_at <= now))
        end = limit.window_end(stored_start)
        if hits >= limit.max_hits:
            self._remember(key, end, now)
        return Decision(hits, hits <= limit.max_hits, max(1, end - now))

    def blocked(self, pairs: Sequence[tuple[RateLimit, str]], *, now: int) -> int | None:
        """Seconds until every (limit, subject) of `pairs` is below its limit again, or None
        when none is at its limit now. Counts nothing."""
        keys = {self.key(limit, subject): limit for limit, subject in pairs}
        waits = [until - now for k in keys if (until := self._remembered(k, now)) is not None]
        if waits:
            return max(1, *waits)
        with self._sessions() as session, session.begin():
            rows = session.execute(
                select(RateCounter.key, RateCounter.hits, RateCounter.window_start).where(
                    RateCounter.key.in_(list(keys))
                )
            ).all()
        for key, hits, window_start in rows:
            limit = keys[key]
            end = limit.window_end(window_start)
            if end > now and hits >= limit.max_hits:
                self._remember(key, end, now)
                waits.append(end - now)
        return max(1, *waits) if waits else None


def _add_one(session: Session, key: str, window_start: int, window_seconds: int) -> tuple[int, int]:
    """Add one to `key` in the window starting at `window_start`; (hits, window start)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    new = insert(RateCounter).values(
        key=key, window_start=window_start, hits=1, expires_at=window_start + window_seconds
    )
    # a clock slightly behind another worker's adds to that worker's (newer) window
    same = RateCounter.window_start >= new.excluded.window_start
    upsert = new.on_conflict_do_update(
        index_elements=[RateCounter.key],
        set_={
            "hits": case((same, RateCounter.hits + 1), else_=1),
            "window_start": case((same, RateCounter.window_start), else_=new.excluded.window_start),
            "expires_at": case((same, RateCounter.expires_at), else_=new.excluded.expires_at),
        },
    )
    row = session.execute(upsert.returning(RateCounter.hits, RateCounter.window_start)).one()
    return int(row[0]), int(row[1])
