"""Authenticating API clients when someone floods the server with bogus keys.

An argon2id verification costs `argon2_memory_kib` (64 MiB) and ~0.1 s of a core, so each
step below makes sure an outsider cannot multiply it (`AuthGuard.authenticate`):

1. A token that is not `bid_<16 hex>.<secret>` is refused (401) without hashing; the failure
   counts against the client address.
2. One statement reads the credential (`clients.lookup`), in the request's own transaction
   when the route has one (`deps.get_principal`). A secret the verification cache vouches
   for (verified less than five minutes ago against the same stored hash) is answered at
   once: no counters, no hashing. A busy legitimate client is never slowed by a flood. Any
   other answer ends that transaction first: nothing below runs inside it.
3. Otherwise, an address or a key id at its failure limit is refused with 429
   `too_many_authentication_failures` and `Retry-After`, without hashing. Once this process
   has seen an address or key id at its limit, `issuer.throttle` answers its next requests
   before any routing, from memory (`early_refusal`): a flood of refused requests costs
   little more than reading them.
4. argon2 runs in a pool of its own of `auth_max_concurrent_hashes` threads per process, so
   memory stays bounded whatever the number of requests. A request waiting for its turn holds
   no server thread; beyond `auth_max_waiting_hashes` waiting, or after
   `auth_max_wait_seconds`, it gets 503 `authentication_busy` with `Retry-After`.
5. A failed verification counts against the address and, for a key id that exists, the key id,
   in the shared counters (`rate_limits.py`): the limits hold across workers and instances.

An attacker who knows a client's key id can keep that key id at its limit; the client then
keeps working on every worker that verified it in the last five minutes (step 2) and is
refused elsewhere until the window ends. Key ids are not published (audit entries name them
only to readers of the tenant's audit log); rotating the client's secret gives a new key id.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

import anyio
import anyio.to_thread
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session, sessionmaker

from issuer.db.models import Tenant
from issuer.errors import ErrorCode, TooManyRequests, Unauthenticated, Unavailable
from issuer.services import clients
from issuer.services.clients import CredentialLookup, Principal, SecretHasher
from issuer.services.rate_limits import RateLimit, SharedCounters
from issuer.settings import Settings

BUSY_RETRY_AFTER_SECONDS = 1


_TENANT_READ = "buergerid_tenant_read_with_credential"


def tenant_read_with_credential(session: Session, tenant_id: int) -> Tenant | None:
    """The tenant `authenticate` read with the credential in `session`'s transaction, still
    loaded there (no statement); None when there is none."""
    tenant = session.info.get(_TENANT_READ)
    if not isinstance(tenant, Tenant):
        return None
    state = sa_inspect(tenant)
    if state.session is not session or state.identity != (tenant_id,) or state.expired_attributes:
        return None
    return tenant


class AuthGuard:
    """Bounded, rate-limited authentication of bearer tokens; one per app (per process)."""

    def __init__(
        self,
        settings: Settings,
        *,
        sessions: sessionmaker[Session],
        hasher: SecretHasher,
        counters: SharedCounters,
    ) -> None:
        self._sessions = sessions
        self._hasher = hasher
        self._counters = counters
        window = settings.auth_failure_window_seconds
        self.by_address = RateLimit("auth-fail-addr", settings.auth_failures_per_address, window)
        self.by_key = RateLimit("auth-fail-key", settings.auth_failures_per_key, window)
        self._max_hashes = settings.auth_max_concurrent_hashes
        self._max_waiting = settings.auth_max_waiting_hashes
        self._max_wait_seconds = settings.auth_max_wait_seconds
        # created in the event loop on first use (anyio primitives belong to a running loop)
        self._slots: anyio.Semaphore | None = None
        self._threads: anyio.CapacityLimiter | None = None

    async def authenticate(
        self,
        token: str,
        *,
        address: str,
        now: datetime,
        session: Session | None = None,
        keep: bool = True,
    ) -> Principal:
        """The principal of `token` presented from `address`, or 401, 429 or 503.

        With `session` (the request's, no transaction begun yet) the credential is read in
        its transaction, which goes on for the request when the verification cache vouches
        for the secret and `keep`; otherwise that transaction ends at once (nothing was
        written), before any other transaction or hashing. Without, in a short transaction
        of its own."""
        unix = int(now.timestamp())
        if not clients.is_well_formed(token):
            await self._failed(address, None, unix)
            raise Unauthenticated()
        if session is not None:
            found, principal = await anyio.to_thread.run_sync(
                self._look_up_in, session, token, now, keep
            )
            if principal is not None:
                return principal
            wait = await anyio.to_thread.run_sync(self._blocked, found, address, now)
        else:
            found, principal, wait = await anyio.to_thread.run_sync(
                self._look_up, token, address, now
            )
            if principal is not None:
                return principal
        if wait is not None:
            raise TooManyRequests(retry_after_seconds=wait)
        try:
            return await self._run_argon2(
                partial(clients.verify_with_argon2, self._hasher, found, now=now),
                # the limit may have been reached while this request waited for its turn
                recheck=partial(self.early_refusal, token, address=address, now=now),
            )
        except Unauthenticated:
            await self._failed(address, found.key_id, unix)
            raise

    def early_refusal(self, token: str, *, address: str, now: datetime) -> int | None:
        """Seconds to wait, when this process already saw the address or the key id at its
        failure limit and the token is not one it verified lately; None: go on (`authenticate`
        decides). No database work and no hashing: `issuer.throttle` asks on every request."""
        unix = int(now.timestamp())
        parts = clients.split_token(token)
        if parts is not None and self._hasher.is_remembered(parts[0], parts[1], now=now):
            return None
        waits = [self._counters.remembered_block(self.by_address, address, now=unix)]
        if parts is not None:
            waits.append(self._counters.remembered_block(self.by_key, parts[0], now=unix))
        known = [w for w in waits if w is not None]
        return max(known) if known else None

    def refuse_if_blocked(self, address: str, *, now: datetime) -> None:
        """429 when `address` is at its failure limit (the same budget as API keys). For
        the other ways in that authenticate (handheld enrolment and token): call from a
        worker thread; reads the database unless this process remembers the block."""
        wait = self._counters.blocked([(self.by_address, address)], now=int(now.timestamp()))
        if wait is not None:
            raise TooManyRequests(retry_after_seconds=wait)

    def count_failure(self, address: str, *, now: datetime) -> None:
        """Count one failed authentication of `address` by another way in; 429 once past
        the limit (from a worker thread, outside any open write transaction)."""
        decision = self._counters.hit(self.by_address, address, now=int(now.timestamp()))
        if not decision.allowed:
            raise TooManyRequests(retry_after_seconds=decision.retry_after_seconds)

    def _look_up(
        self, token: str, address: str, now: datetime
    ) -> tuple[CredentialLookup, Principal | None, int | None]:
        with self._sessions() as session, session.begin():
            found = clients.lookup(session, token, now=now)
        principal = clients.verify_from_cache(self._hasher, found, now=now)
        if principal is not None:
            return found, principal, None
        return found, None, self._blocked(found, address, now)

    def _look_up_in(
        self, session: Session, token: str, now: datetime, keep: bool
    ) -> tuple[CredentialLookup, Principal | None]:
        try:
            found, tenant = clients.lookup_with_tenant(session, token, now=now)
            principal = clients.verify_from_cache(self._hasher, found, now=now)
        except BaseException:
            session.rollback()
            raise
        if principal is None or not keep:
            session.rollback()  # ends the read: no lock held while hashing or counting
        elif tenant is not None:
            session.info[_TENANT_READ] = tenant  # held: the session keeps objects weakly
        return found, principal

    def _blocked(self, found: CredentialLookup, address: str, now: datetime) -> int | None:
        """Seconds to wait when the address or the key id is at its failure limit."""
        pairs = [(self.by_address, address)]
        if found.key_id is not None:
            pairs.append((self.by_key, found.key_id))
        return self._counters.blocked(pairs, now=int(now.timestamp()))

    async def _failed(self, address: str, key_id: str | None, unix: int) -> None:
        """Count a failure; 429 once the address is past its limit."""

        def count() -> int | None:
            decision = self._counters.hit(self.by_address, address, now=unix)
            if key_id is not None:
                self._counters.hit(self.by_key, key_id, now=unix)
            return None if decision.allowed else decision.retry_after_seconds

        wait = await anyio.to_thread.run_sync(count)
        if wait is not None:
            raise TooManyRequests(retry_after_seconds=wait)

    async def _run_argon2(
        self, verify: Callable[[], Principal], *, recheck: Callable[[], int | None]
    ) -> Principal:
        if self._slots is None or self._threads is None:
            self._slots = anyio.Semaphore(self._max_hashes)
            self._threads = anyio.CapacityLimiter(self._max_hashes)
        slots, threads = self._slots, self._threads
        if slots.statistics().tasks_waiting >= self._max_waiting:
            raise _busy()
        acquired = False
        with anyio.move_on_after(self._max_wait_seconds):  # bounds the wait, never the hashing
            await slots.acquire()
            acquired = True
        if not acquired:
            raise _busy()
        try:
            wait = recheck()
            if wait is not None:
                raise TooManyRequests(retry_after_seconds=wait)
            result = await anyio.to_thread.run_sync(verify, limiter=threads)
        finally:
            slots.release()
        return result

    def hashes_in_flight(self) -> int:
        """argon2 verifications running now in this process (for tests and metrics)."""
        return 0 if self._slots is None else self._max_hashes - self._slots.value

    def hashes_waiting(self) -> int:
        """Requests waiting for an argon2 turn in this process (for tests and metrics)."""
        return 0 if self._slots is None else self._slots.statistics().tasks_waiting


def _busy() -> Unavailable:
    return Unavailable(
        ErrorCode.AUTHENTICATION_BUSY,
        headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
    )
