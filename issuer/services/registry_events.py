"""Registry events drive permits, in the registry change's own transaction.

- A resident's residences changed: each live permit of that resident whose rules require a
  residence is re-checked against its zones; no current residence of an allowed kind in a
  segment of the zone any more → revoked with reason `moved_out` (the permit lapses on leaving
  the zone, docs/permits.md "Registry events").
- A vehicle changed: a live permit naming it is revoked (`vehicle_left`) when the vehicle was
  deregistered or is no longer the resident's (holder changed, permanent use ended) and it
  was the permit's only vehicle; a permit with other vehicles is flagged for review instead.

Both go through the permits' change protocol (issuer/services/permits/changes.py).

Other parts of the service that hold facts about a resident subscribe to her changes with
`subscribe_resident_changes` (the wallet API revokes Bürger-IDs whose facts the register no
longer holds); listeners run after the permits, in the same transaction.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from issuer.db.models import Vehicle
from issuer.db.permit_models import Permit, PermitPlate
from issuer.services import eligibility, permits
from issuer.services.permits.facts import residences_of, zones_of
from issuer.services.permits.vocabulary import REGISTRY_ACTOR, Flag, RevocationReason

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class ResidentListener(Protocol):
    """Called with the registry change's session after a resident's entry changed."""

    def __call__(
        self, session: Session, *, tenant_id: int, resident_id: uuid.UUID, now: datetime
    ) -> None: ...


_LISTENERS: list[ResidentListener] = []
_LISTENERS_LOCK = threading.Lock()


def subscribe_resident_changes(listener: ResidentListener) -> None:
    """Call `listener` on every change of a resident's entry (names, birth date, residences),
    in the change's transaction; subscribing the same listener again changes nothing."""
    with _LISTENERS_LOCK:
        if listener not in _LISTENERS:
            _LISTENERS.append(listener)


def _listeners() -> list[Callable[..., None]]:
    with _LISTENERS_LOCK:
        return list(_LISTENERS)


def _live_permits(session: Session, tenant_id: int, stmt: Any) -> list[Permit]:
    from issuer.services.status_lists import lock_tenant

    live = stmt.where(Permit.state.in_(permits.LIVE_STATES))
    if session.scalar(live.with_only_columns(Permit.id).limit(1)) is None:
        return []  # the common case (no permit): no lock taken
    lock_tenant(session, tenant_id)  # the lock order of status_lists.lock_tenant
    return list(session.scalars(live.with_for_update(of=Permit)))


def on_resident_changed(
    session: Session, *, tenant_id: int, resident_id: uuid.UUID, now: datetime
) -> None:
    """Revoke the resident's permits whose zone no longer holds one of their residences, then
    tell the subscribed listeners."""
    _revoke_permits_of_mover(session, tenant_id=tenant_id, resident_id=resident_id, now=now)
    for listener in _listeners():
        listener(session, tenant_id=tenant_id, resident_id=resident_id, now=now)


def _revoke_permits_of_mover(
    session: Session, *, tenant_id: int, resident_id: uuid.UUID, now: datetime
) -> None:
    live = _live_permits(
        session,
        tenant_id,
        select(Permit).where(Permit.tenant_id == tenant_id, Permit.resident_id == resident_id),
    )
    if not live:
        return
    lived = residences_of(session, tenant_id=tenant_id, resident_ids=[resident_id])
    current = [r for r in lived.get(resident_id, ()) if r.is_current(now)]
    zones = zones_of(session, tenant_id=tenant_id, codes={c for p in live for c in p.zone_codes})
    for permit in live:
        rules = permits.rules_for(session, tenant_id=tenant_id, permit_type=permit.permit_type)
        if not rules.requires_residence:
            continue
        allowed = [r for r in current if r.kind in rules.residence_kinds]
        still_inside = any(
            eligibility.address_in_zone(r.street, r.house_number, zones[code])
            for code in permit.zone_codes
            if code in zones
            for r in allowed
        )
        if not still_inside:
            permits.revoke_locked(
                session, permit, reason=RevocationReason.MOVED_OUT, actor=REGISTRY_ACTOR, now=now
            )


def on_vehicle_changed(
    session: Session, *, tenant_id: int, vehicle_id: uuid.UUID, now: datetime
) -> None:
    """Revoke or flag the permits naming a vehicle that left its resident or the road."""
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
    ends = vehicle.valid_until
    deregistered = ends is not None and datetime.combine(ends, time(0), tzinfo=UTC) <= now
    for permit in live:
        not_theirs = permit.resident_id is not None and vehicle.holder_id != permit.resident_id
        plate_changed = any(
            p.vehicle_id == vehicle_id and p.plate != vehicle.plate for p in permit.plates
        )
        if not (deregistered or not_theirs or plate_changed):
            continue
        others = [p for p in permit.plates if p.vehicle_id != vehicle_id]
        if (deregistered or not_theirs) and not others:
            permits.revoke_locked(
                session,
                permit,
                reason=RevocationReason.VEHICLE_LEFT,
                actor=REGISTRY_ACTOR,
                now=now,
            )
            continue
        flag = Flag.PLATE_CHANGED if plate_changed and not not_theirs else Flag.VEHICLE_LEFT
        permits.write_change(
            session, permit, permits.flagged(flag, reason=flag), actor=REGISTRY_ACTOR, now=now
        )
