"""Devices (proven wallet keys) and what happens when one is lost.

Removing a device marks it removed (its key can never be bound again) and revokes every
credential ever issued to its key: each status index is set to INVALID (DESIGN §3.3), so
verifiers see the revocation at their next status list fetch.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet_api.errors import CredentialError, WalletProblem
from wallet_api.models import WalletCredential, WalletDevice, WalletGrant
from wallet_api.services import bridge
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
) -> int:
    """Remove a device of the tenant (and resident, if given); returns credentials revoked."""
    device = session.get(WalletDevice, device_id) if len(device_id) <= 36 else None
    if (
        device is None
        or device.tenant_id != tenant_id
        or (resident_id is not None and device.resident_id != resident_id)
    ):
        raise WalletProblem("not_found", "no such device", status=404)
    if device.removed_at is None:
        device.removed_at = now
    credentials = session.scalars(
        select(WalletCredential).where(
            WalletCredential.device_id == device.id, WalletCredential.revoked_at.is_(None)
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
        reason=f"revoked {len(credentials)}",
        now=now,
    )
    log.info("wallet_device_removed", extra={"tenant_id": tenant_id, "device": device.id})
    session.flush()
    return len(credentials)


def register_device(
    session: Session,
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
    (key,) = proven_keys(
        JWT, [proof], audience=audience, now=now, session=session, policy=key_policy
    )
    device = device_for(session, offer=offer_of(session, grant), key=key, now=now)
    return DeviceView(device.id, device.thumbprint, device.created_at, device.removed_at, 0)
