"""Offers and the token grants against the database (services, no HTTP)."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.orm import Session

from tests.wallet_api.conftest import NOW, RESIDENT_A
from wallet_api.errors import BearerError, CredentialError, TokenError
from wallet_api.models import OfferState, WalletOffer
from wallet_api.services.nonces import consume_nonce, new_nonce
from wallet_api.services.offers import (
    PRE_AUTHORIZED_GRANT,
    CreatedOffer,
    create_offer,
    grant_for_access_token,
    redeem_offer,
    refresh_grant,
)
from wallet_api.services.policy import WalletPolicy

POLICY = WalletPolicy()


def _offer(session: Session, **kwargs: object) -> CreatedOffer:
    offer = create_offer(
        session,
        tenant_id=1,
        resident_id=RESIDENT_A,
        permit_id=None,
        configuration_ids=["05513000.residence"],
        credential_issuer="https://wallet.example",
        now=NOW,
        policy=POLICY,
        **kwargs,  # type: ignore[arg-type]
    )
    session.commit()
    return offer


def _code(offer: CreatedOffer) -> str:
    return str(offer.credential_offer["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"])


def _redeem(session: Session, offer: CreatedOffer, tx: str | None, at: object = NOW) -> object:
    return redeem_offer(
        session,
        pre_authorized_code=_code(offer),
        tx_code=tx,
        now=at,
        policy=POLICY,  # type: ignore[arg-type]
    )


def test_offer_url_carries_the_offer_json(session: Session) -> None:
    offer = _offer(session)
    parts = urlsplit(offer.credential_offer_url)
    assert parts.scheme == "openid-credential-offer"
    carried = json.loads(parse_qs(parts.query)["credential_offer"][0])
    assert carried == offer.credential_offer
    tx = carried["grants"][PRE_AUTHORIZED_GRANT]["tx_code"]
    assert tx["input_mode"] == "numeric" and tx["length"] == len(offer.tx_code) >= 6


def test_secrets_are_stored_hashed(session: Session) -> None:
    offer = _offer(session)
    row = session.get(WalletOffer, offer.offer_id)
    assert row is not None
    assert _code(offer) not in (row.code_digest, row.tx_code_hash)
    assert offer.tx_code not in row.tx_code_hash


def test_redeem_then_refresh_rotates_tokens(session: Session) -> None:
    offer = _offer(session)
    tokens = _redeem(session, offer, offer.tx_code)
    session.commit()
    grant = grant_for_access_token(session, access_token=tokens.access_token, now=NOW)  # type: ignore[attr-defined]
    later = NOW + timedelta(hours=1)
    with pytest.raises(BearerError):
        grant_for_access_token(session, access_token=tokens.access_token, now=later)  # type: ignore[attr-defined]
    fresh = refresh_grant(
        session,
        refresh_token=tokens.refresh_token,
        now=later,
        policy=POLICY,  # type: ignore[attr-defined]
    )
    session.commit()
    assert (
        grant_for_access_token(session, access_token=fresh.access_token, now=later).id == grant.id
    )
    with pytest.raises(TokenError) as info:
        refresh_grant(session, refresh_token=tokens.refresh_token, now=later, policy=POLICY)  # type: ignore[attr-defined]
    assert info.value.code == "invalid_grant"


def test_replayed_code_is_refused_and_revokes_the_first_tokens(session: Session) -> None:
    offer = _offer(session)
    tokens = _redeem(session, offer, offer.tx_code)
    session.commit()
    with pytest.raises(TokenError) as info:
        _redeem(session, offer, offer.tx_code)
    assert info.value.code == "invalid_grant"
    with pytest.raises(BearerError):
        grant_for_access_token(session, access_token=tokens.access_token, now=NOW)  # type: ignore[attr-defined]


def test_wrong_tx_code_does_not_burn_the_offer(session: Session) -> None:
    offer = _offer(session)
    wrong = "0" * len(offer.tx_code) if offer.tx_code != "0" * len(offer.tx_code) else "1" * 8
    with pytest.raises(TokenError) as info:
        _redeem(session, offer, wrong)
    assert info.value.code == "invalid_grant"
    session.rollback()  # the attempt was committed before the refusal
    row = session.get(WalletOffer, offer.offer_id)
    assert row is not None and row.failed_attempts == 1 and row.state == OfferState.PENDING
    _redeem(session, offer, offer.tx_code)


def test_missing_tx_code_is_invalid_request_and_costs_nothing(session: Session) -> None:
    offer = _offer(session)
    with pytest.raises(TokenError) as info:
        _redeem(session, offer, None)
    assert info.value.code == "invalid_request"
    session.rollback()
    row = session.get(WalletOffer, offer.offer_id)
    assert row is not None and row.failed_attempts == 0


def test_expired_offer_is_refused(session: Session) -> None:
    offer = _offer(session)
    with pytest.raises(TokenError) as info:
        _redeem(session, offer, offer.tx_code, NOW + timedelta(seconds=POLICY.offer_ttl_seconds))
    assert info.value.code == "invalid_grant"


def test_unknown_code_is_invalid_grant(session: Session) -> None:
    with pytest.raises(TokenError) as info:
        redeem_offer(session, pre_authorized_code="nope", tx_code="123456", now=NOW, policy=POLICY)
    assert info.value.code == "invalid_grant"


def test_nonce_is_single_use_and_short_lived(session: Session) -> None:
    nonce = new_nonce(session, now=NOW, policy=POLICY)
    consume_nonce(session, nonce=nonce, now=NOW)
    with pytest.raises(CredentialError) as info:
        consume_nonce(session, nonce=nonce, now=NOW)
    assert info.value.code == "invalid_nonce"
    stale = new_nonce(session, now=NOW, policy=POLICY)
    with pytest.raises(CredentialError):
        consume_nonce(session, nonce=stale, now=NOW + timedelta(seconds=POLICY.nonce_ttl_seconds))
