"""The verify path's shortcuts accept and refuse exactly what the plain versions do."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_internals import sdjwt_holder_key as _holder_key
from tests.support.verifier_internals import sdjwt_json_loads as _json_loads
from verifier import DecodeError, Reason
from verifier.formats import b64url_decode, key_to_jwk, software_signer
from verifier.sdjwt import Sd, issue_sd_jwt, parse_sd_jwt, verify_sd_jwt

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


def _strict_reference(data: bytes) -> Any:
    """The strict JSON rule written out with json.loads: no duplicates, no NaN/Infinity."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({name for name, _ in items}) != len(items):
            raise ValueError("duplicate")
        return dict(items)

    def constant(name: str) -> Any:
        raise ValueError(name)

    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=pairs, parse_constant=constant)
    except RecursionError:
        return Reason.TOO_LARGE
    except ValueError:  # UnicodeDecodeError and JSONDecodeError included
        return Reason.BAD_JWS


def _strict_fast(data: bytes) -> Any:
    try:
        return _json_loads(data, Reason.BAD_JWS)
    except DecodeError as exc:
        return exc.reason


JSON_PIECES = ["{", "}", "[", "]", '"a"', '"b"', ":", ",", "1", "-0", "1e999", "NaN"]
JSON_PIECES += ["-Infinity", "true", "null", " ", "\n", "\t", '"\\u00e9"', '"é"', "x", '"']


@settings(max_examples=600, deadline=None)
@given(st.lists(st.sampled_from(JSON_PIECES), max_size=10))
def test_json_loads_agrees_with_the_strict_rule(pieces: list[str]) -> None:
    data = "".join(pieces).encode()
    assert repr(_strict_fast(data)) == repr(_strict_reference(data))


@pytest.mark.parametrize(
    "data",
    [b' {"a": 1} ', b'{"a": 1}\n', b'{"a": 1} x', b"\xff", b"[" * 100_000, b'  "s"', b""],
)
def test_json_loads_agrees_around_the_value(data: bytes) -> None:
    assert repr(_strict_fast(data)) == repr(_strict_reference(data))


def _issued_with_chain() -> str:
    chain = ["MIIB" + "A" * 40, "MIIC" + "B" * 40]
    return issue_sd_jwt(
        {"iss": "https://x.example", "vct": "https://x.example/vct"},
        sign=software_signer(ISSUER),
        kid="issuer-key",
        extra_header={"x5c": chain, "jwk_hint": {"k": ["v"]}},
    )


def test_a_remembered_header_is_a_copy_for_every_caller() -> None:
    token = _issued_with_chain()
    first = verify_sd_jwt(token, issuer_key=ISSUER.public_key(), now=NOW, require_key_binding=False)
    expected = json.loads(json.dumps(first.header))
    first.header["x5c"].append("changed")
    first.header["jwk_hint"]["k"].clear()
    first.header["kid"] = "changed"
    parsed = parse_sd_jwt(token)
    assert parsed.header == expected
    again = verify_sd_jwt(token, issuer_key=ISSUER.public_key(), now=NOW, require_key_binding=False)
    assert again.header == expected
    assert again.header is not first.header and again.header["x5c"] is not parsed.header["x5c"]


def test_a_refused_header_is_refused_again() -> None:
    header = base64.urlsafe_b64encode(b'{"alg":"ES256","alg":"none"}').rstrip(b"=").decode()
    token = _issued_with_chain()
    _, payload, signature = token.split("~")[0].split(".")
    for _ in range(2):
        with pytest.raises(DecodeError) as info:
            parse_sd_jwt(f"{header}.{payload}.{signature}~")
        assert info.value.reason is Reason.BAD_JWS


def test_disclosure_bound_is_exact() -> None:
    token = issue_sd_jwt(
        {"iss": "https://x.example", Sd("a"): 1, Sd("b"): 2, Sd("c"): 3},
        sign=software_signer(ISSUER),
        typ="example+sd-jwt",
    )
    assert len(parse_sd_jwt(token, max_disclosures=3).disclosures) == 3
    for bound in (0, 1, 2):
        with pytest.raises(DecodeError) as info:
            parse_sd_jwt(token, max_disclosures=bound)
        assert info.value.reason is Reason.TOO_LARGE
    with_kb = token + "e30.e30.sig"
    assert parse_sd_jwt(with_kb, max_disclosures=3).kb_jwt == "e30.e30.sig"
