"""JWE ECDH-ES + A128GCM/A256GCM (verifier/_jwe.py): the RFC 7518 Appendix C key agreement
vector, round trips, and refusals with the stable reason ``bad_jwe``."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_internals import jwe_content_key
from verifier import DecodeError, Reason
from verifier.formats import jwe_decrypt, jwe_encrypt, key_to_jwk, peek_jwe_header


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _private(jwk: dict[str, str]) -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(int.from_bytes(_b64d(jwk["d"]), "big"), ec.SECP256R1())


# RFC 7518 Appendix C: Alice's ephemeral key, Bob's static key, apu "Alice", apv "Bob"
ALICE = {
    "x": "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
    "y": "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps",
    "d": "0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo",
}
BOB = {
    "x": "weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ",
    "y": "e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck",
    "d": "VEmDZpDXXK8p8N0Cndsxs924q6nS1RXFASRl6BfUqdw",
}
KEY = ec.generate_private_key(ec.SECP256R1())


def test_the_concat_kdf_gives_the_rfc_7518_appendix_c_key() -> None:
    alice, bob = _private(ALICE), _private(BOB)
    shared = alice.exchange(ec.ECDH(), bob.public_key())
    assert shared == bob.exchange(ec.ECDH(), alice.public_key())
    assert _b64e(jwe_content_key(shared, "A128GCM", b"Alice", b"Bob")) == "VqqN6vgjbSBcIijNcacQGg"


@pytest.mark.parametrize("enc", ["A128GCM", "A256GCM"])
def test_a_round_trip_keeps_header_and_plaintext(enc: str) -> None:
    token = jwe_encrypt(b'{"vp_token":{}}', KEY.public_key(), enc=enc, kid="k1", apv=b"nonce")
    out = jwe_decrypt(token, KEY, expected_kid="k1")
    assert out.plaintext == b'{"vp_token":{}}'
    assert out.header["enc"] == enc and out.header["alg"] == "ECDH-ES"
    assert token.split(".")[1] == ""


def test_another_key_cannot_decrypt() -> None:
    token = jwe_encrypt(b"secret", KEY.public_key())
    with pytest.raises(DecodeError) as info:
        jwe_decrypt(token, ec.generate_private_key(ec.SECP256R1()))
    assert info.value.reason is Reason.BAD_JWE


def _with_header(token: str, **changes: object) -> str:
    parts = token.split(".")
    header = json.loads(_b64d(parts[0]))
    header.update(changes)
    parts[0] = _b64e(json.dumps(header).encode())
    return ".".join(parts)


@pytest.mark.parametrize(
    "changes",
    [
        {"alg": "ECDH-ES+A128KW"},
        {"enc": "A128CBC-HS256"},
        {"zip": "DEF"},
        {"crit": ["exp"]},
        {"kid": "another"},
        {"apu": "not base64url!"},
    ],
    ids=["alg", "enc", "zip", "crit", "kid", "apu"],
)
def test_a_header_outside_the_profile_is_refused(changes: dict[str, object]) -> None:
    token = _with_header(jwe_encrypt(b"x", KEY.public_key(), kid="k1"), **changes)
    with pytest.raises(DecodeError) as info:
        jwe_decrypt(token, KEY, expected_kid="k1")
    assert info.value.reason is Reason.BAD_JWE


def test_a_changed_header_fails_authentication() -> None:
    token = _with_header(jwe_encrypt(b"x", KEY.public_key()), typ="oauth-authz-resp+jwt")
    with pytest.raises(DecodeError) as info:
        jwe_decrypt(token, KEY)
    assert info.value.reason is Reason.BAD_JWE


def test_an_epk_off_the_curve_never_reaches_ecdh() -> None:
    token = jwe_encrypt(b"x", KEY.public_key())
    epk = peek_jwe_header(token)["epk"]
    y = bytearray(_b64d(epk["y"]))
    y[-1] ^= 1
    bad = _with_header(token, epk={**epk, "y": _b64e(bytes(y))})
    with pytest.raises(DecodeError) as info:
        jwe_decrypt(bad, KEY)
    assert info.value.reason is Reason.BAD_JWE


def test_a_flipped_ciphertext_bit_is_refused() -> None:
    parts = jwe_encrypt(b"hello world", KEY.public_key()).split(".")
    ct = bytearray(_b64d(parts[3]))
    ct[0] ^= 1
    parts[3] = _b64e(bytes(ct))
    with pytest.raises(DecodeError):
        jwe_decrypt(".".join(parts), KEY)


def test_the_recipient_must_be_p256() -> None:
    with pytest.raises(ValueError):
        jwe_encrypt(b"x", ec.generate_private_key(ec.SECP384R1()).public_key())
    assert key_to_jwk(KEY.public_key())["crv"] == "P-256"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600))
def test_random_text_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(DecodeError) as info:
        jwe_decrypt(text, KEY)
    assert info.value.reason in (Reason.BAD_JWE,)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ABCDEFabcdef0123456789-_", max_size=40), min_size=5, max_size=5))
def test_random_parts_are_refused_with_a_reason(parts: list[str]) -> None:
    header = jwe_encrypt(b"x", KEY.public_key()).split(".")[0]
    with pytest.raises(DecodeError) as info:
        jwe_decrypt(".".join([header, *parts[1:]]), KEY)
    assert info.value.reason is Reason.BAD_JWE
