"""Grants against an attacker, over real HTTP on SQLite and PostgreSQL: a lost phone's grant
ends with its device, a replayed rotated refresh token ends its grant. Both depend on the
database's locking (a removal racing the thief's requests, two refreshes racing)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from issuer.services.clock import FixedClock
from issuer.services.status_lists import status_of
from issuer.settings import Settings
from tests.wallet_api.harness import QR_CONFIG, WalletEnv, wallet_env
from tests.wallet_api.support import ProofKey
from verifier.formats import decode_public_jwk
from wallet_api.models import GrantEnd, WalletCredential, WalletGrant


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def _proof(env: WalletEnv, key: ProofKey) -> str:
    return key.proof(aud=env.base_url, nonce=env.nonce(), iat=int(env.now()))


def _bearer(access: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access}"}


def _phone(env: WalletEnv) -> tuple[dict[str, Any], ProofKey, str]:
    """A phone that redeemed the permit offer: tokens, its key, its device id."""
    tokens = env.tokens(env.offer())
    key = ProofKey()
    issued = env.credential(tokens["access_token"], [_proof(env, key)])
    assert issued.status_code == 200, issued.text
    assert env.credential(tokens["access_token"], None, QR_CONFIG).status_code == 200
    devices = env.http.get("/wallet/devices", headers=_bearer(tokens["access_token"])).json()
    (device,) = [d for d in devices if d["thumbprint"] == decode_public_jwk(key.jwk).kid]
    return tokens, key, str(device["id"])


def _error(response: httpx.Response) -> str:
    return str(response.json()["error"])


def _grant(env: WalletEnv) -> list[WalletGrant]:
    with env.app.state.session_factory() as session:
        return list(session.scalars(select(WalletGrant)))


def _statuses(env: WalletEnv) -> list[tuple[str, int | None]]:
    """(grant id, status) of every credential issued."""
    with env.app.state.session_factory() as session:
        rows = session.scalars(select(WalletCredential)).all()
        return [
            (
                row.grant_id,
                status_of(
                    session, tenant_id=env.tenant_id, list_no=row.status_list, idx=row.status_idx
                ),
            )
            for row in rows
        ]


def test_a_removed_phone_can_refresh_fetch_and_bind_nothing(env: WalletEnv) -> None:
    tokens, _key, device_id = _phone(env)
    removed = env.http.delete(f"/api/v1/devices/{device_id}", headers=env.headers)
    assert removed.status_code == 200, removed.text
    assert removed.json() == {
        "device_id": device_id,
        "revoked_credentials": 2,  # the SD-JWT VC and the BID1: QR
        "ended_grants": 1,
        "removed_devices": 1,
    }
    access = tokens["access_token"]
    refresh = env.refresh(tokens["refresh_token"])
    assert refresh.status_code == 400 and _error(refresh) == "invalid_grant"
    new_key = env.credential(access, [_proof(env, ProofKey())])
    assert new_key.status_code == 401 and _error(new_key) == "invalid_token"
    qr = env.credential(access, None, QR_CONFIG)
    assert qr.status_code == 401 and _error(qr) == "invalid_token"
    register = env.http.post(
        "/wallet/devices", json={"proof": _proof(env, ProofKey())}, headers=_bearer(access)
    )
    assert register.status_code == 401 and _error(register) == "invalid_token"
    assert [s for _, s in _statuses(env)] == [1, 1]
    (grant,) = _grant(env)
    assert grant.revoked_reason == GrantEnd.DEVICE_REMOVED


def test_removing_a_phone_from_another_phone_ends_only_the_lost_one(env: WalletEnv) -> None:
    lost, _, lost_device = _phone(env)
    kept, _, _ = _phone(env)
    # the thief had bound a second key through the lost phone's grant before the report
    thief = env.credential(lost["access_token"], [_proof(env, ProofKey())])
    assert thief.status_code == 200
    removed = env.http.delete(
        f"/wallet/devices/{lost_device}", headers=_bearer(kept["access_token"])
    )
    assert removed.status_code == 200, removed.text
    assert removed.json()["ended_grants"] == 1 and removed.json()["removed_devices"] == 2
    assert removed.json()["revoked_credentials"] == 3
    assert env.refresh(lost["refresh_token"]).status_code == 400
    assert env.refresh(kept["refresh_token"]).status_code == 200
    ended = {g.id: g.revoked_reason for g in _grant(env)}
    assert sorted(ended.values(), key=str) == [None, GrantEnd.DEVICE_REMOVED]
    lost_grant = next(g for g, reason in ended.items() if reason is not None)
    for grant_id, status in _statuses(env):
        assert status == (1 if grant_id == lost_grant else 0)


def test_a_removal_racing_the_thiefs_requests_leaves_nothing_valid(env: WalletEnv) -> None:
    tokens, _, device_id = _phone(env)
    access = tokens["access_token"]
    start = threading.Barrier(4)
    answers: list[int] = []

    def thief() -> None:
        with httpx.Client(base_url=env.base_url, timeout=30) as http:
            start.wait()
            for _ in range(4):
                nonce = http.post("/wallet/nonce").json()["c_nonce"]
                proof = ProofKey().proof(aud=env.base_url, nonce=nonce, iat=int(env.now()))
                response = http.post(
                    "/wallet/credential",
                    json={
                        "credential_configuration_id": "05513000.parking-permit",
                        "proofs": {"jwt": [proof]},
                    },
                    headers=_bearer(access),
                )
                answers.append(response.status_code)
                if response.status_code != 200:
                    return

    threads = [threading.Thread(target=thief) for _ in range(3)]
    for t in threads:
        t.start()
    start.wait()
    with httpx.Client(base_url=env.base_url, timeout=30) as http:
        removed = http.delete(f"/api/v1/devices/{device_id}", headers=env.headers)
    for t in threads:
        t.join()
    assert removed.status_code == 200, removed.text
    assert set(answers) <= {200, 401}
    # whatever the thief got before the removal is revoked with it; nothing after
    assert [s for _, s in _statuses(env)] == [1] * len(_statuses(env))
    assert removed.json()["revoked_credentials"] == len(_statuses(env))
    assert env.credential(access, [_proof(env, ProofKey())]).status_code == 401


def test_a_replayed_rotated_refresh_token_ends_the_grant(env: WalletEnv) -> None:
    first = env.tokens(env.offer())
    second = env.refresh(first["refresh_token"])
    assert second.status_code == 200
    rotated = second.json()
    replay = env.refresh(first["refresh_token"])  # the old one, by a thief or a stale copy
    assert replay.status_code == 400 and _error(replay) == "invalid_grant"
    # the whole grant ended: the current refresh and access tokens too
    current = env.refresh(rotated["refresh_token"])
    assert current.status_code == 400 and _error(current) == "invalid_grant"
    denied = env.credential(rotated["access_token"], [_proof(env, ProofKey())])
    assert denied.status_code == 401 and _error(denied) == "invalid_token"
    (grant,) = _grant(env)
    assert grant.revoked_reason == GrantEnd.REFRESH_REUSED


def test_two_refreshes_racing_with_one_token_end_the_grant(env: WalletEnv) -> None:
    tokens = env.tokens(env.offer())
    start = threading.Barrier(2)
    answers: list[httpx.Response] = []

    def refresh() -> None:
        with httpx.Client(base_url=env.base_url, timeout=30) as http:
            start.wait()
            answers.append(
                http.post(
                    "/wallet/token",
                    data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
                )
            )

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a.status_code for a in answers) == [200, 400]
    winner = next(a for a in answers if a.status_code == 200).json()
    assert env.refresh(winner["refresh_token"]).status_code == 400
    (grant,) = _grant(env)
    assert grant.revoked_reason == GrantEnd.REFRESH_REUSED
