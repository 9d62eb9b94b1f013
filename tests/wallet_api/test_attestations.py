"""Wallet attestations at the token endpoint and key attestations at the credential endpoint,
against a wallet provider's trust anchor, over real HTTP on SQLite and PostgreSQL. Each
attack is its own test: an untrusted provider, an expired attestation, an attestation for
another client, a replayed PoP, a key attestation that does not cover the proof key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.wallet_api.flows import (
    PERMIT_CONFIG,
    c_nonce,
    credential,
    error,
    token,
    token_form,
)
from tests.wallet_api.harness import WalletEnv, haip_env
from tests.wallet_api.support import ProofKey, Provider, attestation_pop

CLIENT = "https://wallet.example/app"


@pytest.fixture
def provider(clock: FixedClock) -> Provider:
    return Provider(now=int(clock.now().timestamp()))


@pytest.fixture
def env(settings: Settings, clock: FixedClock, provider: Provider) -> Iterator[WalletEnv]:
    with haip_env(settings, clock, provider.anchors_pem(), wallet_attestation="required") as e:
        yield e


def _attested(
    env: WalletEnv,
    provider: Provider,
    *,
    client_id: str = CLIENT,
    pop_client: str | None = None,
    exp: int | None = None,
    instance: ProofKey | None = None,
    jti: str | None = None,
) -> dict[str, str]:
    key = instance or ProofKey()
    now = int(env.now())
    attestation = provider.wallet_attestation(
        client_id=client_id, instance=key, iat=now - 60, exp=exp if exp is not None else now + 3600
    )
    pop = attestation_pop(
        key, client_id=pop_client or client_id, aud=env.base_url, iat=now, jti=jti
    )
    return {"OAuth-Client-Attestation": attestation, "OAuth-Client-Attestation-PoP": pop}


def test_an_attested_wallet_gets_tokens(env: WalletEnv, provider: Provider) -> None:
    response = token(env, token_form(env.offer()), headers=_attested(env, provider))
    assert response.status_code == 200, response.text


def test_without_an_attestation_the_token_request_is_refused(env: WalletEnv) -> None:
    offer = env.offer()
    response = token(env, token_form(offer))
    assert response.status_code == 401 and error(response) == "invalid_client"


def test_an_attestation_from_an_untrusted_provider_is_refused(env: WalletEnv) -> None:
    stranger = Provider("Other Provider", now=int(env.now()))
    response = token(env, token_form(env.offer()), headers=_attested(env, stranger))
    assert response.status_code == 401 and error(response) == "invalid_client"


def test_an_expired_attestation_is_refused(env: WalletEnv, provider: Provider) -> None:
    headers = _attested(env, provider, exp=int(env.now()) - 1)
    response = token(env, token_form(env.offer()), headers=headers)
    assert response.status_code == 401 and error(response) == "invalid_client"


def test_an_attestation_for_another_client_is_refused(env: WalletEnv, provider: Provider) -> None:
    headers = _attested(env, provider, pop_client="https://other.example/app")
    response = token(env, token_form(env.offer()), headers=headers)
    assert response.status_code == 401 and error(response) == "invalid_client"
    # the client_id parameter must name the attested client too (draft -07 §6 step 13)
    form = {**token_form(env.offer()), "client_id": "https://other.example/app"}
    response = token(env, form, headers=_attested(env, provider))
    assert response.status_code == 401 and error(response) == "invalid_client"


def test_a_replayed_attestation_pop_is_refused(env: WalletEnv, provider: Provider) -> None:
    instance = ProofKey()
    headers = _attested(env, provider, instance=instance, jti="same-jti")
    assert token(env, token_form(env.offer()), headers=headers).status_code == 200
    replay = token(env, token_form(env.offer()), headers=headers)
    assert replay.status_code == 401 and error(replay) == "invalid_client"


def test_a_refresh_needs_the_same_attested_instance(env: WalletEnv, provider: Provider) -> None:
    instance = ProofKey()
    tokens = token(
        env, token_form(env.offer()), headers=_attested(env, provider, instance=instance)
    )
    form = {"grant_type": "refresh_token", "refresh_token": tokens.json()["refresh_token"]}
    other = token(env, form, headers=_attested(env, provider))
    assert other.status_code == 401 and error(other) == "invalid_client"
    same = token(env, form, headers=_attested(env, provider, instance=instance))
    assert same.status_code == 200, same.text


# --------------------------------------------------------------------------- key attestation


@pytest.fixture
def key_env(settings: Settings, clock: FixedClock, provider: Provider) -> Iterator[WalletEnv]:
    with haip_env(settings, clock, provider.anchors_pem(), wallet_key_attestation="required") as e:
        yield e


def _access(env: WalletEnv) -> str:
    response = token(env, token_form(env.offer()))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _with_key_attestation(
    env: WalletEnv, provider: Provider, key: ProofKey, attested: list[ProofKey]
) -> dict[str, Any]:
    nonce = c_nonce(env)
    now = int(env.now())
    attestation = provider.key_attestation(attested, iat=now, exp=now + 3600, nonce=nonce)
    proof = key.proof(
        aud=env.base_url, nonce=nonce, iat=now, header_extra={"key_attestation": attestation}
    )
    return {"credential_configuration_id": PERMIT_CONFIG, "proofs": {"jwt": [proof]}}


def test_a_proof_with_a_covering_key_attestation_gets_a_credential(
    key_env: WalletEnv, provider: Provider
) -> None:
    key = ProofKey()
    body = _with_key_attestation(key_env, provider, key, [key])
    response = credential(key_env, _access(key_env), body)
    assert response.status_code == 200, response.text


def test_a_key_attestation_that_does_not_cover_the_proof_key_is_refused(
    key_env: WalletEnv, provider: Provider
) -> None:
    body = _with_key_attestation(key_env, provider, ProofKey(), [ProofKey()])
    response = credential(key_env, _access(key_env), body)
    assert response.status_code == 400 and error(response) == "invalid_proof"


def test_a_proof_without_key_attestation_is_refused_when_required(key_env: WalletEnv) -> None:
    key = ProofKey()
    proof = key.proof(aud=key_env.base_url, nonce=c_nonce(key_env), iat=int(key_env.now()))
    body = {"credential_configuration_id": PERMIT_CONFIG, "proofs": {"jwt": [proof]}}
    response = credential(key_env, _access(key_env), body)
    assert response.status_code == 400 and error(response) == "invalid_proof"


def test_the_attestation_proof_type_binds_every_attested_key(
    key_env: WalletEnv, provider: Provider
) -> None:
    keys = [ProofKey(), ProofKey()]
    now = int(key_env.now())
    attestation = provider.key_attestation(keys, iat=now, exp=now + 3600, nonce=c_nonce(key_env))
    body = {"credential_configuration_id": PERMIT_CONFIG, "proofs": {"attestation": [attestation]}}
    response = credential(key_env, _access(key_env), body)
    assert response.status_code == 200, response.text
    assert len(response.json()["credentials"]) == 2
    stale = provider.key_attestation(keys, iat=now, exp=now + 3600, nonce="not-a-c-nonce")
    body = {"credential_configuration_id": PERMIT_CONFIG, "proofs": {"attestation": [stale]}}
    refused = credential(key_env, _access(key_env), body)
    assert refused.status_code == 400 and error(refused) == "invalid_nonce"


def test_metadata_announces_the_key_attestation_requirement(key_env: WalletEnv) -> None:
    metadata = key_env.http.get("/.well-known/openid-credential-issuer").json()
    config = metadata["credential_configurations_supported"][PERMIT_CONFIG]
    assert "key_attestations_required" in config["proof_types_supported"]["jwt"]
    assert "attestation" in config["proof_types_supported"]
