"""Base45 (RFC 9285), strict, with precomputed tables so the QR path does no per-call setup.

Decoding refuses anything RFC 9285 §4.2 calls invalid: a character outside the 45-character
alphabet, a triplet whose value exceeds 0xFFFF, a final pair whose value exceeds 0xFF and a
length ≡ 1 (mod 3). Every failure is ``DecodeError(Reason.BAD_BASE45)``.

Decoding is vectorised without numpy: the text is mapped to digit values with
``bytes.translate``, the three digit columns are spread into 32-bit lanes of three big
integers, and ``a + 45·b + 2025·c`` is one big-integer expression (no lane can carry into the
next: the maximum is 91,124 < 2³²). A lane above 0xFFFF shows as a non-zero second byte.
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
    out = bytearray(2 * m + (rest >> 1))
    if m:
        lanes = bytearray(4 * m)
        lanes[3::4] = vals[0:full:3]
        a = int.from_bytes(lanes, "big")
        lanes[3::4] = vals[1:full:3]
        b = int.from_bytes(lanes, "big")
        lanes[3::4] = vals[2:full:3]
        c = int.from_bytes(lanes, "big")
        summed = (a + 45 * b + 2025 * c).to_bytes(4 * m, "big")
        if summed[1::4].count(0) != m:
            raise _bad("triplet value above 0xFFFF")
        out[0 : 2 * m : 2] = summed[2::4]
        out[1 : 2 * m : 2] = summed[3::4]
    if rest:
        v = vals[full] + 45 * vals[full + 1]
        if v > 0xFF:
            raise _bad("final pair value above 0xFF")
        out[-1] = v
    return bytes(out)
