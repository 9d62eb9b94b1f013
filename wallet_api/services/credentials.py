"""The credential endpoint's work (OpenID4VCI 1.0 §8): proofs in, credentials out.

A request names its configuration by ``credential_identifier`` when the token response
carried ``credential_identifiers``, else by ``credential_configuration_id``
(``grant_bindings.requested_configuration``, §8.2). For a key-bound configuration the
proofs (``jwt``, or one ``attestation``) are checked and their c_nonce consumed once
(``key_proofs``); each distinct proof key becomes (or already is) a device of the grant's
resident, and a key bound to anybody else is refused. Each key gets its own credential
with its own random status index (docs/formats.md). The permit QR configuration takes no proof
and returns the ``BID1:`` token.

A permit still awaiting payment is not refused: the request is answered with a
``transaction_id`` (HTTP 202, §8.3) and the credentials are delivered at the deferred
credential endpoint once the permit is paid (``deferred.py``).

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

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer import metrics
from issuer.db.models import Tenant
from issuer.db.permit_models import Permit
from issuer.services.permits.vocabulary import PermitState
from issuer.services.signing import KeyStore
from issuer.settings import Settings
from wallet_api.errors import CredentialError
from wallet_api.models import WalletCredential, WalletDevice, WalletGrant, WalletOffer
from wallet_api.protocol_models import WalletDeferred
from wallet_api.services import bridge, quotas, tenant_settings
from wallet_api.services.configurations import PERMIT_QR, parse_configuration_id
from wallet_api.services.grant_bindings import binding_of, requested_configuration
from wallet_api.services.grants import bind_device, extend_for_credential, lock_live_grant
from wallet_api.services.key_proofs import PROOF_TYPES, KeyPolicy, proven_keys
from wallet_api.services.policy import WalletPolicy
from wallet_api.services.proofs import ProvenKey
from wallet_api.services.residence_events import facts_digest
from wallet_api.services.sd_jwt_vc import (
    PARKING_PERMIT,
    RESIDENCE,
    permit_credential,
    residence_credential,
)
from wallet_api.services.type_metadata import vct_integrity

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class IssuedCredentials:
    """The credential response (§8.3): one entry per proof key and a notification id, or,
    for a deferred request, a transaction_id and the interval to wait."""

    credentials: tuple[str, ...]
    notification_id: str | None  # none for the QR token: nothing to track
    transaction_id: str | None = None
    interval: int | None = None


@dataclass(frozen=True, slots=True)
class CredentialRequest:
    """A parsed credential request: the configuration it opens and its proofs."""

    configuration_id: str
    proof_type: str | None
    proofs: list[Any]


@dataclass(frozen=True, slots=True)
class Issuance:
    """Everything one issuance needs besides the holder's keys."""

    settings: Settings
    keys: KeyStore
    policy: WalletPolicy
    tenant: Tenant
    offer: WalletOffer
    grant: WalletGrant
    configuration_id: str
    kind: str
    credential_issuer: str
    now: datetime


def issuance(
    session: Session,
    *,
    settings: Settings,
    keys: KeyStore,
    policy: WalletPolicy,
    offer: WalletOffer,
    grant: WalletGrant,
    configuration_id: str,
    credential_issuer: str,
    now: datetime,
) -> Issuance:
    """The issuance context of one configuration of a grant's offer."""
    parsed = parse_configuration_id(configuration_id)
    if parsed is None:
        raise CredentialError("unknown_credential_configuration", "not offered to this token")
    return Issuance(
        settings=settings,
        keys=keys,
        policy=policy,
        tenant=bridge.tenant(session, offer.tenant_id),
        offer=offer,
        grant=grant,
        configuration_id=configuration_id,
        kind=parsed.kind,
        credential_issuer=credential_issuer,
        now=now,
    )


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
    metrics.credentials_issued(
        session, tenant_id=tenant_id, configuration=configuration_id, n=count
    )
    log.info(
        "wallet_credential_issued",
        extra={"tenant_id": tenant_id, "grant": grant.id, "configuration": configuration_id},
    )


def _unix(moment: datetime) -> int:
    return int(moment.timestamp())


def parse_request(
    body: Any, *, policy: WalletPolicy, grant: WalletGrant, offer: WalletOffer, session: Session
) -> CredentialRequest:
    """The configuration and the proofs of a credential request (§8.2)."""
    if not isinstance(body, dict):
        raise CredentialError("invalid_credential_request", "the body must be a JSON object")
    if "format" in body:
        # draft-13 style requests; 1.0 names a configuration instead.
        raise CredentialError("unsupported_credential_format", "use credential_configuration_id")
    if "proof" in body:
        raise CredentialError("invalid_credential_request", "use proofs, not proof")
    configuration_id = requested_configuration(
        body, binding=binding_of(session, grant.id), offered=list(offer.configuration_ids)
    )
    proofs = body.get("proofs")
    if proofs is None:
        return CredentialRequest(configuration_id, None, [])
    if not isinstance(proofs, dict) or len(proofs) != 1:
        raise CredentialError("invalid_proof", "proofs must hold exactly one proof type")
    ((proof_type, items),) = proofs.items()
    if proof_type not in PROOF_TYPES:
        raise CredentialError("invalid_proof", "supported proof types: jwt, attestation")
    if not isinstance(items, list) or not items:
        raise CredentialError("invalid_proof", f"proofs.{proof_type} must be a non-empty array")
    if len(items) > policy.batch_size:
        raise CredentialError("invalid_proof", "more proofs than the batch size")
    return CredentialRequest(configuration_id, proof_type, items)


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


def key_policy(
    session: Session,
    *,
    settings: Settings,
    policy: WalletPolicy,
    grant: WalletGrant,
    tenant_id: int,
    anchors: tuple[x509.Certificate, ...],
) -> KeyPolicy:
    """What the grant's tenant demands of proof keys."""
    binding = binding_of(session, grant.id)
    return KeyPolicy(
        require_attestation=tenant_settings.requirements(
            session, settings, tenant_id
        ).key_attestation,
        anchors=anchors,
        accepted_storage=tuple(settings.wallet_key_storage),
        batch_size=policy.batch_size,
        client_id=binding.client_id if binding is not None else None,
    )


def _record(
    session: Session,
    job: Issuance,
    *,
    device_id: str,
    permit_id: uuid.UUID | None,
    list_no: int,
    idx: int,
    notification_id: str,
    expires_at: datetime,
    facts_digest: str | None = None,
) -> None:
    session.add(
        WalletCredential(
            id=str(uuid.uuid4()),
            tenant_id=job.tenant.id,
            resident_id=job.offer.resident_id,
            grant_id=job.grant.id,
            device_id=device_id,
            permit_id=permit_id,
            configuration_id=job.configuration_id,
            status_list=list_no,
            status_idx=idx,
            notification_id=notification_id,
            issued_at=job.now,
            expires_at=expires_at,
            facts_digest=facts_digest,
        )
    )


def issue_qr(
    session: Session, job: Issuance, *, permit: Permit, device_id: str, notification_id: str
) -> str:
    """The ``BID1:`` token of an active permit, recorded against the wallet's device."""
    qr = bridge.qr_token(session, job.keys, permit=permit, now=job.now)
    list_no, idx = bridge.latest_qr_index(session, permit=permit)
    _record(
        session,
        job,
        device_id=device_id,
        permit_id=permit.id,
        list_no=list_no,
        idx=idx,
        notification_id=notification_id,
        expires_at=permit.valid_until,
    )
    extend_for_credential(job.grant, permit.valid_until, policy=job.policy)
    session.flush()
    _audit_issued(session, job.tenant.id, job.grant, job.configuration_id, 1, job.now)
    return qr


def issue_bound(
    session: Session,
    job: Issuance,
    *,
    keys: list[tuple[dict[str, str], str]],
    notification_id: str,
    permit: Permit | None = None,
) -> tuple[str, ...]:
    """One SD-JWT VC per (public JWK, device id), each with its own status index."""
    settings, tenant, now = job.settings, job.tenant, job.now
    today = now.astimezone(UTC).date()
    integrity = vct_integrity(
        job.kind,
        issuer_url=tenant.issuer_url,
        public_base_url=job.credential_issuer,
        ags=tenant.ags,
    )
    signer_key = bridge.signing_key(job.keys, tenant, now)
    if job.kind == PARKING_PERMIT:
        assert permit is not None
        facts = bridge.permit_facts(session, permit=permit, tenant_name=tenant.name)
        expires_at = datetime.fromtimestamp(facts.valid_until, UTC)
    elif job.kind == RESIDENCE:
        residence = bridge.residence_facts(
            session, tenant=tenant, resident_id=job.offer.resident_id, today=today
        )
        expires_at = now + timedelta(seconds=job.policy.residence_credential_ttl_seconds)
    else:  # pragma: no cover - parse_configuration_id allows only the three kinds
        raise CredentialError("unknown_credential_configuration", "unknown kind")
    issued: list[str] = []
    for jwk, device_id in keys:
        list_no, idx = bridge.allocate(session, settings, tenant_id=tenant.id, now=now)
        status_uri = bridge.status_uri(settings, tenant, list_no)
        if job.kind == PARKING_PERMIT:
            assert permit is not None
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
                holder_jwk=jwk,
                now=_unix(now),
                status_idx=idx,
                status_uri=status_uri,
                vct_integrity=integrity,
            )
        else:
            credential = residence_credential(
                residence,
                issuer_url=tenant.issuer_url,
                key=signer_key,
                holder_jwk=jwk,
                now=_unix(now),
                today=today,
                exp=_unix(expires_at),
                status_idx=idx,
                status_uri=status_uri,
                vct_integrity=integrity,
            )
        _record(
            session,
            job,
            device_id=device_id,
            permit_id=permit.id if permit is not None else None,
            list_no=list_no,
            idx=idx,
            notification_id=notification_id,
            expires_at=expires_at,
            facts_digest=None if job.kind == PARKING_PERMIT else facts_digest(residence),
        )
        issued.append(credential)
    extend_for_credential(job.grant, expires_at, policy=job.policy)
    session.flush()
    _audit_issued(session, tenant.id, job.grant, job.configuration_id, len(issued), now)
    return tuple(issued)


def grant_device(session: Session, grant: WalletGrant) -> str | None:
    """The device a wallet proved under this grant (by an issued or a deferred credential)."""
    issued = session.scalar(
        select(WalletCredential.device_id)
        .where(WalletCredential.grant_id == grant.id, WalletCredential.revoked_at.is_(None))
        .order_by(WalletCredential.issued_at.desc())
        .limit(1)
    )
    if issued is not None:
        return str(issued)
    for keys in session.scalars(
        select(WalletDeferred.keys).where(WalletDeferred.grant_id == grant.id)
    ):
        for entry in keys:
            device_id = entry.get("device_id") if isinstance(entry, dict) else None
            if isinstance(device_id, str):
                return device_id
    return None


def offered_permit(session: Session, job: Issuance) -> Permit:
    """The offer's permit while it can still be delivered (active or awaiting payment)."""
    permit_id = job.offer.permit_id
    permit = (
        bridge.find_permit(session, tenant=job.tenant, permit_id=permit_id)
        if permit_id is not None
        else None
    )
    if (
        permit is None
        or permit.state not in (PermitState.ACTIVE, PermitState.AWAITING_PAYMENT)
        or job.now >= bridge.utc(permit.valid_until)
    ):
        raise CredentialError("credential_request_denied", "the permit is not active")
    return permit


def issue_credentials(
    session: Session,
    *,
    settings: Settings,
    keys: KeyStore,
    policy: WalletPolicy,
    grant: WalletGrant,
    body: Any,
    credential_issuer: str,
    now: datetime,
    anchors: tuple[x509.Certificate, ...] = (),
) -> IssuedCredentials:
    """Answer one credential request of a live grant."""
    from wallet_api.services.deferred import defer

    offer = session.get(WalletOffer, grant.offer_id)
    assert offer is not None
    lock_live_grant(session, grant, tenant_id=offer.tenant_id, now=now)
    request = parse_request(body, policy=policy, grant=grant, offer=offer, session=session)
    job = issuance(
        session,
        settings=settings,
        keys=keys,
        policy=policy,
        offer=offer,
        grant=grant,
        configuration_id=request.configuration_id,
        credential_issuer=credential_issuer,
        now=now,
    )
    notification_id = str(uuid.uuid4())

    def check_quota(count: int) -> None:
        quotas.check_credentials(
            session,
            settings,
            grant_id=grant.id,
            tenant_id=offer.tenant_id,
            resident_id=offer.resident_id,
            count=count,
            now=now,
        )

    if job.kind == PERMIT_QR:
        if request.proof_type is not None:
            raise CredentialError("invalid_proof", "the QR credential takes no proof")
        # The QR goes to a wallet that proved a device key under this grant, and is recorded
        # against that device: removing a lost phone revokes its QR token as well.
        device_id = grant_device(session, grant)
        if device_id is None:
            raise CredentialError(
                "credential_request_denied", "fetch the key-bound credential first"
            )
        check_quota(1)
        qr_permit = offered_permit(session, job)
        if qr_permit.state == PermitState.AWAITING_PAYMENT:
            return defer(session, job, keys=[], device_id=device_id)
        qr = issue_qr(
            session, job, permit=qr_permit, device_id=device_id, notification_id=notification_id
        )
        return IssuedCredentials(credentials=(qr,), notification_id=notification_id)

    if request.proof_type is None:
        raise CredentialError("invalid_proof", "this credential needs proofs")
    holder_keys = proven_keys(
        request.proof_type,
        request.proofs,
        audience=credential_issuer,
        now=now,
        session=session,
        policy=key_policy(
            session,
            settings=settings,
            policy=policy,
            grant=grant,
            tenant_id=offer.tenant_id,
            anchors=anchors,
        ),
    )
    check_quota(len(holder_keys))
    devices = [
        device_for(session, settings, grant=grant, offer=offer, key=k, now=now) for k in holder_keys
    ]
    pairs = [(k.jwk, d.id) for k, d in zip(holder_keys, devices, strict=True)]
    permit: Permit | None = None
    if job.kind == PARKING_PERMIT:
        permit = offered_permit(session, job)
        if permit.state == PermitState.AWAITING_PAYMENT:
            return defer(session, job, keys=pairs, device_id=None)
    issued = issue_bound(session, job, keys=pairs, notification_id=notification_id, permit=permit)
    return IssuedCredentials(credentials=issued, notification_id=notification_id)
