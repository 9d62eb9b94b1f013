"""Strict bounded CBOR decoding and RFC 8949 §4.2.1 deterministic encoding."""

from __future__ import annotations

from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_examples import cbor_values
from tests.support.verifier_internals import CBOR_MAX_DEPTH as MAX_DEPTH
from verifier import DecodeError, Reason, VerifierError
from verifier.formats import cbor_dumps, cbor_loads


def test_bytewise_key_order_differs_from_cbor2_canonical() -> None:
    # length-first (RFC 7049) gives 1, -1, 24; bytewise (RFC 8949 §4.2.1) gives 1, 24, -1
    assert cbor2.dumps({1: 0, 24: 0, -1: 0}, canonical=True).hex() == "a301002000181800"
    assert cbor_dumps({-1: 0, 24: 0, 1: 0}).hex() == "a301001818002000"
    assert cbor_dumps({"a": 1, 1: 2, -65537: 3, b"x": 4}).hex() == (
        "a401023a0001000003417804616101"
    )


def test_nested_maps_are_sorted_and_floats_refused() -> None:
    assert cbor_dumps([{2: {"b": 1, "a": 2}, 1: []}]) == bytes.fromhex("81a2018002a2616102616201")
    with pytest.raises(TypeError):
        cbor_dumps({1: 1.5})


@pytest.mark.parametrize(
    "hex_input",
    [
        "",  # empty
        "1b00",  # truncated argument
        "5f4100ff",  # indefinite byte string
        "9f01ff",  # indefinite array
        "bf0101ff",  # indefinite map
        "1c",  # reserved additional information
        "ff",  # lone break
        "0000",  # trailing bytes
        "a201010102",  # duplicate key
        "a2010101f93c00",  # duplicate key 1 and 1.0
        "a2616101616102",  # duplicate text key
        "5a7fffffff00",  # byte string longer than the input
        "9b00000000ffffffff",  # array with 2^32-1 items declared
        "d9010000",  # tag 256 not allowed
        "f818",  # simple value 24 in two bytes
        "62c328",  # invalid UTF-8
        "81" * (MAX_DEPTH + 1) + "00",  # nested too deeply
    ],
)
def test_malformed_input_is_refused(hex_input: str) -> None:
    with pytest.raises(DecodeError) as info:
        cbor_loads(bytes.fromhex(hex_input))
    assert info.value.reason is Reason.BAD_CBOR


def test_reason_and_bounds_are_parameters() -> None:
    with pytest.raises(DecodeError) as info:
        cbor_loads(b"\x00\x00", reason=Reason.BAD_COSE)
    assert info.value.reason is Reason.BAD_COSE
    assert cbor_loads(bytes.fromhex("81" * MAX_DEPTH + "00")) is not None
    with pytest.raises(DecodeError):
        cbor_loads(bytes.fromhex("818100"), max_depth=1)
    with pytest.raises(DecodeError):
        cbor_loads(b"\x40" * 2, max_bytes=1)
    assert cbor_loads(bytes.fromhex("d28100")).tag == 18


def _sorted_bytewise(obj: Any) -> bool:
    if isinstance(obj, dict):
        encoded = [cbor2.dumps(k) for k in obj]
        return encoded == sorted(encoded) and all(map(_sorted_bytewise, obj.values()))
    if isinstance(obj, list):
        return all(map(_sorted_bytewise, obj))
    return True


@settings(max_examples=200, deadline=None)
@given(cbor_values)
def test_round_trip_is_deterministic(value: Any) -> None:
    encoded = cbor_dumps(value)
    decoded = cbor_loads(encoded)
    assert cbor_dumps(decoded) == encoded
    assert _sorted_bytewise(decoded)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_decode_or_fail_with_reason(data: bytes) -> None:
    try:
        cbor_loads(data)
    except DecodeError as exc:
        assert exc.reason is Reason.BAD_CBOR


# Hostile CBOR shapes fed to every decoder of the package: nothing but a VerifierError with a
# Reason may escape. Each shape is wrapped around or spliced into otherwise plausible input.
def _hostile_fragment() -> st.SearchStrategy[bytes]:
    deep = st.integers(MAX_DEPTH - 2, 200).map(lambda n: b"\x81" * n + b"\x00")
    deep_maps = st.integers(MAX_DEPTH - 2, 100).map(lambda n: b"\xa1\x01" * n + b"\x00")
    deep_tags = st.integers(MAX_DEPTH - 2, 100).map(lambda n: b"\xd2" * n + b"\x80")
    indefinite = st.sampled_from(
        [b"\x5f\x41\x00\xff", b"\x7f\x61a\xff", b"\x9f\x01\xff", b"\xbf\x01\x01\xff", b"\xff"]
    )
    duplicates = st.sampled_from(
        [b"\xa2\x01\x01\x01\x02", b"\xa2\x61v\x01\x61v\x01", b"\xa2\x01\x00\xf9\x3c\x00\x00"]
    )
    huge = st.sampled_from(
        [
            b"\x5b" + b"\xff" * 8,
            b"\x7a\x7f\xff\xff\xff",
            b"\x9b" + b"\x7f" + b"\xff" * 7,
            b"\xbb" + b"\x00\x00\x00\x01" + b"\x00" * 4,
            b"\x59\xff\xff",
            b"\xda\xff\xff\xff\xff",
        ]
    )
    return st.one_of(deep, deep_maps, deep_tags, indefinite, duplicates, huge)


def _decoders() -> list[Any]:
    from verifier.formats import (
        StatusList,
        decode_bundle_payload,
        decode_claims_map,
        decode_permit_claims,
        decode_plate_index_payload,
        decode_sign1,
        decode_status_list_cwt,
    )

    return [
        pytest.param(cbor_loads, id="cbor"),
        pytest.param(decode_sign1, id="cose"),
        pytest.param(lambda d: decode_permit_claims(decode_claims_map(d)), id="claims"),
        pytest.param(decode_status_list_cwt, id="status-cwt"),
        pytest.param(lambda d: StatusList.from_lst(2, d), id="status-lst"),
        pytest.param(decode_bundle_payload, id="bundle"),
        pytest.param(decode_plate_index_payload, id="plate-index"),
    ]


@pytest.mark.parametrize("decode", _decoders())
@settings(max_examples=60, deadline=None)
@given(
    prefix=st.sampled_from([b"", b"\xd2\x84", b"\xa1\x01", b"\xa1\x61v", b"\x82\x40", b"\x78\xda"]),
    fragment=_hostile_fragment(),
    suffix=st.binary(max_size=8),
)
def test_hostile_cbor_never_escapes(
    decode: Any, prefix: bytes, fragment: bytes, suffix: bytes
) -> None:
    try:
        decode(prefix + fragment + suffix)
    except VerifierError as exc:
        assert isinstance(exc.reason, Reason)


@settings(max_examples=300, deadline=None)
@given(st.one_of(cbor_values.map(cbor2.dumps), st.binary(max_size=64)))
def test_per_thread_decoder_equals_a_fresh_one(data: bytes) -> None:
    from tests.support.verifier_internals import cbor_decode_per_thread as _decode

    try:
        expected = cbor2.loads(data)
    except Exception:
        with pytest.raises(Exception):  # noqa: B017 - whatever cbor2 raises on a fresh decoder
            _decode(data)
    else:
        # NaN is never equal to itself (nor a list holding one), so equal reprs count too
        for decoded in (_decode(data), _decode(data)):  # the second from the reused decoder
            assert decoded == expected or repr(decoded) == repr(expected)
