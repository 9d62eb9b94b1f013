"""Base45 (RFC 9285), strict, with precomputed tables so the QR path does no per-call setup.

Decoding refuses anything RFC 9285 §4.2 calls invalid: a character outside the 45-character
alphabet, a triplet whose value exceeds 0xFFFF, a final pair whose value exceeds 0xFF and a
length ≡ 1 (mod 3). Every failure is ``DecodeError(Reason.BAD_BASE45)``.

Decoding is vectorised without numpy: the text is mapped to digit values with
``bytes.translate`` and read as one big integer whose 24-bit lanes are the triplets
``(a, b, c)``; three masks pull out the digit columns and ``a + 45·b + 2025·c`` is one
big-integer expression (no lane can carry into the next: the maximum is 91,124 < 2²⁴). A lane
above 0xFFFF shows as a non-zero top byte, found with one more mask.
"""

from __future__ import annotations

import struct

from verifier._errors import DecodeError, Reason

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
MAX_BASE45_CHARS = 65_536
"""Longest text :func:`b45decode` accepts (a QR symbol holds at most 4,296 characters)."""

_INVALID = 0xFF
_DIGITS = bytearray([_INVALID] * 256)
for _i, _ch in enumerate(ALPHABET):
    _DIGITS[ord(_ch)] = _i
_TRANSLATE = bytes(_DIGITS)
# 16-bit value -> three characters, least significant digit first (RFC 9285 §4).
_ENC3: list[str] = [a + b + c for c in ALPHABET for b in ALPHABET for a in ALPHABET][:65_536]
_ENC2: list[str] = [ALPHABET[_v % 45] + ALPHABET[_v // 45] for _v in range(256)]
del _i, _ch


def b45encode(data: bytes) -> str:
    """Base45-encode ``data`` (RFC 9285 §4.1)."""
    n = len(data)
    even = n - (n & 1)
    out = "".join(map(_ENC3.__getitem__, struct.unpack(f">{even // 2}H", data[:even])))
    if n & 1:
        out += _ENC2[data[-1]]
    return out


# per number of triplets m: a mask with 0xFF in the low byte of every 24-bit lane, and one with
# 0xFF in the top byte (constants, built once per length; QR texts have at most 333 triplets)
_MASKS: dict[int, tuple[int, int]] = {}
_MAX_CACHED_MASKS = 400


def _masks(m: int) -> tuple[int, int]:
    masks = (int.from_bytes(b"\x00\x00\xff" * m, "big"), int.from_bytes(b"\xff\x00\x00" * m, "big"))
    if m <= _MAX_CACHED_MASKS:
        _MASKS[m] = masks
    return masks


def _bad(detail: str) -> DecodeError:
    return DecodeError(Reason.BAD_BASE45, detail)


def b45decode(text: str) -> bytes:
    """Decode strict Base45 text; ``DecodeError(BAD_BASE45)`` on anything RFC 9285 refuses."""
    if type(text) is not str:
        raise _bad("not text")
    n = len(text)
    if n > MAX_BASE45_CHARS:
        raise _bad("text too long")
    rest = n % 3
    if rest == 1:
        raise _bad("length is 1 modulo 3")
    try:
        vals = text.encode("ascii").translate(_TRANSLATE)
    except UnicodeEncodeError:
        raise _bad("character outside the alphabet") from None
    if _INVALID in vals:
        raise _bad("character outside the alphabet")
    full = n - rest
    m = full // 3
    if m:
        low, top = _MASKS.get(m) or _masks(m)
        x = int.from_bytes(vals if full == n else vals[:full], "big")
        summed = (x >> 16 & low) + 45 * (x >> 8 & low) + 2025 * (x & low)
        if summed & top:
            raise _bad("triplet value above 0xFFFF")
        lanes = summed.to_bytes(3 * m, "big")
        out = bytearray(2 * m + (rest >> 1))
        out[0 : 2 * m : 2] = lanes[1::3]
        out[1 : 2 * m : 2] = lanes[2::3]
    else:
        out = bytearray(rest >> 1)
    if rest:
        v = vals[full] + 45 * vals[full + 1]
        if v > 0xFF:
            raise _bad("final pair value above 0xFF")
        out[-1] = v
    return bytes(out)
