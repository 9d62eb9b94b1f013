"""Devices (proven wallet keys) and what happens when one is lost.

Removing a device marks it removed (its key can never be bound again), ends every grant
that bound its key (access and refresh tokens die: the lost phone can refresh nothing, fetch
no credential or QR and bind no new key), removes every other key those grants bound (the
same phone's: ``grants.phone_of``) and revokes every credential ever issued to those
keys: each status index is set to INVALID (docs/formats.md), so verifiers see the revocation at
their next status list fetch. It runs under the tenant's lock, like issuance, so a request
of the lost phone either finished before (and its credential is revoked here) or is refused.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from issuer.settings import Settings
from wallet_api.errors import CredentialError, WalletProblem
from wallet_api.models import GrantEnd, WalletCredential, WalletDevice, WalletGrant
from wallet_api.services import bridge
from wallet_api.services.grants import end_grants, lock_live_grant, phone_of
from wallet_api.services.key_proofs import JWT, KeyPolicy, proven_keys

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DeviceView:
    """A device as listed to its holder or the municipality (no key material beyond the kid)."""

    id: str
    thumbprint: str
    created_at: datetime
    removed_at: datetime | None
    credentials: int


@dataclass(frozen=True, slots=True)
class RemovedDevice:
    """What removing a device ended."""

    revoked_credentials: int
    ended_grants: int
    removed_devices: int  # the device and the other keys of the same phone


def list_devices(session: Session, *, tenant_id: int, resident_id: uuid.UUID) -> list[DeviceView]:
    """Every device of a resident, oldest first."""
    devices = session.scalars(
        select(WalletDevice)
        .where(WalletDevice.tenant_id == tenant_id, WalletDevice.resident_id == resident_id)
        .order_by(WalletDevice.created_at, WalletDevice.id)
    ).all()
    out = []
    for device in devices:
        count = len(
            session.scalars(
                select(WalletCredential.id).where(WalletCredential.device_id == device.id)
            ).all()
        )
        out.append(
            DeviceView(device.id, device.thumbprint, device.created_at, device.removed_at, count)
        )
    return out


def remove_device(
    session: Session,
    *,
    tenant_id: int,
    device_id: str,
    now: datetime,
    resident_id: uuid.UUID | None = None,
    actor: str = "wallet",
) -> RemovedDevice:
    """Remove a device of the tenant (and resident, if given): end its grants, revoke its
    credentials."""
    bridge.lock_tenant(session, tenant_id)
    device = session.get(WalletDevice, device_id) if len(device_id) <= 36 else None
    if (
        device is None
        or device.tenant_id != tenant_id
        or (resident_id is not None and device.resident_id != resident_id)
    ):
        raise WalletProblem("not_found", "no such device", status=404)
    device_ids, grant_ids = phone_of(session, device.id)
    removed = session.execute(
        update(WalletDevice)
        .where(WalletDevice.id.in_(sorted(device_ids)), WalletDevice.removed_at.is_(None))
        .values(removed_at=now)
        .execution_options(synchronize_session="fetch")
    )
    ended = end_grants(session, grant_ids, reason=GrantEnd.DEVICE_REMOVED, now=now)
    credentials = session.scalars(
        select(WalletCredential).where(
            WalletCredential.device_id.in_(sorted(device_ids)),
            WalletCredential.revoked_at.is_(None),
        )
    ).all()
    bridge.revoke_indices(
        session,
        tenant_id=tenant_id,
        entries=[(c.status_list, c.status_idx) for c in credentials],
    )
    for credential in credentials:
        credential.revoked_at = now
    bridge.audit(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="wallet_device_removed",
        object_type="wallet_device",
        object_id=device.id,
        reason=f"revoked {len(credentials)}, ended {ended} grants, {len(device_ids)} keys",
        now=now,
    )
    log.info("wallet_device_removed", extra={"tenant_id": tenant_id, "device": device.id})
    session.flush()
    return RemovedDevice(
        revoked_credentials=len(credentials),
        ended_grants=ended,
        removed_devices=int(getattr(removed, "rowcount", 0) or 0),
    )


def register_device(
    session: Session,
    settings: Settings,
    *,
    grant: WalletGrant,
    proof: object,
    audience: str,
    now: datetime,
    key_policy: KeyPolicy,
) -> DeviceView:
    """Bind a proven key to the grant's holder (same rules as the credential endpoint)."""
    from wallet_api.services.credentials import device_for
    from wallet_api.services.offers import offer_of

    if not isinstance(proof, str):
        raise CredentialError("invalid_proof", "proof missing")
    offer = offer_of(session, grant)
    lock_live_grant(session, grant, tenant_id=offer.tenant_id, now=now)
    (key,) = proven_keys(
        JWT, [proof], audience=audience, now=now, session=session, policy=key_policy
    )
    device = device_for(session, settings, grant=grant, offer=offer, key=key, now=now)
    return DeviceView(device.id, device.thumbprint, device.created_at, device.removed_at, 0)
