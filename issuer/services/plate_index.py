"""The plate index of a tenant (docs/formats.md), for enforcement devices only.

Built from the digital-only permits (`display_required` false) not yet past their end
(active, suspended, revoked, replaced) and the status index of each permit's newest QR token;
a new random salt for every build. A permit that must be displayed is never in the index: it
is not valid by plate alone, so the handheld answers `no_permit` and tells the officer to look
for the displayed permit and scan its QR code.
Stored in `plate_indexes` with the tenant's publication version it was built from: rebuilt
by the job runner (`refresh`, job `plate_indexes`) when a permit changed or half its lifetime
passed, never in a request; the enforcement routes serve the last one built (`latest`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from issuer.db.permit_models import (
    Permit,
    PermitPlate,
    PermitToken,
    PlateIndexRecord,
    PublicationState,
)
from issuer.services.clock import as_utc
from issuer.services.permits.vocabulary import INDEXED_STATES, TokenKind
from keys.lifecycle import Purpose
from keys.plate_index import build_plate_index
from verifier.formats import MAX_ENTRIES_PER_PLATE, PlateEntry

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from issuer.db.models import Tenant
    from issuer.services.signing import KeyStore

MIN_REBUILD_SECONDS = 300


def collect_entries(
    session: Session, *, tenant_id: int, now: datetime
) -> dict[str, list[list[Any]]]:
    """canonical plate → [[number, list, idx, nbf, exp, [zones], type], ...] in one query;
    each permit's newest QR token gives the (list, idx)."""
    at = int(now.timestamp())
    stmt = (
        select(
            PermitPlate.plate,
            Permit.id,
            Permit.number,
            Permit.valid_from,
            Permit.valid_until,
            Permit.zone_codes,
            Permit.permit_type,
            PermitToken.id,
            PermitToken.list_no,
            PermitToken.idx,
        )
        .join(Permit, Permit.id == PermitPlate.permit_id)
        .join(PermitToken, PermitToken.permit_id == Permit.id)
        .where(
            Permit.tenant_id == tenant_id,
            Permit.state.in_(INDEXED_STATES),
            Permit.display_required.is_(False),
            Permit.valid_until > now,
            PermitToken.kind == TokenKind.QR,
        )
    )
    # Core rows (no ORM row loading); the newest QR token per (plate, permit) wins
    newest: dict[tuple[str, Any], tuple[Any, ...]] = {}
    for row in session.connection().execute(stmt):
        key = (row[0], row[1])
        seen = newest.get(key)
        if seen is not None and seen[0] > row[7]:
            continue
        newest[key] = (row[7], row[2], row[8], row[9], row[3], row[4], row[5], row[6])
    seconds: dict[datetime, int] = {}  # many permits share their start or end

    def ts(value: datetime) -> int:
        got = seconds.get(value)
        if got is None:
            got = seconds[value] = int(as_utc(value).timestamp())
        return got

    entries: dict[str, list[list[Any]]] = {}
    for (plate, _permit_id), (_tid, number, lst, idx, vf, vu, zones, kind) in newest.items():
        entry = [int(number), int(lst), int(idx), min(ts(vf), at), ts(vu), list(zones), kind]
        entries.setdefault(plate, []).append(entry)
    return entries


def build(
    keys: KeyStore, *, tenant: Tenant, entries: dict[str, list[list[Any]]], now: datetime
) -> tuple[bytes, int, int]:
    """Sign a plate index over `entries` with a fresh salt (keys.build_plate_index) with the
    tenant's plate-index key; (bytes, iat, exp). A plate's permits go newest first, as many
    as the handheld reads."""
    iat = int(now.timestamp())
    valid_seconds = keys.settings.plate_index_exp_seconds
    permits: dict[str, list[PlateEntry]] = {}
    for plate, items in entries.items():
        chosen = items if len(items) == 1 else sorted(items, key=lambda e: -e[0])
        permits[plate] = [
            PlateEntry(e[0], e[1], e[2], e[3], e[4], tuple(e[5]), e[6])
            for e in chosen[:MAX_ENTRIES_PER_PLATE]
        ]
    body = build_plate_index(
        issuer_id=tenant.ags,
        signer=keys.signer(tenant, Purpose.PLATE_INDEX, now),
        entries=permits,
        now=iat,
        valid_seconds=valid_seconds,
    )
    return body, iat, iat + valid_seconds


def latest(session: Session, *, tenant_id: int) -> PlateIndexRecord | None:
    """The tenant's last built plate index (what handhelds get), or None if never built."""
    return session.get(PlateIndexRecord, tenant_id)


def _version(session: Session, tenant_id: int) -> int:
    version = session.scalar(
        select(PublicationState.version).where(PublicationState.tenant_id == tenant_id)
    )
    return int(version or 0)


def is_due(record: PlateIndexRecord | None, version: int, now: datetime) -> bool:
    """A build is due when there is none, half its lifetime passed, or permits changed since
    it was built and it is at least MIN_REBUILD_SECONDS old."""
    if record is None:
        return True
    at = int(now.timestamp())
    if at >= (record.iat + record.exp) // 2:
        return True
    # a changed permit set is picked up at most every MIN_REBUILD_SECONDS: revocations reach
    # handhelds through the status lists at once (the index maps plates to list and index
    # only), and a rebuild of 100,000 plates takes seconds
    return record.state_version != version and at >= record.iat + MIN_REBUILD_SECONDS


def refresh(session: Session, keys: KeyStore, *, tenant: Tenant, now: datetime) -> bool:
    """Build and store the tenant's plate index when one is due (the job runner's work, never
    a request's); True when it built one."""
    version = _version(session, tenant.id)
    record = latest(session, tenant_id=tenant.id)
    if not is_due(record, version, now):
        return False
    entries = collect_entries(session, tenant_id=tenant.id, now=now)
    body, iat, exp = build(keys, tenant=tenant, entries=entries, now=now)
    etag = '"pi-' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if record is None:
        record = PlateIndexRecord(
            tenant_id=tenant.id,
            state_version=version,
            body=body,
            etag=etag,
            iat=iat,
            exp=exp,
            created_at=now,
        )
        try:
            with session.begin_nested():
                session.add(record)
                session.flush()
        except IntegrityError:
            return False  # another builder stored one at the same time
        return True
    record.state_version = version
    record.body, record.etag, record.iat, record.exp, record.created_at = body, etag, iat, exp, now
    session.flush()
    return True
