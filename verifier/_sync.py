"""Sync as a handheld does it: one source, the enrolled service, or again and again.

``sync_once`` runs one attempt under one total deadline: a file or URL given, else the
enrolled service (trust bundle, then the plate index of every municipality the device may
see, with a short-lived access token from its device key), else the URL stored with
``config --sync-source``. ``SyncLoop`` repeats it every interval, retrying a failed attempt
sooner with exponential backoff (10 s, 20 s, 40 s … never longer than the interval, with
jitter so a fleet of handhelds does not retry in step); ``wake()`` starts an attempt now
("jetzt synchronisieren"). ``sync --every`` and the app share it. The outcome of the last
attempt is kept in ``state.json`` for ``status`` and the app.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verifier._enrol import DeviceIdentity, EnrolmentError, plate_index_urls, service_base
from verifier._errors import VerifierError
from verifier._http import FetchError
from verifier._store import DataDir, SyncResult, fetch, is_url

FIRST_RETRY_SECONDS = 10.0
MIN_INTERVAL_SECONDS = 60.0


class SyncSetupError(Exception):
    """Nothing to sync from: no source given, no enrolment, no stored sync source."""

    code = "no_source"


@dataclass(frozen=True, slots=True)
class Step:
    """One document of an attempt: what it was and what happened (``None``: not modified)."""

    source: str
    result: SyncResult | None
    issuer: str | None = None


@dataclass(slots=True)
class Attempt:
    """One sync attempt: its steps, and the error that ended it (None: it succeeded)."""

    at: int
    steps: list[Step] = field(default_factory=list)
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        """True when every step succeeded."""
        return self.error is None


class _Budget:
    """The attempt's total deadline, shared by all its requests."""

    def __init__(self, seconds: float, monotonic: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self.at = monotonic() + seconds

    def left(self) -> float:
        left = self.at - self._monotonic()
        if left <= 0:
            raise FetchError("deadline_exceeded")
        return left


def _fetch_and_store(
    data_dir: DataDir,
    source: str,
    state: dict[str, Any],
    budget: _Budget,
    *,
    headers: dict[str, str] | None = None,
    transport: Any = None,
) -> SyncResult | None:
    etags = state.setdefault("etags", {})
    if not isinstance(etags, dict):
        etags = state["etags"] = {}
    known = etags.get(source) if is_url(source) else None
    fetched = fetch(
        source,
        etag=known if isinstance(known, str) else None,
        timeout_seconds=budget.left(),
        headers=headers,
        transport=transport,
    )
    if fetched.data is None:
        return None
    result = data_dir.sync_bytes(fetched.data)
    if is_url(source) and fetched.etag:
        etags[source] = fetched.etag
    return result


def sync_once(
    data_dir: DataDir,
    source: str | None = None,
    *,
    now: int,
    timeout_seconds: float = 30.0,
    transport: Any = None,
    monotonic: Callable[[], float] = time.monotonic,
) -> Attempt:
    """One attempt under one total deadline; the error (if any) is in the result, not raised,
    except ``SyncSetupError`` when there is nothing to sync from."""
    identity = DeviceIdentity(data_dir.root)
    state = data_dir.read_state()
    config = data_dir.read_config()
    if source is None and not identity.is_enrolled:
        stored = config.get("sync_source")
        if not isinstance(stored, str) or not stored:
            raise SyncSetupError()
        source = stored
    attempt = Attempt(at=now)
    budget = _Budget(timeout_seconds, monotonic)
    try:
        if source is not None and not _is_enrolled_service_url(identity, source):
            result = _fetch_and_store(data_dir, source, state, budget, transport=transport)
            attempt.steps.append(Step(source, result))
        else:
            # the enrolled service: its bundle (public), then the device's plate indexes
            enrolment = identity.read_enrolment()
            bundle_url = enrolment.trust_bundle_url
            if source is None or source == bundle_url:
                result = _fetch_and_store(data_dir, bundle_url, state, budget, transport=transport)
                attempt.steps.append(Step(bundle_url, result))
            token, current = identity.access_token(
                now=now, timeout_seconds=budget.left(), transport=transport
            )
            auth = {"Authorization": f"Bearer {token}"}
            for ags, url in plate_index_urls(current):
                if source in (None, bundle_url, url):
                    result = _fetch_and_store(
                        data_dir, url, state, budget, headers=auth, transport=transport
                    )
                    attempt.steps.append(Step(url, result, ags))
    except (VerifierError, OSError, EnrolmentError) as exc:
        attempt.error = exc
    state["last_sync"] = {
        "at": now,
        "ok": attempt.ok,
        "error": None if attempt.error is None else error_code(attempt.error),
    }
    if attempt.ok:
        state["last_success"] = now
    data_dir.write_state(state)
    return attempt


def _is_enrolled_service_url(identity: DeviceIdentity, source: str) -> bool:
    """True when ``source`` is the enrolled service's bundle or a plate index of it."""
    if not identity.is_enrolled or not is_url(source):
        return False
    try:
        enrolment = identity.read_enrolment()
    except EnrolmentError:
        return False
    if source == enrolment.trust_bundle_url:
        return True
    prefix = enrolment.plate_index_url.split("{ags}", 1)[0]
    return source.startswith(prefix) and service_base(source).startswith(enrolment.service)


def error_code(exc: BaseException) -> str:
    """The stable code of a sync error (for state.json and the app)."""
    if isinstance(exc, VerifierError):
        return str(exc.reason)
    code = getattr(exc, "code", None)
    if isinstance(code, str):
        return code
    return "io_error"


class Backoff:
    """Delays between attempts: the interval after a success; after failures 10 s, 20 s,
    40 s … capped at the interval, each with ±20 % jitter."""

    def __init__(self, every_seconds: float, *, rng: random.Random | None = None) -> None:
        self.every = max(MIN_INTERVAL_SECONDS, every_seconds)
        self.failures = 0
        self._rng = rng or random.Random()

    def next_delay(self, ok: bool) -> float:
        """Seconds to wait after an attempt that succeeded (``ok``) or failed."""
        if ok:
            self.failures = 0
            base = self.every
        else:
            base = min(self.every, FIRST_RETRY_SECONDS * 2.0**self.failures)
            self.failures += 1
        return base * self._rng.uniform(0.8, 1.2)


class SyncLoop:
    """Attempts every interval with backoff, in the caller's thread (``run``) or a daemon
    thread (``start``); ``wake()`` attempts now, ``stop()`` ends it."""

    def __init__(
        self,
        attempt: Callable[[], Attempt],
        every_seconds: float,
        *,
        on_attempt: Callable[[Attempt, float], None] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._attempt = attempt
        self.backoff = Backoff(every_seconds, rng=rng)
        self.on_attempt = on_attempt
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.last: Attempt | None = None

    def run(self, *, count: int | None = None) -> Attempt | None:
        """Attempt, wait, repeat; ``count`` attempts at most (None: until stopped)."""
        done = 0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                attempt = self._attempt()
            except SyncSetupError as exc:
                attempt = Attempt(at=0, error=exc)
            self.last = attempt
            done += 1
            delay = self.backoff.next_delay(attempt.ok)
            if self.on_attempt is not None:
                self.on_attempt(attempt, delay)
            if count is not None and done >= count:
                break
            self._wake.wait(delay)
        return self.last

    def start(self) -> None:
        """Run in a daemon thread."""
        self._thread = threading.Thread(target=self.run, name="buergerid-sync", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Attempt now instead of at the next scheduled time."""
        self._wake.set()

    def stop(self) -> None:
        """End the loop after the attempt in progress."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(60)


def parse_duration(text: str) -> float:
    """``90``, ``30s``, ``15m``, ``1h``, ``1d`` → seconds; ``ValueError`` otherwise."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    unit = units.get(text[-1:]) if text else None
    number = text[:-1] if unit is not None else text
    if not number.isdigit() or len(number) > 9:
        raise ValueError("not a duration")
    return float(int(number) * (unit or 1))
