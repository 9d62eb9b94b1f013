"""The third-party Token Status List vectors (status-list/, located by tests.vectors)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import cbor2
import pytest

from tests.vectors import load_json
from verifier.formats import (
    CoseProfile,
    StatusList,
    decode_sign1,
    decode_status_list_cwt,
    decode_status_list_jwt,
    key_from_jwk,
    verify_sign1,
)

ENCODING = load_json("status-list/encoding-vectors.json")["vectors"]
TOKENS = load_json("status-list/token-vectors.json")
KEY = key_from_jwk({k: TOKENS["signing_key_public_jwk"][k] for k in ("kty", "crv", "x", "y")})
# the upstream example CWT carries kid "12" in the unprotected header
UPSTREAM = CoseProfile(kid_in_unprotected=True)


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _expected(vector: dict[str, Any]) -> dict[int, int]:
    values: dict[int, int] = {}
    for idx, value in vector["statuses"]:
        values[idx] = value
    return values


@pytest.mark.parametrize("vector", ENCODING, ids=lambda v: v["name"])
def test_decoding(vector: dict[str, Any]) -> None:
    lst = _b64url(vector["expected_json"]["lst"])
    status = StatusList.from_lst(vector["bits"], lst)
    assert status.size == vector["size"]
    expected = _expected(vector)
    assert all(status.get(i) == v for i, v in expected.items())
    if "uncompressed_hex" in vector:
        assert status.data.hex() == vector["uncompressed_hex"]
    else:
        assert hashlib.sha256(status.data).hexdigest() == vector["uncompressed_sha256"]
        assert sum(1 for b in status.data if b) <= vector["nonzero_count"]
        assert sum(1 for v in expected.values() if v) == vector["nonzero_count"]
    cbor = cbor2.loads(bytes.fromhex(vector["expected_cbor_hex"]))
    assert cbor == {"bits": vector["bits"], "lst": lst}


@pytest.mark.parametrize("vector", ENCODING, ids=lambda v: v["name"])
def test_encoding_reproduces_lst(vector: dict[str, Any]) -> None:
    status = StatusList.from_values(vector["bits"], vector["size"], _expected(vector))
    assert status.to_lst() == _b64url(vector["expected_json"]["lst"])
    assert (
        status.to_lst().hex()
        == cbor2.loads(bytes.fromhex(vector["expected_cbor_hex"]))["lst"].hex()
    )


def test_jwt_token() -> None:
    case = TOKENS["status_list_jwt"]
    token = decode_status_list_jwt(case["compact"], KEY)
    payload = case["expected_payload"]
    assert (token.sub, token.iat, token.exp, token.ttl, token.iss) == (
        payload["sub"],
        payload["iat"],
        payload["exp"],
        payload["ttl"],
        payload["iss"],
    )
    assert list(token.status_list)[:16] == case["expected_statuses_idx0_to_15"]


def test_cwt_token() -> None:
    case = TOKENS["status_list_cwt"]
    msg, token = decode_status_list_cwt(bytes.fromhex(case["hex"]), profile=UPSTREAM)
    verify_sign1(msg, KEY)
    assert msg.kid == b"12"
    claims = case["expected_claims"]
    assert (token.sub, token.iat, token.exp, token.ttl) == (
        claims["2"],
        claims["6"],
        claims["4"],
        claims["65534"],
    )
    assert token.status_list.to_lst().hex() == claims["65533"]["lst_hex"]
    assert list(token.status_list)[:16] == case["expected_statuses_idx0_to_15"]


def test_referenced_token() -> None:
    case = TOKENS["referenced_token_cwt"]
    msg = decode_sign1(bytes.fromhex(case["hex"]), profile=UPSTREAM)
    verify_sign1(msg, KEY)
    reference = cbor2.loads(msg.payload)[65535]["status_list"]
    _, status = decode_status_list_cwt(
        bytes.fromhex(TOKENS["status_list_cwt"]["hex"]), profile=UPSTREAM
    )
    assert reference["uri"] == status.sub
    assert status.status_list.get(reference["idx"]) == 1  # INVALID
