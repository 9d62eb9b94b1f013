"""The shared rate counters (issuer/services/rate_limits.py) on SQLite and PostgreSQL: per
subject and window, atomic under concurrent hits, shared by separate instances, never storing
a subject in clear, ended windows purged; and the wallet token limiter built on them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from issuer.db.models import RateCounter
from issuer.services.rate_limits import RateLimit, SharedCounters
from wallet_api.services.rate_limits import RateLimiter

LIMIT = RateLimit("test-limit", max_hits=3, window_seconds=60)
T = 1_779_999_980  # 20 s into a 60 s window


def counters(app: FastAPI) -> SharedCounters:
    return SharedCounters(app.state.session_factory, secret=lambda: b"k" * 32)


def test_hits_are_counted_per_subject_and_window(app: FastAPI) -> None:
    shared = counters(app)
    assert [shared.hit(LIMIT, "198.51.100.7", now=T).allowed for _ in range(4)] == [
        True,
        True,
        True,
        False,
    ]
    refused = shared.hit(LIMIT, "198.51.100.7", now=T)
    assert not refused.allowed and refused.retry_after_seconds == 40  # to the window's end
    assert shared.hit(LIMIT, "198.51.100.8", now=T).allowed  # another subject
    assert shared.hit(LIMIT, "198.51.100.7", now=T + 40).hits == 1  # the next window


def test_blocked_counts_nothing_and_instances_share_the_counts(app: FastAPI) -> None:
    first, second = counters(app), counters(app)
    assert first.blocked([(LIMIT, "a")], now=T) is None
    for _ in range(3):
        first.hit(LIMIT, "a", now=T)
    assert second.blocked([(LIMIT, "a")], now=T) == 40  # read from the database
    assert second.remembered_block(LIMIT, "a", now=T) == 40  # and now remembered
    assert second.blocked([(LIMIT, "b")], now=T) is None
    assert second.hit(LIMIT, "a", now=T).hits == LIMIT.max_hits + 1


def test_concurrent_hits_are_all_counted(app: FastAPI) -> None:
    shared = counters(app)
    wide = RateLimit("test-wide", max_hits=1000, window_seconds=60)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda _i: shared.hit(wide, "s", now=T), range(40)))
    assert shared.hit(wide, "s", now=T).hits == 41


def test_no_subject_in_clear_and_ended_windows_are_purged(app: FastAPI) -> None:
    shared = counters(app)
    shared.hit(LIMIT, "198.51.100.7", now=T)
    with app.state.session_factory() as session:
        keys = list(session.scalars(select(RateCounter.key)))
    assert len(keys) == 1 and keys[0].startswith("test-limit:") and "198.51" not in keys[0]
    shared.hit(LIMIT, "198.51.100.9", now=T + 3600)  # a minute later than any purge before
    with app.state.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(RateCounter)) == 1


def test_a_limit_needs_a_short_plain_name() -> None:
    with pytest.raises(ValueError):
        RateLimit("Auth Failures", max_hits=1, window_seconds=60)


def test_the_wallet_token_limiter_counts_per_key_and_window(app: FastAPI) -> None:
    limiter = RateLimiter(counters(app), RateLimit("wallet-token", 2, 60))
    assert limiter.allow("a", T) and limiter.allow("a", T + 1)
    assert not limiter.allow("a", T + 2)
    assert limiter.allow("b", T + 2)
    assert limiter.allow("a", T + 40)
