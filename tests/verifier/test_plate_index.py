"""Plate index (docs/formats.md): plate keys, round trip, strict decoding, hostile input."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier import DecodeError, Reason
from verifier.formats import (
    PlateEntry,
    PlateIndex,
    decode_plate_index_payload,
    encode_plate_index_payload,
    plate_key,
)

SALT = bytes(range(16))
T0 = 1_767_225_600
ENTRY = PlateEntry(4711, 1, 90_210, T0, T0 + 86_400 * 365, ("A3",), "BEW")
VISITOR = PlateEntry(4712, 1, 5, T0, T0 + 86_400, ("A3", "B1"), "BES")
INDEX = PlateIndex(
    iss="05513000",
    iat=T0,
    exp=T0 + 86_400,
    salt=SALT,
    entries={
        plate_key(SALT, "GE-AB 1234"): (ENTRY, VISITOR),
        plate_key(SALT, "NL:AB123C"): (VISITOR,),
    },
)


def test_plate_key() -> None:
    expected = hmac.new(SALT, b"GE-AB 1234", hashlib.sha256).digest()[:12]
    assert plate_key(SALT, "GE-AB 1234") == expected
    assert plate_key(bytes(16), "GE-AB 1234") != expected


def test_round_trip_and_lookup() -> None:
    payload = encode_plate_index_payload(INDEX)
    decoded = decode_plate_index_payload(payload)
    assert decoded == INDEX
    assert decoded.lookup("GE-AB 1234") == (ENTRY, VISITOR)
    assert decoded.lookup("GE-AB 1235") == ()
    raw = cbor2.loads(payload)
    assert raw["entries"][plate_key(SALT, "NL:AB123C")] == [
        [4712, 1, 5, T0, T0 + 86_400, ["A3", "B1"], "BES"]
    ]


def _mutate(edit: Any) -> bytes:
    m = cbor2.loads(encode_plate_index_payload(INDEX))
    edit(m)
    return cbor2.dumps(m)


def _first(m: dict[str, Any]) -> list[Any]:
    entry: list[Any] = m["entries"][plate_key(SALT, "GE-AB 1234")][0]
    return entry


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m.update(v=2),
        lambda m: m.pop("salt"),
        lambda m: m.update(extra=0),
        lambda m: m.update(salt=bytes(15)),
        lambda m: m.update(iss=5513000),
        lambda m: m.update(exp=m["iat"]),
        lambda m: m["entries"].update({b"short": [_first(m)]}),
        lambda m: m["entries"].update({plate_key(SALT, "B-A 1"): []}),
        lambda m: _first(m).pop(),
        lambda m: _first(m).__setitem__(5, []),
        lambda m: _first(m).__setitem__(5, ["a3"]),
        lambda m: _first(m).__setitem__(6, "XYZ"),
        lambda m: _first(m).__setitem__(0, -1),
        lambda m: _first(m).__setitem__(3, 1.5),
        lambda m: _first(m).__setitem__(4, _first(m)[3]),
    ],
)
def test_strict_decoding(edit: Any) -> None:
    with pytest.raises(DecodeError) as info:
        decode_plate_index_payload(_mutate(edit))
    assert info.value.reason is Reason.BAD_PLATE_INDEX


def test_encoder_refuses_invalid_index() -> None:
    with pytest.raises(ValueError):
        encode_plate_index_payload(dataclasses.replace(INDEX, salt=b"x"))


_PAYLOAD = encode_plate_index_payload(INDEX)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_payloads_fail_with_reason(data: st.DataObject) -> None:
    payload = bytearray(_PAYLOAD)
    index = data.draw(st.integers(0, len(payload) - 1))
    payload[index] ^= data.draw(st.integers(1, 255))
    try:
        decode_plate_index_payload(bytes(payload))
    except DecodeError as exc:
        assert exc.reason is Reason.BAD_PLATE_INDEX


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_fail_with_reason(data: bytes) -> None:
    with pytest.raises(DecodeError) as info:
        decode_plate_index_payload(data)
    assert info.value.reason is Reason.BAD_PLATE_INDEX


@settings(max_examples=50, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["GE-AB 1234", "RE-X 7E", "NL:AB123C", "B-A 1"]),
        st.lists(st.integers(0, 2**20), min_size=1, max_size=3),
        max_size=4,
    )
)
def test_round_trip_property(plates: dict[str, list[int]]) -> None:
    entries = {
        plate_key(SALT, plate): tuple(dataclasses.replace(ENTRY, status_idx=i) for i in idxs)
        for plate, idxs in plates.items()
    }
    index = dataclasses.replace(INDEX, entries=entries)
    assert decode_plate_index_payload(encode_plate_index_payload(index)) == index
