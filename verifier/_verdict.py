"""Verdict types of the offline check: outcome, reason, warnings, what to show.

A verdict is a value: ``verify()`` and ``verify_plate()`` build one, ``cli.py`` prints it.
``Verdict``, ``Permit`` and ``BundleInfo`` are slotted dataclasses that are *not* frozen (a
frozen dataclass's ``__init__`` sets every field through ``object.__setattr__``: about 2 µs
more per QR verdict, 1.38 bare verifies instead of 1.35 in ``bench/verify.py``). Treat them
as read-only.
``Verdict.to_json()`` is the ``check --json`` contract (docs/verifier.md) and must not
change shape: ``outcome``, ``reason`` (null exactly when valid), ``warnings``, ``permit``,
``bundle``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from verifier._errors import Notice, Reason
from verifier._zones import Zone


class Outcome(StrEnum):
    """The three outcomes; the string is the contract."""

    VALID = "valid"
    INVALID = "invalid"
    INDETERMINATE = "indeterminate"


INDETERMINATE_REASONS: frozenset[Reason] = frozenset(
    {
        Reason.NO_BUNDLE,
        Reason.CLOCK_BEHIND,
        Reason.BUNDLE_EXPIRED,
        Reason.STATUS_UNKNOWN,
        Reason.NO_PLATE_INDEX,
    }
)
"""Reasons the handheld cannot judge: the officer must never see them as invalid."""

VERDICT_REASONS: tuple[Reason, ...] = (
    Reason.UNSUPPORTED_FORMAT,
    Reason.BAD_BASE45,
    Reason.BAD_COSE,
    Reason.UNSUPPORTED_ALG,
    Reason.NO_BUNDLE,
    Reason.CLOCK_BEHIND,
    Reason.BUNDLE_EXPIRED,
    Reason.BAD_CLAIMS,
    Reason.UNKNOWN_ISSUER,
    Reason.UNKNOWN_KEY,
    Reason.BAD_SIGNATURE,
    Reason.KEY_NOT_VALID,
    Reason.NOT_YET_VALID,
    Reason.EXPIRED,
    Reason.STATUS_UNKNOWN,
    Reason.REVOKED,
    Reason.SUSPENDED,
    Reason.OUTSIDE_HOURS,
    Reason.WRONG_ZONE,
    Reason.WRONG_PLATE,
    Reason.NO_PERMIT,
    Reason.NO_PLATE_INDEX,
)
"""Every reason a verdict can carry, in step order (docs/verifier.md, reason codes)."""

EXIT_STATUS: dict[Outcome, int] = {
    Outcome.VALID: 0,
    Outcome.INVALID: 1,
    Outcome.INDETERMINATE: 3,
}
"""CLI exit status per outcome (2 is a usage or operational error)."""


def outcome_for(reason: Reason) -> Outcome:
    """The outcome a failing reason leads to."""
    return Outcome.INDETERMINATE if reason in INDETERMINATE_REASONS else Outcome.INVALID


@dataclass(frozen=True, slots=True)
class Context:
    """What the officer checks against, as typed; ``verify`` canonicalises both sides.

    ``zone`` is ``AGS:CODE``, a bare code, or a resolved :class:`Zone`; a bare code takes
    ``municipality`` (the handheld's AGS), else the bundle's only issuer.
    """

    zone: str | Zone | None = None
    plate: str | None = None
    municipality: str | None = None


@dataclass(slots=True)
class Permit:
    """The permit as shown to the officer; only built once a signature verified."""

    issuer: str
    type: str
    zones: tuple[str, ...]
    plates: tuple[str, ...]
    fleet: str | None
    number: int
    iat: int | None
    nbf: int | None
    exp: int
    max_stay: int | None
    windows: tuple[tuple[int, int, int], ...] | None
    issuer_name: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The ``permit`` object of ``check --json``, absent claims as null."""
        return {
            "issuer": self.issuer,
            "type": self.type,
            "zones": list(self.zones),
            "plates": list(self.plates),
            "fleet": self.fleet,
            "number": self.number,
            "iat": self.iat,
            "nbf": self.nbf,
            "exp": self.exp,
            "max_stay": self.max_stay,
            "windows": None if self.windows is None else [list(w) for w in self.windows],
        }


@dataclass(slots=True)
class BundleInfo:
    """The trust bundle a verdict was judged against: sequence, issue time, age at ``now``."""

    seq: int
    iat: int
    age_s: int

    def to_json(self) -> dict[str, Any]:
        """The ``bundle`` object of ``check --json``."""
        return {"seq": self.seq, "iat": self.iat, "age_s": self.age_s}


@dataclass(slots=True)
class Verdict:
    """The answer for one QR text or plate: outcome, reason (None exactly when valid)."""

    outcome: Outcome
    reason: Reason | None
    warnings: tuple[Notice, ...] = ()
    permit: Permit | None = None
    bundle: BundleInfo | None = None
    zone: Zone | None = None
    """The zone checked against (municipality and code), when the officer gave one. Not in
    ``to_json()``: the contract's ``permit.issuer`` names the permit's municipality."""

    def __post_init__(self) -> None:
        if (self.reason is None) != (self.outcome is Outcome.VALID):
            raise ValueError("reason must be None exactly when the outcome is valid")

    @property
    def exit_status(self) -> int:
        """The CLI exit status for this verdict (0, 1 or 3)."""
        return EXIT_STATUS[self.outcome]

    def to_json(self) -> dict[str, Any]:
        """One ``check --json`` object, exactly the shape docs/verifier.md gives."""
        return {
            "outcome": str(self.outcome),
            "reason": None if self.reason is None else str(self.reason),
            "warnings": [str(w) for w in self.warnings],
            "permit": None if self.permit is None else self.permit.to_json(),
            "bundle": None if self.bundle is None else self.bundle.to_json(),
        }


def failed(
    reason: Reason,
    *,
    warnings: tuple[Notice, ...] = (),
    permit: Permit | None = None,
    bundle: BundleInfo | None = None,
    zone: Zone | None = None,
) -> Verdict:
    """A verdict for a failing reason, its outcome chosen by the reason."""
    return Verdict(outcome_for(reason), reason, warnings, permit, bundle, zone)
