"""`POST /wallet/devices`: a holder registers a device key by a proof (over real HTTP)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.support.db import make_test_settings
from tests.wallet_api.harness import WalletEnv, wallet_env
from tests.wallet_api.support import ProofKey
from verifier.formats import decode_public_jwk
from wallet_api.models import WalletDevice

PRE = "urn:ietf:params:oauth:grant-type:pre-authorized_code"


@pytest.fixture
def env(sqlite_settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(sqlite_settings, clock) as environment:
        yield environment


def _access(env: WalletEnv, offer: dict[str, Any]) -> str:
    code = offer["credential_offer"]["grants"][PRE]["pre-authorized_code"]
    form = {"grant_type": PRE, "pre-authorized_code": code, "tx_code": offer["tx_code"]}
    response = env.http.post("/wallet/token", data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _nonce(env: WalletEnv) -> str:
    return str(env.http.post("/wallet/nonce").json()["c_nonce"])


def _register(env: WalletEnv, access: str, body: Any) -> httpx.Response:
    return env.http.post(
        "/wallet/devices", json=body, headers={"Authorization": f"Bearer {access}"}
    )


def _devices(env: WalletEnv, access: str) -> list[dict[str, Any]]:
    response = env.http.get("/wallet/devices", headers={"Authorization": f"Bearer {access}"})
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json()
    return result


def _proof(env: WalletEnv, key: ProofKey, **overrides: Any) -> str:
    claims: dict[str, Any] = {"aud": env.base_url, "nonce": _nonce(env), "iat": int(env.now())}
    claims.update(overrides)
    return key.proof(**claims)


def _device_count(env: WalletEnv) -> int:
    with env.app.state.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(WalletDevice)) or 0)


def test_a_proven_key_is_registered_and_listed(env: WalletEnv) -> None:
    access = _access(env, env.offer())
    key = ProofKey()
    response = _register(env, access, {"proof": _proof(env, key)})
    assert response.status_code == 201, response.text
    device = response.json()
    assert device["thumbprint"] == decode_public_jwk(key.jwk).kid
    listed = _devices(env, access)
    assert [d["id"] for d in listed] == [device["id"]]
    assert _device_count(env) == 1


def test_registering_the_same_key_again_is_the_same_device(env: WalletEnv) -> None:
    access = _access(env, env.offer())
    key = ProofKey()
    first = _register(env, access, {"proof": _proof(env, key)})
    again = _register(env, access, {"proof": _proof(env, key)})
    assert first.status_code == 201 and again.status_code in (200, 201)
    assert again.json()["id"] == first.json()["id"]
    assert _device_count(env) == 1


@pytest.mark.parametrize(
    ("override", "error"),
    [
        pytest.param({"aud": "https://evil.example"}, "invalid_proof", id="wrong-aud"),
        pytest.param({"nonce": "made-up"}, "invalid_nonce", id="unknown-nonce"),
        pytest.param({"nonce": None}, "invalid_nonce", id="no-nonce"),
        pytest.param({"iat": 0}, "invalid_proof", id="stale-iat"),
    ],
)
def test_a_bad_proof_registers_nothing(
    env: WalletEnv, override: dict[str, Any], error: str
) -> None:
    access = _access(env, env.offer())
    response = _register(env, access, {"proof": _proof(env, ProofKey(), **override)})
    assert response.status_code == 400
    assert response.json()["error"] == error
    assert _device_count(env) == 0


def test_a_used_nonce_cannot_register_a_second_key(env: WalletEnv) -> None:
    access = _access(env, env.offer())
    nonce = _nonce(env)
    assert (
        _register(env, access, {"proof": _proof(env, ProofKey(), nonce=nonce)}).status_code == 201
    )
    replay = _register(env, access, {"proof": _proof(env, ProofKey(), nonce=nonce)})
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_nonce"
    assert _device_count(env) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="no-proof"),
        pytest.param({"proof": 7}, id="not-a-string"),
        pytest.param({"proof": "a.b.c"}, id="junk"),
        pytest.param(["proof"], id="not-an-object"),
    ],
)
def test_malformed_bodies_are_invalid_proof(env: WalletEnv, body: Any) -> None:
    access = _access(env, env.offer())
    response = _register(env, access, body)
    assert response.status_code == 400 and response.json()["error"] == "invalid_proof"


def test_a_key_bound_to_another_citizen_is_refused(env: WalletEnv) -> None:
    key = ProofKey()
    mine = _access(env, env.offer())
    assert _register(env, mine, {"proof": _proof(env, key)}).status_code == 201
    theirs = _access(env, env.offer(kind="residence", resident_id=str(env.other_resident_id)))
    response = _register(env, theirs, {"proof": _proof(env, key)})
    assert response.status_code == 400 and response.json()["error"] == "invalid_proof"
    assert _devices(env, theirs) == []
    assert _device_count(env) == 1


def test_a_removed_device_key_cannot_be_registered_again(env: WalletEnv) -> None:
    access = _access(env, env.offer())
    key = ProofKey()
    device = _register(env, access, {"proof": _proof(env, key)}).json()
    removed = env.http.delete(
        f"/wallet/devices/{device['id']}", headers={"Authorization": f"Bearer {access}"}
    )
    assert removed.status_code == 200 and removed.json()["ended_grants"] == 1
    # the grant that bound the key ended with it; a fresh grant cannot bind the key either
    ended = _register(env, access, {"proof": _proof(env, key)})
    assert ended.status_code == 401 and ended.json()["error"] == "invalid_token"
    again = _register(env, _access(env, env.offer()), {"proof": _proof(env, key)})
    assert again.status_code == 400 and again.json()["error"] == "invalid_proof"


def test_registration_needs_a_bearer_token(env: WalletEnv) -> None:
    response = env.http.post("/wallet/devices", json={"proof": _proof(env, ProofKey())})
    assert response.status_code == 401 and response.json()["error"] == "invalid_token"


@pytest.fixture
def both_db_env(db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[WalletEnv]:
    """On SQLite and PostgreSQL: the race below only shows on a database that runs them."""
    with wallet_env(make_test_settings(db_url, tmp_path / "data-both"), clock) as environment:
        yield environment


def test_concurrent_registrations_of_one_key_make_one_device(both_db_env: WalletEnv) -> None:
    env = both_db_env
    access = _access(env, env.offer())
    key = ProofKey()
    proofs = [_proof(env, key) for _ in range(4)]
    statuses: list[int] = []
    start = threading.Barrier(len(proofs))

    def post(proof: str) -> None:
        start.wait()
        with httpx.Client(base_url=env.base_url, timeout=30) as http:
            response = http.post(
                "/wallet/devices",
                json={"proof": proof},
                headers={"Authorization": f"Bearer {access}"},
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=(p,)) for p in proofs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 500 not in statuses
    assert statuses.count(201) >= 1
    assert _device_count(env) == 1


def test_one_key_raced_by_two_citizens_binds_to_one(both_db_env: WalletEnv) -> None:
    env = both_db_env
    key = ProofKey()
    accesses = [
        _access(env, env.offer()),
        _access(env, env.offer(kind="residence", resident_id=str(env.other_resident_id))),
    ] * 2
    proofs = [_proof(env, key) for _ in accesses]
    statuses: list[int] = []
    start = threading.Barrier(len(proofs))

    def post(access: str, proof: str) -> None:
        start.wait()
        with httpx.Client(base_url=env.base_url, timeout=30) as http:
            response = http.post(
                "/wallet/devices",
                json={"proof": proof},
                headers={"Authorization": f"Bearer {access}"},
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=post, args=ap) for ap in zip(accesses, proofs, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(statuses)) in ([201], [201, 400])
    assert _device_count(env) == 1
