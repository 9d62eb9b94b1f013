"""The stand-in wallet answers a DCQL claims path to a whole object with the object's
claims, over real HTTPS (the relying party's signed request) on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.wallet_api.rp_harness import AGS, RpEnv, rp_env
from verifier.formats import key_from_jwk
from verifier.sdjwt import verify_sd_jwt_vc


class _Captured(Exception):
    """Stops the wallet after it built its answer, before it posts it."""


@pytest.fixture
def env(settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[RpEnv]:
    with rp_env(settings, clock, tmp_path) as running:
        yield running


def test_a_request_for_the_whole_address_discloses_its_fields(env: RpEnv) -> None:
    wallet, presenter = env.wallet()
    env.give_buergerid(wallet)
    request = presenter.resolve(env.open(env.browser(), f"/rp/login/{AGS}").cross_device)
    query = request.claims["dcql_query"]
    (credential,) = query["credentials"]
    whole_address = {**credential, "claims": [{"path": ["address"]}]}
    asked = type(request)(
        client_id=request.client_id,
        claims={**request.claims, "dcql_query": {"credentials": [whole_address]}},
        client_name=None,
    )
    captured: dict[str, Any] = {}

    def keep(payload: dict[str, Any]) -> None:
        captured.update(payload)
        raise _Captured

    with pytest.raises(_Captured):
        presenter.respond(asked, tamper=keep)
    (presentation,) = captured["vp_token"]["buergerid"]
    jwk = env.browser().get("/.well-known/jwt-vc-issuer").json()["jwks"]["keys"][0]
    verified = verify_sd_jwt_vc(
        presentation,
        issuer_key=key_from_jwk(jwk),
        now=env.now(),
        require_key_binding=True,
        expected_aud=request.client_id,
        expected_nonce=str(request.claims["nonce"]),
    )
    address = verified.claims["address"]
    assert set(address) >= {"street_address", "postal_code", "locality"}
    assert address["postal_code"] == "45879"
    # only what was asked: the person's names and birth date stay with the holder
    assert not {"given_name", "family_name", "birthdate"} & set(verified.claims)
