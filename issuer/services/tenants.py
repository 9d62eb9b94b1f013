"""Tenants (municipalities): creation with their audit chain and key ring, lookup.

The key ring itself belongs to `keys/` (one KeyRing per tenant under keys_dir/<ags>/, an
ES256 active key); `provision_key_ring` is the one place the issuer asks for it.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import re
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.db.models import Tenant
from issuer.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from issuer.services import audit

log = logging.getLogger(__name__)

_AGS_RE = re.compile(r"^[0-9]{8}$")


def validate_ags(ags: str) -> str:
    """An 8-digit Amtlicher Gemeindeschlüssel."""
    if not _AGS_RE.match(ags):
        raise InvalidRequest(ErrorCode.INVALID_REQUEST, "ags must be 8 digits")
    return ags


def create_tenant(
    session: Session,
    *,
    ags: str,
    name: str,
    issuer_url: str,
    retention_days: int = 365,
    actor: str,
    now: datetime,
) -> Tenant:
    """A new tenant with its audit chain; Conflict if the AGS exists."""
    validate_ags(ags)
    if not issuer_url.startswith("https://"):
        raise InvalidRequest(ErrorCode.INVALID_REQUEST, "issuer_url must be https")
    if session.scalars(select(Tenant.id).where(Tenant.ags == ags)).first() is not None:
        raise Conflict(ErrorCode.ALREADY_EXISTS)
    tenant = Tenant(
        ags=ags,
        name=name,
        issuer_url=issuer_url,
        retention_days=retention_days,
        key_ring=ags,
        created_at=now,
    )
    session.add(tenant)
    session.flush()
    audit.ensure_chain(session, tenant.id)
    for chain_tenant in (None, tenant.id):  # the operator chain and the tenant's own
        audit.record(
            session,
            tenant_id=chain_tenant,
            actor=actor,
            action="tenant_created",
            object_type="tenant",
            object_id=ags,
            now=now,
        )
    log.info("tenant_created", extra={"tenant": ags})
    return tenant


def get_tenant(session: Session, tenant_id: int) -> Tenant:
    """A tenant by id, else NotFound."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound()
    return tenant


def get_tenant_by_ags(session: Session, ags: str) -> Tenant:
    """A tenant by AGS, else NotFound."""
    tenant = session.scalars(select(Tenant).where(Tenant.ags == ags)).first()
    if tenant is None:
        raise NotFound()
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    """Every tenant, by AGS."""
    return list(session.scalars(select(Tenant).order_by(Tenant.ags)))


def key_ring_dir(keys_dir: Path, tenant: Tenant) -> Path:
    """Where a tenant's key ring lives."""
    return keys_dir / tenant.key_ring


def provision_key_ring(keys_dir: Path, ags: str, *, passphrase: str, now: datetime) -> Path:
    """Create (or open) the tenant's key ring under keys_dir/<ags>/ with an active ES256 key.

    Delegates to `keys.ring` when that module exists; until then only the directory is made
    (TODO(keys): switch to `keys.ring` once it lands).
    """
    validate_ags(ags)
    path = keys_dir / ags
    if importlib.util.find_spec("keys.ring") is not None:
        ring = importlib.import_module("keys.ring")
        open_or_create = getattr(ring, "open_or_create_ring", None)
        if open_or_create is not None:
            open_or_create(path, passphrase=passphrase, now=int(now.timestamp()))
            return path
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
