"""Plate index for digital-only permits (DESIGN §3.5): salted plate keys → permit entries.

Payload ``{"v": 1, "iss", "iat", "exp", "salt": 16 bytes, "entries": {key: [[number, list,
idx, nbf, exp, [zones], type], ...]}}`` with ``key = HMAC-SHA256(salt, canonical plate)[:12]``.
The COSE_Sign1 around it (content type ``TYP_PLATE_INDEX``) is built with
:func:`verifier.encode_sign1`; the trust store checks that ``iss`` is the signing issuer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes, hmac

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
    """``HMAC-SHA256(key=salt, msg=UTF-8 plate)[:12]`` (DESIGN §3.5)."""
    mac = hmac.HMAC(salt, hashes.SHA256())
    mac.update(canonical_plate.encode("utf-8"))
    return mac.finalize()[:PLATE_KEY_BYTES]


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

    def lookup(self, canonical_plate: str) -> tuple[PlateEntry, ...]:
        """The entries for a canonical plate (empty when the plate is not indexed)."""
        return self.entries.get(plate_key(self.salt, canonical_plate), ())


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


def encode_plate_index_payload(p: PlateIndex) -> bytes:
    """Deterministic CBOR of a plate index payload; ``ValueError`` if it would not decode."""
    payload = dumps(
        {
            "v": p.v,
            "iss": p.iss,
            "iat": p.iat,
            "exp": p.exp,
            "salt": p.salt,
            "entries": {k: [_entry_list(e) for e in v] for k, v in p.entries.items()},
        }
    )
    try:
        decode_plate_index_payload(payload)
    except DecodeError as exc:
        raise ValueError(f"plate index is not valid: {exc.detail}") from None
    return payload
