"""The COSE working-group examples through our COSE_Sign1 layer (third-party vectors
cose-wg/, located by tests.vectors).

Each example is decoded with ``CONFORMANCE_PROFILE`` (untagged messages and unprotected kids
are normal there), the rebuilt ``Sig_structure`` must equal ``ToBeSign_hex`` byte for byte,
passes must verify and fails must be refused with the reason recorded below. Two examples are
``xfail(strict=True)`` by decision (docs/formats.md, "COSE-WG vector decisions").
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.vectors import load_index, load_json
from verifier import Reason, VerifierError
from verifier.formats import (
    CONFORMANCE_PROFILE,
    AnyPublicKey,
    decode_sign1,
    sig_structure,
    verify_sign1,
)

INDEX = load_index("cose-wg")["files"]
CURVES = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}
FAIL_REASONS = {
    "sign1-tests/sign-fail-01.json": Reason.BAD_COSE,  # tag 998
    "sign1-tests/sign-fail-02.json": Reason.BAD_SIGNATURE,
    "sign1-tests/sign-fail-03.json": Reason.UNSUPPORTED_ALG,
    "sign1-tests/sign-fail-04.json": Reason.UNSUPPORTED_ALG,
    "sign1-tests/sign-fail-06.json": Reason.BAD_SIGNATURE,
    "sign1-tests/sign-fail-07.json": Reason.BAD_SIGNATURE,
}
DECISIONS = {
    "sign1-tests/sign-pass-01.json": "we refuse it: alg only in the unprotected header, and the "
    "signature covers a zero-length protected bstr while the message carries h'A0'; RFC 9052 "
    "§4.4 signs the protected bstr as transmitted (cose-wg/Examples#107)",
    "ecdsa-examples/ecdsa-sig-04.json": "we bind alg to curve (RFC 9053 §2.1): ES512 with a "
    "P-256 key is refused",
}


def _b64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _coordinate(jwk: dict[str, str], name: str) -> bytes:
    return bytes.fromhex(jwk[f"{name}_hex"]) if f"{name}_hex" in jwk else _b64(jwk[name])


def _key(jwk: dict[str, str]) -> AnyPublicKey:
    if jwk["kty"] == "EC":
        x, y = _coordinate(jwk, "x"), _coordinate(jwk, "y")
        return ec.EllipticCurvePublicKey.from_encoded_point(CURVES[jwk["crv"]], b"\x04" + x + y)
    x = _coordinate(jwk, "x")
    if jwk["crv"] == "Ed25519":
        return Ed25519PublicKey.from_public_bytes(x)
    return Ed448PublicKey.from_public_bytes(x)


def _params(expected_fail: bool) -> list[Any]:
    params = []
    for case in INDEX:
        if (case["expected"] == "reject") != expected_fail:
            continue
        reason = DECISIONS.get(case["path"])
        marks = (
            [pytest.mark.xfail(strict=True, raises=VerifierError, reason=reason)] if reason else []
        )
        params.append(pytest.param(case, id=case["path"], marks=marks))
    return params


def _load(case: dict[str, Any]) -> tuple[dict[str, Any], AnyPublicKey, bytes, bytes]:
    vector = load_json(f"cose-wg/{case['path']}")
    signer = vector["input"]["sign0"]
    external = bytes.fromhex(signer.get("external", ""))
    return vector, _key(signer["key"]), external, bytes.fromhex(vector["output"]["cbor"])


def test_index_is_complete() -> None:
    assert len(INDEX) == 17
    assert {c["path"] for c in INDEX if c["expected"] == "reject"} == set(FAIL_REASONS)


@pytest.mark.parametrize("case", _params(expected_fail=True))
def test_cose_wg_fail_example_is_refused(case: dict[str, Any]) -> None:
    vector, key, external, data = _load(case)
    assert vector["fail"] is True
    with pytest.raises(VerifierError) as info:
        msg = decode_sign1(data, profile=CONFORMANCE_PROFILE)
        verify_sign1(msg, key, external_aad=external)
    assert info.value.reason is FAIL_REASONS[case["path"]]


@pytest.mark.parametrize("case", _params(expected_fail=False))
def test_cose_wg_pass_example_verifies(case: dict[str, Any]) -> None:
    vector, key, external, data = _load(case)
    assert not vector.get("fail")
    msg = decode_sign1(data, profile=CONFORMANCE_PROFILE)
    given = vector["input"]
    plaintext = given["plaintext"].encode() if "plaintext" in given else None
    assert msg.payload == (plaintext or bytes.fromhex(given.get("plaintext_hex", "")))
    to_be_signed = bytes.fromhex(vector["intermediates"]["ToBeSign_hex"])
    assert sig_structure(msg.protected_bytes, msg.payload, external) == to_be_signed
    verify_sign1(msg, key, external_aad=external)
