"""Permit claims: the CWT claims set (RFC 8392) with the private permit map at -65537.

DESIGN §3.2. Decoding is strict: integer times only (no floats, no booleans), every required
key present with its type, plates and zones already canonical, windows a non-empty array of
``[days, from, to]`` with days 1–127 and ``0 ≤ from < to ≤ 1440``. Unknown keys in the permit
map are refused (a new key is a new wire version); other CWT claims are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from verifier import _plates
from verifier._cbor import dumps, loads_deterministic
from verifier._errors import DecodeError, Reason

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


def _text(value: object, name: str) -> str:
    if type(value) is not str or not 0 < len(value) <= MAX_TEXT_CHARS:
        raise _bad(f"{name} is not a short text")
    return value


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
# decoders below build their (already validated) values through the slot descriptors' own
# setters instead (about a third of the cost of object.__setattr__).
_new = object.__new__
_MISSING = object()
_INT_ONLY = frozenset({int})
# the canonical forms of verifier._plates (zones, then plates) as one pattern; see below
_ZONES_THEN_PLATES = re.compile(
    f"(?:{_plates._CANONICAL_ZONES.pattern})\t(?:(?:{_plates._CANONICAL_PLATES.pattern})\t)?"
)
_LISTS = (list, tuple)


def _slot_setters(cls: type, *names: str) -> tuple[Any, ...]:
    return tuple(cls.__dict__[name].__set__ for name in names)


_W_DAYS, _W_START, _W_END = _slot_setters(Window, "days", "start_minute", "end_minute")
(
    _C_ISSUER,
    _C_IAT,
    _C_EXP,
    _C_NBF,
    _C_TYPE,
    _C_ZONES,
    _C_PLATES,
    _C_NUMBER,
    _C_LIST,
    _C_IDX,
    _C_FLEET,
    _C_MAX_STAY,
    _C_WINDOWS,
) = _slot_setters(
    PermitClaims,
    "issuer",
    "iat",
    "exp",
    "nbf",
    "type",
    "zones",
    "plates",
    "number",
    "status_list",
    "status_idx",
    "fleet",
    "max_stay",
    "windows",
)


def _window(value: Any) -> Window:
    if type(value) not in _LISTS or len(value) != 3:
        raise _bad("window is not [days, from, to]")
    days, start, end = value
    if type(days) is not int or type(start) is not int or type(end) is not int:
        raise _bad("window values are not integers")
    if not (0 < days <= ALL_DAYS and 0 <= start < end <= MINUTES_PER_DAY):
        raise _bad("window is not days 1-127, 0 <= from < to <= 1440")
    window = _new(Window)
    _W_DAYS(window, days)
    _W_START(window, start)
    _W_END(window, end)
    return window


def decode_permit_claims(payload: Mapping[Any, Any]) -> PermitClaims:
    """Interpret a decoded claims set strictly as a permit (DESIGN §3.2); ``BAD_CLAIMS``."""
    if type(payload) is not dict and not isinstance(payload, Mapping):
        raise _bad("claims set is not a map")
    get = payload.get
    issuer = get(CLAIM_ISS)
    if type(issuer) is not str or not 0 < len(issuer) <= MAX_TEXT_CHARS:
        raise _bad("iss is not a short text")
    iat = get(CLAIM_IAT)
    exp = get(CLAIM_EXP)
    if type(iat) is not int or type(exp) is not int or not 0 <= iat < exp <= MAX_TIME:
        raise _bad("iat and exp are not integers with iat < exp")
    nbf = get(CLAIM_NBF, _MISSING)
    if nbf is _MISSING:
        nbf = None
    elif type(nbf) is not int or not 0 <= nbf < exp:
        raise _bad("nbf is not an integer before exp")
    permit = get(CLAIM_PERMIT)
    if type(permit) is not dict and not isinstance(permit, Mapping):
        raise _bad("no permit map")
    # keys 1-9, and ints only: True == 1 and 1.0 == 1 would pass the subset test alone
    if not _PERMIT_KEYS.issuperset(permit) or not _INT_ONLY.issuperset(map(type, permit)):
        raise _bad("unknown key in the permit map")
    get = permit.get
    kind = get(P_TYPE)
    kind = _TYPES.get(kind) if type(kind) is str else None
    if kind is None:
        raise _bad("unknown permit type")
    zones: Any = get(P_ZONES)
    if type(zones) not in _LISTS or len(zones) > MAX_ZONES:
        raise _bad("zones is not a bounded array")
    plates: Any = get(P_PLATES)
    if type(plates) not in _LISTS or len(plates) > MAX_PLATES:
        raise _bad("plates is not a bounded array")
    zones = tuple(zones)
    plates = tuple(plates)
    # all zones and plates canonical, in one regex match (one entry into the regex engine):
    # zones joined by newlines, a tab, then (if any) plates joined by newlines and a tab; no
    # canonical form contains either separator, which the counts check
    try:
        joined = "\n".join(zones) + "\t" + ("\n".join(plates) + "\t" if plates else "")
    except TypeError:
        raise _bad("zones or plates are not texts") from None
    n_zones = len(zones)
    n_plates = len(plates)
    if (
        not n_zones
        or joined.count("\n") != n_zones - 1 + (n_plates - 1 if n_plates else 0)
        or joined.count("\t") != (2 if n_plates else 1)
        or _ZONES_THEN_PLATES.fullmatch(joined) is None
    ):
        raise _bad("zones or plates are not canonical")
    if (n_zones > 1 and len(set(zones)) != n_zones) or (
        n_plates > 1 and len(set(plates)) != n_plates
    ):
        raise _bad("zones or plates are not distinct")
    fleet = get(P_FLEET, _MISSING)
    if fleet is _MISSING:
        fleet = None
        if not plates:
            raise _bad("no plate and no fleet")
    elif type(fleet) is not str or not 0 < len(fleet) <= MAX_TEXT_CHARS:
        raise _bad("fleet is not a short text")
    max_stay = get(P_MAX_STAY, _MISSING)
    if max_stay is _MISSING:
        max_stay = None
    elif type(max_stay) is not int or not 1 <= max_stay <= MAX_UINT:
        raise _bad("max_stay is not an integer in range")
    windows = get(P_WINDOWS, _MISSING)
    if windows is _MISSING:
        windows = None
    else:
        if type(windows) not in _LISTS or len(windows) > MAX_WINDOWS:
            raise _bad("windows is not a bounded array")
        if not windows:
            raise _bad("empty windows array")
        windows = tuple(map(_window, windows))
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
    _C_ISSUER(claims, issuer)
    _C_IAT(claims, iat)
    _C_EXP(claims, exp)
    _C_NBF(claims, nbf)
    _C_TYPE(claims, kind)
    _C_ZONES(claims, zones)
    _C_PLATES(claims, plates)
    _C_NUMBER(claims, number)
    _C_LIST(claims, status_list)
    _C_IDX(claims, status_idx)
    _C_FLEET(claims, fleet)
    _C_MAX_STAY(claims, max_stay)
    _C_WINDOWS(claims, windows)
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
