"""Permit claims: the CWT claims set (RFC 8392) with the private permit map at -65537.

DESIGN §3.2. Decoding is strict: integer times only (no floats, no booleans), every required
key present with its type, plates and zones already canonical, windows a non-empty array of
``[days, from, to]`` with days 1–127 and ``0 ≤ from < to ≤ 1440``. Unknown keys in the permit
map are refused (a new key is a new wire version); other CWT claims are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from verifier._cbor import dumps, loads_deterministic
from verifier._errors import DecodeError, Reason
from verifier._plates import all_canonical_plates, all_canonical_zones

MAX_CLAIMS_BYTES = 4096
"""Largest permit payload :func:`decode_claims_map` accepts (a QR holds far less)."""
MAX_ZONES = 32
MAX_PLATES = 16
MAX_WINDOWS = 16
MAX_TEXT_CHARS = 64
"""Longest issuer id and fleet name."""
MAX_UINT = 2**64 - 1
MAX_TIME = 2**63 - 1

# CWT claim keys (RFC 8392 §4) and the private permit claim
CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT = 1, 4, 5, 6
CLAIM_PERMIT = -65537
# permit map keys (DESIGN §3.2)
P_TYPE, P_ZONES, P_PLATES, P_NUMBER, P_LIST, P_IDX, P_FLEET, P_MAX_STAY, P_WINDOWS = range(1, 10)
_PERMIT_KEYS = frozenset(range(1, 10))
MINUTES_PER_DAY = 1440
ALL_DAYS = 127


class PermitType(StrEnum):
    """Permit types (DESIGN §3.2)."""

    BEW = "BEW"  # resident
    BES = "BES"  # visitor
    HAN = "HAN"  # tradesperson
    PFL = "PFL"  # care service
    SON = "SON"  # other


_TYPES: dict[str, PermitType] = {t.value: t for t in PermitType}


@dataclass(frozen=True, slots=True)
class Window:
    """``[days, from, to]``: days bit mask Monday = 1 … Sunday = 64, minutes, ``to`` exclusive."""

    days: int
    start_minute: int
    end_minute: int


@dataclass(frozen=True, slots=True)
class PermitClaims:
    """The decoded claims of a permit token."""

    issuer: str
    iat: int
    exp: int
    nbf: int | None
    type: str
    zones: tuple[str, ...]
    plates: tuple[str, ...]
    number: int
    status_list: int
    status_idx: int
    fleet: str | None = None
    max_stay: int | None = None
    windows: tuple[Window, ...] | None = None


def _bad(detail: str) -> DecodeError:
    return DecodeError(Reason.BAD_CLAIMS, detail)


def _int(value: object, name: str, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _bad(f"{name} is not an integer in range")
    return value


def _text(value: object, name: str) -> str:
    if type(value) is not str or not 0 < len(value) <= MAX_TEXT_CHARS:
        raise _bad(f"{name} is not a short text")
    return value


def _array(value: object, name: str, max_items: int) -> list[Any] | tuple[Any, ...]:
    if type(value) not in (list, tuple) or len(value) > max_items:  # type: ignore[arg-type]
        raise _bad(f"{name} is not a bounded array")
    return value  # type: ignore[return-value]


def decode_claims_map(payload: bytes) -> dict[Any, Any]:
    """The CWT claims set of a COSE payload, decoded bounded; ``BAD_CLAIMS`` unless a map.

    The signed payload is deterministic CBOR (DESIGN §3): integers (times included) in their
    shortest form, never as bignums, definite lengths only.
    """
    claims = loads_deterministic(payload, reason=Reason.BAD_CLAIMS, max_bytes=MAX_CLAIMS_BYTES)
    if type(claims) is not dict:
        raise _bad("claims set is not a map")
    return claims


def peek_issuer(payload: Mapping[Any, Any]) -> str:
    """The ``iss`` claim (key 1) of a decoded claims set, unverified; ``BAD_CLAIMS`` if not text."""
    if type(payload) is not dict and not isinstance(payload, Mapping):
        raise _bad("claims set is not a map")
    return _text(payload.get(CLAIM_ISS), "iss")


# Frozen slotted dataclasses run object.__setattr__ per field in __init__ (~0.3 µs each); the
# decoders below build their (already validated) values with these two instead.
_set = object.__setattr__
_new = object.__new__
_MISSING = object()


def _window(value: object) -> Window:
    if type(value) is not list and type(value) is not tuple:
        raise _bad("window is not [days, from, to]")
    if len(value) != 3:
        raise _bad("window is not [days, from, to]")
    days, start, end = value
    if type(days) is not int or type(start) is not int or type(end) is not int:
        raise _bad("window values are not integers")
    if not (0 < days <= ALL_DAYS and 0 <= start < end <= MINUTES_PER_DAY):
        raise _bad("window is not days 1-127, 0 <= from < to <= 1440")
    window = _new(Window)
    _set(window, "days", days)
    _set(window, "start_minute", start)
    _set(window, "end_minute", end)
    return window


def decode_permit_claims(payload: Mapping[Any, Any]) -> PermitClaims:
    """Interpret a decoded claims set strictly as a permit (DESIGN §3.2); ``BAD_CLAIMS``."""
    issuer = peek_issuer(payload)
    iat = payload.get(CLAIM_IAT)
    exp = payload.get(CLAIM_EXP)
    if type(iat) is not int or type(exp) is not int or not 0 <= iat < exp <= MAX_TIME:
        raise _bad("iat and exp are not integers with iat < exp")
    nbf = payload.get(CLAIM_NBF, _MISSING)
    if nbf is _MISSING:
        nbf = None
    elif type(nbf) is not int or not 0 <= nbf < exp:
        raise _bad("nbf is not an integer before exp")
    permit = payload.get(CLAIM_PERMIT)
    if type(permit) is not dict and not isinstance(permit, Mapping):
        raise _bad("no permit map")
    if not _PERMIT_KEYS.issuperset(permit):
        raise _bad("unknown key in the permit map")
    for key in permit:
        if type(key) is not int:  # True == 1 would pass the subset test
            raise _bad("unknown key in the permit map")
    get = permit.get
    kind = get(P_TYPE)
    kind = _TYPES.get(kind) if type(kind) is str else None
    if kind is None:
        raise _bad("unknown permit type")
    zones = tuple(_array(get(P_ZONES), "zones", MAX_ZONES))
    plates = tuple(_array(get(P_PLATES), "plates", MAX_PLATES))
    if not zones or not all_canonical_zones(zones) or len(set(zones)) != len(zones):
        raise _bad("zones are not distinct canonical zone codes")
    if not all_canonical_plates(plates) or len(set(plates)) != len(plates):
        raise _bad("plates are not distinct canonical plates")
    fleet = get(P_FLEET, _MISSING)
    if fleet is _MISSING:
        fleet = None
        if not plates:
            raise _bad("no plate and no fleet")
    else:
        fleet = _text(fleet, "fleet")
    max_stay = get(P_MAX_STAY, _MISSING)
    max_stay = None if max_stay is _MISSING else _int(max_stay, "max_stay", 1, MAX_UINT)
    windows = get(P_WINDOWS, _MISSING)
    if windows is _MISSING:
        windows = None
    else:
        windows = tuple(map(_window, _array(windows, "windows", MAX_WINDOWS)))
        if not windows:
            raise _bad("empty windows array")
    number = get(P_NUMBER)
    status_list = get(P_LIST)
    status_idx = get(P_IDX)
    if (
        type(number) is not int
        or type(status_list) is not int
        or type(status_idx) is not int
        or not 0 <= number <= MAX_UINT
        or not 0 <= status_list <= MAX_UINT
        or not 0 <= status_idx <= MAX_UINT
    ):
        raise _bad("number, list or idx is not an unsigned integer")
    claims = _new(PermitClaims)
    _set(claims, "issuer", issuer)
    _set(claims, "iat", iat)
    _set(claims, "exp", exp)
    _set(claims, "nbf", nbf)
    _set(claims, "type", kind)
    _set(claims, "zones", zones)
    _set(claims, "plates", plates)
    _set(claims, "number", number)
    _set(claims, "status_list", status_list)
    _set(claims, "status_idx", status_idx)
    _set(claims, "fleet", fleet)
    _set(claims, "max_stay", max_stay)
    _set(claims, "windows", windows)
    return claims


def permit_claims_map(c: PermitClaims) -> dict[int, Any]:
    """The claims set of ``c`` as a CBOR-ready map (keys of DESIGN §3.2)."""
    permit: dict[int, Any] = {
        P_TYPE: str(c.type),
        P_ZONES: list(c.zones),
        P_PLATES: list(c.plates),
        P_NUMBER: c.number,
        P_LIST: c.status_list,
        P_IDX: c.status_idx,
    }
    if c.fleet is not None:
        permit[P_FLEET] = c.fleet
    if c.max_stay is not None:
        permit[P_MAX_STAY] = c.max_stay
    if c.windows is not None:
        permit[P_WINDOWS] = [[w.days, w.start_minute, w.end_minute] for w in c.windows]
    claims: dict[int, Any] = {CLAIM_ISS: c.issuer, CLAIM_IAT: c.iat, CLAIM_EXP: c.exp}
    if c.nbf is not None:
        claims[CLAIM_NBF] = c.nbf
    claims[CLAIM_PERMIT] = permit
    return claims


def encode_permit_payload(c: PermitClaims) -> bytes:
    """Deterministic CBOR of the permit claims; ``ValueError`` if ``c`` would not decode."""
    claims = permit_claims_map(c)
    try:
        decode_permit_claims(claims)
    except DecodeError as exc:
        raise ValueError(f"permit claims are not valid: {exc.detail}") from None
    return dumps(claims)
