"""Canonical number plates and zone codes (docs/formats.md, permit QR).

German plate: trim, upper-case; district letters (1–3), a hyphen or spaces, letters (1–2),
optional spaces, digits (1–4, no leading zero), optional ``E`` (electric) or ``H`` (historic)
→ ``DIST-LL 1234E``; at most 8 letters and digits together (FZV § 8). Foreign plate:
``CC:`` + the plate upper-cased with spaces and hyphens removed, CC an ISO 3166 alpha-2 code
(``DE:`` is refused: a German plate is written the German way).
"""

from __future__ import annotations

import re

from verifier._errors import DecodeError, Reason

MAX_PLATE_CHARS = 32
"""Longest input :func:`canonical_plate` looks at."""
MAX_FOREIGN_PLATE_CHARS = 12
"""Longest foreign plate body (letters and digits after ``CC:``)."""
MAX_ZONE_CHARS = 16
"""Longest zone code."""

_GERMAN = re.compile(r"([A-Z]{1,3})(?:-| +| *- *)([A-Z]{1,2}) *([1-9][0-9]{0,3})([EH]?)")
_FOREIGN = re.compile(r"([A-Z]{2}) *: *([A-Z0-9 -]+)")
_FOREIGN_BODY = re.compile(r"[A-Z0-9]{1,12}")  # MAX_FOREIGN_PLATE_CHARS
# canonical forms; a German plate has at most 8 letters and digits: only 3+2+4 exceeds that
_PLATE_FORM = (
    r"(?![A-Z]{3}-[A-Z]{2} [0-9]{4})[A-Z]{1,3}-[A-Z]{1,2} [1-9][0-9]{0,3}[EH]?"  # German
    r"|(?!DE)[A-Z]{2}:[A-Z0-9]{1,12}"  # foreign
)
_ZONE_FORM = r"[A-Z0-9][A-Z0-9._-]{0,15}"  # MAX_ZONE_CHARS
_CANONICAL_PLATE = re.compile(_PLATE_FORM)
_ZONE = re.compile(_ZONE_FORM)


def canonical_plate(text: str, *, reason: Reason = Reason.BAD_PLATE) -> str:
    """``"ge ab 1234"`` → ``"GE-AB 1234"``, ``"nl:ab-123-c"`` → ``"NL:AB123C"``; else reason."""
    if not isinstance(text, str) or len(text) > MAX_PLATE_CHARS:
        raise DecodeError(reason, "not a plate")
    plate = text.strip().upper()
    german = _GERMAN.fullmatch(plate)
    if german:
        district, letters, digits, suffix = german.groups()
        if len(district) + len(letters) + len(digits) > 8:
            raise DecodeError(reason, "more than 8 characters")
        return f"{district}-{letters} {digits}{suffix}"
    foreign = _FOREIGN.fullmatch(plate)
    if foreign:
        country, body = foreign.groups()
        body = body.replace(" ", "").replace("-", "")
        if country != "DE" and _FOREIGN_BODY.fullmatch(body):
            return f"{country}:{body}"
    raise DecodeError(reason, "not a plate")


def canonical_zone(text: str, *, reason: Reason = Reason.BAD_CLAIMS) -> str:
    """A zone code trimmed and upper-cased (``" a3 "`` → ``"A3"``); else ``DecodeError(reason)``."""
    if not isinstance(text, str) or len(text) > 4 * MAX_ZONE_CHARS:
        raise DecodeError(reason, "not a zone code")
    zone = text.strip().upper()
    if not _ZONE.fullmatch(zone):
        raise DecodeError(reason, "not a zone code")
    return zone


def is_canonical_plate(text: object) -> bool:
    """True when ``text`` is already a canonical plate (what ``canonical_plate`` returns)."""
    return type(text) is str and _CANONICAL_PLATE.fullmatch(text) is not None


def is_canonical_zone(text: object) -> bool:
    """True when ``text`` is already a canonical zone code."""
    return type(text) is str and _ZONE.fullmatch(text) is not None
