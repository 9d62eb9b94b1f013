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

from tests.support.verifier_examples import PLATE_ENTRY as ENTRY
from tests.support.verifier_examples import PLATE_INDEX as INDEX
from tests.support.verifier_examples import SALT, T0
from tests.support.verifier_examples import VISITOR_ENTRY as VISITOR
from verifier import DecodeError, Reason
from verifier.formats import (
    decode_plate_index_payload,
    encode_plate_index_payload,
    plate_key,
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
