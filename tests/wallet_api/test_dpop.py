"""DPoP (RFC 9449) at the token and credential endpoints over real HTTP, on SQLite and
PostgreSQL (the replay store is the shared database): the nonce dance, bound tokens, and
each attack on its own: a replayed proof, a wrong htu, a wrong htm, another key than the
bound one, a bound token sent as Bearer, a refresh with another key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.wallet_api.flows import (
    PERMIT_CONFIG,
    credential,
    error,
    proofs,
    server_nonce,
    token,
    token_form,
)
from tests.wallet_api.harness import WalletEnv, wallet_env
from tests.wallet_api.support import ProofKey, dpop_proof


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def _bound(env: WalletEnv, key: ProofKey) -> dict[str, Any]:
    response = token(env, token_form(env.offer()), dpop=key)
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_proof_without_nonce_is_answered_with_use_dpop_nonce_then_binds(env: WalletEnv) -> None:
    key = ProofKey()
    url = f"{env.base_url}/wallet/token"
    first = env.http.post(
        "/wallet/token",
        data=token_form(env.offer()),
        headers={"DPoP": dpop_proof(key, method="POST", url=url, iat=int(env.now()))},
    )
    assert first.status_code == 400 and error(first) == "use_dpop_nonce"
    nonce = first.headers["DPoP-Nonce"]
    offer = env.offer()
    retried = env.http.post(
        "/wallet/token",
        data=token_form(offer),
        headers={"DPoP": dpop_proof(key, method="POST", url=url, iat=int(env.now()), nonce=nonce)},
    )
    assert retried.status_code == 200, retried.text
    body = retried.json()
    assert body["token_type"] == "DPoP" and "DPoP-Nonce" in retried.headers
    issued = credential(
        env,
        body["access_token"],
        {"credential_configuration_id": PERMIT_CONFIG, "proofs": proofs(env, ProofKey())},
        dpop=key,
    )
    assert issued.status_code == 200, issued.text
    assert "DPoP-Nonce" in issued.headers


def test_a_replayed_dpop_proof_is_refused(env: WalletEnv) -> None:
    key = ProofKey()
    tokens = _bound(env, key)
    access = tokens["access_token"]
    path = "/wallet/credential"
    proof = dpop_proof(
        key,
        method="POST",
        url=env.base_url + path,
        iat=int(env.now()),
        nonce=server_nonce(env),
        access_token=access,
    )
    headers = {"Authorization": f"DPoP {access}", "DPoP": proof}
    body = {"credential_configuration_id": PERMIT_CONFIG, "proofs": proofs(env, ProofKey())}
    assert env.http.post(path, json=body, headers=headers).status_code == 200
    again = {"credential_configuration_id": PERMIT_CONFIG, "proofs": proofs(env, ProofKey())}
    replay = env.http.post(path, json=again, headers=headers)
    assert replay.status_code == 401 and error(replay) == "invalid_dpop_proof", replay.text
    assert replay.headers["WWW-Authenticate"].startswith("DPoP ")


def _credential_with_proof_for(env: WalletEnv, *, method: str, path: str) -> Any:
    """A credential request whose DPoP proof names `method` and `path` instead."""
    key = ProofKey()
    access = _bound(env, key)["access_token"]
    proof = dpop_proof(
        key,
        method=method,
        url=f"{env.base_url}{path}",
        iat=int(env.now()),
        nonce=server_nonce(env),
        access_token=access,
    )
    body = {"credential_configuration_id": PERMIT_CONFIG, "proofs": proofs(env, ProofKey())}
    return env.http.post(
        "/wallet/credential", json=body, headers={"Authorization": f"DPoP {access}", "DPoP": proof}
    )


def test_a_proof_for_another_url_is_refused(env: WalletEnv) -> None:
    response = _credential_with_proof_for(env, method="POST", path="/wallet/notification")
    assert response.status_code == 401 and error(response) == "invalid_dpop_proof"


def test_a_proof_for_another_method_is_refused(env: WalletEnv) -> None:
    response = _credential_with_proof_for(env, method="GET", path="/wallet/credential")
    assert response.status_code == 401 and error(response) == "invalid_dpop_proof"


def test_a_proof_by_another_key_than_the_bound_one_is_refused(env: WalletEnv) -> None:
    access = _bound(env, ProofKey())["access_token"]
    body = {"credential_configuration_id": PERMIT_CONFIG, "proofs": proofs(env, ProofKey())}
    response = credential(env, access, body, dpop=ProofKey())
    assert response.status_code == 401 and error(response) == "invalid_dpop_proof"


def test_a_bound_token_sent_as_bearer_is_refused(env: WalletEnv) -> None:
    access = _bound(env, ProofKey())["access_token"]
    body = {"credential_configuration_id": PERMIT_CONFIG, "proofs": proofs(env, ProofKey())}
    response = credential(env, access, body)
    assert response.status_code == 401 and error(response) == "invalid_token"


def test_a_proof_without_ath_or_with_a_stale_nonce_is_refused(env: WalletEnv) -> None:
    key = ProofKey()
    access = _bound(env, key)["access_token"]
    url = f"{env.base_url}/wallet/credential"
    body = {"credential_configuration_id": PERMIT_CONFIG, "proofs": proofs(env, ProofKey())}
    no_ath = dpop_proof(key, method="POST", url=url, iat=int(env.now()), nonce=server_nonce(env))
    response = env.http.post(
        "/wallet/credential", json=body, headers={"Authorization": f"DPoP {access}", "DPoP": no_ath}
    )
    assert response.status_code == 401 and error(response) == "invalid_dpop_proof"
    stale = server_nonce(env)
    env.clock.advance(seconds=600)
    old = dpop_proof(
        key, method="POST", url=url, iat=int(env.now()), nonce=stale, access_token=access
    )
    response = env.http.post(
        "/wallet/credential", json=body, headers={"Authorization": f"DPoP {access}", "DPoP": old}
    )
    assert response.status_code == 401 and error(response) == "use_dpop_nonce"
    assert "DPoP-Nonce" in response.headers


def test_a_refresh_with_another_dpop_key_is_refused(env: WalletEnv) -> None:
    key = ProofKey()
    tokens = _bound(env, key)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    assert error(token(env, form, dpop=ProofKey())) == "invalid_dpop_proof"
    assert error(token(env, form)) == "invalid_dpop_proof"
    refreshed = token(env, form, dpop=key)
    assert refreshed.status_code == 200 and refreshed.json()["token_type"] == "DPoP"


def test_required_dpop_refuses_a_token_request_without_a_proof(
    settings: Settings, clock: FixedClock
) -> None:
    required = settings.model_copy(update={"wallet_dpop": "required"})
    with wallet_env(required, clock) as env:
        offer = env.offer()
        refused = token(env, token_form(offer))
        assert refused.status_code == 400 and error(refused) == "invalid_dpop_proof"
        # the refusal did not burn the code: the same offer succeeds with DPoP
        assert token(env, token_form(offer), dpop=ProofKey()).status_code == 200


def test_a_dpop_key_off_the_curve_is_refused_not_a_crash(env: WalletEnv) -> None:
    key = ProofKey()
    off_curve = {"kty": "EC", "crv": "P-256", "x": "A" * 43, "y": "B" * 43}
    from tests.wallet_api.support import jws

    claims = {
        "jti": "off-curve",
        "htm": "POST",
        "htu": f"{env.base_url}/wallet/token",
        "iat": int(env.now()),
        "nonce": server_nonce(env),
    }
    proof = jws({"typ": "dpop+jwt", "alg": "ES256", "jwk": off_curve}, claims, key)
    response = env.http.post("/wallet/token", data=token_form(env.offer()), headers={"DPoP": proof})
    assert response.status_code == 400 and error(response) == "invalid_dpop_proof"
    body = {
        "credential_configuration_id": PERMIT_CONFIG,
        "proofs": proofs(env, ProofKey(), jwk=off_curve),
    }
    access = token(env, token_form(env.offer())).json()["access_token"]
    refused = credential(env, access, body)
    assert refused.status_code == 400 and error(refused) == "invalid_proof"
