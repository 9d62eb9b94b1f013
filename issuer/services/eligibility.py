"""Eligibility: pure rules over plain data, configured per tenant and permit type.

Nothing here touches the database or the clock: `issuer.services.permits.facts` gathers the
facts (residences, segments of the zone, vehicles, existing permits) into an `Application`,
the permit services call `check()` and answer 422 with every failed rule when the list is not
empty. Each failed rule is a stable `Rule` code (the string is the contract, see
docs/permits.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from issuer.errors import Refused
from issuer.vocabulary import ResidenceKind, VehicleClass, VehicleKind
from verifier import PermitType

RESIDENCE_KINDS = frozenset(ResidenceKind)
USE_KINDS = frozenset(VehicleKind)
VEHICLE_CLASSES = frozenset(VehicleClass)


def refused(rules: Iterable[Rule]) -> Refused:
    """The 422 problem listing every failed rule (`errors: [{"code": ...}]`)."""
    return Refused(errors=[{"code": str(rule)} for rule in rules])


class Rule(StrEnum):
    """Codes of failed eligibility rules (machine-readable, never renamed)."""

    NO_RESIDENCE = "no_residence"  # no current residence at all
    RESIDENCE_KIND = "residence_kind_not_allowed"  # e.g. secondary residence where not allowed
    ADDRESS_NOT_IN_ZONE = "address_not_in_zone"
    RESIDENCE_ENDS = "validity_beyond_residence"  # validity ends after the residence ends
    VEHICLE_REQUIRED = "vehicle_required"
    VEHICLE_NOT_HELD = "vehicle_not_held"  # neither holder nor permanent user
    USE_PROOF_MISSING = "use_proof_missing"  # permanent use without a proof reference
    USE_KIND = "use_kind_not_allowed"
    VEHICLE_CLASS = "vehicle_class_not_allowed"
    VEHICLE_TOO_LONG = "vehicle_too_long"
    VEHICLE_LENGTH_UNKNOWN = "vehicle_length_unknown"
    VEHICLE_DEREGISTERED = "vehicle_deregistered"
    TOO_MANY_PLATES = "too_many_plates"
    FOREIGN_PLATE = "foreign_plate_not_allowed"
    FLEET_NOT_ALLOWED = "fleet_not_allowed"
    RESIDENT_HAS_PERMIT = "resident_has_permit"
    VEHICLE_HAS_PERMIT = "vehicle_has_permit"
    RENEWAL_TOO_EARLY = "renewal_too_early"
    RENEWAL_AFTER_EXPIRY = "renewal_after_expiry"
    VALIDITY_TOO_LONG = "validity_too_long"
    VALIDITY_EMPTY = "validity_empty"
    STARTS_IN_PAST = "starts_in_past"
    QUOTA_EXHAUSTED = "visitor_quota_exhausted"
    WINDOWS_REQUIRED = "time_windows_required"
    TYPE_NOT_OFFERED = "permit_type_not_offered"


@dataclass(frozen=True, slots=True)
class Rules:
    """A tenant's rule set for one permit type; stored as JSON (`to_dict`/`from_dict`)."""

    offered: bool = True
    residence_kinds: tuple[str, ...] = (ResidenceKind.MAIN,)  # and SECONDARY where allowed
    requires_residence: bool = True  # False for HAN/PFL (businesses, not residents)
    requires_vehicle: bool = True
    use_kinds: tuple[str, ...] = (
        VehicleKind.OWN,
        VehicleKind.COMPANY,
        VehicleKind.LEASING,
        VehicleKind.HIRE,
        VehicleKind.FAMILY,
    )
    vehicle_classes: tuple[str, ...] = (VehicleClass.PKW, VehicleClass.KRAD)
    max_length_mm: int | None = None  # Köln: 5600
    max_plates: int = 1
    allow_foreign_plates: bool = False  # visitors (BES)
    allow_fleet: bool = False  # car sharing / "wechselnde Fahrzeuge"
    one_per_resident: bool = True
    one_per_vehicle: bool = True
    renewal_window_days: int = 42  # renew at most this many days before expiry, none after
    max_validity_days: int = 366
    min_validity_days: int = 0
    provisional_days: int = 28  # provisional permit while an application is pending
    visitor_quota_per_year: int = 0  # BES permits per resident per calendar year (0 = none)
    visitor_max_days: int = 28
    requires_windows: bool = False  # HAN/PFL: time windows are mandatory
    default_max_stay_minutes: int | None = None
    auto_renew_days_before: int = 14
    awaiting_payment: bool = False  # True: a fee puts a new permit into awaiting_payment

    def to_dict(self) -> dict[str, Any]:
        """JSON form for storage and the API."""
        data = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rules:
        """Parse a stored/API rule set; unknown keys are refused (ValueError)."""
        known = set(cls.__dataclass_fields__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown rule keys: {sorted(unknown)}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if isinstance(value, list):
                value = tuple(value)
            values[key] = value
        rules = cls(**values)
        rules.validate()
        return rules

    def validate(self) -> None:
        """Refuse inconsistent rule sets (ValueError)."""
        if not set(self.residence_kinds) <= RESIDENCE_KINDS:
            raise ValueError("residence_kinds")
        if not set(self.use_kinds) <= USE_KINDS:
            raise ValueError("use_kinds")
        if self.max_plates < 1 or self.max_validity_days < 1 or self.renewal_window_days < 0:
            raise ValueError("bounds")
        if self.max_length_mm is not None and self.max_length_mm <= 0:
            raise ValueError("max_length_mm")


def default_rules(permit_type: str) -> Rules:
    """Sensible defaults per permit type when a tenant configured nothing."""
    if permit_type == PermitType.BES:
        return Rules(
            requires_vehicle=False,
            allow_foreign_plates=True,
            one_per_resident=False,
            one_per_vehicle=False,
            max_validity_days=28,
            visitor_quota_per_year=20,
            renewal_window_days=0,
        )
    if permit_type in (PermitType.HAN, PermitType.PFL):
        return Rules(
            requires_residence=False,
            requires_vehicle=False,
            max_plates=3,
            one_per_resident=False,
            one_per_vehicle=False,
            requires_windows=True,
            default_max_stay_minutes=120 if permit_type == PermitType.PFL else None,
        )
    if permit_type == PermitType.SON:
        return Rules(requires_residence=False, requires_vehicle=False, max_plates=3)
    return Rules()


# ---------------------------------------------------------------------------------- facts


@dataclass(frozen=True, slots=True)
class Residence:
    """One registered residence of the applicant (from the registry)."""

    kind: str  # issuer.vocabulary.ResidenceKind
    street: str
    house_number: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None  # exclusive; None = open

    def is_current(self, at: datetime) -> bool:
        if self.valid_from is not None and at < self.valid_from:
            return False
        return self.valid_until is None or at < self.valid_until


@dataclass(frozen=True, slots=True)
class Segment:
    """A street segment of a zone: house numbers `from_no`..`to_no` inclusive, with parity."""

    street: str
    from_no: int = 1
    to_no: int = 9999
    parity: str = "all"  # all | even | odd

    def contains(self, street: str, house_number: str) -> bool:
        if normalise_street(street) != normalise_street(self.street):
            return False
        number = house_number_value(house_number)
        if number is None or not (self.from_no <= number <= self.to_no):
            return False
        if self.parity == "even":
            return number % 2 == 0
        if self.parity == "odd":
            return number % 2 == 1
        return True


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A vehicle named in the application, with how the applicant may use it."""

    plate: str  # canonical form
    is_holder: bool
    use_kind: str = VehicleKind.OWN
    proof_ref: str | None = None
    vehicle_class: str = VehicleClass.PKW
    length_mm: int | None = None
    width_mm: int | None = None
    valid_until: datetime | None = None  # deregistration / end of permanent use

    @property
    def is_foreign(self) -> bool:
        return ":" in self.plate


@dataclass(frozen=True, slots=True)
class Application:
    """Everything the rules look at, gathered by the permit service."""

    permit_type: str
    now: datetime
    valid_from: datetime
    valid_until: datetime  # exclusive
    residences: tuple[Residence, ...] = ()
    segments: tuple[Segment, ...] = ()
    vehicles: tuple[Vehicle, ...] = ()
    fleet: str | None = None
    windows: tuple[tuple[int, int, int], ...] = ()
    resident_has_permit: bool = False  # another live permit of this type for the resident
    plates_with_permit: frozenset[str] = frozenset()  # plates already on a live permit
    renewal_of_until: datetime | None = None  # set when this is a renewal of a permit
    visitor_permits_this_year: int = 0
    is_provisional: bool = False


# ---------------------------------------------------------------------------------- helpers

_STREET_SUFFIX = re.compile(r"(strasse|str\.?)$")


def normalise_street(street: str) -> str:
    """Case- and spelling-insensitive street key: 'Hauptstraße' == 'hauptstr.' == 'Haupt Str'."""
    text = unicodedata.normalize("NFKC", street).casefold().replace("ß", "ss")
    text = re.sub(r"[\s\-]+", "", text)
    return _STREET_SUFFIX.sub("str", text)


def house_number_value(house_number: str) -> int | None:
    """The numeric part of '12', '12a', '12 b', '12-14' (first number); None if there is none."""
    match = re.match(r"\s*(\d{1,5})", house_number)
    return int(match.group(1)) if match else None


def address_in_zone(street: str, house_number: str, segments: Iterable[Segment]) -> bool:
    """True when the address lies in one of the zone's street segments."""
    return any(seg.contains(street, house_number) for seg in segments)


# ---------------------------------------------------------------------------------- check


def check(app: Application, rules: Rules) -> list[Rule]:
    """Every failed rule for this application, in a stable order; empty means eligible."""
    failed: list[Rule] = []
    if not rules.offered:
        return [Rule.TYPE_NOT_OFFERED]
    _check_validity(app, rules, failed)
    if rules.requires_residence:
        _check_residence(app, rules, failed)
    _check_vehicles(app, rules, failed)
    if rules.one_per_resident and app.resident_has_permit:
        failed.append(Rule.RESIDENT_HAS_PERMIT)
    if rules.one_per_vehicle and any(v.plate in app.plates_with_permit for v in app.vehicles):
        failed.append(Rule.VEHICLE_HAS_PERMIT)
    if (
        app.permit_type == PermitType.BES
        and rules.visitor_quota_per_year > 0
        and app.visitor_permits_this_year >= rules.visitor_quota_per_year
    ):
        failed.append(Rule.QUOTA_EXHAUSTED)
    if rules.requires_windows and not app.windows:
        failed.append(Rule.WINDOWS_REQUIRED)
    return list(dict.fromkeys(failed))


def _check_validity(app: Application, rules: Rules, failed: list[Rule]) -> None:
    if app.valid_until <= app.valid_from:
        failed.append(Rule.VALIDITY_EMPTY)
    # a day of slack for the clock between the officer's click and the request
    if app.valid_from < app.now - timedelta(days=1):
        failed.append(Rule.STARTS_IN_PAST)
    max_days = rules.provisional_days if app.is_provisional else rules.max_validity_days
    if app.permit_type == PermitType.BES:
        max_days = min(max_days, rules.visitor_max_days)
    if app.valid_until - app.valid_from > timedelta(days=max_days):
        failed.append(Rule.VALIDITY_TOO_LONG)
    if app.renewal_of_until is not None:
        if app.now >= app.renewal_of_until:
            failed.append(Rule.RENEWAL_AFTER_EXPIRY)
        elif app.now < app.renewal_of_until - timedelta(days=rules.renewal_window_days):
            failed.append(Rule.RENEWAL_TOO_EARLY)


def _check_residence(app: Application, rules: Rules, failed: list[Rule]) -> None:
    current = [r for r in app.residences if r.is_current(app.now)]
    if not current:
        failed.append(Rule.NO_RESIDENCE)
        return
    in_zone = [r for r in current if address_in_zone(r.street, r.house_number, app.segments)]
    if not in_zone:
        failed.append(Rule.ADDRESS_NOT_IN_ZONE)
        return
    allowed = [r for r in in_zone if r.kind in rules.residence_kinds]
    if not allowed:
        failed.append(Rule.RESIDENCE_KIND)
        return
    # the permit may not outlive the residence that justifies it
    ends = [r.valid_until for r in allowed]
    if all(end is not None for end in ends):
        latest = max(end for end in ends if end is not None)
        if app.valid_until > latest:
            failed.append(Rule.RESIDENCE_ENDS)


def _check_vehicles(app: Application, rules: Rules, failed: list[Rule]) -> None:
    if app.fleet is not None and not rules.allow_fleet:
        failed.append(Rule.FLEET_NOT_ALLOWED)
    if rules.requires_vehicle and not app.vehicles and app.fleet is None:
        failed.append(Rule.VEHICLE_REQUIRED)
    if len(app.vehicles) > rules.max_plates:
        failed.append(Rule.TOO_MANY_PLATES)
    for vehicle in app.vehicles:
        if vehicle.is_foreign:
            if not rules.allow_foreign_plates:
                failed.append(Rule.FOREIGN_PLATE)
            continue
        if not rules.requires_vehicle:
            # visitors, trades, care: plates are named, not registry-checked
            continue
        if not vehicle.is_holder:
            if vehicle.use_kind not in rules.use_kinds or vehicle.use_kind == VehicleKind.OWN:
                failed.append(Rule.VEHICLE_NOT_HELD)
            elif not vehicle.proof_ref:
                failed.append(Rule.USE_PROOF_MISSING)
        elif vehicle.use_kind not in rules.use_kinds:
            failed.append(Rule.USE_KIND)
        if vehicle.vehicle_class not in rules.vehicle_classes:
            failed.append(Rule.VEHICLE_CLASS)
        if rules.max_length_mm is not None:
            if vehicle.length_mm is None:
                failed.append(Rule.VEHICLE_LENGTH_UNKNOWN)
            elif vehicle.length_mm > rules.max_length_mm:
                failed.append(Rule.VEHICLE_TOO_LONG)
        if vehicle.valid_until is not None and vehicle.valid_until <= app.now:
            failed.append(Rule.VEHICLE_DEREGISTERED)
