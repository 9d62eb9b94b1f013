"""The verify path's shortcuts accept and refuse exactly what the plain versions do."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_internals import sdjwt_holder_key as _holder_key
from tests.support.verifier_internals import sdjwt_json_loads as _json_loads
from verifier import DecodeError, Reason
from verifier.formats import b64url_decode, key_to_jwk, software_signer
from verifier.sdjwt import issue_sd_jwt, verify_sd_jwt

ISSUER = ec.generate_private_key(ec.SECP256R1())
HOLDER_JWK = key_to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key())
NOW = 1_780_000_000
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _plain(text: str) -> bytes | Reason:
    """The rule written out: decode leniently, then accept only what encodes back to text."""
    if len(text) % 4 == 1:
        return Reason.BAD_JWS
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return Reason.BAD_JWS
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != text:
        return Reason.BAD_JWS
    return raw


def _fast(text: str) -> bytes | Reason:
    try:
        return b64url_decode(text, reason=Reason.BAD_JWS)
    except DecodeError as exc:
        return exc.reason


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET + "=+/ .\n~é", max_size=12))
def test_b64url_decode_agrees_with_the_reencoding_rule(text: str) -> None:
    assert _fast(text) == _plain(text)


@pytest.mark.parametrize("text", ["", "QQ", "QR", "QUE", "QUF", "QUFB", "A", "QUF=", "QU+B"])
def test_b64url_decode_agrees_on_tails(text: str) -> None:
    assert _fast(text) == _plain(text)


def test_duplicate_members_are_still_refused() -> None:
    with pytest.raises(DecodeError) as info:
        _json_loads(b'{"a": 1, "b": {"c": 1, "c": 2}}', Reason.BAD_JWS)
    assert info.value.reason is Reason.BAD_JWS
    assert _json_loads(b'{"a": {"b": [1, {"c": null}]}}', Reason.BAD_JWS) == {
        "a": {"b": [1, {"c": None}]}
    }


def test_holder_key_is_remembered_but_refusals_are_not() -> None:
    first = _holder_key(dict(HOLDER_JWK))
    assert _holder_key(dict(HOLDER_JWK)) is first
    assert key_to_jwk(first) == HOLDER_JWK
    for bad in (
        {**HOLDER_JWK, "d": HOLDER_JWK["x"]},
        {**HOLDER_JWK, "x": 7},
        {**HOLDER_JWK, "y": HOLDER_JWK["x"]},  # not on the curve
    ):
        for _ in range(2):  # refused again: a refusal is never remembered
            with pytest.raises(DecodeError) as info:
                _holder_key(bad)
            assert info.value.reason is Reason.BAD_KEY


def _nested(depth: int) -> Any:
    """A claim `n` holding `depth` levels of objects and arrays, a scalar at the bottom."""
    value: Any = "leaf"
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_depth_bound_counts_scalars_like_before(depth: int) -> None:
    token = issue_sd_jwt(
        {"iss": "https://x.example", "n": _nested(depth)}, sign=software_signer(ISSUER)
    )
    # path of the leaf: ("n", ...depth elements) = depth + 1 members long
    result = verify_sd_jwt(
        token,
        issuer_key=ISSUER.public_key(),
        now=NOW,
        require_key_binding=False,
        max_depth=depth + 1,
    )
    assert result.claims["n"] == _nested(depth)
    with pytest.raises(DecodeError) as info:
        verify_sd_jwt(
            token,
            issuer_key=ISSUER.public_key(),
            now=NOW,
            require_key_binding=False,
            max_depth=depth,
        )
    assert info.value.reason is Reason.TOO_LARGE
