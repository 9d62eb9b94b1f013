"""Attacks on the wallet API over real HTTP, each its own test; codes asserted, not messages.

Every attack runs on SQLite and PostgreSQL (the `settings` fixture of tests/support/db.py):
single use and attempt counters depend on the database's locking."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.wallet_api.harness import AGS, WalletEnv, wallet_env
from tests.wallet_api.support import ProofKey

PRE = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PERMIT_CONFIG = f"{AGS}.parking-permit"


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def _code(offer: dict[str, Any]) -> str:
    return str(offer["credential_offer"]["grants"][PRE]["pre-authorized_code"])


def _token(env: WalletEnv, offer: dict[str, Any], tx_code: str | None = None) -> Any:
    form = {"grant_type": PRE, "pre-authorized_code": _code(offer)}
    form["tx_code"] = offer["tx_code"] if tx_code is None else tx_code
    return env.http.post("/wallet/token", data=form)


def _access(env: WalletEnv, offer: dict[str, Any]) -> str:
    response = _token(env, offer)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _nonce(env: WalletEnv) -> str:
    return str(env.http.post("/wallet/nonce").json()["c_nonce"])


def _credential(env: WalletEnv, access: str, proofs: list[str], config: str = PERMIT_CONFIG) -> Any:
    return env.http.post(
        "/wallet/credential",
        json={"credential_configuration_id": config, "proofs": {"jwt": proofs}},
        headers={"Authorization": f"Bearer {access}"},
    )


def _error(response: Any) -> str:
    return str(response.json()["error"])


def _wrong(tx_code: str) -> str:
    return str((int(tx_code) + 1) % 10 ** len(tx_code)).zfill(len(tx_code))


def test_replayed_pre_authorized_code_is_refused_and_kills_the_first_tokens(
    env: WalletEnv,
) -> None:
    offer = env.offer()
    access = _access(env, offer)
    replay = _token(env, offer)
    assert replay.status_code == 400 and _error(replay) == "invalid_grant"
    key = ProofKey()
    response = _credential(
        env, access, [key.proof(aud=env.base_url, nonce=_nonce(env), iat=int(env.now()))]
    )
    assert response.status_code == 401 and _error(response) == "invalid_token"


def test_brute_forced_tx_code_dies_after_five_wrong_attempts(env: WalletEnv) -> None:
    offer = env.offer()
    wrong = _wrong(offer["tx_code"])
    for _ in range(5):
        response = _token(env, offer, wrong)
        assert response.status_code == 400 and _error(response) == "invalid_grant"
    sixth = _token(env, offer)  # even the right code: the offer is dead
    assert sixth.status_code == 400 and _error(sixth) == "invalid_grant"


def test_a_wrong_tx_code_does_not_burn_the_offer(env: WalletEnv) -> None:
    offer = env.offer()
    assert _error(_token(env, offer, _wrong(offer["tx_code"]))) == "invalid_grant"
    assert _token(env, offer).status_code == 200


def test_proof_with_a_wrong_aud_is_refused(env: WalletEnv) -> None:
    access = _access(env, env.offer())
    proof = ProofKey().proof(aud="https://evil.example", nonce=_nonce(env), iat=int(env.now()))
    response = _credential(env, access, [proof])
    assert response.status_code == 400 and _error(response) == "invalid_proof"


def test_proof_with_a_wrong_nonce_is_refused(env: WalletEnv) -> None:
    access = _access(env, env.offer())
    proof = ProofKey().proof(aud=env.base_url, nonce="made-up", iat=int(env.now()))
    response = _credential(env, access, [proof])
    assert response.status_code == 400 and _error(response) == "invalid_nonce"


def test_a_reused_nonce_is_refused(env: WalletEnv) -> None:
    access = _access(env, env.offer())
    nonce = _nonce(env)
    key = ProofKey()
    first = _credential(env, access, [key.proof(aud=env.base_url, nonce=nonce, iat=int(env.now()))])
    assert first.status_code == 200
    again = _credential(env, access, [key.proof(aud=env.base_url, nonce=nonce, iat=int(env.now()))])
    assert again.status_code == 400 and _error(again) == "invalid_nonce"


def test_proof_with_a_stale_iat_is_refused(env: WalletEnv) -> None:
    access = _access(env, env.offer())
    proof = ProofKey().proof(aud=env.base_url, nonce=_nonce(env), iat=int(env.now()) - 3600)
    response = _credential(env, access, [proof])
    assert response.status_code == 400 and _error(response) == "invalid_proof"


def test_a_proof_key_bound_to_another_citizen_is_refused(env: WalletEnv) -> None:
    key = ProofKey()
    mine = _access(env, env.offer())
    ok = _credential(
        env, mine, [key.proof(aud=env.base_url, nonce=_nonce(env), iat=int(env.now()))]
    )
    assert ok.status_code == 200
    theirs = _access(env, env.offer(kind="residence", resident_id=str(env.other_resident_id)))
    response = _credential(
        env,
        theirs,
        [key.proof(aud=env.base_url, nonce=_nonce(env), iat=int(env.now()))],
        config=f"{AGS}.residence",
    )
    assert response.status_code == 400 and _error(response) == "invalid_proof"


def test_an_access_token_cannot_fetch_another_offers_credential(env: WalletEnv) -> None:
    permit_token = _access(env, env.offer())
    other = env.offer(kind="residence", resident_id=str(env.other_resident_id))
    proof = ProofKey().proof(aud=env.base_url, nonce=_nonce(env), iat=int(env.now()))
    response = _credential(env, permit_token, [proof], config=f"{AGS}.residence")
    assert response.status_code == 400 and _error(response) == "unknown_credential_configuration"
    # nor another grant's notification id
    other_access = _access(env, other)
    issued = _credential(
        env,
        other_access,
        [ProofKey().proof(aud=env.base_url, nonce=_nonce(env), iat=int(env.now()))],
        config=f"{AGS}.residence",
    )
    notification = env.http.post(
        "/wallet/notification",
        json={"notification_id": issued.json()["notification_id"], "event": "credential_deleted"},
        headers={"Authorization": f"Bearer {permit_token}"},
    )
    assert notification.status_code == 400 and _error(notification) == "invalid_notification_id"


def test_a_batch_gets_one_credential_and_index_per_key(env: WalletEnv) -> None:
    access = _access(env, env.offer())
    nonce = _nonce(env)
    keys = [ProofKey() for _ in range(3)]
    response = _credential(
        env, access, [k.proof(aud=env.base_url, nonce=nonce, iat=int(env.now())) for k in keys]
    )
    assert response.status_code == 200
    assert len(response.json()["credentials"]) == 3
    from mobile_sdk_stub.client import unverified_claims

    claims = [unverified_claims(c["credential"]) for c in response.json()["credentials"]]
    assert [c["cnf"]["jwk"] for c in claims] == [k.jwk for k in keys]
    assert len({c["status"]["status_list"]["idx"] for c in claims}) == 3


def test_oversized_bodies_are_refused(env: WalletEnv) -> None:
    access = _access(env, env.offer())
    big = env.http.post(
        "/wallet/credential",
        content=b'{"x":"' + b"a" * 100_000 + b'"}',
        headers={"Authorization": f"Bearer {access}", "Content-Type": "application/json"},
    )
    assert big.status_code == 413
    form = env.http.post("/wallet/token", data={"grant_type": PRE, "pad": "a" * 10_000})
    assert form.status_code == 413


@pytest.mark.parametrize(
    ("content", "content_type", "code"),
    [
        (b"{not json", "application/json", "invalid_credential_request"),
        (b"[]", "application/json", "invalid_credential_request"),
        (b'{"credential_configuration_id": 5}', "application/json", "invalid_credential_request"),
        (b'{"format": "jwt_vc_json"}', "application/json", "unsupported_credential_format"),
        (b'{"credential_configuration_id": "x", "proof": {}}', "application/json",
         "invalid_credential_request"),
        (b'{"credential_configuration_id": "05513000.parking-permit", "proofs": {"jwt": []}}',
         "application/json", "invalid_proof"),
        (b"credential_configuration_id=x", "application/x-www-form-urlencoded",
         "invalid_credential_request"),
    ],
)  # fmt: skip
def test_malformed_credential_requests_are_refused(
    env: WalletEnv, content: bytes, content_type: str, code: str
) -> None:
    access = _access(env, env.offer())
    response = env.http.post(
        "/wallet/credential",
        content=content,
        headers={"Authorization": f"Bearer {access}", "Content-Type": content_type},
    )
    assert response.status_code == 400 and _error(response) == code


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({}, "invalid_request"),
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({"grant_type": PRE}, "invalid_request"),
        ({"grant_type": PRE, "pre-authorized_code": "nope", "tx_code": "123456"}, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, "invalid_grant"),
    ],
)
def test_malformed_token_requests_are_refused(
    env: WalletEnv, form: dict[str, str], code: str
) -> None:
    response = env.http.post("/wallet/token", data=form)
    assert response.status_code == 400 and _error(response) == code
    assert response.headers["cache-control"] == "no-store"


def test_repeated_token_parameters_are_refused(env: WalletEnv) -> None:
    response = env.http.post(
        "/wallet/token",
        content=b"grant_type=refresh_token&grant_type=refresh_token&refresh_token=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400 and _error(response) == "invalid_request"


def test_missing_or_bad_bearer_token_is_invalid_token(env: WalletEnv) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eA=="}):
        response = env.http.post("/wallet/credential", json={}, headers=headers)
        assert response.status_code == 401 and _error(response) == "invalid_token"
        assert "Bearer" in response.headers["www-authenticate"]


def test_offer_creation_needs_the_scope_and_a_subject_of_the_tenant(env: WalletEnv) -> None:
    assert env.http.post("/api/v1/offers", json={"kind": "permit"}).status_code == 401
    bad = env.http.post(
        "/api/v1/offers",
        json={"kind": "permit", "permit_id": "00000000-0000-4000-8000-000000000000"},
        headers=env.headers,
    )
    assert bad.status_code == 404 and bad.json()["code"] == "not_found"
    assert bad.headers["content-type"].startswith("application/problem+json")
    invalid = env.http.post("/api/v1/offers", json={"kind": "residence"}, headers=env.headers)
    assert invalid.status_code == 422 and invalid.json()["code"] == "invalid_request"


def test_the_token_endpoint_is_rate_limited_per_client_address(
    settings: Settings, clock: FixedClock
) -> None:
    from wallet_api.services.policy import WalletPolicy

    with wallet_env(settings, clock, WalletPolicy(token_requests_per_window=3)) as env:
        codes = [
            env.http.post(
                "/wallet/token", data={"grant_type": "refresh_token", "refresh_token": "x"}
            )
            for _ in range(4)
        ]
        assert [c.status_code for c in codes] == [400, 400, 400, 429]
        assert _error(codes[-1]) == "slow_down"
        # Retry-After: the seconds until the limit's window ends, not a fixed minute
        window = WalletPolicy().token_window_seconds
        unix = int(clock.now().timestamp())
        assert int(codes[-1].headers["retry-after"]) == max(1, window - unix % window)
