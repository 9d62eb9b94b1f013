"""Canonical plates and zone codes (docs/formats.md, docs/verifier.md)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier import DecodeError, Reason, canonical_plate, canonical_zone
from verifier.formats import is_canonical_plate, is_canonical_zone


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ge ab 1234", "GE-AB 1234"),
        ("GE-AB 1234", "GE-AB 1234"),
        ("  Ge - Ab1234 ", "GE-AB 1234"),
        ("re-x7e", "RE-X 7E"),
        ("RE X 7 E".replace(" E", "E"), "RE-X 7E"),
        ("b-a 1h", "B-A 1H"),
        ("nl:ab-123-c", "NL:AB123C"),
        ("NL: AB 123 C", "NL:AB123C"),
        ("pl:wa 12345", "PL:WA12345"),
    ],
)
def test_canonical_plates(text: str, expected: str) -> None:
    assert canonical_plate(text) == expected
    assert canonical_plate(expected) == expected  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "",
        "GEAB1234",  # no separator between district and letters
        "GE-AB 12345",  # five digits
        "GE-AB 0123",  # leading zero
        "ABCD-E 1",  # four district letters
        "GE-ABC 1",  # three letters
        "ABC-DE 1234",  # nine characters
        "GE-AB 1234X",
        "GE--AB 1",
        "DE:GEAB1234",
        "N:AB1",
        "NL:",
        "NL:AB_1",
        "NL:" + "A" * 13,
        "G\u00c4-AB 1",
        "x" * 40,
    ],
)
def test_bad_plates(text: str) -> None:
    with pytest.raises(DecodeError) as info:
        canonical_plate(text)
    assert info.value.reason is Reason.BAD_PLATE


def test_zones() -> None:
    assert canonical_zone(" a3 ") == "A3"
    assert canonical_zone("Zone-1") == "ZONE-1"
    for bad in ("", " ", "A 3", "-A", "A" * 17, "\u00c4"):
        with pytest.raises(DecodeError) as info:
            canonical_zone(bad)
        assert info.value.reason is Reason.BAD_CLAIMS


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_random_text_is_canonical_or_refused(text: str) -> None:
    try:
        plate = canonical_plate(text)
    except DecodeError as exc:
        assert exc.reason is Reason.BAD_PLATE
    else:
        assert canonical_plate(plate) == plate


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=16),
        st.from_regex(r"[A-Z]{1,4}-[A-Z]{1,3} [0-9]{1,5}[EHX]?", fullmatch=True),
        st.from_regex(r"[A-Z]{2}:[A-Z0-9]{0,14}", fullmatch=True),
    )
)
def test_is_canonical_plate_agrees_with_canonical_plate(text: str) -> None:
    try:
        canonical = canonical_plate(text) == text
    except DecodeError:
        canonical = False
    assert is_canonical_plate(text) is canonical


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="AZ09az-_. :\u00c4", max_size=18))
def test_is_canonical_zone_agrees_with_canonical_zone(text: str) -> None:
    try:
        canonical = canonical_zone(text) == text
    except DecodeError:
        canonical = False
    assert is_canonical_zone(text) is canonical
