"""Plate index for digital-only permits (docs/formats.md): salted plate keys → entries.

Payload ``{"v": 1, "iss", "iat", "exp", "salt": 16 bytes, "entries": {key: [[number, list,
idx, nbf, exp, [zones], type], ...]}}`` with ``key = HMAC-SHA256(salt, canonical plate)[:12]``.
The COSE_Sign1 around it (content type ``TYP_PLATE_INDEX``) is built with
:func:`encode_sign1`; the trust store checks that ``iss`` is the signing issuer.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from verifier._cbor import dumps, loads
from verifier._claims import PermitType
from verifier._errors import DecodeError, Reason
from verifier._plates import canonical_zone

PLATE_INDEX_VERSION = 1
SALT_BYTES = 16
PLATE_KEY_BYTES = 12
MAX_PLATE_INDEX_BYTES = 64 * 1024 * 1024
"""Largest plate index payload accepted."""
MAX_INDEXED_PLATES = 1_000_000
MAX_ENTRIES_PER_PLATE = 16
MAX_ZONES = 32
MAX_TEXT_CHARS = 64
MAX_TIME = 2**63 - 1
_TOP_KEYS = frozenset({"v", "iss", "iat", "exp", "salt", "entries"})


def plate_key(salt: bytes, canonical_plate: str) -> bytes:
    """``HMAC-SHA256(key=salt, msg=UTF-8 plate)[:12]``."""
    return hmac.new(salt, canonical_plate.encode("utf-8"), hashlib.sha256).digest()[
        :PLATE_KEY_BYTES
    ]


def plate_keyer(salt: bytes) -> Callable[[str], bytes]:
    """``plate_key`` with the salt's HMAC state computed once (for building large indexes)."""
    base = hmac.new(salt, digestmod=hashlib.sha256)

    def key(canonical_plate: str) -> bytes:
        mac = base.copy()
        mac.update(canonical_plate.encode("utf-8"))
        return mac.digest()[:PLATE_KEY_BYTES]

    return key


@dataclass(frozen=True, slots=True)
class PlateEntry:
    """One permit for a plate: ``[number, list, idx, nbf, exp, [zones], type]``."""

    number: int
    status_list: int
    status_idx: int
    nbf: int
    exp: int
    zones: tuple[str, ...]
    type: str


@dataclass(frozen=True, slots=True)
class PlateIndex:
    """The decoded plate index payload."""

    iss: str
    iat: int
    exp: int
    salt: bytes
    entries: Mapping[bytes, tuple[PlateEntry, ...]]
    v: int = PLATE_INDEX_VERSION
    _key: Callable[[str], bytes] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the salt's HMAC state once per index, not once per lookup (a scan car looks up
        # plates continuously)
        object.__setattr__(self, "_key", plate_keyer(self.salt))

    def lookup(self, canonical_plate: str) -> tuple[PlateEntry, ...]:
        """The entries for a canonical plate (empty when the plate is not indexed)."""
        found: tuple[PlateEntry, ...] = self.entries.get(self._key(canonical_plate), ())
        return found


def _bad(detail: str) -> DecodeError:
    return DecodeError(Reason.BAD_PLATE_INDEX, detail)


def _int(value: object, name: str, high: int = MAX_TIME) -> int:
    if type(value) is not int or not 0 <= value <= high:
        raise _bad(f"{name} is not an unsigned integer in range")
    return value


def _entry(value: object) -> PlateEntry:
    if type(value) is not list or len(value) != 7:
        raise _bad("entry is not an array of 7")
    number, status_list, status_idx, nbf, exp, zones, kind = value
    if type(zones) is not list or not 0 < len(zones) <= MAX_ZONES:
        raise _bad("zones is not a non-empty bounded array")
    for zone in zones:
        if type(zone) is not str or canonical_zone(zone, reason=Reason.BAD_PLATE_INDEX) != zone:
            raise _bad("zone is not canonical")
    if type(kind) is not str or kind not in PermitType.__members__:
        raise _bad("unknown permit type")
    entry = PlateEntry(
        number=_int(number, "number", 2**64 - 1),
        status_list=_int(status_list, "list", 2**64 - 1),
        status_idx=_int(status_idx, "idx", 2**64 - 1),
        nbf=_int(nbf, "nbf"),
        exp=_int(exp, "exp"),
        zones=tuple(zones),
        type=PermitType(kind),
    )
    if entry.exp <= entry.nbf:
        raise _bad("entry exp is not after nbf")
    return entry


def decode_plate_index_payload(payload: bytes) -> PlateIndex:
    """Decode a plate index payload strictly and bounded; ``DecodeError(BAD_PLATE_INDEX)``."""
    m = loads(payload, reason=Reason.BAD_PLATE_INDEX, max_bytes=MAX_PLATE_INDEX_BYTES)
    if type(m) is not dict or set(m) != _TOP_KEYS:
        raise _bad("not a map with exactly the keys of the design")
    if type(m["v"]) is not int or m["v"] != PLATE_INDEX_VERSION:
        raise _bad("unsupported plate index version")
    iss = m["iss"]
    if type(iss) is not str or not 0 < len(iss) <= MAX_TEXT_CHARS:
        raise _bad("iss is not a short text")
    iat, exp = _int(m["iat"], "iat"), _int(m["exp"], "exp")
    if exp <= iat:
        raise _bad("exp is not after iat")
    salt = m["salt"]
    if type(salt) is not bytes or len(salt) != SALT_BYTES:
        raise _bad("salt is not 16 bytes")
    raw_entries = m["entries"]
    if type(raw_entries) is not dict or len(raw_entries) > MAX_INDEXED_PLATES:
        raise _bad("entries is not a bounded map")
    entries: dict[bytes, tuple[PlateEntry, ...]] = {}
    for key, value in raw_entries.items():
        if type(key) is not bytes or len(key) != PLATE_KEY_BYTES:
            raise _bad("plate key is not 12 bytes")
        if type(value) is not list or not 0 < len(value) <= MAX_ENTRIES_PER_PLATE:
            raise _bad("plate entries are not a non-empty bounded array")
        entries[key] = tuple(map(_entry, value))
    return PlateIndex(iss=iss, iat=iat, exp=exp, salt=salt, entries=entries)


def _entry_list(e: PlateEntry) -> list[Any]:
    return [e.number, e.status_list, e.status_idx, e.nbf, e.exp, list(e.zones), str(e.type)]


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes((major | n,))
    if n < 0x100:
        return bytes((major | 24, n))
    if n < 0x10000:
        return bytes((major | 25,)) + struct.pack(">H", n)
    if n < 0x100000000:
        return bytes((major | 26,)) + struct.pack(">I", n)
    return bytes((major | 27,)) + struct.pack(">Q", n)


def _int_item(n: int) -> bytes:
    if type(n) is not int or not -(2**64) <= n < 2**64:
        raise ValueError("plate index integer out of range")
    return _head(0x00, n) if n >= 0 else _head(0x20, -1 - n)


def _tail(zones: tuple[str, ...], kind: str) -> bytes:
    """The encoded ``[zones], type`` end of an entry (cached per distinct pair by the caller);
    ``ValueError`` unless the decoder would accept them."""
    zone_list = list(zones)
    if not 0 < len(zone_list) <= MAX_ZONES:
        raise ValueError("plate index is not valid: zones is not a non-empty bounded array")
    for zone in zone_list:
        try:
            ok = type(zone) is str and canonical_zone(zone, reason=Reason.BAD_PLATE_INDEX) == zone
        except DecodeError:
            ok = False
        if not ok:
            raise ValueError("plate index is not valid: zone is not canonical")
    if type(kind) not in (str, PermitType) or str(kind) not in PermitType.__members__:
        raise ValueError("plate index is not valid: unknown permit type")
    return dumps([zone_list, str(kind)])[1:]  # a 2-array without its head byte


def _check_entry(e: PlateEntry) -> None:
    """What `_entry` checks of the integers, on the values before encoding."""
    for value, high in (
        (e.number, 2**64 - 1),
        (e.status_list, 2**64 - 1),
        (e.status_idx, 2**64 - 1),
        (e.nbf, MAX_TIME),
        (e.exp, MAX_TIME),
    ):
        if type(value) is not int or not 0 <= value <= high:
            raise ValueError("plate index is not valid: integer out of range")
    if e.exp <= e.nbf:
        raise ValueError("plate index is not valid: entry exp is not after nbf")


def _check_top(p: PlateIndex) -> None:
    """What `decode_plate_index_payload` checks of everything but the entries."""
    if type(p.v) is not int or p.v != PLATE_INDEX_VERSION:
        raise ValueError("plate index is not valid: unsupported plate index version")
    if type(p.iss) is not str or not 0 < len(p.iss) <= MAX_TEXT_CHARS:
        raise ValueError("plate index is not valid: iss is not a short text")
    for value in (p.iat, p.exp):
        if type(value) is not int or not 0 <= value <= MAX_TIME:
            raise ValueError("plate index is not valid: time out of range")
    if p.exp <= p.iat:
        raise ValueError("plate index is not valid: exp is not after iat")
    if type(p.salt) is not bytes or len(p.salt) != SALT_BYTES:
        raise ValueError("plate index is not valid: salt is not 16 bytes")
    if len(p.entries) > MAX_INDEXED_PLATES:
        raise ValueError("plate index is not valid: entries is not a bounded map")


def encode_plate_index_payload(p: PlateIndex, *, redecode: bool = True) -> bytes:
    """Deterministic CBOR of a plate index payload; ``ValueError`` if it would not decode.

    Written directly (the payload has one fixed shape) rather than through the generic
    encoder; tests check it is byte-identical to ``dumps`` of the same map. Every rule of the
    strict decoder is checked on the values while encoding; ``redecode`` (default) also runs
    the decoder over the result. The issuer's builder passes ``redecode=False`` (tests prove
    the checks refuse whatever the decoder refuses)."""
    _check_top(p)
    tails: dict[tuple[tuple[str, ...], str], bytes] = {}
    ints: dict[int, bytes] = {}  # many entries share times, lists and small numbers

    def enc(n: int) -> bytes:
        b = ints.get(n)
        if b is None or type(n) is not int:
            b = _int_item(n)
            if type(n) is int:
                ints[n] = b
        return b

    parts: list[bytes] = [
        b"\xa6",  # a map of 6; keys in deterministic (bytewise encoded) order
        b"\x61v", _int_item(p.v),
        b"\x63exp", _int_item(p.exp),
        b"\x63iat", _int_item(p.iat),
        b"\x63iss", dumps(p.iss),
        b"\x64salt", dumps(p.salt),
        b"\x67entries", _head(0xA0, len(p.entries)),
    ]  # fmt: skip
    for key in sorted(p.entries, key=lambda k: (len(k), k)):
        items = p.entries[key]
        if type(key) is not bytes or len(key) != PLATE_KEY_BYTES:
            raise ValueError("plate index is not valid: plate key is not 12 bytes")
        if not 0 < len(items) <= MAX_ENTRIES_PER_PLATE:
            raise ValueError("plate index is not valid: plate entries are not a bounded array")
        parts.append(b"\x4c" + key)
        parts.append(_head(0x80, len(items)))
        for e in items:
            _check_entry(e)
            tail_key = (e.zones, e.type)
            tail = tails.get(tail_key)
            if tail is None:
                tail = tails[tail_key] = _tail(e.zones, e.type)
            parts.append(
                b"".join(
                    (
                        b"\x87",
                        enc(e.number),
                        enc(e.status_list),
                        enc(e.status_idx),
                        enc(e.nbf),
                        enc(e.exp),
                        tail,
                    )
                )
            )
    payload = b"".join(parts)
    if len(payload) > MAX_PLATE_INDEX_BYTES:
        raise ValueError("plate index is not valid: payload too large")
    if not redecode:
        return payload
    try:
        decode_plate_index_payload(payload)
    except DecodeError as exc:
        raise ValueError(f"plate index is not valid: {exc.detail}") from None
    return payload
