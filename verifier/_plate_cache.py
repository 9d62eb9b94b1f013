"""A compact local form of a verified plate index, written by ``sync``, read on every start.

Decoding a signed plate index strictly (docs/formats.md) costs about a second for 100,000
plates, which is why a handheld would otherwise skip the index. ``sync`` decodes it strictly
once, then writes this file beside it; ``load`` verifies the signed index's signature as
before (it is the only trusted source) and takes the decoded form from here instead of
decoding the CBOR again. The file is bound to the exact signed bytes by their SHA-256: a
file for other bytes, or one that is damaged in any way, is ignored and the strict decode
runs instead. The wire format is unchanged; this file never leaves the device.

Layout (all integers little-endian)::

    magic  b"BIDPIX1\\n"                          8 bytes
    sha256 of the signed index                   32 bytes
    sha256 of everything after this field        32 bytes (a damaged file is ignored)
    iat, exp                                     2 x int64
    salt                                         16 bytes
    iss length, iss (UTF-8)                      uint16 + bytes
    tails: count, then per tail a length and     uint16, (uint16 + bytes) each
           the JSON ``[[zones], type]``
    plates n, entries m                          2 x uint32
    plate keys, in ascending order               n x 12 bytes
    first entry of each plate, and m             (n + 1) x uint32
    entries: number, list, idx, nbf, exp, tail   m x (5 x uint64 + uint16)

Lookups hash the plate with the salt, find its slot in a dict built once from the key block
(about 20 ms for 100,000 plates) and unpack only that plate's entries.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import struct
from collections.abc import Iterator, Mapping
from typing import Any

from verifier._claims import PermitType
from verifier._errors import DecodeError, Reason
from verifier._plate_index import (
    MAX_ENTRIES_PER_PLATE,
    MAX_INDEXED_PLATES,
    MAX_TEXT_CHARS,
    PLATE_KEY_BYTES,
    SALT_BYTES,
    PlateEntry,
    PlateIndex,
)
from verifier._plates import is_canonical_zone

MAGIC = b"BIDPIX1\n"
_BIND = struct.Struct("<8s32s32s")
_HEAD = struct.Struct("<qq16sH")
_U16 = struct.Struct("<H")
_COUNTS = struct.Struct("<II")
_ENTRY = struct.Struct("<QQQQQH")
MAX_TAILS = 65535


def digest(signed: bytes) -> bytes:
    """The SHA-256 that binds a cache file to one signed plate index."""
    return hashlib.sha256(signed).digest()


def encode(index: PlateIndex, signed_digest: bytes) -> bytes:
    """The cache file for a strictly decoded index (``PlateIndex``) and its signed bytes' digest."""
    tails: dict[tuple[tuple[str, ...], str], int] = {}
    keys = sorted(index.entries)
    starts: list[int] = []
    rows: list[bytes] = []
    for key in keys:
        starts.append(len(rows))
        for e in index.entries[key]:
            tail = (tuple(e.zones), str(e.type))
            tail_id = tails.setdefault(tail, len(tails))
            rows.append(_ENTRY.pack(e.number, e.status_list, e.status_idx, e.nbf, e.exp, tail_id))
    starts.append(len(rows))
    if len(tails) > MAX_TAILS:
        raise ValueError("too many distinct zone/type pairs for the cache")
    iss = index.iss.encode("utf-8")
    parts = [_HEAD.pack(index.iat, index.exp, index.salt, len(iss)), iss]
    parts.append(_U16.pack(len(tails)))
    for zones, kind in tails:
        text = json.dumps([list(zones), kind], separators=(",", ":")).encode("utf-8")
        parts += [_U16.pack(len(text)), text]
    parts.append(_COUNTS.pack(len(keys), len(rows)))
    parts.append(b"".join(keys))
    parts.append(struct.pack(f"<{len(starts)}I", *starts))
    parts.append(b"".join(rows))
    body = b"".join(parts)
    return _BIND.pack(MAGIC, signed_digest, hashlib.sha256(body).digest()) + body


def _bad(detail: str) -> DecodeError:
    return DecodeError(Reason.BAD_PLATE_INDEX, f"plate index cache: {detail}")


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise _bad("truncated")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def unpack(self, fmt: struct.Struct) -> tuple[Any, ...]:
        return fmt.unpack(self.take(fmt.size))


def _tail(text: bytes) -> tuple[tuple[str, ...], str]:
    try:
        value = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad("tail is not JSON") from exc
    if type(value) is not list or len(value) != 2 or type(value[0]) is not list:
        raise _bad("tail is not [zones, type]")
    zones, kind = value
    if not zones or not all(is_canonical_zone(z) for z in zones):
        raise _bad("zones are not canonical")
    if type(kind) is not str or kind not in PermitType.__members__:
        raise _bad("unknown permit type")
    return tuple(zones), kind


class CachedEntries(Mapping[bytes, tuple[PlateEntry, ...]]):
    """Plate key → entries, unpacked on first use of each plate."""

    __slots__ = ("_decoded", "_keys", "_rows", "_slots", "_starts", "_tails")

    def __init__(
        self,
        keys: bytes,
        starts: tuple[int, ...],
        rows: bytes,
        tails: tuple[tuple[tuple[str, ...], str], ...],
    ) -> None:
        n = len(starts) - 1
        self._keys = keys
        self._slots = {keys[i : i + PLATE_KEY_BYTES]: i // PLATE_KEY_BYTES
                       for i in range(0, n * PLATE_KEY_BYTES, PLATE_KEY_BYTES)}  # fmt: skip
        if len(self._slots) != n:
            raise _bad("duplicate plate key")
        self._starts = starts
        self._rows = rows
        self._tails = tails
        self._decoded: dict[int, tuple[PlateEntry, ...]] = {}

    def _entries(self, slot: int) -> tuple[PlateEntry, ...]:
        found = self._decoded.get(slot)
        if found is not None:
            return found
        out = []
        unpack = _ENTRY.unpack_from
        for row in range(self._starts[slot], self._starts[slot + 1]):
            number, lst, idx, nbf, exp, tail = unpack(self._rows, row * _ENTRY.size)
            if tail >= len(self._tails) or not nbf < exp < 2**63:
                raise _bad("entry out of range")  # only a file altered after it was written
            zones, kind = self._tails[tail]
            out.append(PlateEntry(number, lst, idx, nbf, exp, zones, kind))
        entries = self._decoded[slot] = tuple(out)
        return entries

    def get(self, key: object, default: Any = None) -> Any:
        """The entries of a plate key, or ``default``."""
        slot = self._slots.get(key)  # type: ignore[call-overload]
        return default if slot is None else self._entries(slot)

    def __getitem__(self, key: bytes) -> tuple[PlateEntry, ...]:
        slot = self._slots.get(key)
        if slot is None:
            raise KeyError(key)
        return self._entries(slot)

    def __len__(self) -> int:
        return len(self._slots)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._slots)


def decode(data: bytes, signed_digest: bytes) -> PlateIndex:
    """The index from a cache file written for exactly these signed bytes; ``DecodeError``
    (``BAD_PLATE_INDEX``) for anything else, so the caller falls back to the strict decode."""
    r = _Reader(data)
    magic, bound, body_digest = r.unpack(_BIND)
    if magic != MAGIC:
        raise _bad("not a cache file")
    if not hmac.compare_digest(bound, signed_digest):
        raise _bad("written for other bytes")
    if not hmac.compare_digest(body_digest, hashlib.sha256(data[r.pos :]).digest()):
        raise _bad("damaged")
    iat, exp, salt, iss_len = r.unpack(_HEAD)
    if not 0 <= iat < exp or len(salt) != SALT_BYTES or not 0 < iss_len <= 4 * MAX_TEXT_CHARS:
        raise _bad("header out of range")
    try:
        iss = r.take(iss_len).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad("iss is not UTF-8") from exc
    (n_tails,) = r.unpack(_U16)
    tails = tuple(_tail(r.take(r.unpack(_U16)[0])) for _ in range(n_tails))
    n, m = r.unpack(_COUNTS)
    if n > MAX_INDEXED_PLATES or m > n * MAX_ENTRIES_PER_PLATE:
        raise _bad("counts out of range")
    keys = r.take(n * PLATE_KEY_BYTES)
    starts = struct.unpack(f"<{n + 1}I", r.take(4 * (n + 1)))
    rows = r.take(m * _ENTRY.size)
    if r.pos != len(data):
        raise _bad("trailing bytes")
    if starts[0] != 0 or starts[-1] != m:
        raise _bad("entry ranges out of range")
    # every plate has 1..MAX_ENTRIES_PER_PLATE entries, in order (one pass over n + 1 ints)
    if any(not 0 < b - a <= MAX_ENTRIES_PER_PLATE for a, b in itertools.pairwise(starts)):
        raise _bad("entry ranges out of range")
    return PlateIndex(
        iss=iss, iat=iat, exp=exp, salt=salt, entries=CachedEntries(keys, starts, rows, tails)
    )
