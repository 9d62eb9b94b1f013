"""Bounds on minting: credentials per grant and per resident in a period, devices per resident.

Counted in the database under the tenant's lock (taken by ``grants.lock_live_grant`` before
any of these checks), so concurrent requests and several worker processes share one count.
A request that would pass a bound is refused whole with ``credential_request_denied``
(OpenID4VCI 1.0 §8.3.1.2); nothing of it is issued or bound.

    wallet_max_credentials_per_grant      per grant, in the last wallet_credential_period_days
    wallet_max_credentials_per_resident   per resident of the tenant, same period
    wallet_max_devices_per_resident       device keys of a resident not removed
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from issuer.settings import Settings
from wallet_api.errors import CredentialError
from wallet_api.models import WalletCredential, WalletDevice

log = logging.getLogger(__name__)


def _refuse(kind: str, description: str) -> CredentialError:
    log.warning("wallet_quota_exceeded", extra={"quota": kind})
    return CredentialError("credential_request_denied", description)


def check_credentials(
    session: Session,
    settings: Settings,
    *,
    grant_id: str,
    tenant_id: int,
    resident_id: uuid.UUID,
    count: int,
    now: datetime,
) -> None:
    """Refuse when issuing ``count`` more credentials would pass a per-period bound."""
    since = now - timedelta(days=settings.wallet_credential_period_days)
    recent = select(func.count(WalletCredential.id)).where(WalletCredential.issued_at > since)
    by_grant = session.scalar(recent.where(WalletCredential.grant_id == grant_id)) or 0
    if by_grant + count > settings.wallet_max_credentials_per_grant:
        raise _refuse("grant", "this grant has received as many credentials as allowed for now")
    by_resident = (
        session.scalar(
            recent.where(
                WalletCredential.tenant_id == tenant_id,
                WalletCredential.resident_id == resident_id,
            )
        )
        or 0
    )
    if by_resident + count > settings.wallet_max_credentials_per_resident:
        raise _refuse("resident", "the holder has received as many credentials as allowed for now")


def check_new_device(
    session: Session, settings: Settings, *, tenant_id: int, resident_id: uuid.UUID
) -> None:
    """Refuse a further device key when the resident holds the maximum number already."""
    live = (
        session.scalar(
            select(func.count(WalletDevice.id)).where(
                WalletDevice.tenant_id == tenant_id,
                WalletDevice.resident_id == resident_id,
                WalletDevice.removed_at.is_(None),
            )
        )
        or 0
    )
    if live >= settings.wallet_max_devices_per_resident:
        raise _refuse("devices", "the holder has as many devices as allowed; remove one first")
