"""The portal's parsers of outside input, with Hypothesis: a payment provider's callback
body, refusal texts for any rule code, and the colour contrast check."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from issuer.services.eligibility import Rule
from wallet_api.errors import WalletApiError
from wallet_api.portal.brand import contrast_with_white
from wallet_api.portal.payments import parse_callback
from wallet_api.portal.texts import LANGS, REFUSALS, refusal

GOOD = {
    "payment_id": "6d609a04-e36c-43ef-bfa3-0f3cc978039d",
    "permit_id": "0e0f7a43-52c2-4d0c-9e0b-8d7f0a4a9f11",
    "amount_cents": 3000,
    "currency": "EUR",
    "status": "paid",
    "provider_ref": "ref-1",
}
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


@given(st.binary(max_size=512))
def test_any_bytes_are_parsed_or_refused_with_a_code(body: bytes) -> None:
    try:
        parsed = parse_callback(body)
    except WalletApiError as exc:
        assert exc.code == "invalid_callback" and exc.status == 400
    else:
        assert set(parsed) == set(GOOD)


@given(st.sampled_from(sorted(GOOD)), JSON)
def test_a_member_of_another_shape_is_refused(member: str, value: Any) -> None:
    body = json.dumps(dict(GOOD, **{member: value})).encode()
    try:
        parsed = parse_callback(body)
    except WalletApiError as exc:
        assert exc.code == "invalid_callback"
        return
    # what passes is what the callback may carry: ids as text, a whole amount, our words
    if member in ("payment_id", "permit_id", "provider_ref"):
        assert isinstance(parsed[member], str)
    elif member == "amount_cents":
        assert type(parsed[member]) is int
    else:
        assert parsed[member] == GOOD[member]


def test_the_good_body_parses() -> None:
    assert parse_callback(json.dumps(GOOD).encode()) == GOOD


@given(st.sampled_from([*Rule, "validity_beyond_key", "something_new"]), st.sampled_from(LANGS))
def test_every_refusal_is_a_sentence_never_the_code(code: str, lang: str) -> None:
    text = refusal(lang, str(code), renew_from="05.11.2027", max_length="5,60 m")
    assert text and str(code) not in text and "{" not in text


def test_every_rule_has_its_words_in_both_languages() -> None:
    for lang in LANGS:
        assert {str(r) for r in Rule} <= set(REFUSALS[lang])


@given(st.from_regex(r"#[0-9a-f]{6}", fullmatch=True))
def test_contrast_is_between_1_and_21(colour: str) -> None:
    assert 1.0 <= contrast_with_white(colour) <= 21.0


def test_known_contrasts() -> None:
    assert round(contrast_with_white("#000000"), 1) == 21.0
    assert round(contrast_with_white("#ffffff"), 1) == 1.0
    assert contrast_with_white("#0b5394") >= 4.5 > contrast_with_white("#ffd54a")
