"""COSE_Sign1 build, parse and verify (RFC 9052 §4.2), permit profile."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_examples import EC_KEY, EC_PRIVATE, ED_KEY, ED_PRIVATE
from tests.support.verifier_internals import decode_permit_parts
from tests.support.verifier_internals import permit_shape as _permit_shape
from verifier import DecodeError, Reason, SignatureError
from verifier.formats import (
    PERMIT_PROFILE,
    Alg,
    CoseProfile,
    cbor_dumps,
    cose_kid,
    decode_sign1,
    encode_sign1,
    sig_structure,
    software_signer,
    verify_sign1,
)

PAYLOAD = cbor_dumps({1: "05513000", 6: 1_700_000_000, 4: 1_800_000_000})


def _token(private: Any = EC_PRIVATE, alg: Alg = Alg.ES256, **kwargs: Any) -> bytes:
    return encode_sign1(
        PAYLOAD,
        alg=alg,
        kid=cose_kid(private.public_key()),
        sign=software_signer(private),
        **kwargs,
    )


TOKEN = _token()


def test_sig_structure_bytes() -> None:
    # RFC 9052 §4.4 with the CBOR headers of each length class
    assert sig_structure(b"\xa1\x01\x26", b"") == bytes.fromhex(
        "846a5369676e61747572653143a101264040"
    )
    for n in (0, 23, 24, 255, 256, 65_535, 65_536):
        payload = bytes(n)
        assert sig_structure(b"\xa0", payload, b"aad") == cbor2.dumps(
            ["Signature1", b"\xa0", b"aad", payload]
        )


@pytest.mark.parametrize(
    ("private", "alg"), [(EC_PRIVATE, Alg.ES256), (ED_PRIVATE, Alg.EDDSA)], ids=["ES256", "EdDSA"]
)
def test_round_trip(private: Any, alg: Alg) -> None:
    data = _token(private, alg)
    assert data[:1] == b"\xd2"  # tag 18
    msg = decode_sign1(data)
    assert msg.alg is alg
    assert msg.kid == cose_kid(private.public_key())
    assert msg.payload == PAYLOAD
    assert msg.protected == {1: int(alg), 4: msg.kid}
    assert msg.unprotected == {}
    assert msg.content_type is None
    verify_sign1(msg, private.public_key())


def test_content_type_and_wrong_key() -> None:
    msg = decode_sign1(_token(content_type="application/statuslist+cwt"))
    assert msg.content_type == "application/statuslist+cwt"
    assert msg.protected[16] == "application/statuslist+cwt"
    with pytest.raises(SignatureError) as info:
        verify_sign1(msg, ec.derive_private_key(7, ec.SECP256R1()).public_key())
    assert info.value.reason is Reason.BAD_SIGNATURE
    with pytest.raises(SignatureError):
        verify_sign1(msg, ED_KEY)


def _rebuild(
    protected: Any = None, unprotected: Any = None, tag: int | None = 18, **kw: Any
) -> bytes:
    msg = decode_sign1(_token())
    parts = [
        msg.protected_bytes if protected is None else protected,
        {} if unprotected is None else unprotected,
        kw.get("payload", msg.payload),
        kw.get("signature", msg.signature),
    ]
    body: Any = parts if tag is None else cbor2.CBORTag(tag, parts)
    return cbor2.dumps(body)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_rebuild(tag=None), Reason.BAD_COSE),
        (_rebuild(tag=61), Reason.BAD_COSE),
        (_rebuild(tag=998), Reason.BAD_COSE),
        (_rebuild(protected=cbor2.dumps({1: -7})), Reason.BAD_COSE),  # no kid
        (_rebuild(protected=cbor2.dumps({1: -7, 4: "kid"})), Reason.BAD_COSE),  # text kid
        (_rebuild(protected=cbor2.dumps({4: b"k"})), Reason.BAD_COSE),  # no alg
        (_rebuild(protected=cbor2.dumps({1: -7, 2: [99], 4: b"k"})), Reason.BAD_COSE),  # crit
        (_rebuild(protected=cbor2.dumps({1: -35, 4: b"k"})), Reason.UNSUPPORTED_ALG),
        (_rebuild(protected=cbor2.dumps({1: -37, 4: b"k"})), Reason.UNSUPPORTED_ALG),
        (_rebuild(protected=cbor2.dumps({1: "ES256", 4: b"k"})), Reason.UNSUPPORTED_ALG),
        (_rebuild(protected=cbor2.dumps({1: True, 4: b"k"})), Reason.UNSUPPORTED_ALG),
        (_rebuild(protected=cbor2.dumps([1])), Reason.BAD_COSE),
        (_rebuild(protected=b"\xa1\x01"), Reason.BAD_COSE),
        (_rebuild(unprotected={4: b"x"}), Reason.BAD_COSE),  # label in both headers
        (_rebuild(payload=None), Reason.BAD_COSE),  # detached payload
        (cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b""])), Reason.BAD_COSE),
        (cbor2.dumps(cbor2.CBORTag(18, {})), Reason.BAD_COSE),
        (_token() + b"\x00", Reason.BAD_COSE),
        (_token()[:-1], Reason.BAD_COSE),
        (b"", Reason.BAD_COSE),
    ],
    # ids must not depend on random signature bytes: xdist workers collect separately
    ids=lambda v: v.value if isinstance(v, Reason) else f"{len(v)}B",
)
def test_malformed_messages(data: bytes, reason: Reason) -> None:
    with pytest.raises(DecodeError) as info:
        decode_sign1(data)
    assert info.value.reason is reason


def test_reason_is_a_parameter() -> None:
    with pytest.raises(DecodeError) as info:
        decode_sign1(b"\x00", reason=Reason.BAD_STATUS_LIST)
    assert info.value.reason is Reason.BAD_STATUS_LIST


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_fail_with_reason(data: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        decode_sign1(b"\xd2" + data)
    assert info.value.reason in (Reason.BAD_COSE, Reason.UNSUPPORTED_ALG)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([Alg.ES256, Alg.EDDSA]),
    st.binary(min_size=8, max_size=8),
    st.binary(max_size=600),
    st.binary(min_size=64, max_size=64),
)
def test_fast_path_equals_general_path(alg: Alg, kid: bytes, payload: bytes, sig: bytes) -> None:
    data = encode_sign1(payload, alg=alg, kid=kid, sign=lambda _: sig)
    fast = _permit_shape(data)
    assert fast is not None  # our encoder's shape is always read without decoding CBOR
    msg = decode_sign1(data)
    assert fast == (msg.protected_bytes, msg.payload, msg.signature, msg.alg, msg.kid)
    assert decode_permit_parts(data) == fast
    # a profile without the algorithm refuses it
    with pytest.raises(DecodeError) as info:
        decode_sign1(data, profile=CoseProfile(algorithms=frozenset({Alg.ES384})))
    assert info.value.reason is Reason.UNSUPPORTED_ALG


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(list(Alg)),
    st.binary(max_size=40),
    st.binary(max_size=70_000),
    st.binary(max_size=300),
    st.none() | st.text(max_size=30),
)
def test_encoding_is_the_deterministic_cbor_of_the_message(
    alg: Alg, kid: bytes, payload: bytes, sig: bytes, content_type: str | None
) -> None:
    # written directly: the bytes the general encoder gives for 18([protected, {}, payload,
    # signature]), at every byte-string length boundary hypothesis finds
    header: dict[int, Any] = {1: int(alg), 4: kid}
    if content_type is not None:
        header[16] = content_type
    protected = cbor_dumps(header)
    signed: list[bytes] = []

    def sign(message: bytes) -> bytes:
        signed.append(message)
        return sig

    data = encode_sign1(payload, alg=alg, kid=kid, sign=sign, content_type=content_type)
    assert data == cbor_dumps(cbor2.CBORTag(18, [protected, {}, payload, sig]))
    assert signed == [sig_structure(protected, payload)]


@pytest.mark.parametrize(
    ("protected", "reason"),
    [
        ({1: -35}, Reason.BAD_COSE),  # no kid and an unsupported alg: the kid comes first
        ({1: "ES256"}, Reason.BAD_COSE),
        ({1: -35, 4: "kid"}, Reason.BAD_COSE),  # text kid, unsupported alg
        ({1: -35, 4: b"k"}, Reason.UNSUPPORTED_ALG),
    ],
)
def test_kid_is_checked_before_alg(protected: dict[int, Any], reason: Reason) -> None:
    # step 3 of the check: a map with a bstr kid, else bad_cose; THEN alg, else unsupported_alg
    with pytest.raises(DecodeError) as info:
        decode_sign1(_rebuild(protected=cbor2.dumps(protected)))
    assert info.value.reason is reason


@pytest.mark.parametrize("unprotected", [{5: b"iv"}, {"x": 1}, {33: [b"cert"]}, {-1: 0}])
def test_permit_profile_refuses_a_non_empty_unprotected_header(unprotected: Any) -> None:
    # our profile: unprotected header empty; anything in it is unsigned
    data = _rebuild(unprotected=unprotected)
    with pytest.raises(DecodeError) as info:
        decode_sign1(data)
    assert info.value.reason is Reason.BAD_COSE
    with pytest.raises(DecodeError) as info:
        decode_sign1(data, reason=Reason.BAD_STATUS_LIST)
    assert info.value.reason is Reason.BAD_STATUS_LIST
    assert PERMIT_PROFILE.empty_unprotected
    # a third-party profile may carry things there (the signature is over the rest alone)
    msg = decode_sign1(data, profile=CoseProfile(kid_in_unprotected=True))
    assert msg.unprotected == unprotected
    verify_sign1(msg, EC_KEY)


def _parts_or_reason(decode: Any, data: bytes) -> Any:
    try:
        return decode(data)
    except DecodeError as exc:
        return exc.reason


def _parts_via_sign1(data: bytes) -> tuple[Any, ...]:
    msg = decode_sign1(data)
    return (msg.protected_bytes, msg.payload, msg.signature, msg.alg, msg.kid)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([Alg.ES256, Alg.EDDSA]),
    st.binary(min_size=8, max_size=8),
    st.binary(max_size=600),
    st.binary(min_size=64, max_size=64),
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=3),
    st.integers(-3, 3),
)
def test_permit_parts_equal_decode_sign1(
    alg: Alg, kid: bytes, payload: bytes, sig: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    # verify() reads the message through decode_permit_parts: for our own shape (fast) and
    # for every mutation of it (general path), the same parts or the same reason
    data = bytearray(encode_sign1(payload, alg=alg, kid=kid, sign=lambda _: sig))
    for index, value in flips:
        data[index % len(data)] = value
    raw = bytes(data[:cut] if cut < 0 else data + bytes(cut))
    fast = _parts_or_reason(decode_permit_parts, raw)
    assert fast == _parts_or_reason(_parts_via_sign1, raw)
    if not flips and not cut:
        assert fast == (raw[3:16], payload, sig, alg, kid)


@pytest.mark.parametrize("size", [0, 1, 23, 24, 255, 256, 300])
def test_permit_parts_at_payload_length_boundaries(size: int) -> None:
    data = encode_sign1(bytes(size), alg=Alg.ES256, kid=b"k" * 8, sign=lambda _: b"s" * 64)
    assert decode_permit_parts(data) == _parts_via_sign1(data)
    assert decode_permit_parts(data)[1] == bytes(size)
    for bad in (data[:-1], data + b"\x00", bytearray(data)):
        assert _parts_or_reason(decode_permit_parts, bad) == _parts_or_reason(_parts_via_sign1, bad)
