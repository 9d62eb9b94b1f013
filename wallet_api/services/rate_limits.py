"""A small fixed-window rate limiter for the token endpoint, keyed by client address.

It lives in the process (one instance per app, on ``app.state``): with several workers
each enforces its own budget, which still bounds guessing to workers × budget per window.
The durable bound on tx_code guessing is the per-offer attempt counter in the database.
Time is a parameter.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

MAX_TRACKED_KEYS = 100_000


@dataclass
class RateLimiter:
    """At most ``max_requests`` per key in each ``window_seconds`` window."""

    max_requests: int
    window_seconds: int
    _counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def allow(self, key: str, now: int) -> bool:
        """Count one request for ``key`` at ``now``; False once the window's budget is spent."""
        window = now // self.window_seconds
        with self._lock:
            if len(self._counts) >= MAX_TRACKED_KEYS:
                self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
            start, count = self._counts.get(key, (window, 0))
            if start != window:
                count = 0
            count += 1
            self._counts[key] = (window, count)
            return count <= self.max_requests
