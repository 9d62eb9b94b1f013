"""The token endpoint's rate limit, per client address and per pre-authorized code.

Counted in the shared counters of ``issuer.services.rate_limits`` (the database), so the
budget holds across worker processes and instances; the client address is the one
``issuer.client_address`` resolves (``X-Forwarded-For`` only from trusted proxies). The durable
bound on tx_code guessing remains the per-offer attempt counter. Time is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

from issuer.services.rate_limits import RateLimit, SharedCounters


@dataclass(frozen=True, slots=True)
class RateLimiter:
    """At most ``limit.max_hits`` requests per key in each window, across every worker."""

    counters: SharedCounters
    limit: RateLimit

    def allow(self, key: str, now: int) -> bool:
        """Count one request for ``key`` at ``now``; False once the window's budget is spent.
        Writes to the database: call it from a worker thread, not the event loop."""
        return self.wait(key, now) is None

    def wait(self, key: str, now: int) -> int | None:
        """Count one request for ``key`` at ``now``: None while allowed, else the seconds
        until the window ends (for ``Retry-After``). From a worker thread, as ``allow``."""
        decision = self.counters.hit(self.limit, key, now=now)
        return None if decision.allowed else decision.retry_after_seconds


def retry_after(seconds: int) -> dict[str, str]:
    """The ``Retry-After`` header of a refusal: until the window ends, at least a second."""
    return {"Retry-After": str(max(1, seconds))}
