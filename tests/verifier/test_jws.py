"""Compact JWS: signing through a Sign callable, verification through PyJWT, pinned algorithms."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_examples import EC_PRIVATE, ED_PRIVATE
from verifier import DecodeError, Reason, SignatureError
from verifier.formats import decode_jws, encode_jws, jws_kid, peek_jws_header, software_signer


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("private", "alg"), [(EC_PRIVATE, "ES256"), (ED_PRIVATE, "EdDSA")], ids=["ES256", "EdDSA"]
)
def test_round_trip_and_pyjwt_interop(private: Any, alg: str) -> None:
    header = {"alg": alg, "typ": "statuslist+jwt", "kid": jws_kid(private.public_key())}
    token = encode_jws(header, b'{"a":1}', software_signer(private))
    assert decode_jws(token, private.public_key()) == (header, b'{"a":1}')
    assert peek_jws_header(token) == header
    # PyJWT signs with the private key; we verify
    theirs = jwt.encode({"a": 1}, private, algorithm=alg)
    assert json.loads(decode_jws(theirs, private.public_key())[1]) == {"a": 1}


def test_wrong_key_algorithm_and_none() -> None:
    token = encode_jws({"alg": "ES256"}, b"x", software_signer(EC_PRIVATE))
    for key in (ED_PRIVATE.public_key(), ec.derive_private_key(9, ec.SECP256R1()).public_key()):
        with pytest.raises(SignatureError) as info:
            decode_jws(token, key)
        assert info.value.reason is Reason.BAD_SIGNATURE
    with pytest.raises(DecodeError) as derr:
        decode_jws(token, EC_PRIVATE.public_key(), algorithms=("EdDSA",))
    assert derr.value.reason is Reason.BAD_JWS
    unsigned = _b64(b'{"alg":"none"}') + "." + _b64(b"x") + "."
    with pytest.raises(DecodeError):
        decode_jws(unsigned, EC_PRIVATE.public_key())
    with pytest.raises(ValueError):
        decode_jws(token, EC_PRIVATE.public_key(), algorithms=("none",))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "a.b.c.d",
        _b64(b'{"alg":"ES256","alg":"EdDSA"}') + ".e30.AA",  # duplicate member
        _b64(b"[1]") + ".e30.AA",
        _b64(b"\xff") + ".e30.AA",
        "eyJhbGciOiJFUzI1NiJ9=.e30.AA",  # padding
        "A" * 5000 + ".e30.AA",
    ],
)
def test_malformed_headers(token: str) -> None:
    with pytest.raises(DecodeError) as info:
        peek_jws_header(token)
    assert info.value.reason is Reason.BAD_JWS


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(st.text(max_size=8).map("x-".__add__), st.text(max_size=8), max_size=3),
    st.binary(max_size=200),
)
def test_round_trip_property(extra: dict[str, str], payload: bytes) -> None:
    header = {**extra, "alg": "EdDSA"}
    token = encode_jws(header, payload, software_signer(ED_PRIVATE))
    assert decode_jws(token, ED_PRIVATE.public_key()) == (header, payload)
