"""Base45 (RFC 9285): the RFC examples, strictness and hostile input."""

from __future__ import annotations

import base45 as reference
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.verifier_internals import ALPHABET, MAX_BASE45_CHARS
from verifier import DecodeError, Reason
from verifier.formats import b45decode, b45encode

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


def test_every_triplet_against_the_definition() -> None:
    # all 45³ triplets in one text: the valid ones decode to c·2025 + b·45 + a (RFC 9285 §4),
    # and each invalid one is refused wherever it stands among valid ones
    valid = []
    for c in range(45):
        for b in range(45):
            for a in range(45):
                value = a + 45 * b + 2025 * c
                triplet = ALPHABET[a] + ALPHABET[b] + ALPHABET[c]
                if value <= 0xFFFF:
                    valid.append((triplet, value))
                else:
                    for text in (triplet, "000" + triplet, triplet + "000", triplet + "00"):
                        if value >= 0x10000 + 2025 * 44 and text != triplet:
                            continue  # a sample of positions for the largest values is enough
                        with pytest.raises(DecodeError) as info:
                            b45decode(text)
                        assert info.value.reason is Reason.BAD_BASE45
    for start in range(0, len(valid), 20_000):  # MAX_BASE45_CHARS is 65,536
        chunk = valid[start : start + 20_000]
        text = "".join(t for t, _ in chunk)
        expected = b"".join(v.to_bytes(2, "big") for _, v in chunk)
        assert b45decode(text) == expected
        assert b45decode(text + "U5") == expected + b"\xff"


@pytest.mark.parametrize("position", [0, 1, 7, 40])
def test_invalid_triplet_or_pair_anywhere_is_refused(position: int) -> None:
    triplets = ["000"] * 41
    triplets[position] = "GGW"  # 0xFFFF + 1
    for tail in ("", "00"):
        with pytest.raises(DecodeError) as info:
            b45decode("".join(triplets) + tail)
        assert info.value.reason is Reason.BAD_BASE45
    with pytest.raises(DecodeError) as info:
        b45decode("000" * position + "V5")  # final pair 0x100
    assert info.value.reason is Reason.BAD_BASE45
