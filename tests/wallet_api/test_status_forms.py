"""The status list a credential points at, fetched the way each kind of client does, over
real HTTP on SQLite and PostgreSQL: an SD-JWT VC relying party without Accept gets the JWT
form (read with our decoder), a handheld asking for application/statuslist+cwt gets the CWT
form (verified with python-cwt, read with token-status-list); a revocation shows in both."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator
from pathlib import Path

import cbor2
import cwt
import pytest
import token_status_list

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from mobile_sdk_stub.client import WalletClient, unverified_claims
from tests.wallet_api.harness import AGS, WalletEnv, wallet_env
from verifier.formats import decode_status_list_jwt, key_from_jwk


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _statuses(env: WalletEnv, uri: str, idx: int) -> tuple[int, int]:
    issuer = env.http.get("/.well-known/jwt-vc-issuer", headers={"Host": f"{AGS}.example.de"})
    (jwk,) = issuer.json()["jwks"]["keys"]
    plain = env.http.get(uri)
    assert plain.headers["content-type"] == "application/statuslist+jwt"
    from_jwt = decode_status_list_jwt(plain.text, key_from_jwk(jwk)).status_list.get(idx)
    cbor = env.http.get(uri, headers={"Accept": "application/statuslist+cwt"})
    assert cbor.headers["content-type"] == "application/statuslist+cwt"
    key = cwt.COSEKey.new(
        {1: 2, -1: 1, -2: _b64d(jwk["x"]), -3: _b64d(jwk["y"]), 2: _b64d(jwk["kid"])[:8], 3: -7}
    )
    payload = cwt.COSE.new(verify_kid=True).decode(cbor.content, key)
    claims = cbor2.loads(payload)
    bits = token_status_list.BitArray(2, bytearray(zlib.decompress(claims[65533]["lst"])))
    return from_jwt, bits[idx]


def test_both_forms_show_a_revocation(env: WalletEnv, tmp_path: Path) -> None:
    offer = env.offer()
    with WalletClient(env.base_url, tmp_path / "phone", clock=env.now) as wallet:
        (stored,) = wallet.redeem(offer["credential_offer_url"], offer["tx_code"])
        assert stored.sd_jwt is not None
        reference = unverified_claims(stored.sd_jwt)["status"]["status_list"]
        assert _statuses(env, reference["uri"], reference["idx"]) == (0, 0)
        (device,) = wallet.devices(stored.id)
        wallet.remove_device(stored.id, device["id"])
    assert _statuses(env, reference["uri"], reference["idx"]) == (1, 1)
