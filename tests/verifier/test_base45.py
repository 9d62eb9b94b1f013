"""Base45 (RFC 9285): the RFC examples, strictness and hostile input."""

from __future__ import annotations

import base45 as reference
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier import DecodeError, Reason, b45decode, b45encode
from verifier._base45 import ALPHABET, MAX_BASE45_CHARS

RFC_EXAMPLES = [  # RFC 9285 §4.3 and §4.4
    (b"AB", "BB8"),
    (b"Hello!!", "%69 VD92EX0"),
    (b"base-45", "UJCLQE7W581"),
    (b"ietf!", "QED8WEX0"),
    (b"", ""),
]


@pytest.mark.parametrize(("raw", "text"), RFC_EXAMPLES)
def test_rfc_examples(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text
    assert b45decode(text) == raw


@pytest.mark.parametrize(
    "text",
    [
        "GGW",  # 65,536 + ... : triplet value above 0xFFFF
        ":::",  # the largest triplet, 91,124
        "ZZ",  # final pair 35 + 45*35 = 1,610 > 0xFF
        "::",
        "A",  # length ≡ 1 (mod 3)
        "BB8A",
        "bb8",  # lower case is outside the alphabet
        "BB\u00e4",
        "BB\n",
        "BB8\x00BB",
        b"BB8",  # not text
    ],
)
def test_invalid_text_is_refused(text: object) -> None:
    with pytest.raises(DecodeError) as info:
        b45decode(text)  # type: ignore[arg-type]
    assert info.value.reason is Reason.BAD_BASE45


def test_boundaries() -> None:
    assert b45decode("FGW") == b"\xff\xff"  # 0xFFFF is the largest triplet value
    assert b45decode("U5") == b"\xff"  # 0xFF is the largest final pair
    with pytest.raises(DecodeError):
        b45decode("0" * (MAX_BASE45_CHARS + 3))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_round_trip_and_reference(data: bytes) -> None:
    text = b45encode(data)
    assert text == reference.b45encode(data).decode("ascii")
    assert b45decode(text) == data


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET + "abc\u00e4\x00", max_size=60))
def test_hostile_text_decodes_or_fails_with_reason(text: str) -> None:
    try:
        raw = b45decode(text)
    except DecodeError as exc:
        assert exc.reason is Reason.BAD_BASE45
    else:
        assert b45encode(raw) == text  # strict: one text per byte string
