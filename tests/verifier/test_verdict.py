"""Verdict values and the ``check --json`` shape (docs/verifier.md)."""

from __future__ import annotations

import pytest

from tests.support.verifier_internals import (
    INDETERMINATE_REASONS,
    LANGUAGES,
    NOTICE_WORDS,
    OUTCOME_WORDS,
    REASON_WORDS,
    VERDICT_REASONS,
    failed,
    outcome_for,
    pick_language,
)
from verifier import BundleInfo, Notice, Outcome, Permit, Reason, Verdict

PERMIT = Permit(
    issuer="05513000",
    type="BEW",
    zones=("A3",),
    plates=("GE-AB 1234",),
    fleet=None,
    number=7,
    iat=100,
    nbf=None,
    exp=200,
    max_stay=None,
    windows=None,
)


def test_json_shape_is_the_contract() -> None:
    verdict = Verdict(Outcome.VALID, None, (Notice.BUNDLE_STALE,), PERMIT, BundleInfo(3, 50, 60))
    assert verdict.to_json() == {
        "outcome": "valid",
        "reason": None,
        "warnings": ["bundle_stale"],
        "permit": {
            "issuer": "05513000",
            "type": "BEW",
            "zones": ["A3"],
            "plates": ["GE-AB 1234"],
            "fleet": None,
            "number": 7,
            "iat": 100,
            "nbf": None,
            "exp": 200,
            "max_stay": None,
            "windows": None,
        },
        "bundle": {"seq": 3, "iat": 50, "age_s": 60},
    }


def test_reason_is_none_exactly_when_valid() -> None:
    with pytest.raises(ValueError):
        Verdict(Outcome.VALID, Reason.EXPIRED)
    with pytest.raises(ValueError):
        Verdict(Outcome.INVALID, None)


@pytest.mark.parametrize("reason", VERDICT_REASONS)
def test_outcome_and_exit_status_per_reason(reason: Reason) -> None:
    verdict = failed(reason)
    expected = Outcome.INDETERMINATE if reason in INDETERMINATE_REASONS else Outcome.INVALID
    assert verdict.outcome is expected is outcome_for(reason)
    assert verdict.exit_status == (3 if expected is Outcome.INDETERMINATE else 1)
    assert verdict.to_json()["permit"] is None and verdict.to_json()["bundle"] is None


def test_indeterminate_reasons_are_the_five_of_design() -> None:
    assert {str(r) for r in INDETERMINATE_REASONS} == {
        "no_bundle",
        "clock_behind",
        "bundle_expired",
        "status_unknown",
        "no_plate_index",
    }


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_code_has_words(lang: str) -> None:
    assert set(VERDICT_REASONS) <= set(REASON_WORDS[lang])  # type: ignore[index]
    assert set(Notice) == set(NOTICE_WORDS[lang])  # type: ignore[index]
    assert set(Outcome) == set(OUTCOME_WORDS[lang])  # type: ignore[index]


@pytest.mark.parametrize(
    ("explicit", "env", "expected"),
    [
        ("en", {"LANG": "de_DE.UTF-8"}, "en"),
        (None, {"LANG": "de_DE.UTF-8"}, "de"),
        (None, {"LC_ALL": "C", "LANG": "de_DE.UTF-8"}, "en"),
        (None, {}, "en"),
        (None, {"LC_MESSAGES": "de_AT"}, "de"),
    ],
)
def test_language_choice(explicit: str | None, env: dict[str, str], expected: str) -> None:
    assert pick_language(explicit, env) == expected
