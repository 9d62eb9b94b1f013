"""A flood of bogus API keys over real HTTP: malformed keys cost no argon2, failures are limited
per address and per key id with counters in the database (shared by every instance), argon2
runs at most `auth_max_concurrent_hashes` at a time, and a busy client is not slowed. The
wallet token endpoint's limit lives in the same counters. SQLite and PostgreSQL.

Memory and latency under a flood are measured by bench/auth_flood.py, not here."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from issuer.app import create_app
from issuer.services.clients import SecretHasher
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.support.db import ApiClientFactory
from tests.support.http import HTTP_TIMEOUT, live_server

URL = "/api/v1/zones"
BOUNDED_WAIT_STEPS = 600  # x 0.05 s: how long a condition may take to come true


def bogus() -> dict[str, str]:
    """A well-formed key with an unknown key id."""
    return {"Authorization": f"Bearer bid_{secrets.token_hex(8)}.{secrets.token_urlsafe(32)}"}


def malformed(i: int) -> dict[str, str]:
    shapes = ("bid_zz.zz", "bid_" + "A" * 300, "bid_0123456789abcdef.short", "x" * 40)
    return {"Authorization": "Bearer " + shapes[i % len(shapes)]}


def code(response: httpx.Response) -> str:
    return str(response.json().get("code") or response.json().get("error"))


class CountingArgon2:
    """Stands in for the hasher's PasswordHasher: counts verifications, the most at once, and
    can hold every verification until `release` is set."""

    def __init__(self, inner: Any, *, hold: bool = False) -> None:
        self.inner = inner
        self.calls = 0
        self.in_flight = 0
        self.most = 0
        self.release = threading.Event()
        if not hold:
            self.release.set()
        self._lock = threading.Lock()

    def verify(self, *args: Any) -> bool:
        with self._lock:
            self.calls += 1
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        try:
            self.release.wait(30)
            return bool(self.inner.verify(*args))
        finally:
            with self._lock:
                self.in_flight -= 1

    def hash(self, secret: str) -> str:
        return str(self.inner.hash(secret))


def count_argon2(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, hold: bool = False
) -> CountingArgon2:
    hasher: SecretHasher = app.state.hasher
    counting = CountingArgon2(hasher._hasher, hold=hold)
    monkeypatch.setattr(hasher, "_hasher", counting)
    return counting


@contextmanager
def served(
    settings: Settings, clock: FixedClock, **changes: Any
) -> Iterator[tuple[FastAPI, httpx.Client]]:
    """An app with `changes` to the settings, served over real HTTP (a short refusal pause)."""
    update = {"auth_refusal_delay_seconds": 0.01, **changes}
    app = create_app(settings.model_copy(update=update), clock=clock)
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as http:
            yield app, http
    finally:
        app.state.engine.dispose()


def wait_until(condition: Callable[[], bool]) -> None:
    """A bounded wait for a condition (no fixed sleeps)."""
    event = threading.Event()
    for _ in range(BOUNDED_WAIT_STEPS):
        if condition():
            return
        event.wait(0.05)
    raise AssertionError("condition not reached")


def test_malformed_keys_cost_no_argon2_and_the_address_is_limited(
    settings: Settings,
    clock: FixedClock,
    api_client: ApiClientFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    valid = api_client(scopes=["registry:write"])
    with served(settings, clock, auth_failures_per_address=5) as (app, http):
        assert http.get(URL, headers=valid.headers).status_code == 200  # verified once, cached
        argon2 = count_argon2(app, monkeypatch)
        answers = [http.get(URL, headers=malformed(i)) for i in range(5)]
        assert [(r.status_code, code(r)) for r in answers] == [(401, "unauthenticated")] * 5
        assert argon2.calls == 0  # refused without hashing
        for headers in (malformed(5), bogus()):  # past the limit: 429, still no hashing
            refused = http.get(URL, headers=headers)
            assert refused.status_code == 429
            assert code(refused) == "too_many_authentication_failures"
            assert refused.headers["content-type"] == "application/problem+json"
            assert 1 <= int(refused.headers["retry-after"]) <= 60
        assert argon2.calls == 0
        statements: list[str] = []
        event.listen(app.state.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        answers = [http.get(URL, headers=h) for h in (bogus(), malformed(1), bogus())]
        assert {r.status_code for r in answers} == {429}
        assert statements == []  # refused from memory, before routing: no database work
        # the client whose secret was verified a moment ago is served, from the same address
        assert http.get(URL, headers=valid.headers).status_code == 200
        # the window ends: the address may try again
        clock.advance(60)
        assert http.get(URL, headers=bogus()).status_code == 401
        assert argon2.calls == 1


def test_a_limited_address_still_reaches_the_wallet_endpoints(
    settings: Settings, clock: FixedClock
) -> None:
    """The API-key limits are for /api/: a phone behind the same address as an attacker still
    gets the wallet's own answers (here: an unknown access token is the wallet's 401)."""
    from wallet_api.app import create_combined_app

    app = create_combined_app(
        settings.model_copy(
            update={"auth_failures_per_address": 2, "auth_refusal_delay_seconds": 0.01}
        ),
        clock=clock,
    )
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as http:
            codes = [http.get(URL, headers=malformed(i)).status_code for i in range(4)]
            assert codes == [401, 401, 429, 429]
            phone = http.get("/wallet/devices", headers={"Authorization": "Bearer not-ours"})
            assert phone.status_code == 401 and code(phone) == "invalid_token"
    finally:
        app.state.engine.dispose()


def test_failure_limits_hold_across_instances(
    settings: Settings, clock: FixedClock, api_client: ApiClientFactory
) -> None:
    """Two instances on one database (as two workers or two machines would be)."""
    valid = api_client(scopes=["registry:write"])
    limits = {"auth_failures_per_address": 3, "auth_failures_per_key": 3}
    with ExitStack() as stack:
        _a, first = stack.enter_context(served(settings, clock, **limits))
        _b, second = stack.enter_context(served(settings, clock, **limits))
        assert [first.get(URL, headers=bogus()).status_code for _ in range(2)] == [401, 401]
        assert second.get(URL, headers=bogus()).status_code == 401  # counted with the first's
        for http in (first, second):
            refused = http.get(URL, headers=bogus())
            assert refused.status_code == 429, refused.text
            assert code(refused) == "too_many_authentication_failures"
        # a right key from the limited address is not served either until the window ends
        assert second.get(URL, headers=valid.headers).status_code == 429
        clock.advance(60)
        assert second.get(URL, headers=valid.headers).status_code == 200


def test_a_key_id_under_attack_is_limited_from_every_address(
    settings: Settings, clock: FixedClock, api_client: ApiClientFactory
) -> None:
    """Wrong secrets for a real key id from ever new addresses (through a trusted proxy)."""
    valid = api_client(scopes=["registry:write"])
    wrong = {"Authorization": valid.headers["Authorization"][:-6] + "AAAAAA"}
    if wrong == valid.headers:
        wrong = {"Authorization": valid.headers["Authorization"][:-6] + "BBBBBB"}
    limits = {"auth_failures_per_key": 3, "trusted_proxies": ("127.0.0.1/32",)}
    with ExitStack() as stack:
        _a, first = stack.enter_context(served(settings, clock, **limits))
        _b, second = stack.enter_context(served(settings, clock, **limits))
        assert second.get(URL, headers=valid.headers).status_code == 200  # cached on the second

        def attempt(http: httpx.Client, n: int) -> int:
            headers = {**wrong, "X-Forwarded-For": f"198.51.100.{n}"}
            return http.get(URL, headers=headers).status_code

        assert [attempt(first, 1), attempt(second, 2), attempt(first, 3)] == [401, 401, 401]
        assert attempt(second, 4) == 429 and attempt(first, 5) == 429
        # the right secret: served where it was verified lately, refused where argon2 would run
        assert second.get(URL, headers=valid.headers).status_code == 200
        assert first.get(URL, headers=valid.headers).status_code == 429


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no database in this bound
def test_argon2_runs_at_most_the_configured_number_at_once(
    settings: Settings, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = {
        "auth_max_concurrent_hashes": 2,
        "auth_max_waiting_hashes": 5,
        "auth_failures_per_address": 1000,
    }
    with served(settings, clock, **limits) as (app, http):
        argon2 = count_argon2(app, monkeypatch, hold=True)
        guard = app.state.auth_guard
        with ThreadPoolExecutor(max_workers=7) as pool:
            flood = [pool.submit(http.get, URL, headers=bogus()) for _ in range(7)]
            try:
                wait_until(lambda: guard.hashes_in_flight() == 2 and guard.hashes_waiting() == 5)
                assert argon2.in_flight == 2  # seven requests: two hashing, five waiting
                busy = http.get(URL, headers=bogus())
                assert busy.status_code == 503 and code(busy) == "authentication_busy"
                assert busy.headers["retry-after"] == "1"
            finally:
                argon2.release.set()
            assert [f.result().status_code for f in flood] == [401] * 7
        assert argon2.most == 2 and argon2.calls == 7


def test_the_wallet_token_limit_holds_across_instances(
    settings: Settings, clock: FixedClock
) -> None:
    from wallet_api.app import create_wallet_app
    from wallet_api.services.policy import WalletPolicy

    policy = WalletPolicy(token_requests_per_window=3)
    form = {"grant_type": "refresh_token", "refresh_token": "not-a-token"}
    apps = [create_wallet_app(settings, clock=clock, policy=policy) for _ in range(2)]
    try:
        with ExitStack() as stack:
            first, second = (
                stack.enter_context(
                    httpx.Client(base_url=stack.enter_context(live_server(a)), timeout=HTTP_TIMEOUT)
                )
                for a in apps
            )
            answers = [first.post("/wallet/token", data=form) for _ in range(2)]
            answers.append(second.post("/wallet/token", data=form))
            assert [r.status_code for r in answers] == [400, 400, 400]
            refused = first.post("/wallet/token", data=form)
            assert refused.status_code == 429 and code(refused) == "slow_down"
            assert second.post("/wallet/token", data=form).status_code == 429
    finally:
        for app in apps:
            app.state.engine.dispose()


def test_refused_handheld_enrolments_and_tokens_count_against_the_address(
    settings: Settings, clock: FixedClock
) -> None:
    """A handheld's enrolment and token requests authenticate too: refused ones share the
    address's failure budget, and beyond it the address gets 429 before any work."""
    enrol = "/api/v1/enforcement/enrol"
    token = "/api/v1/enforcement/token"
    # a compact JWS signed by nobody we know: refused after parsing (422 invalid_enrolment)
    forged = "eyJhbGciOiJFUzI1NiJ9.eyJjb2RlIjoiQklERS14In0." + "A" * 86
    assertion = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": forged,
    }
    with served(settings, clock, auth_failures_per_address=3) as (_app, http):
        answers = [
            http.post(enrol, json={"enrolment_request": forged}),
            http.post(token, data=assertion),
            http.post(enrol, json={"enrolment_request": forged}),
        ]
        assert [(r.status_code, code(r)) for r in answers] == [
            (422, "invalid_enrolment"),
            (401, "invalid_client"),
            (422, "invalid_enrolment"),
        ]
        for path, body in (
            (token, {"data": assertion}),
            (enrol, {"json": {"enrolment_request": forged}}),
        ):
            refused = http.post(path, **body)
            assert refused.status_code == 429, refused.text
            assert code(refused) == "too_many_authentication_failures"
            assert 1 <= int(refused.headers["retry-after"]) <= 60
        # the window ends: the address may try again (and is refused for what it sends)
        clock.advance(seconds=61)
        assert http.post(token, data=assertion).status_code == 401
