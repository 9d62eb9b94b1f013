"""Trust bundle payload (docs/formats.md): round trip, strict decoding, hostile input."""

from __future__ import annotations

import dataclasses
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_examples import BUNDLE
from tests.support.verifier_examples import BUNDLE_KEYS as KEYS
from tests.support.verifier_examples import BUNDLE_STATUS as STATUS
from tests.support.verifier_examples import EC_PRIVATE as ISSUER
from verifier import DecodeError, Reason
from verifier.formats import (
    TYP_TRUST_BUNDLE,
    Alg,
    IssuerEntry,
    TrustBundle,
    cose_kid,
    decode_bundle_payload,
    decode_sign1,
    encode_bundle_payload,
    encode_sign1,
    key_to_cose,
    software_signer,
    thumbprint,
    verify_sign1,
)

ROOT = ec.derive_private_key(0x5EED_0000, ec.SECP256R1())


def _same(a: TrustBundle, b: TrustBundle) -> bool:
    return encode_bundle_payload(a) == encode_bundle_payload(b)


def test_round_trip_and_signed_message() -> None:
    payload = encode_bundle_payload(BUNDLE)
    decoded = decode_bundle_payload(payload)
    assert _same(decoded, BUNDLE)
    assert decoded.issuers["05513000"].keys[0].kid == thumbprint(ISSUER.public_key())
    assert decoded.issuers["05513000"].keys[1].alg is Alg.EDDSA
    assert decoded.issuers["05513000"].status == {1: STATUS}
    assert set(cbor2.loads(payload)) == {
        "v",
        "seq",
        "iat",
        "fresh_until",
        "exp",
        "issuers",
        "anchors_next",
    }
    data = encode_sign1(
        payload,
        alg=Alg.ES256,
        kid=cose_kid(ROOT.public_key()),
        sign=software_signer(ROOT),
        content_type=TYP_TRUST_BUNDLE,
    )
    msg = decode_sign1(data)
    verify_sign1(msg, ROOT.public_key())
    assert msg.content_type == TYP_TRUST_BUNDLE
    assert _same(decode_bundle_payload(msg.payload), BUNDLE)
    assert "anchors_next" not in cbor2.loads(
        encode_bundle_payload(dataclasses.replace(BUNDLE, anchors_next=()))
    )


def _mutate(edit: Any) -> bytes:
    m = cbor2.loads(encode_bundle_payload(BUNDLE))
    edit(m)
    return cbor2.dumps(m)


def _key(m: dict[str, Any]) -> dict[str, Any]:
    entry: dict[str, Any] = m["issuers"]["05513000"]["keys"][0]
    return entry


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.update(v=2),
        lambda m: m.pop("seq"),
        lambda m: m.update(extra=1),
        lambda m: m.update(seq=-1),
        lambda m: m.update(iat=1.5),
        lambda m: m.update(fresh_until=m["exp"] + 1),
        lambda m: m.update(issuers=[]),
        lambda m: m["issuers"]["05513000"].pop("url"),
        lambda m: m["issuers"]["05513000"].update(status={1: "token"}),
        lambda m: m["issuers"]["05513000"].update(status={-1: b"x"}),
        lambda m: m["issuers"]["05513000"]["keys"].append(_key(m)),  # repeated key
        lambda m: _key(m).update(kid=_key(m)["kid"][:8]),
        lambda m: _key(m).update(kid=bytes(32)),
        lambda m: _key(m).update(alg=-8),
        lambda m: _key(m).update(sign_until=_key(m)["exp"] + 1),
        lambda m: _key(m).update(types=["XYZ"]),
        lambda m: _key(m).update(types=["BEW", "BEW"]),
        lambda m: _key(m)["key"].update({-3: bytes(32)}),  # off the curve
        lambda m: m.update(anchors_next=[{1: 2}]),
        lambda m: m.update(anchors_next=[key_to_cose(ROOT.public_key())] * 9),
    ],
)
def test_strict_decoding(edit: Any) -> None:
    with pytest.raises(DecodeError) as info:
        decode_bundle_payload(_mutate(edit))
    assert info.value.reason is Reason.BAD_BUNDLE


def test_encoder_refuses_inconsistent_bundles() -> None:
    with pytest.raises(ValueError):
        encode_bundle_payload(dataclasses.replace(BUNDLE, exp=BUNDLE.iat))
    wrong = dataclasses.replace(KEYS[0], kid=bytes(32))
    entry = IssuerEntry("05513000", "x", "https://x", (wrong,), {})
    with pytest.raises(ValueError):
        encode_bundle_payload(dataclasses.replace(BUNDLE, issuers={"05513000": entry}))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_fail_with_reason(data: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        decode_bundle_payload(data)
    assert info.value.reason is Reason.BAD_BUNDLE


_issuer_ids = st.from_regex(r"0[1-9][0-9]{6}", fullmatch=True)


@settings(max_examples=40, deadline=None)
@given(
    seq=st.integers(0, 2**64 - 1),
    iat=st.integers(0, 2**40),
    fresh=st.integers(0, 10**6),
    ttl=st.integers(1, 10**6),
    ids=st.lists(_issuer_ids, max_size=3, unique=True),
    lists=st.dictionaries(st.integers(0, 2**32), st.binary(min_size=1, max_size=40), max_size=3),
    with_anchor=st.booleans(),
)
def test_round_trip_property(
    seq: int,
    iat: int,
    fresh: int,
    ttl: int,
    ids: list[str],
    lists: dict[int, bytes],
    with_anchor: bool,
) -> None:
    bundle = TrustBundle(
        seq=seq,
        iat=iat,
        fresh_until=iat + fresh,
        exp=iat + fresh + ttl,
        issuers={i: IssuerEntry(i, f"Stadt {i}", f"https://{i}.test", KEYS, lists) for i in ids},
        anchors_next=BUNDLE.anchors_next if with_anchor else (),
    )
    decoded = decode_bundle_payload(encode_bundle_payload(bundle))
    assert _same(decoded, bundle)
    assert (decoded.seq, decoded.iat, decoded.exp, set(decoded.issuers)) == (
        seq,
        iat,
        iat + fresh + ttl,
        set(ids),
    )
