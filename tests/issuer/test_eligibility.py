"""Eligibility rules at their boundaries (pure functions, no database)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from issuer.services.eligibility import (
    Application,
    Residence,
    Rule,
    Rules,
    Segment,
    Vehicle,
    address_in_zone,
    check,
    default_rules,
    normalise_street,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SEGMENTS = (
    Segment("Hauptstraße", 1, 99, "odd"),
    Segment("Hauptstraße", 2, 50, "even"),
    Segment("Am Markt", 1, 9999, "all"),
)
HOME = Residence("main", "Hauptstr.", "13a", NOW - timedelta(days=400))
CAR = Vehicle("GE-AB 1234", is_holder=True, length_mm=4500, width_mm=1800)
RULES = Rules(max_length_mm=5600)


def app(**changes: object) -> Application:
    base = Application(
        permit_type="BEW",
        now=NOW,
        valid_from=NOW,
        valid_until=NOW + timedelta(days=365),
        residences=(HOME,),
        segments=SEGMENTS,
        vehicles=(CAR,),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_a_resident_in_the_zone_with_own_car_is_eligible() -> None:
    assert check(app(), RULES) == []


@pytest.mark.parametrize(
    ("street", "number", "inside"),
    [
        ("Hauptstraße", "1", True),
        ("hauptstrasse", "99", True),
        ("Haupt-Str.", "101", False),  # beyond the odd range
        ("Hauptstraße", "50", True),
        ("Hauptstraße", "52", False),  # beyond the even range
        ("Hauptstraße", "0", False),
        ("Am Markt", "7 b", True),
        ("Nebenweg", "1", False),
        ("Hauptstraße", "ohne", False),
    ],
)
def test_address_in_segment_checks_street_range_and_parity(
    street: str, number: str, inside: bool
) -> None:
    assert address_in_zone(street, number, SEGMENTS) is inside


def test_street_spellings_normalise_alike() -> None:
    assert normalise_street("Hauptstraße") == normalise_street("HAUPTSTR.") == "hauptstr"


def test_address_outside_the_zone_is_refused() -> None:
    away = Residence("main", "Nebenweg", "3", NOW - timedelta(days=10))
    assert check(app(residences=(away,)), RULES) == [Rule.ADDRESS_NOT_IN_ZONE]


def test_secondary_residence_only_where_allowed() -> None:
    second = replace(HOME, kind="secondary")
    assert check(app(residences=(second,)), RULES) == [Rule.RESIDENCE_KIND]
    allowed = replace(RULES, residence_kinds=("main", "secondary"))
    assert check(app(residences=(second,)), allowed) == []


def test_no_current_residence() -> None:
    ended = replace(HOME, valid_until=NOW)  # exclusive end: gone at NOW
    assert check(app(residences=(ended,)), RULES) == [Rule.NO_RESIDENCE]
    future = replace(HOME, valid_from=NOW + timedelta(seconds=1))
    assert check(app(residences=(future,)), RULES) == [Rule.NO_RESIDENCE]


def test_validity_not_beyond_the_end_of_the_residence() -> None:
    ending = replace(HOME, valid_until=NOW + timedelta(days=100))
    a = app(residences=(ending,), valid_until=NOW + timedelta(days=100))
    assert check(a, RULES) == []
    a = replace(a, valid_until=NOW + timedelta(days=100, seconds=1))
    assert check(a, RULES) == [Rule.RESIDENCE_ENDS]


@pytest.mark.parametrize(
    ("length", "failed"),
    [(5600, []), (5601, [Rule.VEHICLE_TOO_LONG]), (None, [Rule.VEHICLE_LENGTH_UNKNOWN])],
)
def test_maximum_length_koeln(length: int | None, failed: list[Rule]) -> None:
    car = replace(CAR, length_mm=length)
    assert check(app(vehicles=(car,)), RULES) == failed


def test_vehicle_held_or_in_proven_permanent_use() -> None:
    company = replace(CAR, is_holder=False, use_kind="company", proof_ref="AG-2026-17")
    assert check(app(vehicles=(company,)), RULES) == []
    no_proof = replace(company, proof_ref=None)
    assert check(app(vehicles=(no_proof,)), RULES) == [Rule.USE_PROOF_MISSING]
    strangers = replace(CAR, is_holder=False, use_kind="own")
    assert check(app(vehicles=(strangers,)), RULES) == [Rule.VEHICLE_NOT_HELD]
    no_hire = replace(RULES, use_kinds=("own", "company"))
    hire = replace(company, use_kind="hire")
    assert check(app(vehicles=(hire,)), no_hire) == [Rule.VEHICLE_NOT_HELD]


def test_vehicle_class_deregistration_and_plate_count() -> None:
    van = replace(CAR, vehicle_class="lkw")
    assert check(app(vehicles=(van,)), RULES) == [Rule.VEHICLE_CLASS]
    gone = replace(CAR, valid_until=NOW)
    assert check(app(vehicles=(gone,)), RULES) == [Rule.VEHICLE_DEREGISTERED]
    two = (CAR, replace(CAR, plate="GE-CD 5"))
    assert check(app(vehicles=two), RULES) == [Rule.TOO_MANY_PLATES]
    assert check(app(vehicles=()), RULES) == [Rule.VEHICLE_REQUIRED]


def test_one_permit_per_resident_and_per_vehicle() -> None:
    a = app(resident_has_permit=True, plates_with_permit=frozenset({"GE-AB 1234"}))
    assert check(a, RULES) == [Rule.RESIDENT_HAS_PERMIT, Rule.VEHICLE_HAS_PERMIT]


def test_renewal_window_42_days_and_none_after_expiry() -> None:
    until = NOW + timedelta(days=42)
    assert check(app(renewal_of_until=until), RULES) == []
    early = until + timedelta(seconds=1)
    assert check(app(renewal_of_until=early), RULES) == [Rule.RENEWAL_TOO_EARLY]
    assert check(app(renewal_of_until=NOW), RULES) == [Rule.RENEWAL_AFTER_EXPIRY]


def test_max_validity_boundary() -> None:
    rules = replace(RULES, max_validity_days=365)
    assert check(app(valid_until=NOW + timedelta(days=365)), rules) == []
    too_long = NOW + timedelta(days=365, seconds=1)
    assert check(app(valid_until=too_long), rules) == [Rule.VALIDITY_TOO_LONG]
    assert check(app(valid_until=NOW), rules) == [Rule.VALIDITY_EMPTY]


def test_every_failed_rule_is_reported_at_once() -> None:
    a = app(
        residences=(Residence("secondary", "Nebenweg", "1"),),
        vehicles=(replace(CAR, length_mm=6000, vehicle_class="lkw"),),
        resident_has_permit=True,
        valid_until=NOW + timedelta(days=800),
    )
    assert set(check(a, RULES)) == {
        Rule.VALIDITY_TOO_LONG,
        Rule.ADDRESS_NOT_IN_ZONE,
        Rule.VEHICLE_CLASS,
        Rule.VEHICLE_TOO_LONG,
        Rule.RESIDENT_HAS_PERMIT,
    }


def test_visitors_foreign_plates_and_quota() -> None:
    rules = default_rules("BES")
    visitor = Vehicle("NL:AB123C", is_holder=False)
    a = app(permit_type="BES", vehicles=(visitor,), valid_until=NOW + timedelta(days=1))
    assert check(a, rules) == []
    full = replace(a, visitor_permits_this_year=rules.visitor_quota_per_year)
    assert check(full, rules) == [Rule.QUOTA_EXHAUSTED]
    assert check(replace(a, permit_type="BEW"), RULES) == [Rule.FOREIGN_PLATE]


def test_trades_need_time_windows_and_fleets_need_permission() -> None:
    rules = default_rules("HAN")
    a = app(permit_type="HAN", residences=(), vehicles=(CAR,))
    assert check(a, rules) == [Rule.WINDOWS_REQUIRED]
    assert check(replace(a, windows=((31, 360, 1080),)), rules) == []
    fleet = app(vehicles=(), fleet="Stadtteilauto")
    assert check(fleet, RULES) == [Rule.FLEET_NOT_ALLOWED]
    assert check(fleet, replace(RULES, allow_fleet=True)) == []


def test_provisional_permits_are_short() -> None:
    a = app(is_provisional=True, valid_until=NOW + timedelta(days=29))
    assert check(a, RULES) == [Rule.VALIDITY_TOO_LONG]
    assert check(replace(a, valid_until=NOW + timedelta(days=28)), RULES) == []


def test_rules_round_trip_and_refuse_unknown_keys() -> None:
    assert Rules.from_dict(RULES.to_dict()) == RULES
    with pytest.raises(ValueError):
        Rules.from_dict({"max_lenght_mm": 5600})
    with pytest.raises(ValueError):
        Rules.from_dict({"residence_kinds": ["holiday"]})
