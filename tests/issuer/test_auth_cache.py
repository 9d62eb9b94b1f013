"""The in-process verification cache of API secrets: fast, but never weaker than argon2 alone."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from starlette.testclient import TestClient

from issuer.db.models import ApiCredential
from issuer.services.clients import SecretHasher
from issuer.services.clock import FixedClock
from tests.support.clock import T0
from tests.support.db import ApiClientFactory
from tests.support.http import HTTP_TIMEOUT, live_server

URL = "/api/v1/clients"


class _Counting:
    """Wraps the argon2 PasswordHasher and counts `verify` calls."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.calls = 0

    def verify(self, *args: object) -> bool:
        self.calls += 1
        return bool(self.inner.verify(*args))  # type: ignore[attr-defined]

    def hash(self, secret: str) -> str:
        return str(self.inner.hash(secret))  # type: ignore[attr-defined]


def _count_argon2(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> _Counting:
    """Counts argon2 verifications of the app's hasher from now on: read `.calls`."""
    hasher: SecretHasher = app.state.hasher
    counting = _Counting(hasher._hasher)
    monkeypatch.setattr(hasher, "_hasher", counting)
    return counting


def _code(response: object) -> str:
    return str(response.json()["code"])  # type: ignore[attr-defined]


def test_second_request_skips_argon2(
    app: FastAPI, client: TestClient, api_client: ApiClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = api_client(scopes=["admin"])
    calls = _count_argon2(app, monkeypatch)
    for _ in range(3):
        assert client.get(URL, headers=creds.headers).status_code == 200
    assert calls.calls == 1


def test_unknown_key_id_still_costs_a_hash(
    app: FastAPI, client: TestClient, api_client: ApiClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    api_client(scopes=["admin"])
    calls = _count_argon2(app, monkeypatch)
    headers = {"Authorization": "Bearer bid_00000000000000ff." + "a" * 43}
    for _ in range(2):
        response = client.get(URL, headers=headers)
        assert response.status_code == 401
        assert _code(response) == "unauthenticated"
    assert calls.calls == 2
    assert app.state.hasher.cache_len() == 0


def test_wrong_secret_with_warm_cache_is_refused(
    app: FastAPI, client: TestClient, api_client: ApiClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = api_client(scopes=["admin"])
    assert client.get(URL, headers=creds.headers).status_code == 200
    calls = _count_argon2(app, monkeypatch)
    wrong = {"Authorization": creds.headers["Authorization"][:-4] + "AAAA"}
    if wrong == creds.headers:
        wrong = {"Authorization": creds.headers["Authorization"][:-4] + "BBBB"}
    response = client.get(URL, headers=wrong)
    assert response.status_code == 401
    assert _code(response) == "unauthenticated"
    assert calls.calls == 1  # a cache miss on the digest falls back to argon2, which says no
    # the right secret is still served from the cache
    assert client.get(URL, headers=creds.headers).status_code == 200
    assert calls.calls == 1


def test_revoked_client_refused_at_once_with_warm_cache(
    client: TestClient, api_client: ApiClientFactory
) -> None:
    admin = api_client(scopes=["admin"])
    victim = api_client(scopes=["admin"], name="victim")
    assert client.get(URL, headers=victim.headers).status_code == 200  # warm
    response = client.post(f"{URL}/{victim.client_id}/revoke", headers=admin.headers)
    assert response.status_code == 200
    response = client.get(URL, headers=victim.headers)
    assert response.status_code == 401
    assert _code(response) == "unauthenticated"


def test_rotation_without_grace_refuses_old_secret_with_warm_cache(
    client: TestClient, api_client: ApiClientFactory
) -> None:
    creds = api_client(scopes=["admin"])
    assert client.get(URL, headers=creds.headers).status_code == 200  # warm
    response = client.post(
        f"{URL}/{creds.client_id}/rotate", headers=creds.headers, json={"grace_seconds": 0}
    )
    assert response.status_code == 200
    assert client.get(URL, headers=creds.headers).status_code == 401
    new = {"Authorization": f"Bearer {response.json()['token']}"}
    assert client.get(URL, headers=new).status_code == 200


def test_rotation_grace_ends_with_warm_cache(
    client: TestClient, api_client: ApiClientFactory, clock: FixedClock
) -> None:
    creds = api_client(scopes=["admin"])
    response = client.post(
        f"{URL}/{creds.client_id}/rotate", headers=creds.headers, json={"grace_seconds": 120}
    )
    assert response.status_code == 200
    assert client.get(URL, headers=creds.headers).status_code == 200  # warm, within grace
    clock.advance(120)
    assert client.get(URL, headers=creds.headers).status_code == 401


def test_changed_stored_hash_invalidates_the_entry(
    app: FastAPI, client: TestClient, api_client: ApiClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    creds = api_client(scopes=["admin"])
    assert client.get(URL, headers=creds.headers).status_code == 200  # warm
    hasher: SecretHasher = app.state.hasher
    with app.state.session_factory() as sess, sess.begin():
        sess.execute(
            update(ApiCredential)
            .where(ApiCredential.key_id == creds.key_id)
            .values(secret_hash=hasher.hash("another-secret-entirely-0123456789"))
        )
    calls = _count_argon2(app, monkeypatch)
    assert client.get(URL, headers=creds.headers).status_code == 401
    assert calls.calls == 1


def test_entry_expires_after_ttl(
    app: FastAPI,
    client: TestClient,
    api_client: ApiClientFactory,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    creds = api_client(scopes=["admin"])
    assert client.get(URL, headers=creds.headers).status_code == 200
    calls = _count_argon2(app, monkeypatch)
    clock.advance(299)
    assert client.get(URL, headers=creds.headers).status_code == 200
    assert calls.calls == 0
    clock.advance(1)
    assert client.get(URL, headers=creds.headers).status_code == 200
    assert calls.calls == 1


def test_cache_is_bounded_lru() -> None:
    hasher = SecretHasher(time_cost=1, memory_kib=8, parallelism=1, cache_size=2)
    now = T0
    stored = {k: hasher.hash(f"secret-{k}") for k in ("a", "b", "c")}
    for k in ("a", "b"):
        hasher.remember(k, stored[k], f"secret-{k}", now=now)
    assert hasher.verify_cached("a", stored["a"], "secret-a", now=now)  # a is now newest
    hasher.remember("c", stored["c"], "secret-c", now=now)
    assert hasher.cache_len() == 2
    assert not hasher.verify_cached("b", stored["b"], "secret-b", now=now)  # evicted
    assert hasher.verify_cached("a", stored["a"], "secret-a", now=now)
    assert hasher.verify_cached("c", stored["c"], "secret-c", now=now)
    assert not hasher.verify_cached("c", stored["c"], "secret-x", now=now)
    assert not hasher.verify_cached("c", stored["c"], "secret-c", now=now + timedelta(seconds=300))
    assert hasher.cache_len() == 1


def test_cache_size_zero_disables_it() -> None:
    hasher = SecretHasher(time_cost=1, memory_kib=8, parallelism=1, cache_size=0)
    stored = hasher.hash("s")
    hasher.remember("a", stored, "s", now=T0)
    assert hasher.cache_len() == 0
    assert not hasher.verify_cached("a", stored, "s", now=T0)


class _Watching(_Counting):
    """Counts argon2 verifications and notes how many of the app's pooled connections were
    checked out while each ran."""

    def __init__(self, inner: object, app: FastAPI) -> None:
        super().__init__(inner)
        self.app = app
        self.in_use: list[int] = []

    def verify(self, *args: object) -> bool:
        self.in_use.append(self.app.state.engine.pool.checkedout())
        return super().verify(*args)


def test_argon2_runs_after_the_credential_read_ended(
    app: FastAPI, api_client: ApiClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The credential is read in the request's session; when the cache cannot vouch for the
    secret, that read's transaction ends first: no connection (on SQLite, no write lock) is
    held while argon2 runs. The request then goes on in a transaction of its own, and later
    requests answered from the cache in the read's one."""
    creds = api_client(scopes=["admin"])
    hasher: SecretHasher = app.state.hasher
    watching = _Watching(hasher._hasher, app)
    monkeypatch.setattr(hasher, "_hasher", watching)
    wrong = {"Authorization": creds.headers["Authorization"][:-4] + "AAAA"}
    with live_server(app) as base, httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as http:
        assert http.get(URL, headers=wrong).status_code == 401
        for _ in range(3):
            answer = http.get(URL, headers=creds.headers)
            assert answer.status_code == 200, answer.text
            assert str(creds.client_id) in answer.text
    assert watching.calls == 2  # the wrong secret and the first right one
    assert watching.in_use == [0, 0]
