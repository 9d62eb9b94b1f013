"""The registry's words, defined once: residence kinds, vehicle kinds, vehicle classes, parity.

The API schemas (their OpenAPI enums), the importer, the eligibility rules and the database
columns all use these. The permit words (states, transitions, reasons, legal basis) live in
`issuer.services.permits.vocabulary`; permit types are wire format: `verifier.PermitType`.
"""

from __future__ import annotations

from enum import StrEnum


class ResidenceKind(StrEnum):
    """Hauptwohnung or Nebenwohnung."""

    MAIN = "main"
    SECONDARY = "secondary"


class VehicleKind(StrEnum):
    """Basis of use: own, or proven permanent use (proof reference required)."""

    OWN = "own"
    COMPANY = "company"
    LEASING = "leasing"
    HIRE = "hire"
    FAMILY = "family"
    CAR_SHARING = "car-sharing"


class VehicleClass(StrEnum):
    """Vehicle class as far as parking rules care (the eligibility rules' vocabulary)."""

    PKW = "pkw"
    KRAD = "krad"
    LKW = "lkw"
    WOHNMOBIL = "wohnmobil"
    ANHAENGER = "anhaenger"


class Parity(StrEnum):
    """Which house numbers of a range belong to a zone segment."""

    EVEN = "even"
    ODD = "odd"
    ALL = "all"
