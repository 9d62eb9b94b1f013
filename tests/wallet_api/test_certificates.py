"""HAIP 1.0 for issuer-signed JWTs: SD-JWT VCs and status list JWTs carry the x5c chain of
their signing key from the deployment's issuing CA, which validates to the published root
and names the credential's issuer URL; with x5c required and no CA nothing is signed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from keys.issuing_ca import IssuingCa
from mobile_sdk_stub.client import WalletClient, unverified_claims
from tests.support.db import TEST_PASSPHRASE
from tests.wallet_api.flows import PERMIT_CONFIG, credential, proofs, token, token_form
from tests.wallet_api.harness import CHEAP_KDF, WalletEnv, wallet_env
from tests.wallet_api.support import ProofKey
from verifier.formats import peek_jws_header, validate_x5c


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    IssuingCa.create(
        Path(settings.keys_dir) / "ca",
        common_name="Test Issuing CA",
        organization="GKD",
        now=int(clock.now().timestamp()) - 60,
        valid_seconds=10 * 365 * 86400,
        passphrase=TEST_PASSPHRASE,
        kdf=CHEAP_KDF,
    )
    with wallet_env(settings, clock) as environment:
        yield environment


def test_credentials_and_status_lists_carry_a_chain_to_the_published_root(
    env: WalletEnv, tmp_path: Path
) -> None:
    root_pem = env.http.get("/wallet/issuing-ca.pem")
    assert root_pem.status_code == 200
    root = x509.load_pem_x509_certificate(root_pem.content)
    offer = env.offer()
    with WalletClient(env.base_url, tmp_path / "phone", clock=env.now) as wallet:
        (stored,) = wallet.redeem(offer["credential_offer_url"], offer["tx_code"])
    assert stored.sd_jwt is not None
    header = peek_jws_header(stored.sd_jwt.split("~", 1)[0])
    chain = validate_x5c(header["x5c"], [root], int(env.now()))
    claims = unverified_claims(stored.sd_jwt)
    assert chain.uris() == (claims["iss"],)
    assert header["kid"]  # the JWKS route keeps working next to x5c
    status = env.http.get(claims["status"]["status_list"]["uri"])
    status_header = peek_jws_header(status.text)
    assert status_header["typ"] == "statuslist+jwt"
    status_chain = validate_x5c(status_header["x5c"], [root], int(env.now()))
    assert status_chain.public_key == chain.public_key
    assert root_pem.content.count(b"BEGIN CERTIFICATE") == 1


def test_required_x5c_without_a_ca_signs_nothing(settings: Settings, clock: FixedClock) -> None:
    required = settings.model_copy(update={"credential_x5c": "required"})
    with wallet_env(required, clock) as env:
        access = token(env, token_form(env.offer())).json()["access_token"]
        body = {"credential_configuration_id": PERMIT_CONFIG, "proofs": proofs(env, ProofKey())}
        response = credential(env, access, body)
        assert response.status_code == 503
        assert response.json()["code"] == "no_signing_key"
        assert env.http.get("/wallet/issuing-ca.pem").status_code == 404
