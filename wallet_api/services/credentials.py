"""The credential endpoint's work (OpenID4VCI 1.0 §8): proofs in, credentials out.

For a key-bound configuration every ``proofs.jwt`` element is validated, all of them must
carry the same ``c_nonce``, which is consumed once; each distinct proof key becomes (or
already is) a device of the grant's resident, and a key bound to anybody else is refused.
Each key gets its own credential with its own random status index (DESIGN §3.3). The
permit QR configuration takes no proof and returns the ``BID1:`` token.

Before anything is bound or issued the grant is re-read under the tenant's lock (an ended
grant is ``invalid_token``) and the quotas are checked (``quotas.py``); every key bound is
recorded against the grant, and the grant's refresh token outlives what it issued.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.settings import Settings
from wallet_api.errors import CredentialError
from wallet_api.models import WalletCredential, WalletDevice, WalletGrant, WalletOffer
from wallet_api.services import bridge, quotas
from wallet_api.services.configurations import PERMIT_QR, parse_configuration_id
from wallet_api.services.grants import bind_device, extend_for_credential, lock_live_grant
from wallet_api.services.nonces import consume_nonce
from wallet_api.services.policy import WalletPolicy
from wallet_api.services.proofs import ProvenKey, validate_proof
from wallet_api.services.sd_jwt_vc import (
    PARKING_PERMIT,
    RESIDENCE,
    permit_credential,
    residence_credential,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """The credential response (§8.3): one entry per proof key, and a notification id."""

    credentials: tuple[str, ...]
    notification_id: str | None  # none for the QR token: nothing to track


def _audit_issued(
    session: Session,
    tenant_id: int,
    grant: WalletGrant,
    configuration_id: str,
    count: int,
    now: datetime,
) -> None:
    bridge.audit(
        session,
        tenant_id=tenant_id,
        actor="wallet",
        action="wallet_credential_issued",
        object_type="wallet_grant",
        object_id=grant.id,
        reason=f"{configuration_id} x{count}",
        now=now,
    )
    log.info(
        "wallet_credential_issued",
        extra={"tenant_id": tenant_id, "grant": grant.id, "configuration": configuration_id},
    )


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def parse_request(body: Any, *, policy: WalletPolicy) -> tuple[str, list[str]]:
    """``credential_configuration_id`` and the ``proofs.jwt`` list of a credential request."""
    if not isinstance(body, dict):
        raise CredentialError("invalid_credential_request", "the body must be a JSON object")
    if "format" in body:
        # draft-13 style requests; 1.0 names a configuration instead.
        raise CredentialError("unsupported_credential_format", "use credential_configuration_id")
    if "credential_identifier" in body:
        raise CredentialError("invalid_credential_request", "credential_identifier unsupported")
    if "proof" in body:
        raise CredentialError("invalid_credential_request", "use proofs, not proof")
    configuration_id = body.get("credential_configuration_id")
    if not isinstance(configuration_id, str):
        raise CredentialError("invalid_credential_request", "credential_configuration_id missing")
    proofs = body.get("proofs")
    if proofs is None:
        return configuration_id, []
    if not isinstance(proofs, dict) or set(proofs) != {"jwt"}:
        raise CredentialError("invalid_proof", "proofs must hold exactly one type: jwt")
    jwts = proofs["jwt"]
    if not isinstance(jwts, list) or not jwts:
        raise CredentialError("invalid_proof", "proofs.jwt must be a non-empty array")
    if len(jwts) > policy.batch_size:
        raise CredentialError("invalid_proof", "more proofs than the batch size")
    return configuration_id, jwts


def device_for(
    session: Session,
    settings: Settings,
    *,
    grant: WalletGrant,
    offer: WalletOffer,
    key: ProvenKey,
    now: datetime,
) -> WalletDevice:
    """The holder's device of a proven key (made on first use, within the device quota),
    recorded as bound by ``grant``; a key of another holder or of a removed device is
    refused."""
    by_thumbprint = select(WalletDevice).where(WalletDevice.thumbprint == key.thumbprint)
    device = session.scalars(by_thumbprint).one_or_none()
    if device is None:
        quotas.check_new_device(
            session, settings, tenant_id=offer.tenant_id, resident_id=offer.resident_id
        )
        device = WalletDevice(
            id=str(uuid.uuid4()),
            tenant_id=offer.tenant_id,
            resident_id=offer.resident_id,
            thumbprint=key.thumbprint,
            jwk=key.jwk,
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(device)
        except IntegrityError:
            # a concurrent request bound this key first (unique thumbprint): judge that
            # binding like any existing one instead of failing on the constraint
            device = session.scalars(by_thumbprint).one()
    if device.tenant_id != offer.tenant_id or device.resident_id != offer.resident_id:
        raise CredentialError("invalid_proof", "the key is bound to another holder")
    if device.removed_at is not None:
        raise CredentialError("invalid_proof", "the key belongs to a removed device")
    bind_device(session, grant=grant, device=device, now=now)
    return device


def proven_keys(
    proofs: list[str], *, audience: str, now: datetime, session: Session
) -> list[ProvenKey]:
    """Validate every proof, require one shared nonce and distinct keys; consume the nonce."""
    keys = [validate_proof(p, audience=audience, now=_unix(now)) for p in proofs]
    nonces = {k.nonce for k in keys}
    if len(nonces) != 1:
        raise CredentialError("invalid_nonce", "all proofs of a request carry the same c_nonce")
    if len({k.thumbprint for k in keys}) != len(keys):
        raise CredentialError("invalid_proof", "each proof must use a different key")
    consume_nonce(session, nonce=keys[0].nonce, now=now)
    return keys


def issue_credentials(
    session: Session,
    *,
    settings: Settings,
    policy: WalletPolicy,
    grant: WalletGrant,
    body: Any,
    credential_issuer: str,
    now: datetime,
) -> IssuedCredentials:
    """Answer one credential request of a live grant."""
    configuration_id, proofs = parse_request(body, policy=policy)
    offer = session.get(WalletOffer, grant.offer_id)
    assert offer is not None
    lock_live_grant(session, grant, tenant_id=offer.tenant_id, now=now)
    parsed = parse_configuration_id(configuration_id)
    if parsed is None or configuration_id not in offer.configuration_ids:
        raise CredentialError("unknown_credential_configuration", "not offered to this token")
    tenant = bridge.tenant(session, offer.tenant_id)
    notification_id = str(uuid.uuid4())

    def check_quota(count: int) -> None:
        quotas.check_credentials(
            session,
            settings,
            grant_id=grant.id,
            tenant_id=tenant.id,
            resident_id=offer.resident_id,
            count=count,
            now=now,
        )

    if parsed.kind == PERMIT_QR:
        if proofs:
            raise CredentialError("invalid_proof", "the QR credential takes no proof")
        # The QR goes to a wallet that proved a device key under this grant, and is recorded
        # against that device: removing a lost phone revokes its QR token as well.
        device_id = session.scalar(
            select(WalletCredential.device_id)
            .where(WalletCredential.grant_id == grant.id, WalletCredential.revoked_at.is_(None))
            .order_by(WalletCredential.issued_at.desc())
            .limit(1)
        )
        if device_id is None:
            raise CredentialError(
                "credential_request_denied", "fetch the key-bound credential first"
            )
        check_quota(1)
        permit = bridge.active_permit(session, tenant=tenant, permit_id=offer.permit_id, now=now)
        qr = bridge.qr_token(session, settings, permit=permit, now=now)
        list_no, idx = bridge.latest_qr_index(session, permit=permit)
        session.add(
            WalletCredential(
                id=str(uuid.uuid4()),
                tenant_id=tenant.id,
                resident_id=offer.resident_id,
                grant_id=grant.id,
                device_id=device_id,
                permit_id=permit.id,
                configuration_id=configuration_id,
                status_list=list_no,
                status_idx=idx,
                notification_id=notification_id,
                issued_at=now,
                expires_at=permit.valid_until,
            )
        )
        extend_for_credential(grant, permit.valid_until, policy=policy)
        session.flush()
        _audit_issued(session, tenant.id, grant, configuration_id, 1, now)
        return IssuedCredentials(credentials=(qr,), notification_id=notification_id)

    if not proofs:
        raise CredentialError("invalid_proof", "this credential needs proofs.jwt")
    keys = proven_keys(proofs, audience=credential_issuer, now=now, session=session)
    check_quota(len(keys))
    devices = [
        device_for(session, settings, grant=grant, offer=offer, key=k, now=now) for k in keys
    ]
    today = now.astimezone(UTC).date()
    issued: list[str] = []
    if parsed.kind == PARKING_PERMIT:
        permit = bridge.active_permit(session, tenant=tenant, permit_id=offer.permit_id, now=now)
        facts = bridge.permit_facts(session, permit=permit, tenant_name=tenant.name)
        signer_key = bridge.signing_key(settings, tenant, now, permit_type=None)
        expires_at = datetime.fromtimestamp(facts.valid_until, UTC)
    elif parsed.kind == RESIDENCE:
        residence = bridge.residence_facts(
            session, tenant=tenant, resident_id=offer.resident_id, today=today
        )
        signer_key = bridge.signing_key(settings, tenant, now, permit_type=None)
        expires_at = now + timedelta(seconds=policy.residence_credential_ttl_seconds)
    else:  # pragma: no cover - parse_configuration_id allows only the three kinds
        raise CredentialError("unknown_credential_configuration", "unknown kind")

    for key, device in zip(keys, devices, strict=True):
        list_no, idx = bridge.allocate(session, settings, tenant_id=tenant.id, now=now)
        status_uri = bridge.status_uri(settings, tenant, list_no)
        if parsed.kind == PARKING_PERMIT:
            bridge.record_permit_token(
                session,
                permit=permit,
                list_no=list_no,
                idx=idx,
                iat=_unix(now),
                exp=facts.valid_until,
                now=now,
            )
            credential = permit_credential(
                facts,
                issuer_url=tenant.issuer_url,
                key=signer_key,
                holder_jwk=key.jwk,
                now=_unix(now),
                status_idx=idx,
                status_uri=status_uri,
            )
        else:
            credential = residence_credential(
                residence,
                issuer_url=tenant.issuer_url,
                key=signer_key,
                holder_jwk=key.jwk,
                now=_unix(now),
                today=today,
                exp=_unix(expires_at),
                status_idx=idx,
                status_uri=status_uri,
            )
        session.add(
            WalletCredential(
                id=str(uuid.uuid4()),
                tenant_id=tenant.id,
                resident_id=offer.resident_id,
                grant_id=grant.id,
                device_id=device.id,
                permit_id=offer.permit_id if parsed.kind == PARKING_PERMIT else None,
                configuration_id=configuration_id,
                status_list=list_no,
                status_idx=idx,
                notification_id=notification_id,
                issued_at=now,
                expires_at=expires_at,
            )
        )
        issued.append(credential)
    extend_for_credential(grant, expires_at, policy=policy)
    session.flush()
    _audit_issued(session, tenant.id, grant, configuration_id, len(issued), now)
    return IssuedCredentials(credentials=tuple(issued), notification_id=notification_id)
