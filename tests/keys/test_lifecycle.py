"""Key states and the rotation planner, at their boundaries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keys.errors import KeyRingError, KeysCode
from keys.lifecycle import (
    ISSUER_TYPES,
    KeyState,
    KeyWindow,
    PlannedKey,
    Purpose,
    RotationPolicy,
    is_published,
    key_state,
    parse_types,
    permit_types,
    plan_rotation,
)
from verifier import PermitType

W = KeyWindow(nbf=1000, sign_until=2000, exp=3000)
DAY = 86_400
POLICY = RotationPolicy(fresh_seconds=DAY, max_token_seconds=400 * DAY, sign_seconds=90 * DAY)


@pytest.mark.parametrize(
    ("now", "state"),
    [
        (0, KeyState.PENDING),
        (999, KeyState.PENDING),
        (1000, KeyState.ACTIVE),  # nbf inclusive
        (1999, KeyState.ACTIVE),
        (2000, KeyState.RETIRED),  # sign_until exclusive
        (2999, KeyState.RETIRED),
        (3000, KeyState.EXPIRED),  # exp exclusive
        (10**10, KeyState.EXPIRED),
    ],
)
def test_state_at_the_boundaries(now: int, state: KeyState) -> None:
    assert key_state(W, now) is state


@pytest.mark.parametrize("now", [0, 1000, 2000, 3000])
def test_withdrawn_wins_at_any_time(now: int) -> None:
    assert key_state(W, now, withdrawn_at=5) is KeyState.WITHDRAWN
    assert not is_published(KeyState.WITHDRAWN)


def test_published_states() -> None:
    published = {s for s in KeyState if is_published(s)}
    assert published == {KeyState.PENDING, KeyState.ACTIVE, KeyState.RETIRED}


@pytest.mark.parametrize(
    "times",
    [(2, 1, 3), (1, 3, 2), (1, 1, 1), (5, 5, 4), (1.0, 2, 3), (True, 2, 3)],
)
def test_bad_windows(times: tuple[int, int, int]) -> None:
    with pytest.raises(KeyRingError) as info:
        KeyWindow(*times)
    assert info.value.code is KeysCode.BAD_WINDOW


def test_degenerate_but_valid_windows() -> None:
    KeyWindow(1, 1, 2)  # never signs: a verify-only import
    KeyWindow(1, 2, 2)  # verifies nothing after signing


def test_types_are_canonical_and_checked() -> None:
    assert parse_types(["status", "BEW", "BEW"]) == (PermitType.BEW, Purpose.STATUS)
    assert permit_types(ISSUER_TYPES) == ("BEW", "BES", "HAN", "PFL", "SON")
    for bad in ([], ["XYZ"], ["bundle", "BEW"]):
        with pytest.raises(KeyRingError) as info:
            parse_types(bad)
        assert info.value.code is KeysCode.BAD_TYPES


def test_first_key_waits_one_freshness_period() -> None:
    plan = plan_rotation([], 0, POLICY)
    assert plan is not None
    assert plan.new_window == KeyWindow(DAY, DAY + 90 * DAY, DAY + 90 * DAY + 400 * DAY)
    assert plan.changed == ()


def test_scheduled_rotation_hands_over_at_sign_until() -> None:
    current = PlannedKey("a", KeyWindow(0, 100 * DAY, 500 * DAY))
    plan = plan_rotation([current], 10 * DAY, POLICY)
    assert plan is not None
    assert plan.new_window.nbf == 100 * DAY
    assert plan.changed == ()  # the current key keeps its window


def test_rotation_exactly_one_freshness_period_before_handover() -> None:
    current = PlannedKey("a", KeyWindow(0, 100 * DAY, 500 * DAY))
    plan = plan_rotation([current], 99 * DAY, POLICY)
    assert plan is not None
    assert plan.new_window.nbf == 100 * DAY == 99 * DAY + POLICY.fresh_seconds
    assert plan.changed == ()


def test_late_rotation_extends_the_current_key_without_gap() -> None:
    current = PlannedKey("a", KeyWindow(0, 100 * DAY, 100 * DAY + 400 * DAY))
    now = 100 * DAY - 1  # less than a freshness period before the handover
    plan = plan_rotation([current], now, POLICY)
    assert plan is not None
    assert plan.new_window.nbf == now + DAY
    ((kid, window),) = plan.changed
    assert kid == "a"
    assert window.sign_until == plan.new_window.nbf  # no gap, no overlap
    assert window.exp == window.sign_until + POLICY.max_token_seconds  # longest token covered


def test_forced_rotation_shortens_signing_but_never_exp() -> None:
    current = PlannedKey("a", KeyWindow(0, 300 * DAY, 800 * DAY))
    plan = plan_rotation([current], 10 * DAY, POLICY, force=True)
    assert plan is not None
    assert plan.new_window.nbf == 11 * DAY
    assert plan.changed == (("a", KeyWindow(0, 11 * DAY, 800 * DAY)),)


def test_pending_successor_means_nothing_to_do() -> None:
    keys = [
        PlannedKey("a", KeyWindow(0, 100 * DAY, 500 * DAY)),
        PlannedKey("b", KeyWindow(100 * DAY, 190 * DAY, 590 * DAY)),
    ]
    assert plan_rotation(keys, 50 * DAY, POLICY) is None
    assert plan_rotation(keys, 50 * DAY, POLICY, force=True) is not None


def test_withdrawn_keys_are_ignored() -> None:
    keys = [
        PlannedKey("a", KeyWindow(0, 100 * DAY, 500 * DAY), withdrawn_at=5 * DAY),
        PlannedKey("b", KeyWindow(20 * DAY, 190 * DAY, 590 * DAY), withdrawn_at=5 * DAY),
    ]
    plan = plan_rotation(keys, 10 * DAY, POLICY)
    assert plan is not None
    assert plan.new_window.nbf == 11 * DAY  # no active key: one freshness period from now
    assert plan.changed == ()


def test_retired_and_expired_keys_are_left_alone() -> None:
    keys = [PlannedKey("old", KeyWindow(0, 10, 20)), PlannedKey("ret", KeyWindow(0, 10, 10**9))]
    plan = plan_rotation(keys, 100, POLICY)
    assert plan is not None and plan.changed == ()


@settings(max_examples=200, deadline=None)
@given(
    nbf=st.integers(0, 10**6),
    sign=st.integers(1, 10**6),
    tail=st.integers(0, 10**6),
    offset=st.integers(0, 3 * 10**6),
    fresh=st.integers(1, 10**5),
    lifetime=st.integers(1, 10**6),
    force=st.booleans(),
)
def test_planner_invariants(
    nbf: int, sign: int, tail: int, offset: int, fresh: int, lifetime: int, force: bool
) -> None:
    policy = RotationPolicy(fresh, lifetime, 1000)
    current = PlannedKey("a", KeyWindow(nbf, nbf + sign, nbf + sign + tail))
    now = nbf + offset
    plan = plan_rotation([current], now, policy, force=force)
    assert plan is not None
    new = plan.new_window
    assert new.nbf >= now + fresh  # published at least one freshness period before signing
    assert new.exp - new.sign_until == lifetime
    for kid, window in plan.changed:
        assert kid == "a"
        assert window.sign_until == new.nbf  # hands over without a gap
        assert window.exp >= current.window.exp  # exp never shortened
        assert window.exp >= window.sign_until + lifetime  # its longest token still verifies
