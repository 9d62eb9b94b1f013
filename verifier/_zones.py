"""Zones as the officer names them (docs/verifier.md, "Name your city").

A zone code is local to its municipality: "A3" of Recklinghausen is not "A3" of
Gelsenkirchen. So a zone is always a pair (municipality, code). The officer writes
``AGS:CODE`` (``05513000:A3``) or a bare ``CODE``; a bare code takes the handheld's
municipality — given by the caller (the CLI reads ``BUERGERID_VERIFY_MUNICIPALITY``, else
``buergerid-verify config --municipality AGS``) — else the only issuer of the synced bundle
when it names exactly one. A bare code none of these settles is refused with
``ZoneError(AMBIGUOUS_ZONE)``: nothing is checked, because a handheld must never call a
permit of another city valid when two cities use the same code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from verifier._errors import Reason, VerifierError
from verifier._plates import canonical_zone

_AGS = re.compile(r"[0-9]{8}")


class ZoneError(VerifierError):
    """The officer's zone is not a zone (``BAD_ZONE``) or a bare code with no municipality
    to settle it (``AMBIGUOUS_ZONE``); a usage error, never a verdict."""


@dataclass(frozen=True, slots=True)
class Zone:
    """A zone of one municipality: its AGS and the canonical zone code."""

    municipality: str
    code: str
    name: str | None = None
    """The municipality's name from the trust bundle, for display; None when not in it."""

    def __str__(self) -> str:
        return f"{self.municipality}:{self.code}"


def is_ags(text: object) -> bool:
    """True for an 8-digit Amtlicher Gemeindeschlüssel."""
    return type(text) is str and _AGS.fullmatch(text) is not None


def canonical_ags(text: str) -> str:
    """The AGS trimmed; ``ZoneError(BAD_ZONE)`` unless it is 8 digits."""
    ags = text.strip() if isinstance(text, str) else ""
    if not is_ags(ags):
        raise ZoneError(Reason.BAD_ZONE, "a municipality is its 8-digit AGS")
    return ags


def resolve_zone(
    text: str,
    *,
    municipality: str | None = None,
    issuers: Mapping[str, object] | None = None,
) -> Zone:
    """The zone the officer named: ``AGS:CODE``, or a bare ``CODE`` of ``municipality``,
    else of the bundle's only issuer (``issuers``: the synced bundle's issuers by id).

    ``ZoneError``: ``BAD_ZONE`` for text that is no zone, ``AMBIGUOUS_ZONE`` for a bare
    code nothing settles.
    """
    if not isinstance(text, str):
        raise ZoneError(Reason.BAD_ZONE, "not a zone")
    ags_part, colon, code_part = text.strip().rpartition(":")
    try:
        code = canonical_zone(code_part if colon else text, reason=Reason.BAD_ZONE)
    except VerifierError as exc:
        raise ZoneError(Reason.BAD_ZONE, "not a zone code") from exc
    known = issuers or {}
    if colon:
        ags = canonical_ags(ags_part)
    elif municipality is not None:
        ags = canonical_ags(municipality)
    elif len(known) == 1:
        (ags,) = known
    else:
        raise ZoneError(
            Reason.AMBIGUOUS_ZONE,
            "a bare zone code needs the handheld's municipality (AGS:CODE, "
            "BUERGERID_VERIFY_MUNICIPALITY or config --municipality)",
        )
    info = known.get(ags)
    name = getattr(info, "name", None)
    return Zone(ags, code, name if isinstance(name, str) else None)
