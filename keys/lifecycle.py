"""Key states, key windows and the rotation planner: pure functions of times given to them.

A key's state is never stored; it follows from its window and the withdrawn flag at `now`
(docs/formats.md, docs/keys.md; `exp` exclusive as everywhere):

    now < nbf                    pending    published in the bundle, signs nothing yet
    nbf <= now < sign_until      active     signs (tokens with nbf <= iat < sign_until)
    sign_until <= now < exp      retired    verify-only, until its longest token expired
    exp <= now                   expired    gone: no longer published
    withdrawn_at is set          withdrawn  compromise: never published again, signs nothing

A key's types (`KeyType`) say what it may sign: permit types (`verifier.PermitType`, the wire
format's) are published in the bundle's `types`; the purposes (`Purpose`: `status`,
`plate-index`, `credential`, `bundle`) restrict signing on our side only and are never
published, since `types` is defined as permit types.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from keys.errors import KeyRingError, KeysCode
from verifier import PermitType


class KeyState(StrEnum):
    """State of a key at a given time."""

    PENDING = "pending"
    ACTIVE = "active"
    RETIRED = "retired"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class Purpose(StrEnum):
    """What a key signs besides permits: restricts signing on our side, never published."""

    STATUS = "status"  # status list tokens (CWT and JWT), docs/formats.md
    PLATE_INDEX = "plate-index"  # plate index
    CREDENTIAL = "credential"  # SD-JWT VCs
    BUNDLE = "bundle"  # trust bundles: root keys only


KeyType: TypeAlias = PermitType | Purpose
"""What a key may sign: a permit type (published in the bundle's `types`) or a purpose."""

PERMIT_TYPES: tuple[PermitType, ...] = tuple(PermitType)
ISSUER_TYPES: tuple[KeyType, ...] = (
    *PERMIT_TYPES,
    Purpose.STATUS,
    Purpose.PLATE_INDEX,
    Purpose.CREDENTIAL,
)
ROOT_TYPES: tuple[KeyType, ...] = (Purpose.BUNDLE,)
_BY_NAME: dict[str, KeyType] = {t.value: t for t in (*ISSUER_TYPES, *ROOT_TYPES)}


def key_type(value: str) -> KeyType:
    """The permit type or purpose spelt `value`; anything else raises `bad_types`."""
    found = _BY_NAME.get(value) if isinstance(value, str) else None
    if found is None:
        raise KeyRingError(KeysCode.BAD_TYPES, f"unknown key type {value!r}")
    return found


def parse_types(values: Iterable[str]) -> tuple[KeyType, ...]:
    """Canonical, de-duplicated, ordered types; unknown or none raise `bad_types`."""
    found = {key_type(value) for value in values}
    if not found:
        raise KeyRingError(KeysCode.BAD_TYPES, "a key needs at least one type")
    if Purpose.BUNDLE in found and len(found) > 1:
        raise KeyRingError(KeysCode.BAD_TYPES, "a bundle key signs bundles only")
    return tuple(t for t in _BY_NAME.values() if t in found)


def permit_types(types: Iterable[KeyType]) -> tuple[str, ...]:
    """The published part of `types`: the permit types only, in canonical order."""
    present = set(types)
    return tuple(t.value for t in PERMIT_TYPES if t in present)


@dataclass(frozen=True, slots=True)
class KeyWindow:
    """The three times of a key (integer seconds): nbf <= sign_until <= exp, nbf < exp."""

    nbf: int
    sign_until: int
    exp: int

    def __post_init__(self) -> None:
        times = (self.nbf, self.sign_until, self.exp)
        if not all(type(t) is int for t in times):
            raise KeyRingError(KeysCode.BAD_WINDOW, "times are integer seconds")
        if not (self.nbf <= self.sign_until <= self.exp and self.nbf < self.exp):
            raise KeyRingError(KeysCode.BAD_WINDOW, "need nbf <= sign_until <= exp and nbf < exp")


def key_state(window: KeyWindow, now: int, withdrawn_at: int | None = None) -> KeyState:
    """The state of a key with `window` at `now`; withdrawn wins over every time."""
    if withdrawn_at is not None:
        return KeyState.WITHDRAWN
    if now < window.nbf:
        return KeyState.PENDING
    if now < window.sign_until:
        return KeyState.ACTIVE
    if now < window.exp:
        return KeyState.RETIRED
    return KeyState.EXPIRED


def is_published(state: KeyState) -> bool:
    """Whether a key in `state` belongs in the next trust bundle."""
    return state in (KeyState.PENDING, KeyState.ACTIVE, KeyState.RETIRED)


@dataclass(frozen=True, slots=True)
class RotationPolicy:
    """Inputs of the planner, in seconds.

    `fresh_seconds`: the bundle freshness period; a new key is published at least this long
    before it signs. `max_token_seconds`: the longest lifetime of anything a key signs; a
    retired key stays verifiable that long after it stopped signing. `sign_seconds`: how long
    each new key signs.
    """

    fresh_seconds: int
    max_token_seconds: int
    sign_seconds: int

    def __post_init__(self) -> None:
        values = (self.fresh_seconds, self.max_token_seconds, self.sign_seconds)
        if not all(type(v) is int and v > 0 for v in values):
            raise ValueError("rotation policy values are positive integer seconds")


@dataclass(frozen=True, slots=True)
class PlannedKey:
    """A key known to the planner: its id, window and withdrawn flag."""

    kid: str
    window: KeyWindow
    withdrawn_at: int | None = None


@dataclass(frozen=True, slots=True)
class RotationPlan:
    """What `plan_rotation` decided: the new key's window and changed windows of current keys."""

    new_window: KeyWindow
    changed: tuple[tuple[str, KeyWindow], ...]  # (kid, new window) of keys that hand over


def plan_rotation(
    keys: Sequence[PlannedKey],
    now: int,
    policy: RotationPolicy,
    *,
    force: bool = False,
) -> RotationPlan | None:
    """Plan the next key, or None when a successor is already published (and not `force`).

    The new key starts signing at the handover time H and is published (pending) from now:
    H >= now + fresh_seconds always. Without `force`, H is also no earlier than the latest
    `sign_until` of the active keys, so a scheduled rotation hands over seamlessly; with
    `force` (e.g. after a withdrawal) H = now + fresh_seconds and active keys stop at H.
    Every active key then signs until exactly H (shortened, or extended when the rotation is
    late so that signing never has a gap) and stays verifiable until at least H +
    max_token_seconds; `exp` is never shortened. The new key signs for `sign_seconds` and
    expires `max_token_seconds` after it stops signing.
    """
    live = [k for k in keys if k.withdrawn_at is None]
    states = {k.kid: key_state(k.window, now) for k in live}
    if not force and any(states[k.kid] is KeyState.PENDING for k in live):
        return None
    active = [k for k in live if states[k.kid] is KeyState.ACTIVE]
    handover = now + policy.fresh_seconds
    if not force and active:
        handover = max(handover, max(k.window.sign_until for k in active))
    changed: list[tuple[str, KeyWindow]] = []
    for k in active:
        window = KeyWindow(
            nbf=k.window.nbf,
            sign_until=handover,
            exp=max(k.window.exp, handover + policy.max_token_seconds),
        )
        if window != k.window:
            changed.append((k.kid, window))
    sign_until = handover + policy.sign_seconds
    new_window = KeyWindow(
        nbf=handover, sign_until=sign_until, exp=sign_until + policy.max_token_seconds
    )
    return RotationPlan(new_window=new_window, changed=tuple(changed))
