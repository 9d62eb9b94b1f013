"""Deferred issuance (OpenID4VCI 1.0 §8.3, §9): a permit still awaiting payment.

The credential request is checked in full (proofs, c_nonce, devices) and answered with a
`transaction_id` (256 bits, stored as SHA-256) and an `interval`; the proven keys are kept
with the transaction. At the deferred credential endpoint (`collect`):

- the transaction must belong to the grant of the access token: a `transaction_id` used
  with another grant's token is `invalid_transaction_id`, exactly like an unknown one;
- while the permit awaits payment: 202 with the same `transaction_id` and the interval;
- once it is paid (active): the credentials for the kept keys, once; the
  `transaction_id` is spent (§9.1: invalidated after the credential was obtained);
- when the permit ended meanwhile, a device of the request was removed (a lost phone), or
  the transaction outlived `deferred_ttl_seconds`: `credential_request_denied` (§9.3),
  and the transaction is closed.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.services.permits.vocabulary import PermitState
from issuer.services.signing import KeyStore
from issuer.settings import Settings
from wallet_api.errors import CredentialError
from wallet_api.models import WalletDevice, WalletGrant, WalletOffer
from wallet_api.protocol_models import DeferredState, WalletDeferred
from wallet_api.services import bridge
from wallet_api.services import secrets as wsecrets
from wallet_api.services.configurations import PERMIT_QR
from wallet_api.services.credentials import (
    Issuance,
    IssuedCredentials,
    issuance,
    issue_bound,
    issue_qr,
    offered_permit,
)
from wallet_api.services.grants import lock_live_grant
from wallet_api.services.policy import WalletPolicy

MAX_TRANSACTION_ID_CHARS = 64
log = logging.getLogger(__name__)


def defer(
    session: Session,
    job: Issuance,
    *,
    keys: list[tuple[dict[str, str], str]],
    device_id: str | None,
) -> IssuedCredentials:
    """Keep a request for later; answer its transaction_id and interval."""
    transaction_id = wsecrets.new_token()
    entries: list[dict[str, Any]] = [{"jwk": jwk, "device_id": dev} for jwk, dev in keys]
    if device_id is not None:  # the QR token: no key, the device it is recorded against
        entries.append({"device_id": device_id})
    session.add(
        WalletDeferred(
            id=str(uuid.uuid4()),
            transaction_digest=wsecrets.token_digest(transaction_id),
            tenant_id=job.tenant.id,
            grant_id=job.grant.id,
            permit_id=job.offer.permit_id,
            configuration_id=job.configuration_id,
            keys=entries,
            state=DeferredState.PENDING,
            created_at=job.now,
            expires_at=job.now + timedelta(seconds=job.policy.deferred_ttl_seconds),
        )
    )
    session.flush()
    bridge.audit(
        session,
        tenant_id=job.tenant.id,
        actor="wallet",
        action="wallet_credential_deferred",
        object_type="wallet_grant",
        object_id=job.grant.id,
        reason=job.configuration_id,
        now=job.now,
    )
    log.info(
        "wallet_credential_deferred", extra={"tenant_id": job.tenant.id, "grant": job.grant.id}
    )
    return IssuedCredentials(
        credentials=(),
        notification_id=None,
        transaction_id=transaction_id,
        interval=job.policy.deferred_interval_seconds,
    )


def _invalid() -> CredentialError:
    return CredentialError("invalid_transaction_id", "unknown or spent transaction_id")


def _close(session: Session, row: WalletDeferred, state: str, now: datetime) -> None:
    row.state = state
    row.completed_at = now
    session.flush()


def collect(
    session: Session,
    *,
    settings: Settings,
    keys: KeyStore,
    policy: WalletPolicy,
    grant: WalletGrant,
    body: Any,
    credential_issuer: str,
    now: datetime,
) -> IssuedCredentials:
    """Answer a deferred credential request (see the module docstring)."""
    transaction_id = body.get("transaction_id") if isinstance(body, dict) else None
    if not isinstance(body, dict):
        raise CredentialError("invalid_credential_request", "the body must be a JSON object")
    if (
        not isinstance(transaction_id, str)
        or not 0 < len(transaction_id) <= MAX_TRANSACTION_ID_CHARS
    ):
        raise CredentialError("invalid_credential_request", "transaction_id is required")
    offer = session.get(WalletOffer, grant.offer_id)
    assert offer is not None
    # tenant lock, then the grant: a device removal that committed meanwhile is seen here
    lock_live_grant(session, grant, tenant_id=offer.tenant_id, now=now)
    row = session.scalars(
        select(WalletDeferred)
        .where(WalletDeferred.transaction_digest == wsecrets.token_digest(transaction_id))
        .with_for_update()
    ).one_or_none()
    if row is None or row.grant_id != grant.id or row.state != DeferredState.PENDING:
        raise _invalid()
    job = issuance(
        session,
        settings=settings,
        keys=keys,
        policy=policy,
        offer=offer,
        grant=grant,
        configuration_id=row.configuration_id,
        credential_issuer=credential_issuer,
        now=now,
    )
    if now >= row.expires_at:
        _close(session, row, DeferredState.DENIED, now)
        session.commit()
        raise CredentialError("credential_request_denied", "the transaction has expired")
    try:
        permit = offered_permit(session, job)
    except CredentialError:
        _close(session, row, DeferredState.DENIED, now)
        session.commit()  # the transaction stays closed although this request is refused
        raise
    device_ids = {str(e["device_id"]) for e in row.keys}
    removed = session.scalars(
        select(WalletDevice.id).where(
            WalletDevice.id.in_(device_ids), WalletDevice.removed_at.is_not(None)
        )
    ).first()
    if removed is not None:
        _close(session, row, DeferredState.DENIED, now)
        session.commit()
        raise CredentialError("credential_request_denied", "the device was removed")
    if permit.state == PermitState.AWAITING_PAYMENT:
        return IssuedCredentials(
            credentials=(),
            notification_id=None,
            transaction_id=transaction_id,
            interval=policy.deferred_interval_seconds,
        )
    notification_id = str(uuid.uuid4())
    if job.kind == PERMIT_QR:
        device_id = str(row.keys[0]["device_id"])
        credentials: tuple[str, ...] = (
            issue_qr(
                session, job, permit=permit, device_id=device_id, notification_id=notification_id
            ),
        )
    else:
        pairs = [(dict(e["jwk"]), str(e["device_id"])) for e in row.keys]
        credentials = issue_bound(
            session, job, keys=pairs, notification_id=notification_id, permit=permit
        )
    _close(session, row, DeferredState.ISSUED, now)
    return IssuedCredentials(credentials=credentials, notification_id=notification_id)
