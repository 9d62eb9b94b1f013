"""Interop with independent implementations: python-cwt (COSE/CWT) and token-status-list.

python-cwt verifies what we sign and we verify what it signs, for ES256 and EdDSA. The CWT
check through ``cwt.decode`` validates ``exp``/``nbf`` against its own wall clock (we never do
that in our code), so those tokens use ``iat`` in 2023 and ``exp`` in the far future.
"""

from __future__ import annotations

import dataclasses
import zlib
from typing import Any

import cbor2
import cwt
import pytest
import token_status_list
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tests.support.verifier_examples import EC_PRIVATE, ED_PRIVATE
from verifier import PermitType
from verifier.formats import (
    CoseProfile,
    PermitClaims,
    StatusList,
    alg_for_key,
    cose_kid,
    decode_claims_map,
    decode_permit_claims,
    decode_sign1,
    encode_permit_payload,
    encode_sign1,
    key_to_cose,
    software_signer,
    verify_sign1,
)

CLAIMS = PermitClaims(
    issuer="05513000",
    iat=1_700_000_000,
    exp=2**40,
    nbf=None,
    type=PermitType.BEW,
    zones=("A3",),
    plates=("GE-AB 1234",),
    number=4711,
    status_list=1,
    status_idx=90_210,
)
PRIVATES = [pytest.param(EC_PRIVATE, id="ES256"), pytest.param(ED_PRIVATE, id="EdDSA")]


def _cwt_public(private: Any) -> cwt.COSEKey:
    public = private.public_key()
    m = key_to_cose(public)
    m[2] = cose_kid(public)
    m[3] = int(alg_for_key(public))
    return cwt.COSEKey.new(m)


def _cwt_private(private: Any) -> cwt.COSEKey:
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    alg = "ES256" if isinstance(private, ec.EllipticCurvePrivateKey) else "EdDSA"
    return cwt.COSEKey.from_pem(pem, alg=alg, kid=cose_kid(private.public_key()))


@pytest.mark.parametrize("private", PRIVATES)
def test_python_cwt_verifies_our_permit_token(private: Any) -> None:
    public = private.public_key()
    token = encode_sign1(
        encode_permit_payload(CLAIMS),
        alg=alg_for_key(public),
        kid=cose_kid(public),
        sign=software_signer(private),
    )
    payload = cwt.COSE.new(verify_kid=True).decode(token, _cwt_public(private))
    assert payload == encode_permit_payload(CLAIMS)
    claims = cwt.decode(token, _cwt_public(private))
    assert claims[1] == "05513000" and claims[-65537][3] == ["GE-AB 1234"]


@pytest.mark.parametrize("private", PRIVATES)
def test_we_verify_python_cwt_tokens(private: Any) -> None:
    public = private.public_key()
    alg = alg_for_key(public)
    payload = encode_permit_payload(dataclasses.replace(CLAIMS, number=4712))
    token = cwt.COSE.new().encode_and_sign(
        payload, _cwt_private(private), protected={1: int(alg), 4: cose_kid(public)}
    )
    msg = decode_sign1(token)
    verify_sign1(msg, public)
    assert msg.alg is alg
    assert decode_permit_claims(decode_claims_map(msg.payload)).number == 4712
    # and a CWT built by python-cwt from a claims dict
    claims = {1: "05513000", 6: 1_700_000_000, 4: 2**40, -65537: cbor2.loads(payload)[-65537]}
    token = cwt.encode_and_sign(claims, _cwt_private(private))
    msg = decode_sign1(token, profile=CoseProfile(kid_in_unprotected=True))
    verify_sign1(msg, public)
    assert decode_permit_claims(decode_claims_map(msg.payload)).number == 4712


def test_token_status_list_reads_our_lists_and_we_read_theirs() -> None:
    ours = StatusList.from_values(2, 2**12, {0: 1, 7: 2, 4095: 1, 100: 3})
    theirs = token_status_list.BitArray(2, bytearray(zlib.decompress(ours.to_lst())))
    assert [theirs[i] for i in range(ours.size)] == list(ours)
    assert theirs.compressed() == ours.to_lst()
    built = token_status_list.BitArray.of_size(2, 2**12)
    for idx, value in {0: 1, 7: 2, 4095: 1, 100: 3}.items():
        built[idx] = value
    assert StatusList.from_lst(2, built.compressed()) == ours
    dumped = built.dump()
    assert dumped["bits"] == 2
    assert token_status_list.BitArray.from_b64(2, dumped["lst"]).compressed() == ours.to_lst()
