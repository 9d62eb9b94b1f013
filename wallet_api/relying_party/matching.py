"""A presented PID matched to one resident of a tenant's register (docs/relying-party.md).

The rules, all of which must hold, for exactly one resident of the tenant:

1. birth date: the PID's ``birthdate`` equals the register's (a resident without a birth
   date never matches);
2. family name: equal after normalisation;
3. given names: equal after normalisation, or the first given name equal and one list of
   given names the beginning of the other (the register may keep only the first name, the
   identity card all of them);
4. address: the resident's current main residence (valid today) has the PID's postal code,
   and its street and house number equal the PID's after normalisation. A German PID
   writes the number into ``street_address`` ("HEIDESTRASSE 17"); an EU PID may carry it
   apart in ``house_number``. The locality is not compared: the register keeps postal
   codes, and postal code, street and number name the address.

Normalisation: Unicode NFKC, case folded, ä ö ü → ae oe ue, ß → ss, other diacritics
dropped, hyphens, apostrophes, dots and commas taken as spaces, spaces collapsed; streets
also write "straße", "strasse" and "str." alike ("str"), house numbers lose their spaces
("13 a" = "13a").

Anything else (no candidate, two or more candidates, a PID without the needed claims) is
no match: the citizen is asked to come to the Bürgerbüro, and nothing is issued. Outcomes
are codes only; no name or address is ever logged.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.db.models import Residence, Resident

MAX_CANDIDATES = 50
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_SEPARATORS = re.compile(r"[\s\-‐‑'’`.,/]+")
_STREET_SUFFIX = re.compile(r"(strasse|str)\b")
_NUMBER_AT_END = re.compile(
    r"^(?P<street>.*?)[\s,]+(?P<number>\d+\s*[a-z]?(?:\s*[-/]\s*\d+\s*[a-z]?)?)$"
)


class MatchOutcome:
    """Why a PID did or did not match (codes, for logs and tests)."""

    MATCHED = "matched"
    NO_MATCH = "no_match"
    AMBIGUOUS = "ambiguous"
    INCOMPLETE = "incomplete"  # the PID lacks a claim the rules need


@dataclass(frozen=True, slots=True)
class Match:
    """The outcome; `resident_id` exactly when MATCHED."""

    outcome: str
    resident_id: uuid.UUID | None = None


def normalise(text: str) -> str:
    """The comparison form of a name (see the module docstring)."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_UMLAUTS)
    stripped = "".join(
        c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c)
    )
    return " ".join(_SEPARATORS.sub(" ", stripped).split())


def normalise_street(text: str) -> str:
    """The comparison form of a street name."""
    return _STREET_SUFFIX.sub("str", normalise(text)).replace(" ", "")


def normalise_number(text: str) -> str:
    """The comparison form of a house number."""
    return normalise(text).replace(" ", "")


def _given_names_match(register: str, pid: str) -> bool:
    a, b = normalise(register).split(), normalise(pid).split()
    if not a or not b:
        return False
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return longer[: len(shorter)] == shorter


def _street_and_number(address: dict[str, Any]) -> tuple[str, str] | None:
    street = address.get("street_address")
    if not isinstance(street, str) or not street.strip():
        return None
    number = address.get("house_number")
    if isinstance(number, int) and not isinstance(number, bool):
        number = str(number)
    if isinstance(number, str) and number.strip():
        return normalise_street(street), normalise_number(number)
    found = _NUMBER_AT_END.match(normalise(street))
    if found is None:
        return None
    return normalise_street(found["street"]), normalise_number(found["number"])


def _current_main(resident: Resident, today: date) -> Residence | None:
    for residence in resident.residences:
        if residence.kind != "main" or residence.valid_from > today:
            continue
        if residence.valid_until is None or residence.valid_until > today:
            return residence
    return None


def _address_matches(residence: Residence, postal_code: str, street: str, number: str) -> bool:
    return (
        residence.postcode == postal_code
        and normalise_street(residence.street) == street
        and normalise_number(residence.house_number) == number
    )


def match_resident(
    session: Session, *, tenant_id: int, claims: dict[str, Any], today: date
) -> Match:
    """The one resident of `tenant_id` the PID `claims` name, under the rules above."""
    given, family, birth = (
        claims.get("given_name"),
        claims.get("family_name"),
        claims.get("birthdate"),
    )
    address = claims.get("address")
    if not (isinstance(given, str) and isinstance(family, str) and isinstance(birth, str)):
        return Match(MatchOutcome.INCOMPLETE)
    if not isinstance(address, dict) or not isinstance(address.get("postal_code"), str):
        return Match(MatchOutcome.INCOMPLETE)
    parts = _street_and_number(address)
    if parts is None:
        return Match(MatchOutcome.INCOMPLETE)
    try:
        birth_date = date.fromisoformat(birth)
    except ValueError:
        return Match(MatchOutcome.INCOMPLETE)
    postal_code = address["postal_code"].strip()
    candidates = session.scalars(
        select(Resident)
        .where(Resident.tenant_id == tenant_id, Resident.birth_date == birth_date)
        .limit(MAX_CANDIDATES + 1)
    ).all()
    if len(candidates) > MAX_CANDIDATES:
        return Match(MatchOutcome.AMBIGUOUS)
    family_norm = normalise(family)
    found = []
    for resident in candidates:
        if normalise(resident.family_name) != family_norm:
            continue
        if not _given_names_match(resident.given_name, given):
            continue
        residence = _current_main(resident, today)
        if residence is None or not _address_matches(residence, postal_code, *parts):
            continue
        found.append(resident)
    if not found:
        return Match(MatchOutcome.NO_MATCH)
    if len(found) > 1:
        return Match(MatchOutcome.AMBIGUOUS)
    return Match(MatchOutcome.MATCHED, found[0].id)
