"""Permit claims (docs/formats.md): encoding, strict decoding, hostile input."""

from __future__ import annotations

import dataclasses
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_examples import CARE
from tests.support.verifier_examples import RESIDENT as CLAIMS
from verifier import DecodeError, PermitType, Reason
from verifier.formats import (
    PermitClaims,
    Window,
    cbor_dumps,
    decode_claims_map,
    decode_permit_claims,
    encode_permit_payload,
    is_canonical_plate,
    is_canonical_zone,
    peek_issuer,
    permit_claims_map,
)


def test_encoding_is_the_design_map() -> None:
    payload = encode_permit_payload(CLAIMS)
    assert cbor2.loads(payload) == {
        1: "05513000",
        6: 1_767_225_600,
        4: 1_798_761_600,
        -65537: {1: "BEW", 2: ["A3"], 3: ["GE-AB 1234"], 4: 4711, 5: 1, 6: 90_210},
    }
    assert payload.hex().startswith("a40168303535313330303004")  # bytewise key order
    for claims in (CLAIMS, CARE):
        assert encode_permit_payload(claims) == cbor_dumps(permit_claims_map(claims))


@pytest.mark.parametrize("claims", [CLAIMS, CARE], ids=["resident", "care"])
def test_round_trip(claims: PermitClaims) -> None:
    decoded = decode_permit_claims(decode_claims_map(encode_permit_payload(claims)))
    assert decoded == claims
    assert peek_issuer(decode_claims_map(encode_permit_payload(claims))) == "05513000"


def _mutated(path: tuple[Any, ...], value: Any) -> dict[Any, Any]:
    m = permit_claims_map(CARE)
    target = m
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return m


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ((1,), 5513000),
        ((1,), _DELETE),
        ((6,), 1.767e9),  # float time
        ((4,), True),  # bool time
        ((4,), _DELETE),
        ((4,), 1_767_225_600),  # exp not after iat
        ((5,), "soon"),
        ((-65537,), _DELETE),
        ((-65537, 1), "XYZ"),
        ((-65537, 1), ["BEW"]),  # unhashable
        ((-65537, 2), []),
        ((-65537, 2), ["a3"]),  # not canonical
        ((-65537, 3), ["ge ab 1234"]),
        ((-65537, 3), [""]),  # an empty plate
        ((-65537, 3), ["GE-AB 1234", ""]),
        ((-65537, 2), ["A3\tGE-AB 1234"]),
        ((-65537, 2), ["A3", "A3"]),  # not distinct
        ((-65537, 7), _DELETE),  # no plate and no fleet
        ((-65537, 4), -1),
        ((-65537, 6), _DELETE),
        ((-65537, 8), 0),
        ((-65537, 9), []),
        ((-65537, 9), [[0, 1, 2]]),
        ((-65537, 9), [[128, 1, 2]]),
        ((-65537, 9), [[1, 600, 600]]),  # from not before to
        ((-65537, 9), [[1, 0, 1441]]),
        ((-65537, 9), [[1, 0]]),
        ((-65537, 10), 1),  # unknown permit key
    ],
)
def test_strict_decoding(path: tuple[Any, ...], value: Any) -> None:
    with pytest.raises(DecodeError) as info:
        decode_permit_claims(_mutated(path, value))
    assert info.value.reason is Reason.BAD_CLAIMS


def test_encoder_refuses_invalid_claims_and_decoder_refuses_non_maps() -> None:
    with pytest.raises(ValueError):
        encode_permit_payload(dataclasses.replace(CLAIMS, zones=()))
    for payload in (b"\x80", b"\xa1\x01", cbor2.dumps({1: "x"}) + b"\x00"):
        with pytest.raises(DecodeError) as info:
            decode_claims_map(payload)
        assert info.value.reason is Reason.BAD_CLAIMS
    with pytest.raises(DecodeError):
        peek_issuer([])  # type: ignore[arg-type]


_times = st.integers(0, 2**40)
_zone = st.from_regex(r"[A-Z][0-9]{1,2}", fullmatch=True)
_plate = st.sampled_from(["GE-AB 1234", "RE-X 7E", "NL:AB123C"])


def _window(days: int, start: int) -> Window:
    return Window(days, start, start + 1)


_claims = st.builds(
    PermitClaims,
    issuer=st.from_regex(r"[0-9]{8}", fullmatch=True),
    iat=_times,
    exp=_times,
    nbf=st.none() | _times,
    type=st.sampled_from(list(PermitType)),
    zones=st.lists(
        st.from_regex(r"[A-Z][0-9]{1,2}", fullmatch=True), min_size=1, max_size=3, unique=True
    ).map(tuple),
    plates=st.lists(
        st.sampled_from(["GE-AB 1234", "RE-X 7E", "NL:AB123C"]), max_size=3, unique=True
    ).map(tuple),
    number=st.integers(0, 2**64 - 1),
    status_list=st.integers(0, 2**20),
    status_idx=st.integers(0, 2**20),
    fleet=st.none() | st.text(min_size=1, max_size=10),
    max_stay=st.none() | st.integers(1, 600),
    windows=st.none()
    | st.lists(
        st.tuples(st.integers(1, 127), st.integers(0, 1439)).map(
            lambda t: Window(t[0], t[1], t[1] + 1)
        ),
        min_size=1,
        max_size=3,
    ).map(tuple),
)


@settings(max_examples=150, deadline=None)
@given(_claims)
def test_round_trip_property(claims: PermitClaims) -> None:
    try:
        payload = encode_permit_payload(claims)
    except ValueError:
        return  # hypothesis drew claims the design refuses (exp <= iat, no plate nor fleet)
    assert decode_permit_claims(decode_claims_map(payload)) == claims
    # written in key order without a walk of the value: the general deterministic encoder's
    # bytes exactly
    assert payload == cbor_dumps(permit_claims_map(claims))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_payloads_fail_with_reason(data: bytes) -> None:
    try:
        decode_permit_claims(decode_claims_map(data))
    except DecodeError as exc:
        assert exc.reason is Reason.BAD_CLAIMS


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([0, 1, 2, 3, 4, 5, 21, 24, 25, 28, 29, 30, 35, 36, 37, 256, 258, 260, 55799]),
    st.one_of(
        st.binary(max_size=40),
        st.builds(lambda e, m: cbor2.dumps([e, m]), st.integers(-(2**70), 2**70), st.integers()),
    ),
)
def test_semantic_tags_in_claims_fail_with_reason(tag: int, content: bytes) -> None:
    data = cbor2.dumps({1: "05513000", 7: cbor2.CBORTag(tag, None)})[:-1] + content
    try:
        decode_permit_claims(decode_claims_map(data))
    except DecodeError as exc:
        assert exc.reason is Reason.BAD_CLAIMS


# The signed payload is deterministic CBOR (RFC 8949 §4.2.1): an integer, a time above all, has one
# encoding. CLAIMS encodes as {1: iss, 4: exp, 6: iat, -65537: permit} (bytewise key order).
_PAYLOAD = encode_permit_payload(CLAIMS)
_EXP = CLAIMS.exp.to_bytes(4, "big")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"\x04\x1a" + _EXP, b"\x04\x1b\x00\x00\x00\x00" + _EXP),  # exp in 8 bytes
        (b"\x04\x1a" + _EXP, b"\x04\xc2\x44" + _EXP),  # exp as a bignum (tag 2)
        (b"\x04\x1a" + _EXP, b"\x04\xc2\x49" + bytes(5) + _EXP),  # 9-byte bignum, leading zeros
        (b"\x04\x1a" + _EXP, b"\x04\xc3\x44" + (CLAIMS.exp - 1).to_bytes(4, "big")),  # tag 3
        (b"\xa4\x01", b"\xb8\x04\x01"),  # map length in two bytes
        (b"\x01\x68", b"\x01\x78\x08"),  # text length in two bytes
        (b"\x04\x19\x12\x67", b"\x04\x1a\x00\x00\x12\x67"),  # number 4711 in four bytes
        (b"\x05\x01", b"\x05\x18\x01"),  # list 1 in two bytes
    ],
    ids=["exp-8-bytes", "exp-bignum", "exp-long-bignum", "exp-negative-bignum", "map-length",
         "text-length", "number-4-bytes", "list-2-bytes"],
)  # fmt: skip
def test_non_deterministic_integers_are_refused(old: bytes, new: bytes) -> None:
    assert _PAYLOAD.count(old) == 1
    payload = _PAYLOAD.replace(old, new)
    with pytest.raises(DecodeError) as info:
        decode_permit_claims(decode_claims_map(payload))
    assert info.value.reason is Reason.BAD_CLAIMS


def test_deterministic_payloads_outside_the_round_trip_are_accepted() -> None:
    # an ignored claim may hold a bignum beyond 64 bits (deterministic) or a half float,
    # which cbor2 would re-encode differently: the header scan decides, and accepts
    base = cbor2.loads(_PAYLOAD)
    big = cbor2.dumps({**base, 99: 2**70})
    assert decode_permit_claims(decode_claims_map(big)) == CLAIMS
    half = _PAYLOAD.replace(b"\xa4", b"\xa5", 1) + b"\x18\x63\xf9\x3e\x00"  # 99: 1.5
    assert decode_claims_map(half)[99] == 1.5
    assert decode_permit_claims(decode_claims_map(half)) == CLAIMS
    with pytest.raises(DecodeError) as info:  # the same, with the key in two bytes
        decode_claims_map(half.replace(b"\x18\x63\xf9", b"\x19\x00\x63\xf9"))
    assert info.value.reason is Reason.BAD_CLAIMS


_piece = st.sampled_from(["A3", "Z1", "a3", "GE-AB 1234", "NL:AB123C", "RE-X 7E", "", "\n", "\t"])
_value = st.lists(_piece, max_size=3).map("".join) | st.integers(0, 3)


@settings(max_examples=400, deadline=None)
@given(st.lists(_value, max_size=3), st.lists(_value, max_size=3))
def test_zones_and_plates_follow_the_plate_rules(zones: list[Any], plates: list[Any]) -> None:
    # decode_permit_claims accepts exactly the canonical zones and plates, value by value
    # (plus: at least one zone, each one once)

    expected = (
        bool(zones)
        and all(is_canonical_zone(z) for z in zones)
        and all(is_canonical_plate(p) for p in plates)
        and len(set(map(str, zones))) == len(zones)
        and len(set(map(str, plates))) == len(plates)
    )
    m = permit_claims_map(CARE)
    m[-65537][2] = zones
    m[-65537][3] = plates
    try:
        decoded = decode_permit_claims(m)
    except DecodeError as exc:
        assert exc.reason is Reason.BAD_CLAIMS
        assert not expected
    else:
        assert expected
        assert decoded.zones == tuple(zones) and decoded.plates == tuple(plates)
