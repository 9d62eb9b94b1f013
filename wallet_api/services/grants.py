"""What a grant may do, how long it lives, and how it ends.

A grant is what a redeemed offer gave one wallet: an access token and a refresh token
(``WalletGrant``). It records every device key it binds (``WalletGrantDevice``), so that
removing a device ends every grant that bound it: a lost phone's tokens stop working at once
and nothing can bind a new key through them.

- ``lock_live_grant``: every request that binds a key or issues a credential first takes the
  tenant's lock and then the grant row, and re-checks that the grant is live; removing a
  device takes the same tenant lock, so the two never interleave (on PostgreSQL as on SQLite).
- Lifetime: the refresh token lives ``refresh_token_ttl_seconds`` past the later of now and the
  expiry of the credentials the grant serves (``served_until``), so a wallet that only
  refreshes shortly before its credential expires still can, however long the credential
  lived (a yearly permit renewed in its renewal window reaches the phone).
- ``end_grants``: sets ``revoked_at`` and ``revoked_reason``; access and refresh token die
  together, and a retired refresh token of an ended grant stays refused.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from wallet_api.errors import BearerError
from wallet_api.models import WalletCredential, WalletDevice, WalletGrant, WalletGrantDevice
from wallet_api.services import bridge
from wallet_api.services.policy import WalletPolicy

log = logging.getLogger(__name__)


def is_live(grant: WalletGrant, now: datetime) -> bool:
    """Not ended, and its access token not expired."""
    return grant.revoked_at is None and now < grant.access_expires_at


def lock_live_grant(session: Session, grant: WalletGrant, *, tenant_id: int, now: datetime) -> None:
    """Take the tenant lock, then re-read the grant row locked; an ended grant is refused.

    Called before a key is bound or a credential issued under ``grant``: a device removal
    that committed meanwhile is seen here (``invalid_token``), never half of it.
    """
    bridge.lock_tenant(session, tenant_id)
    row = session.scalars(
        select(WalletGrant)
        .where(WalletGrant.id == grant.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()
    if row is None or not is_live(row, now):
        raise BearerError("invalid_token", "unknown, expired or revoked access token")


def bind_device(
    session: Session, *, grant: WalletGrant, device: WalletDevice, now: datetime
) -> None:
    """Record that ``grant`` bound ``device`` (once per pair)."""
    values = {"grant_id": grant.id, "device_id": device.id, "bound_at": now}
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    session.execute(insert(WalletGrantDevice).values(**values).on_conflict_do_nothing())


def phone_of(session: Session, device_id: str) -> tuple[set[str], set[str]]:
    """The device ids and grant ids that stand and fall with ``device_id``.

    A grant's tokens live in one wallet, and every key it bound was proven by that wallet,
    so the grants that bound the device and every other key those grants bound are the
    same phone: a thief holding it may have bound more keys before the loss was reported.
    Followed to the end (the sets stay small: devices per resident are bounded).
    """
    devices: set[str] = {device_id}
    grants: set[str] = set()
    frontier = {device_id}
    while frontier:
        new_grants = (
            set(
                session.scalars(
                    select(WalletGrantDevice.grant_id).where(
                        WalletGrantDevice.device_id.in_(sorted(frontier))
                    )
                )
            )
            - grants
        )
        grants |= new_grants
        frontier = (
            set(
                session.scalars(
                    select(WalletGrantDevice.device_id).where(
                        WalletGrantDevice.grant_id.in_(sorted(new_grants))
                    )
                )
            )
            - devices
            if new_grants
            else set()
        )
        devices |= frontier
    return devices, grants


def end_grants(session: Session, grant_ids: Iterable[str], *, reason: str, now: datetime) -> int:
    """End every live grant of ``grant_ids``; returns how many ended now."""
    ids = sorted(set(grant_ids))
    if not ids:
        return 0
    result = session.execute(
        update(WalletGrant)
        .where(WalletGrant.id.in_(ids), WalletGrant.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
        .execution_options(synchronize_session="fetch")
    )
    ended = int(getattr(result, "rowcount", 0) or 0)
    if ended:
        log.warning("wallet_grants_ended", extra={"count": ended, "reason": reason})
    return ended


def served_until(session: Session, grant_id: str) -> datetime | None:
    """When the last unrevoked credential the grant issued expires (None: it issued none)."""
    return session.scalar(
        select(func.max(WalletCredential.expires_at)).where(
            WalletCredential.grant_id == grant_id, WalletCredential.revoked_at.is_(None)
        )
    )


def refresh_lifetime_end(
    session: Session, grant: WalletGrant, *, now: datetime, policy: WalletPolicy
) -> datetime:
    """When a refresh token handed out now expires: a refresh TTL past now or past the
    expiry of the credentials the grant serves, whichever is later."""
    start = now
    until = served_until(session, grant.id)
    if until is not None and until > start:
        start = until
    return start + timedelta(seconds=policy.refresh_token_ttl_seconds)


def extend_for_credential(
    grant: WalletGrant, expires_at: datetime, *, policy: WalletPolicy
) -> None:
    """A credential expiring at ``expires_at`` was issued: the refresh token outlives it."""
    end = expires_at + timedelta(seconds=policy.refresh_token_ttl_seconds)
    if end > grant.refresh_expires_at:
        grant.refresh_expires_at = end
