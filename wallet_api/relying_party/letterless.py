"""The Bürger-ID without a letter: a verified PID, matched to the tenant's register
(``matching``), becomes a credential offer in the session that presented it.

The offer is for the tenant's residence credential, by reference (a single-use
``credential_offer_uri``, its pre-authorized code made only when the wallet fetches it),
lives 10 minutes, and carries no ``tx_code``. OpenID4VCI 1.0 §13.6 has the transaction
code protect a pre-authorized code that travels through a channel an attacker may see
(a letter, a forwarded e-mail): it must reach the person on another channel. Here the
offer is shown only to the browser session that just presented the PID, on the page that
session asked for, minutes after the presentation; a code shown on the same page would
travel the same channel and add nothing. The residual risk, someone reading the QR code
off the screen in the minutes before the citizen scans it, is bounded by the single use
of the URI: a second fetch kills the offer, and the citizen sees her wallet fail.
Wallets that can should use the authorization code flow instead (``authorization``),
where the code is bound to the wallet by PKCE.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from issuer.db.models import Tenant
from wallet_api.models import WalletOffer
from wallet_api.relying_party.matching import Match, MatchOutcome, match_resident
from wallet_api.services import bridge
from wallet_api.services.credential_types import RESIDENCE
from wallet_api.services.offer_references import create_reference, offer_uri_for
from wallet_api.services.offers import create_offer, offer_url_by_reference
from wallet_api.services.policy import WalletPolicy

OFFER_TTL_SECONDS = 600
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LetterlessOffer:
    """What the page shows after a match: the wallet link and the https offer URI."""

    credential_offer_url: str  # openid-credential-offer://?credential_offer_uri=...
    credential_offer_uri: str
    expires_at: datetime


def offer_after_pid(
    session: Session,
    *,
    tenant: Tenant,
    pid_claims: dict[str, object],
    credential_issuer: str,
    policy: WalletPolicy,
    now: datetime,
) -> tuple[Match, LetterlessOffer | None]:
    """Match the PID and, on exactly one resident, make the Bürger-ID offer."""
    match = match_resident(session, tenant_id=tenant.id, claims=dict(pid_claims), today=now.date())
    log.info("rp_pid_matched", extra={"tenant": tenant.ags, "outcome": match.outcome})
    if match.outcome != MatchOutcome.MATCHED:
        return match, None
    assert match.resident_id is not None
    created = create_offer(
        session,
        tenant_id=tenant.id,
        resident_id=match.resident_id,
        permit_id=None,
        configuration_ids=[f"{tenant.ags}.{RESIDENCE}"],
        credential_issuer=credential_issuer,
        now=now,
        policy=policy,
        ttl_seconds=OFFER_TTL_SECONDS,
        with_tx_code=False,
    )
    offer = session.get(WalletOffer, created.offer_id)
    assert offer is not None
    token, expires_at = create_reference(session, offer=offer, now=now, policy=policy)
    uri = offer_uri_for(credential_issuer, token)
    bridge.audit(
        session,
        tenant_id=tenant.id,
        actor="wallet",
        action="wallet_offer_after_pid",
        object_type="wallet_offer",
        object_id=offer.id,
        now=now,
    )
    return match, LetterlessOffer(offer_url_by_reference(uri), uri, expires_at)
