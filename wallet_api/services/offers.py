"""Credential offers and the token endpoint's two grants (OpenID4VCI 1.0 §4.1, §6).

- ``create_offer``: a pre-authorized code (256 bits, stored as SHA-256) and a numeric
  ``tx_code`` (stored as argon2id) for one resident's residence credential or one permit;
  the offer lives ``offer_ttl_seconds`` and is redeemed at most once.
- ``redeem_offer``: the pre-authorized_code grant. A wrong ``tx_code`` counts an attempt and
  keeps the offer alive until ``max_tx_code_attempts`` wrong codes, then the offer dies;
  a replayed code is refused and revokes the tokens it had produced (RFC 6749 §4.1.2).
- ``refresh_grant``: the refresh_token grant; both tokens rotate. The refresh token handed
  out lives ``refresh_token_ttl_seconds`` past the later of now and the expiry of the
  credentials the grant serves (``grants.refresh_lifetime_end``). A rotated-out refresh
  token is remembered until it would have expired; presented again it ends the whole grant
  (RFC 9700 §4.14.2: one of two parties holding it is not the wallet).

The counters are committed before the refusal is raised, so a rollback cannot undo them.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from wallet_api.errors import TokenError
from wallet_api.models import GrantEnd, OfferState, WalletGrant, WalletOffer, WalletRetiredToken
from wallet_api.services import bridge
from wallet_api.services import secrets as wsecrets
from wallet_api.services.grants import end_grants, refresh_lifetime_end
from wallet_api.services.policy import WalletPolicy

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
REFRESH_GRANT = "refresh_token"
OFFER_URI_SCHEME = "openid-credential-offer://"
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CreatedOffer:
    """An offer as the municipality sees it once: the tx_code is never shown again."""

    offer_id: str
    credential_offer: dict[str, Any]
    credential_offer_url: str  # openid-credential-offer://?credential_offer=<by value>
    tx_code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    """The token response (RFC 6749 §5.1)."""

    access_token: str
    expires_in: int
    refresh_token: str
    grant_id: str
    configuration_ids: tuple[str, ...]


def offer_url(credential_offer: dict[str, Any]) -> str:
    """The offer by value: ``openid-credential-offer://?credential_offer=<JSON>`` (§4.1.2)."""
    text = json.dumps(credential_offer, separators=(",", ":"))
    return f"{OFFER_URI_SCHEME}?credential_offer={quote(text, safe='')}"


def offer_url_by_reference(credential_offer_uri: str) -> str:
    """The offer by reference: ``openid-credential-offer://?credential_offer_uri=<https URL>``
    (§4.1.3)."""
    return f"{OFFER_URI_SCHEME}?credential_offer_uri={quote(credential_offer_uri, safe='')}"


def credential_offer_object(
    credential_issuer: str, configuration_ids: list[str], code: str, digits: int
) -> dict[str, Any]:
    """The Credential Offer object (§4.1.1) for a pre-authorized code and a numeric tx_code
    (none when `digits` is 0: an offer made in a session the citizen authenticated)."""
    grant: dict[str, Any] = {"pre-authorized_code": code}
    if digits:
        grant["tx_code"] = {
            "input_mode": "numeric",
            "length": digits,
            "description": "Code aus dem Schreiben der Stadt / code from the letter",
        }
    return {
        "credential_issuer": credential_issuer,
        "credential_configuration_ids": list(configuration_ids),
        "grants": {PRE_AUTHORIZED_GRANT: grant},
    }


def create_offer(
    session: Session,
    *,
    tenant_id: Any,
    resident_id: Any,
    permit_id: Any | None,
    configuration_ids: list[str],
    credential_issuer: str,
    now: datetime,
    policy: WalletPolicy,
    ttl_seconds: int | None = None,
    tx_code_digits: int | None = None,
    with_tx_code: bool = True,
) -> CreatedOffer:
    """Store a new offer and return its URI, JSON and the one-time tx_code (``""`` and no
    ``tx_code`` in the offer when `with_tx_code` is False: see docs/relying-party.md)."""
    digits = (tx_code_digits or policy.tx_code_digits) if with_tx_code else 0
    ttl = min(ttl_seconds or policy.offer_ttl_seconds, policy.max_offer_ttl_seconds)
    code = wsecrets.new_token()
    tx_code = wsecrets.new_tx_code(digits) if with_tx_code else ""
    offer = WalletOffer(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        resident_id=resident_id,
        permit_id=permit_id,
        configuration_ids=list(configuration_ids),
        code_digest=wsecrets.token_digest(code),
        tx_code_hash=wsecrets.hash_tx_code(tx_code) if with_tx_code else "",
        tx_code_digits=digits,
        failed_attempts=0,
        state=OfferState.PENDING,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
    )
    session.add(offer)
    session.flush()
    log.info("wallet_offer_created", extra={"tenant_id": tenant_id, "offer": offer.id})
    credential_offer = credential_offer_object(
        credential_issuer, list(configuration_ids), code, digits
    )
    return CreatedOffer(
        offer_id=offer.id,
        credential_offer=credential_offer,
        credential_offer_url=offer_url(credential_offer),
        tx_code=tx_code,
        expires_at=offer.expires_at,
    )


def _new_grant(
    offer: WalletOffer, *, now: datetime, policy: WalletPolicy
) -> tuple[WalletGrant, str, str]:
    access, refresh = wsecrets.new_token(), wsecrets.new_token()
    grant = WalletGrant(
        id=str(uuid.uuid4()),
        offer_id=offer.id,
        access_digest=wsecrets.token_digest(access),
        access_expires_at=now + timedelta(seconds=policy.access_token_ttl_seconds),
        refresh_digest=wsecrets.token_digest(refresh),
        refresh_expires_at=now + timedelta(seconds=policy.refresh_token_ttl_seconds),
        created_at=now,
    )
    return grant, access, refresh


def _refuse_and_commit(session: Session, code: str, description: str) -> TokenError:
    session.commit()
    return TokenError(code, description)


def redeem_offer(
    session: Session,
    *,
    pre_authorized_code: str,
    tx_code: str | None,
    now: datetime,
    policy: WalletPolicy,
) -> IssuedTokens:
    """The pre-authorized_code grant: check code and tx_code, then issue tokens once."""
    digest = wsecrets.token_digest(pre_authorized_code)
    offer = session.scalars(
        select(WalletOffer).where(WalletOffer.code_digest == digest).with_for_update()
    ).one_or_none()
    if offer is None:
        raise TokenError("invalid_grant", "unknown pre-authorized code")
    if offer.state == OfferState.REDEEMED:
        # A replayed code: refuse, and revoke what the first redemption produced.
        session.execute(
            update(WalletGrant)
            .where(WalletGrant.offer_id == offer.id, WalletGrant.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=GrantEnd.CODE_REPLAYED)
        )
        raise _refuse_and_commit(session, "invalid_grant", "the code was already used")
    if offer.state != OfferState.PENDING or now >= offer.expires_at:
        raise TokenError("invalid_grant", "the offer is no longer valid")
    if offer.failed_attempts >= policy.max_tx_code_attempts:
        raise TokenError("invalid_grant", "the offer is no longer valid")
    needs_tx_code = offer.tx_code_hash != ""  # "": offered in an authenticated session
    if needs_tx_code and (tx_code is None or tx_code == ""):
        # §6.3: a missing tx_code is invalid_request and costs no attempt.
        raise TokenError("invalid_request", "tx_code is required")
    if needs_tx_code and not wsecrets.tx_code_matches(offer.tx_code_hash, tx_code or ""):
        offer.failed_attempts += 1
        log.warning("wallet_tx_code_wrong", extra={"offer": offer.id})
        if offer.failed_attempts >= policy.max_tx_code_attempts:
            offer.state = OfferState.DEAD
            log.warning("wallet_offer_dead", extra={"offer": offer.id})
        raise _refuse_and_commit(session, "invalid_grant", "wrong tx_code")
    # Single use even under concurrency: only one transition pending -> redeemed wins.
    won = session.execute(
        update(WalletOffer)
        .where(WalletOffer.id == offer.id, WalletOffer.state == OfferState.PENDING)
        .values(state=OfferState.REDEEMED, redeemed_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise TokenError("invalid_grant", "the code was already used")
    grant, access, refresh = _new_grant(offer, now=now, policy=policy)
    session.add(grant)
    session.flush()
    bridge.audit(
        session,
        tenant_id=offer.tenant_id,
        actor="wallet",
        action="wallet_offer_redeemed",
        object_type="wallet_offer",
        object_id=offer.id,
        now=now,
    )
    log.info("wallet_offer_redeemed", extra={"tenant_id": offer.tenant_id, "offer": offer.id})
    return IssuedTokens(
        access_token=access,
        expires_in=policy.access_token_ttl_seconds,
        refresh_token=refresh,
        grant_id=grant.id,
        configuration_ids=tuple(offer.configuration_ids),
    )


def _refresh_reused(session: Session, *, digest: str, now: datetime) -> TokenError:
    """A refresh token that is not current: if it was rotated out, end its grant."""
    retired = session.get(WalletRetiredToken, digest)
    if retired is None:
        return TokenError("invalid_grant", "unknown, expired or revoked refresh token")
    grant = session.get(WalletGrant, retired.grant_id)
    assert grant is not None
    offer = session.get(WalletOffer, grant.offer_id)
    assert offer is not None
    bridge.lock_tenant(session, offer.tenant_id)  # the order every writer of the grant keeps
    if end_grants(session, [grant.id], reason=GrantEnd.REFRESH_REUSED, now=now):
        bridge.audit(
            session,
            tenant_id=offer.tenant_id,
            actor="wallet",
            action="wallet_refresh_reused",
            object_type="wallet_grant",
            object_id=grant.id,
            now=now,
        )
    return _refuse_and_commit(session, "invalid_grant", "unknown, expired or revoked refresh token")


def refresh_grant(
    session: Session, *, refresh_token: str, now: datetime, policy: WalletPolicy
) -> IssuedTokens:
    """The refresh_token grant: rotate both tokens of a live grant; a replayed old refresh
    token ends the grant."""
    digest = wsecrets.token_digest(refresh_token)
    grant = session.scalars(
        select(WalletGrant).where(WalletGrant.refresh_digest == digest).with_for_update()
    ).one_or_none()
    if grant is None:
        raise _refresh_reused(session, digest=digest, now=now)
    if grant.revoked_at is not None or now >= grant.refresh_expires_at:
        raise TokenError("invalid_grant", "unknown, expired or revoked refresh token")
    offer = session.get(WalletOffer, grant.offer_id)
    assert offer is not None
    session.execute(
        delete(WalletRetiredToken).where(
            WalletRetiredToken.grant_id == grant.id, WalletRetiredToken.expires_at <= now
        )
    )
    session.add(
        WalletRetiredToken(
            digest=grant.refresh_digest,
            grant_id=grant.id,
            retired_at=now,
            expires_at=grant.refresh_expires_at,
        )
    )
    access, refresh = wsecrets.new_token(), wsecrets.new_token()
    grant.access_digest = wsecrets.token_digest(access)
    grant.access_expires_at = now + timedelta(seconds=policy.access_token_ttl_seconds)
    grant.refresh_digest = wsecrets.token_digest(refresh)
    grant.refresh_expires_at = refresh_lifetime_end(session, grant, now=now, policy=policy)
    session.flush()
    return IssuedTokens(
        access_token=access,
        expires_in=policy.access_token_ttl_seconds,
        refresh_token=refresh,
        grant_id=grant.id,
        configuration_ids=tuple(offer.configuration_ids),
    )


def grant_for_access_token(session: Session, *, access_token: str, now: datetime) -> WalletGrant:
    """The live grant behind a bearer token, else ``BearerError`` (invalid_token)."""
    from wallet_api.errors import BearerError

    grant = session.scalars(
        select(WalletGrant).where(WalletGrant.access_digest == wsecrets.token_digest(access_token))
    ).one_or_none()
    if grant is None or grant.revoked_at is not None or now >= grant.access_expires_at:
        raise BearerError("invalid_token", "unknown, expired or revoked access token")
    return grant


def offer_of(session: Session, grant: WalletGrant) -> WalletOffer:
    """The offer a grant redeemed."""
    offer = session.get(WalletOffer, grant.offer_id)
    assert offer is not None
    return offer
