"""The device key: created once, kept with mode 0600, JWK export, signing, proof JWTs."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from mobile_sdk_stub.device import DEVICE_KEY_FILE, DeviceKey, DeviceKeyError
from verifier import Reason, VerifierError
from verifier.formats import Alg, decode_jws, jws_kid, key_from_jwk, verify_signature


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_is_created_once_and_persisted(wallet_dir: Path) -> None:
    first = DeviceKey.load_or_create(wallet_dir)
    path = wallet_dir / DEVICE_KEY_FILE
    assert _mode(path) == 0o600
    assert _mode(wallet_dir) == 0o700
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    again = DeviceKey.load_or_create(wallet_dir)
    assert again.public_jwk() == first.public_jwk()
    assert DeviceKey.load(wallet_dir).kid == first.kid
    # no temporary files are left behind
    assert sorted(p.name for p in wallet_dir.iterdir()) == [DEVICE_KEY_FILE]


def test_two_wallets_get_two_keys(tmp_path: Path) -> None:
    a = DeviceKey.load_or_create(tmp_path / "a")
    b = DeviceKey.load_or_create(tmp_path / "b")
    assert a.public_jwk() != b.public_jwk()


def test_an_existing_key_file_is_never_overwritten(wallet_dir: Path) -> None:
    key = DeviceKey.load_or_create(wallet_dir)
    before = (wallet_dir / DEVICE_KEY_FILE).read_bytes()
    DeviceKey.load_or_create(wallet_dir)
    assert (wallet_dir / DEVICE_KEY_FILE).read_bytes() == before
    assert repr(key) == f"DeviceKey(kid={key.kid!r})"
    assert "PRIVATE" not in repr(key)


def test_refuses_an_open_key_file(wallet_dir: Path) -> None:
    DeviceKey.load_or_create(wallet_dir)
    os.chmod(wallet_dir / DEVICE_KEY_FILE, 0o644)
    with pytest.raises(DeviceKeyError) as caught:
        DeviceKey.load(wallet_dir)
    assert caught.value.code == "key_file_permissions"


@pytest.mark.parametrize(
    ("content", "code"),
    [(None, "no_device_key"), (b"garbage", "bad_device_key"), (b"x" * 20000, "bad_device_key")],
)
def test_refuses_missing_or_broken_key_files(
    wallet_dir: Path, content: bytes | None, code: str
) -> None:
    if content is not None:
        wallet_dir.mkdir()
        path = wallet_dir / DEVICE_KEY_FILE
        path.write_bytes(content)
        os.chmod(path, 0o600)
    with pytest.raises(DeviceKeyError) as caught:
        DeviceKey.load(wallet_dir)
    assert caught.value.code == code


def test_jwk_and_signature() -> None:
    key = DeviceKey.generate()
    jwk = key.public_jwk()
    assert set(jwk) == {"kty", "crv", "x", "y"} and jwk["crv"] == "P-256"
    signature = key.sign(b"message")
    assert len(signature) == 64
    verify_signature(key_from_jwk(jwk), Alg.ES256, b"message", signature)
    assert key.kid == jws_kid(key.public_key)


def _segment(token: str, index: int) -> dict[str, object]:
    part = token.split(".")[index]
    decoded: dict[str, object] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def test_openid4vci_proof_jwt() -> None:
    key = DeviceKey.generate()
    proof = key.proof_jwt(aud="https://issuer.example", iat=1_780_000_000, nonce="c-nonce")
    header, payload = decode_jws(proof, key_from_jwk(key.public_jwk()), algorithms=["ES256"])
    assert header == {"typ": "openid4vci-proof+jwt", "alg": "ES256", "jwk": key.public_jwk()}
    assert json.loads(payload) == {
        "aud": "https://issuer.example",
        "iat": 1_780_000_000,
        "nonce": "c-nonce",
    }
    with_client = key.proof_jwt(aud="a", iat=1, nonce=None, client_id="wallet-1")
    assert _segment(with_client, 1) == {"aud": "a", "iat": 1, "iss": "wallet-1"}


def test_proof_does_not_verify_with_another_key() -> None:
    proof = DeviceKey.generate().proof_jwt(aud="a", iat=1, nonce="n")
    with pytest.raises(VerifierError) as caught:
        decode_jws(proof, DeviceKey.generate().public_key, algorithms=["ES256"])
    assert caught.value.reason is Reason.BAD_SIGNATURE
