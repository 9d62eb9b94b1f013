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

from verifier._cbor import dumps, loads
from verifier._errors import DecodeError, Reason
from verifier._plates import is_canonical_plate, is_canonical_zone

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
    """The CWT claims set of a COSE payload, decoded bounded; ``BAD_CLAIMS`` unless a map."""
    claims = loads(payload, reason=Reason.BAD_CLAIMS, max_bytes=MAX_CLAIMS_BYTES, tags=None)
    if type(claims) is not dict:
        raise _bad("claims set is not a map")
    return claims


def peek_issuer(payload: Mapping[Any, Any]) -> str:
    """The ``iss`` claim (key 1) of a decoded claims set, unverified; ``BAD_CLAIMS`` if not text."""
    if type(payload) is not dict and not isinstance(payload, Mapping):
        raise _bad("claims set is not a map")
    return _text(payload.get(CLAIM_ISS), "iss")


def _window(value: object) -> Window:
    items = _array(value, "window", 3)
    if len(items) != 3:
        raise _bad("window is not [days, from, to]")
    days = _int(items[0], "window days", 1, ALL_DAYS)
    start = _int(items[1], "window from", 0, MINUTES_PER_DAY)
    end = _int(items[2], "window to", 0, MINUTES_PER_DAY)
    if start >= end:
        raise _bad("window from is not before to")
    return Window(days, start, end)


def decode_permit_claims(payload: Mapping[Any, Any]) -> PermitClaims:
    """Interpret a decoded claims set strictly as a permit (DESIGN §3.2); ``BAD_CLAIMS``."""
    issuer = peek_issuer(payload)
    iat = _int(payload.get(CLAIM_IAT), "iat", 0, MAX_TIME)
    exp = _int(payload.get(CLAIM_EXP), "exp", 0, MAX_TIME)
    nbf = None
    if CLAIM_NBF in payload:
        nbf = _int(payload[CLAIM_NBF], "nbf", 0, MAX_TIME)
    if exp <= iat or (nbf is not None and exp <= nbf):
        raise _bad("exp is not after iat and nbf")
    permit = payload.get(CLAIM_PERMIT)
    if type(permit) is not dict and not isinstance(permit, Mapping):
        raise _bad("no permit map")
    if not _PERMIT_KEYS.issuperset(permit):
        raise _bad("unknown key in the permit map")
    for key in permit:
        if type(key) is not int:  # True == 1 would pass the subset test
            raise _bad("unknown key in the permit map")
    kind = permit.get(P_TYPE)
    kind = _TYPES.get(kind) if type(kind) is str else None
    if kind is None:
        raise _bad("unknown permit type")
    zones = tuple(_array(permit.get(P_ZONES), "zones", MAX_ZONES))
    if not all(map(is_canonical_zone, zones)):
        raise _bad("zone is not a canonical zone code")
    plates = tuple(_array(permit.get(P_PLATES), "plates", MAX_PLATES))
    if not all(map(is_canonical_plate, plates)):
        raise _bad("plate is not a canonical plate")
    fleet = None
    if P_FLEET in permit:
        fleet = _text(permit[P_FLEET], "fleet")
    if not zones:
        raise _bad("no zone")
    if not plates and fleet is None:
        raise _bad("no plate and no fleet")
    if len(set(zones)) != len(zones) or len(set(plates)) != len(plates):
        raise _bad("repeated zone or plate")
    max_stay = None
    if P_MAX_STAY in permit:
        max_stay = _int(permit[P_MAX_STAY], "max_stay", 1, MAX_UINT)
    windows = None
    if P_WINDOWS in permit:
        windows = tuple(map(_window, _array(permit[P_WINDOWS], "windows", MAX_WINDOWS)))
        if not windows:
            raise _bad("empty windows array")
    return PermitClaims(
        issuer=issuer,
        iat=iat,
        exp=exp,
        nbf=nbf,
        type=kind,
        zones=zones,
        plates=plates,
        number=_int(permit.get(P_NUMBER), "number", 0, MAX_UINT),
        status_list=_int(permit.get(P_LIST), "list", 0, MAX_UINT),
        status_idx=_int(permit.get(P_IDX), "idx", 0, MAX_UINT),
        fleet=fleet,
        max_stay=max_stay,
        windows=windows,
    )


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
