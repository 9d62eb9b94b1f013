"""Zones as the officer names them: AGS:CODE, or a bare code of the handheld's city."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier import Reason, Zone, ZoneError, resolve_zone

TWO = {"05513000": object(), "05562032": object()}


class Named:
    name = "Stadt Gelsenkirchen"


def test_qualified_and_bare_codes() -> None:
    assert resolve_zone(" 05562032 : a3 ", issuers=TWO) == Zone("05562032", "A3")
    assert resolve_zone("a3", municipality="05513000", issuers=TWO) == Zone("05513000", "A3")
    only = {"05513000": Named()}
    assert resolve_zone("A3", issuers=only) == Zone("05513000", "A3", "Stadt Gelsenkirchen")
    assert str(resolve_zone("05513000:A3")) == "05513000:A3"  # a city not (yet) in the bundle


@pytest.mark.parametrize("text", ["", "%%", "0551300:A3", "05513000:", "ab:A3", "A3:05513000"])
def test_not_a_zone(text: str) -> None:
    with pytest.raises(ZoneError) as info:
        resolve_zone(text, municipality="05513000", issuers=TWO)
    assert info.value.reason is Reason.BAD_ZONE


def test_a_bare_code_nothing_settles() -> None:
    for issuers in (TWO, {}):
        with pytest.raises(ZoneError) as info:
            resolve_zone("A3", issuers=issuers)
        assert info.value.reason is Reason.AMBIGUOUS_ZONE


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.none() | st.text(max_size=12))
def test_random_text_is_a_zone_or_a_typed_refusal(text: str, municipality: str | None) -> None:
    try:
        zone = resolve_zone(text, municipality=municipality, issuers=TWO)
    except ZoneError as exc:
        assert exc.reason in (Reason.BAD_ZONE, Reason.AMBIGUOUS_ZONE)
        return
    assert len(zone.municipality) == 8 and zone.municipality.isdigit()
    assert zone.code == zone.code.strip().upper() and ":" not in zone.code
