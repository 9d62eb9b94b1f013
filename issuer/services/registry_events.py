"""Registry events drive permits, in the registry change's own transaction.

- A resident's residences changed: each live permit of that resident whose rules require a
  residence is re-checked against its zones; no current residence of an allowed kind in a
  segment of the zone any more → revoked with reason `moved_out` (the permit lapses on leaving
  the zone, DOMAIN §1 "Moving").
- A vehicle changed: a live permit naming it is revoked (`vehicle_left`) when the vehicle was
  deregistered or is no longer the resident's (holder changed, permanent use ended) and it
  was the permit's only vehicle; a permit with other vehicles is flagged for review instead.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from issuer.db.models import Residence, Vehicle, Zone
from issuer.db.permit_models import Permit, PermitPlate
from issuer.services import eligibility

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

SYSTEM_ACTOR = "registry"


def _dt(value: date | None) -> datetime | None:
    return None if value is None else datetime.combine(value, time(0), tzinfo=UTC)


def _live_permits(session: Session, tenant_id: int, stmt: Any) -> list[Permit]:
    from issuer.services.permits import LIVE_STATES
    from issuer.services.status_lists import lock_tenant

    live = stmt.where(Permit.state.in_(LIVE_STATES))
    if session.scalar(live.with_only_columns(Permit.id).limit(1)) is None:
        return []  # the common case (no permit): no lock taken
    lock_tenant(session, tenant_id)  # the lock order of status_lists.lock_tenant
    return list(session.scalars(live.with_for_update(of=Permit)))


def on_resident_changed(
    session: Session, *, tenant_id: int, resident_id: uuid.UUID, now: datetime
) -> None:
    """Revoke the resident's permits whose zone no longer holds one of their residences."""
    from issuer.services import permits

    live = _live_permits(
        session,
        tenant_id,
        select(Permit).where(Permit.tenant_id == tenant_id, Permit.resident_id == resident_id),
    )
    if not live:
        return
    residences = [
        eligibility.Residence(
            kind=r.kind,
            street=r.street,
            house_number=r.house_number,
            valid_from=_dt(r.valid_from),
            valid_until=_dt(r.valid_until),
        )
        for r in session.scalars(select(Residence).where(Residence.resident_id == resident_id))
    ]
    current = [r for r in residences if r.is_current(now)]
    for permit in live:
        rules = permits.rules_for(session, tenant_id=tenant_id, permit_type=permit.permit_type)
        if not rules.requires_residence:
            continue
        allowed = [r for r in current if r.kind in rules.residence_kinds]
        still_inside = False
        for code in permit.zone_codes:
            zone = session.scalar(
                select(Zone).where(Zone.tenant_id == tenant_id, Zone.code == code)
            )
            if zone is None:
                continue
            segments = [
                eligibility.Segment(s.street, s.number_from, s.number_to, s.parity)
                for s in zone.segments
            ]
            if any(
                eligibility.address_in_zone(r.street, r.house_number, segments) for r in allowed
            ):
                still_inside = True
                break
        if not still_inside:
            permits._revoke(session, permit, reason="moved_out", actor=SYSTEM_ACTOR, now=now)


def on_vehicle_changed(
    session: Session, *, tenant_id: int, vehicle_id: uuid.UUID, now: datetime
) -> None:
    """Revoke or flag the permits naming a vehicle that left its resident or the road."""
    from issuer.services import permits

    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or vehicle.tenant_id != tenant_id:
        return
    live = _live_permits(
        session,
        tenant_id,
        select(Permit)
        .join(PermitPlate, PermitPlate.permit_id == Permit.id)
        .where(Permit.tenant_id == tenant_id, PermitPlate.vehicle_id == vehicle_id),
    )
    for permit in live:
        deregistered = vehicle.valid_until is not None and _dt(vehicle.valid_until) <= now  # type: ignore[operator]
        not_theirs = permit.resident_id is not None and vehicle.holder_id != permit.resident_id
        plate_changed = any(
            p.vehicle_id == vehicle_id and p.plate != vehicle.plate for p in permit.plates
        )
        if not (deregistered or not_theirs or plate_changed):
            continue
        others = [p for p in permit.plates if p.vehicle_id != vehicle_id]
        if (deregistered or not_theirs) and not others:
            permits._revoke(session, permit, reason="vehicle_left", actor=SYSTEM_ACTOR, now=now)
            continue
        permit.flagged = "plate_changed" if plate_changed and not not_theirs else "vehicle_left"
        permit.updated_at = now
        session.flush()
        permits._audit(session, permit, "flagged", SYSTEM_ACTOR, now, permit.flagged)
