"""The budget of anonymous login starts, per client address.

Every page a visitor opens without logging in that starts a presentation stores a
transaction (and, in the portal, a session): the portal's start and login pages, the relying
party's login and Bürger-ID pages, and the authorization endpoint. They all spend from one
budget here, before anything is stored: ``Settings.rp_starts_per_address`` starts per client
address (``issuer.client_address``: ``X-Forwarded-For`` only from trusted proxies) in each
window of ``Settings.rp_start_window_seconds``, counted in the shared database counters, so
every worker and instance on the database counts together. An IPv6 client counts as its
/64, the network one household or one phone gets (a single host can use all of it).

The wallet's pushed authorization requests (``POST /wallet/par``, each stores an
authorization for 60 s) have a budget of the same size under a count of their own
(``PUSHED_LIMIT_NAME``), so a wallet and the browser it opens never spend each other's.

Beyond the budget the start is refused with ``StartsSpent`` (429 ``slow_down`` and
``Retry-After`` until the window ends); nothing is stored. A person's browser gets that
answer as a page in her language asking her to wait and start again (``spend_start``); the
wallet's pushed authorization requests get OAuth JSON. Starts of a logged-in citizen (the
portal's fresh presentation before a sensitive step) and of municipal applications
(``POST /api/v1/presentations``, behind an API key) are not counted here: each municipal
application has a budget of its own, ``Settings.rp_client_starts_per_window`` per window,
counted per API client (``client_starts``), so a leaked or runaway key fills no table.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request

from issuer.client_address import client_address
from issuer.services.rate_limits import RateLimit, SharedCounters
from issuer.settings import Settings
from wallet_api.errors import PageProblem, WalletProblem
from wallet_api.relying_party import pages
from wallet_api.services.rate_limits import RateLimiter, retry_after

LIMIT_NAME = "rp-start"
CLIENT_LIMIT_NAME = "rp-client-start"  # municipal applications' starts, per API client
PUSHED_LIMIT_NAME = "wallet-par"  # pushed authorization requests: the same numbers, own count
IPV6_PREFIX = 64


class StartsSpent(WalletProblem):
    """429 ``slow_down``: this address started too many logins in the window."""

    status = 429


def subject(address: str) -> str:
    """What a start counts against: an IPv4 address itself, an IPv6 address its /64."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address  # "unknown": no peer address; they share one budget
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)


@dataclass(frozen=True, slots=True)
class StartBudget:
    """Anonymous login starts per client address and window (see the module docstring)."""

    limiter: RateLimiter

    @classmethod
    def from_settings(
        cls, settings: Settings, counters: SharedCounters, name: str = LIMIT_NAME
    ) -> StartBudget:
        limit = RateLimit(name, settings.rp_starts_per_address, settings.rp_start_window_seconds)
        return cls(RateLimiter(counters, limit))

    def wait(self, request: Request, now: datetime) -> int | None:
        """Count one start of the request's client: None while the budget lasts, else the
        seconds until the window ends. Writes to the database: from a worker thread."""
        return self.limiter.wait(subject(client_address(request)), int(now.timestamp()))

    def spend(self, request: Request, now: datetime) -> None:
        """Count one start of the request's client; ``StartsSpent`` once the window's budget
        is spent. Writes to the database: from a worker thread, before anything is stored."""
        wait = self.wait(request, now)
        if wait is not None:
            raise StartsSpent(
                "slow_down",
                "too many logins started from this address",
                headers=retry_after(wait),
            )


def client_starts(settings: Settings, counters: SharedCounters) -> RateLimiter:
    """The budget of presentations one municipal application starts per window."""
    limit = RateLimit(
        CLIENT_LIMIT_NAME, settings.rp_client_starts_per_window, settings.rp_start_window_seconds
    )
    return RateLimiter(counters, limit)


@dataclass(frozen=True, slots=True)
class Spent:
    """That this request's start was counted (``spend_start``); ``start_page`` asks for it."""


def spend_start(request: Request, lang: Annotated[str | None, Query(max_length=2)] = None) -> Spent:
    """Dependency of the relying party's anonymous start pages: the start is counted before
    the route touches the database (on SQLite every transaction holds the write lock, so
    the count cannot wait until the route has read). Refused: 429 ``slow_down`` with
    ``Retry-After``, as a page asking her to wait, with a link that starts again."""
    rp = request.app.state.relying_party
    try:
        rp.starts.spend(request, rp.clock.now())
    except StartsSpent as exc:
        again = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        page = pages.message_page(pages.lang_of(lang), "wait_title", "too_many_starts", again)
        raise PageProblem(
            exc.code, page.html, status=exc.status, headers={**page.headers, **exc.headers}
        ) from None
    return Spent()


SpentDep = Annotated[Spent, Depends(spend_start)]
