"""Key identifiers (RFC 7638 thumbprints), COSE_Key / JWK forms and the signature wrapper."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_examples import EC_KEY, EC_PRIVATE, ED_KEY, ED_PRIVATE
from verifier import DecodeError, Reason, SignatureError
from verifier.formats import (
    Alg,
    alg_for_key,
    cose_kid,
    jws_kid,
    key_from_cose,
    key_from_jwk,
    key_to_cose,
    key_to_jwk,
    software_signer,
    thumbprint,
    verify_signature,
)

# RFC 8037 §A.3: the Ed25519 example key and its RFC 7638 thumbprint
RFC8037_JWK = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_rfc8037_thumbprint() -> None:
    key = key_from_jwk(RFC8037_JWK)
    assert jws_kid(key) == RFC8037_THUMBPRINT
    assert len(jws_kid(key)) == 43
    assert cose_kid(key) == thumbprint(key)[:8]


def test_ec_thumbprint_input_is_rfc7638() -> None:
    jwk = key_to_jwk(EC_KEY)
    expected = '{"crv":"P-256","kty":"EC","x":"' + jwk["x"] + '","y":"' + jwk["y"] + '"}'
    assert thumbprint(EC_KEY) == hashlib.sha256(expected.encode()).digest()


@pytest.mark.parametrize("key", [EC_KEY, ED_KEY], ids=["P-256", "Ed25519"])
def test_round_trips(key: Any) -> None:
    assert thumbprint(key_from_cose(key_to_cose(key))) == thumbprint(key)
    assert thumbprint(key_from_jwk(key_to_jwk(key))) == thumbprint(key)


def test_cose_key_shapes() -> None:
    assert set(key_to_cose(EC_KEY)) == {1, -1, -2, -3}
    assert key_to_cose(EC_KEY)[1] == 2 and key_to_cose(EC_KEY)[-1] == 1
    assert key_to_cose(ED_KEY) == {1: 1, -1: 6, -2: ED_KEY.public_bytes_raw()}
    assert alg_for_key(EC_KEY) is Alg.ES256
    assert alg_for_key(ED_KEY) is Alg.EDDSA


def _off_curve() -> dict[int, Any]:
    m = key_to_cose(EC_KEY)
    m[-3] = bytes(31) + b"\x01"
    return m


@pytest.mark.parametrize(
    "cose_key",
    [
        _off_curve(),
        {1: 2, -1: 2, -2: bytes(48), -3: bytes(48)},  # P-384
        {1: 2, -1: 1, -2: bytes(32)},  # no y
        {1: 1, -1: 7, -2: bytes(57)},  # Ed448
        {**key_to_cose(ED_KEY), -4: bytes(32)},  # private
        {**key_to_cose(ED_KEY), 99: 0},  # unknown label
        {**key_to_cose(ED_KEY), 3: -7},  # alg does not fit
        {1: True, -1: 6, -2: bytes(32)},
        [1, 2],
        "key",
    ],
)
def test_bad_cose_keys(cose_key: object) -> None:
    with pytest.raises(DecodeError) as info:
        key_from_cose(cose_key)
    assert info.value.reason is Reason.BAD_KEY


@pytest.mark.parametrize(
    "jwk",
    [
        {**key_to_jwk(EC_KEY), "x": key_to_jwk(EC_KEY)["x"] + "="},
        {**key_to_jwk(EC_KEY), "d": "AAAA"},
        {**key_to_jwk(EC_KEY), "crv": "P-384"},
        {"kty": "EC", "crv": "P-256", "x": key_to_jwk(EC_KEY)["x"]},
        {**RFC8037_JWK, "x": RFC8037_JWK["x"][:-1] + "p"},  # non-canonical tail bits
        {**RFC8037_JWK, "x": 5},
        {"kty": "RSA", "n": "AQAB", "e": "AQAB"},
        None,
    ],
)
def test_bad_jwks(jwk: object) -> None:
    with pytest.raises(DecodeError) as info:
        key_from_jwk(jwk)
    assert info.value.reason is Reason.BAD_KEY


@pytest.mark.parametrize(
    ("private", "alg"), [(EC_PRIVATE, Alg.ES256), (ED_PRIVATE, Alg.EDDSA)], ids=["ES256", "EdDSA"]
)
def test_verify_signature(private: Any, alg: Alg) -> None:
    sign = software_signer(private)
    signature = sign(b"message")
    assert len(signature) == 64
    verify_signature(private.public_key(), alg, b"message", signature)
    for bad in (signature[:-1] + bytes([signature[-1] ^ 1]), signature[:63], b"", signature * 2):
        with pytest.raises(SignatureError) as info:
            verify_signature(private.public_key(), alg, b"message", bad)
        assert info.value.reason is Reason.BAD_SIGNATURE
    with pytest.raises(SignatureError):
        verify_signature(private.public_key(), alg, b"other", signature)
    other = Alg.EDDSA if alg is Alg.ES256 else Alg.ES256
    with pytest.raises(SignatureError):
        verify_signature(private.public_key(), other, b"message", signature)


def test_der_signatures_are_refused() -> None:
    der = EC_PRIVATE.sign(b"m", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(SignatureError):
        verify_signature(EC_KEY, Alg.ES256, b"m", der)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.integers(-5, 5), st.one_of(st.integers(-10, 10), st.binary(max_size=40))))
def test_random_cose_keys_fail_with_reason(m: dict[int, Any]) -> None:
    try:
        key_from_cose(m)
    except DecodeError as exc:
        assert exc.reason is Reason.BAD_KEY


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=60))
def test_random_jwk_x_fails_with_reason(x: str) -> None:
    try:
        key = key_from_jwk({"kty": "OKP", "crv": "Ed25519", "x": x})
    except DecodeError as exc:
        assert exc.reason is Reason.BAD_KEY
    else:
        assert base64.urlsafe_b64encode(key.public_bytes_raw()).rstrip(b"=").decode() == x


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 2**255), st.binary(min_size=32, max_size=32))
def test_round_trip_property(scalar: int, seed: bytes) -> None:
    for key in (
        ec.derive_private_key(scalar, ec.SECP256R1()).public_key(),
        Ed25519PrivateKey.from_private_bytes(seed).public_key(),
    ):
        assert thumbprint(key_from_cose(key_to_cose(key))) == thumbprint(key)
        assert key_from_jwk(key_to_jwk(key)) == key
        assert len(jws_kid(key)) == 43 and len(cose_kid(key)) == 8
