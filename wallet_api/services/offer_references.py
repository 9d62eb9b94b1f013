"""Offers by reference (OpenID4VCI 1.0 §4.1.3): a `credential_offer_uri` the wallet fetches.

The URI holds a 256-bit random token (stored as SHA-256) and lives at most
`policy.max_offer_uri_ttl_seconds` (never longer than its offer). The pre-authorized code
is made when the URI is fetched, so no code is stored in a form that could be shown again:
the fetch answers the Credential Offer object with a fresh code, and the URI is spent.

A second fetch finds the URI spent: 404, and the offer dies unless it was already redeemed,
because two fetches mean the link was seen by someone else (a shoulder-surfed QR code, a
forwarded message); the citizen asks for a new offer.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wallet_api.errors import WalletProblem
from wallet_api.models import OfferState, WalletOffer
from wallet_api.protocol_models import WalletOfferReference
from wallet_api.services import secrets as wsecrets
from wallet_api.services.offers import credential_offer_object
from wallet_api.services.policy import WalletPolicy

OFFER_PATH = "/wallet/credential-offer/"
MAX_TOKEN_CHARS = 64
log = logging.getLogger(__name__)


def offer_uri_for(credential_issuer: str, token: str) -> str:
    """The https URL of an offer by reference."""
    return f"{credential_issuer.rstrip('/')}{OFFER_PATH}{token}"


def create_reference(
    session: Session, *, offer: WalletOffer, now: datetime, policy: WalletPolicy
) -> tuple[str, datetime]:
    """A single-use reference to `offer`; returns the URI token and when it expires."""
    token = wsecrets.new_token()
    expires_at = min(offer.expires_at, now + timedelta(seconds=policy.max_offer_uri_ttl_seconds))
    # the code made with the offer is never shown: only a fetch of the URI hands one out
    offer.code_digest = wsecrets.token_digest(wsecrets.new_token())
    session.add(
        WalletOfferReference(
            offer_id=offer.id, uri_digest=wsecrets.token_digest(token), expires_at=expires_at
        )
    )
    session.flush()
    return token, expires_at


def _not_found() -> WalletProblem:
    return WalletProblem("offer_not_found", "no such credential offer", status=404)


def fetch_offer(
    session: Session, *, token: str, credential_issuer: str, now: datetime
) -> dict[str, Any]:
    """The Credential Offer object behind a URI token, once; see the module docstring."""
    if not 0 < len(token) <= MAX_TOKEN_CHARS:
        raise _not_found()
    reference = session.scalars(
        select(WalletOfferReference)
        .where(WalletOfferReference.uri_digest == wsecrets.token_digest(token))
        .with_for_update()
    ).one_or_none()
    if reference is None:
        raise _not_found()
    offer = session.get(WalletOffer, reference.offer_id, with_for_update=True)
    assert offer is not None
    if reference.fetched_at is not None:
        if offer.state == OfferState.PENDING:
            offer.state = OfferState.DEAD
            log.warning("wallet_offer_uri_refetched", extra={"offer": offer.id})
        session.commit()  # the offer dies even though this request is refused
        raise _not_found()
    if now >= reference.expires_at or offer.state != OfferState.PENDING or now >= offer.expires_at:
        raise _not_found()
    won = session.execute(
        update(WalletOfferReference)
        .where(
            WalletOfferReference.offer_id == offer.id,
            WalletOfferReference.fetched_at.is_(None),
        )
        .values(fetched_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise _not_found()
    code = wsecrets.new_token()
    offer.code_digest = wsecrets.token_digest(code)
    session.flush()
    log.info("wallet_offer_uri_fetched", extra={"offer": offer.id})
    return credential_offer_object(
        credential_issuer, list(offer.configuration_ids), code, offer.tx_code_digits
    )
