"""Permit claims: the CWT claims set (RFC 8392) with the private permit map at -65537.

The claims set is ``{1: iss, 6: iat, 4: exp[, 5: nbf], -65537: permit}``; the permit map
has ``1`` type, ``2`` zones, ``3`` plates, ``4`` number, ``5`` status list, ``6`` index in
it, and optionally ``7`` fleet, ``8`` maximum stay (minutes), ``9`` windows (the permit QR
in docs/formats.md). Decoding is strict: integer times only (no floats, no booleans), every
required key present with its type, plates and zones already canonical, windows a non-empty
array of ``[days, from, to]`` with days 1–127 and ``0 ≤ from < to ≤ 1440``. Unknown keys in
the permit map are refused (a new key is a new wire version); other CWT claims are ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeGuard

from verifier._cbor import dumps_in_key_order, loads_deterministic
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
# permit map keys
P_TYPE, P_ZONES, P_PLATES, P_NUMBER, P_LIST, P_IDX, P_FLEET, P_MAX_STAY, P_WINDOWS = range(1, 10)
_PERMIT_KEYS = frozenset(range(1, 10))
MINUTES_PER_DAY = 1440
ALL_DAYS = 127


class PermitType(StrEnum):
    """Permit types (docs/formats.md, the permit claims)."""

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

    The signed payload is deterministic CBOR (RFC 8949 §4.2.1): integers (times included) in their
    shortest form, never as bignums, definite lengths only.
    """
    claims = loads_deterministic(payload, reason=Reason.BAD_CLAIMS, max_bytes=MAX_CLAIMS_BYTES)
    if type(claims) is not dict:
        raise _bad("claims set is not a map")
    return claims


def peek_issuer(payload: Mapping[Any, Any]) -> str:
    """The ``iss`` claim (key 1) of a decoded claims set, unverified; ``BAD_CLAIMS`` if not text."""
    if not isinstance(payload, Mapping):
        raise _bad("claims set is not a map")
    return _text(payload.get(CLAIM_ISS), "iss")


def _uint(value: object, high: int = MAX_UINT) -> TypeGuard[int]:
    """True for an integer (not a bool, not a float) in ``0..high``."""
    return type(value) is int and 0 <= value <= high


def _window(value: Any) -> Window:
    if not isinstance(value, list | tuple) or len(value) != 3:
        raise _bad("window is not [days, from, to]")
    days, start, end = value
    if type(days) is not int or type(start) is not int or type(end) is not int:
        raise _bad("window values are not integers")
    if not (0 < days <= ALL_DAYS and 0 <= start < end <= MINUTES_PER_DAY):
        raise _bad("window is not days 1-127, 0 <= from < to <= 1440")
    return Window(days, start, end)


def _array(value: Any, max_items: int, name: str) -> tuple[Any, ...]:
    if not isinstance(value, list | tuple) or len(value) > max_items:
        raise _bad(f"{name} is not a bounded array")
    return tuple(value)


def decode_permit_claims(payload: Mapping[Any, Any]) -> PermitClaims:
    """Interpret a decoded claims set strictly as a permit (docs/formats.md); ``BAD_CLAIMS``."""
    if not isinstance(payload, Mapping):
        raise _bad("claims set is not a map")
    issuer = _text(payload.get(CLAIM_ISS), "iss")
    iat = payload.get(CLAIM_IAT)
    exp = payload.get(CLAIM_EXP)
    if not (_uint(iat, MAX_TIME) and _uint(exp, MAX_TIME) and iat < exp):
        raise _bad("iat and exp are not integers with iat < exp")
    nbf = None
    if CLAIM_NBF in payload:
        nbf = payload[CLAIM_NBF]
        if not (_uint(nbf, MAX_TIME) and nbf < exp):
            raise _bad("nbf is not an integer before exp")
    permit = payload.get(CLAIM_PERMIT)
    if not isinstance(permit, Mapping):
        raise _bad("no permit map")
    # integer keys only: True == 1 and 1.0 == 1 would pass a membership test alone
    if not all(type(key) is int and key in _PERMIT_KEYS for key in permit):
        raise _bad("unknown key in the permit map")
    get = permit.get
    kind = get(P_TYPE)
    kind = _TYPES.get(kind) if type(kind) is str else None
    if kind is None:
        raise _bad("unknown permit type")

    zones = _array(get(P_ZONES), MAX_ZONES, "zones")
    plates = _array(get(P_PLATES), MAX_PLATES, "plates")
    if not zones:
        raise _bad("no zone")
    if not all(map(is_canonical_zone, zones)) or not all(map(is_canonical_plate, plates)):
        raise _bad("zones or plates are not canonical")
    if len(set(zones)) != len(zones) or len(set(plates)) != len(plates):
        raise _bad("zones or plates are not distinct")
    fleet = None
    if P_FLEET in permit:
        fleet = _text(permit[P_FLEET], "fleet")
    elif not plates:
        raise _bad("no plate and no fleet")
    max_stay = None
    if P_MAX_STAY in permit:
        max_stay = permit[P_MAX_STAY]
        if not (_uint(max_stay) and max_stay >= 1):
            raise _bad("max_stay is not an integer in range")
    windows = None
    if P_WINDOWS in permit:
        windows = tuple(map(_window, _array(permit[P_WINDOWS], MAX_WINDOWS, "windows")))
        if not windows:
            raise _bad("empty windows array")
    number = get(P_NUMBER)
    status_list = get(P_LIST)
    status_idx = get(P_IDX)
    if not (_uint(number) and _uint(status_list) and _uint(status_idx)):
        raise _bad("number, list or idx is not an unsigned integer")
    return PermitClaims(
        issuer=issuer,
        iat=iat,
        exp=exp,
        nbf=nbf,
        type=kind,
        zones=zones,
        plates=plates,
        number=number,
        status_list=status_list,
        status_idx=status_idx,
        fleet=fleet,
        max_stay=max_stay,
        windows=windows,
    )


def permit_claims_map(c: PermitClaims) -> dict[int, Any]:
    """The claims set of ``c`` as a CBOR-ready map (the keys of the module docstring), every
    map in bytewise key order (RFC 8949 §4.2.1): ``1, 4, 5, 6, -65537`` (``-65537`` is
    ``3a 00 01 00 00``, after every key below 24) and the permit map's keys ``1`` to ``9``
    ascending, so that writing it as it is gives the deterministic encoding."""
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
    claims: dict[int, Any] = {CLAIM_ISS: c.issuer, CLAIM_EXP: c.exp}
    if c.nbf is not None:
        claims[CLAIM_NBF] = c.nbf
    claims[CLAIM_IAT] = c.iat
    claims[CLAIM_PERMIT] = permit
    return claims


def encode_permit_payload(c: PermitClaims) -> bytes:
    """Deterministic CBOR of the permit claims; ``ValueError`` if ``c`` would not decode.

    The strict decoder checks the claims first, so every value is an integer, a text or a
    list of those (no float, no other type); with the maps built in key order, writing them
    as they are is the deterministic encoding."""
    claims = permit_claims_map(c)
    try:
        decode_permit_claims(claims)
    except DecodeError as exc:
        raise ValueError(f"permit claims are not valid: {exc.detail}") from None
    return dumps_in_key_order(claims)
