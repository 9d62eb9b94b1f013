"""The signer interface, the software signer and the COSE / JWS helpers."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from keys.errors import KeyRingError, KeysCode
from keys.signer import Signer, SoftwareSigner, generate_signer, sign_cose, sign_jws
from verifier.formats import (
    Alg,
    cose_kid,
    decode_jws,
    decode_sign1,
    jws_kid,
    peek_jws_header,
    thumbprint,
    verify_sign1,
    verify_signature,
)

ALGS = pytest.mark.parametrize("alg", [Alg.ES256, Alg.EDDSA], ids=["es256", "ed25519"])


@ALGS
def test_signer_identifiers(alg: Alg) -> None:
    signer = generate_signer(alg)
    assert isinstance(signer, Signer)
    assert signer.alg == alg
    assert signer.thumbprint == thumbprint(signer.public_key) and len(signer.thumbprint) == 32
    assert signer.cose_kid == cose_kid(signer.public_key) == signer.thumbprint[:8]
    assert signer.jws_kid == jws_kid(signer.public_key) and len(signer.jws_kid) == 43


@ALGS
def test_raw_signature_verifies(alg: Alg) -> None:
    signer = generate_signer(alg)
    signature = signer.sign(b"message")
    assert len(signature) == 64  # raw r||s for ES256, never DER
    verify_signature(signer.public_key, alg, b"message", signature)


@ALGS
def test_sign_cose(alg: Alg) -> None:
    signer = generate_signer(alg)
    token = sign_cose(signer, b"\xa0", content_type="application/example")
    msg = decode_sign1(token)
    assert msg.alg == alg and msg.kid == signer.cose_kid
    assert msg.content_type == "application/example" and msg.payload == b"\xa0"
    verify_sign1(msg, signer.public_key)


@ALGS
def test_sign_jws_fills_alg_and_kid(alg: Alg) -> None:
    signer = generate_signer(alg)
    token = sign_jws(signer, {"typ": "statuslist+jwt"}, json.dumps({"a": 1}).encode())
    header = peek_jws_header(token)
    assert header["kid"] == signer.jws_kid
    assert header["typ"] == "statuslist+jwt"
    verified_header, payload = decode_jws(token, signer.public_key)
    assert verified_header["alg"] == {Alg.ES256: "ES256", Alg.EDDSA: "EdDSA"}[alg]
    assert json.loads(payload) == {"a": 1}


def test_sign_jws_refuses_a_foreign_kid() -> None:
    signer = generate_signer()
    with pytest.raises(ValueError):
        sign_jws(signer, {"kid": "someone-else"}, b"{}")


def test_repr_has_no_private_material() -> None:
    signer = generate_signer()
    d = signer.private_key.private_numbers().private_value  # type: ignore[union-attr]
    assert str(d) not in repr(signer) and hex(d)[2:] not in repr(signer)
    assert signer.jws_kid in repr(signer)


def test_other_curves_are_refused() -> None:
    with pytest.raises(KeyRingError) as info:
        SoftwareSigner(ec.generate_private_key(ec.SECP384R1()))  # type: ignore[arg-type]
    assert info.value.code is KeysCode.UNSUPPORTED_ALG
