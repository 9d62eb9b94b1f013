"""OpenID4VCI 1.0 §6.2 and §8.2 to the letter: `credential_identifiers` in the token
response when `authorization_details` were asked for, none otherwise, and the credential
request naming its credential the way the token response allows."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.wallet_api.flows import (
    PERMIT_CONFIG,
    QR_CONFIG,
    RESIDENCE_CONFIG,
    credential,
    error,
    proofs,
    token,
    token_form,
)
from tests.wallet_api.harness import WalletEnv, wallet_env
from tests.wallet_api.support import ProofKey


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def test_identifiers_when_asked_and_the_credential_by_identifier(env: WalletEnv) -> None:
    response = token(env, token_form(env.offer(), details=[PERMIT_CONFIG]))
    assert response.status_code == 200, response.text
    body = response.json()
    (detail,) = body["authorization_details"]
    assert detail["type"] == "openid_credential"
    assert detail["credential_configuration_id"] == PERMIT_CONFIG
    (identifier,) = detail["credential_identifiers"]
    access = body["access_token"]
    issued = credential(
        env, access, {"credential_identifier": identifier, "proofs": proofs(env, ProofKey())}
    )
    assert issued.status_code == 200, issued.text
    # §8.2: with identifiers given, credential_configuration_id must not be used
    by_id = credential(
        env,
        access,
        {"credential_configuration_id": PERMIT_CONFIG, "proofs": proofs(env, ProofKey())},
    )
    assert error(by_id) == "invalid_credential_request"
    unknown = credential(
        env, access, {"credential_identifier": "made-up", "proofs": proofs(env, ProofKey())}
    )
    assert error(unknown) == "unknown_credential_identifier"
    # the two ways of naming a credential exclude each other
    both = credential(
        env,
        access,
        {"credential_identifier": identifier, "credential_configuration_id": QR_CONFIG},
    )
    assert error(both) == "invalid_credential_request"


def test_no_authorization_details_when_none_were_asked(env: WalletEnv) -> None:
    response = token(env, token_form(env.offer()))
    body = response.json()
    assert "authorization_details" not in body
    access = body["access_token"]
    by_identifier = credential(
        env, access, {"credential_identifier": "anything", "proofs": proofs(env, ProofKey())}
    )
    assert by_identifier.status_code == 400
    assert error(by_identifier) == "invalid_credential_request"
    issued = credential(
        env,
        access,
        {"credential_configuration_id": PERMIT_CONFIG, "proofs": proofs(env, ProofKey())},
    )
    assert issued.status_code == 200, issued.text


def test_details_naming_what_was_not_offered_are_refused(env: WalletEnv) -> None:
    offer = env.offer()
    refused = token(env, token_form(offer, details=[RESIDENCE_CONFIG]))
    assert refused.status_code == 400 and error(refused) == "invalid_authorization_details"
    form = token_form(offer)
    for raw in ('[{"type": "other"}]', "{}", "not json", "[]"):
        form["authorization_details"] = raw
        answer = token(env, form)
        assert error(answer) == "invalid_authorization_details", raw
    # a refused request did not spend the code
    assert token(env, token_form(offer, details=[PERMIT_CONFIG, QR_CONFIG])).status_code == 200


def test_a_refresh_keeps_the_identifiers_and_may_narrow_them(env: WalletEnv) -> None:
    first = token(env, token_form(env.offer(), details=[PERMIT_CONFIG, QR_CONFIG])).json()
    identifiers = {d["credential_configuration_id"]: d for d in first["authorization_details"]}
    form = {"grant_type": "refresh_token", "refresh_token": first["refresh_token"]}
    again = token(env, form).json()
    assert again["authorization_details"] == first["authorization_details"]
    narrowed = {
        **form,
        "refresh_token": again["refresh_token"],
        "authorization_details": '[{"type": "openid_credential", '
        f'"credential_configuration_id": "{PERMIT_CONFIG}"}}]',
    }
    only = token(env, narrowed).json()
    assert only["authorization_details"] == [identifiers[PERMIT_CONFIG]]
    wider = {
        **form,
        "refresh_token": only["refresh_token"],
        "authorization_details": '[{"type": "openid_credential", '
        f'"credential_configuration_id": "{QR_CONFIG}"}}]',
    }
    assert error(token(env, wider)) == "invalid_authorization_details"


def test_a_resource_other_than_this_issuer_is_refused(env: WalletEnv) -> None:
    form = {**token_form(env.offer()), "resource": "https://elsewhere.example"}
    response = token(env, form)
    assert response.status_code == 400 and error(response) == "invalid_target"
    form["resource"] = env.base_url
    assert token(env, form).status_code == 200
