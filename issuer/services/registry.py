"""Registry: residents and their residences, vehicles, zones; tenant-scoped CRUD.

Every function filters on `tenant_id`: another tenant's object is NotFound, exactly like a
missing one. Residents with a register block (Auskunftssperre, § 51 BMG) are never returned by
a listing, nor are vehicles they hold. Each change is audited (ids only) and reported to the
permits engine (`registry_events`) in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, selectinload

from issuer.db.models import Residence, Resident, Vehicle, Zone, ZoneSegment
from issuer.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from issuer.schemas.registry import (
    ResidenceIn,
    ResidenceUpdate,
    ResidentCreate,
    ResidentUpdate,
    SegmentIn,
    VehicleCreate,
    VehicleUpdate,
    ZoneCreate,
    ZoneUpdate,
)
from issuer.services import audit, registry_events
from verifier import VerifierError, canonical_plate, canonical_zone


def normalize_plate(text: str) -> str:
    """The canonical plate (`GE-AB 1234`, foreign `NL:AB123C`), else 422 invalid_plate."""
    try:
        return canonical_plate(text)
    except VerifierError as exc:
        raise InvalidRequest(ErrorCode.INVALID_PLATE) from exc


def normalize_zone_code(text: str) -> str:
    """The canonical zone code, else 422 invalid_request."""
    try:
        return canonical_zone(text)
    except VerifierError as exc:
        raise InvalidRequest(ErrorCode.INVALID_REQUEST, "zone code") from exc


def _page(
    session: Session, stmt: Select[Any], model: Any, *, after: str | None, limit: int
) -> tuple[list[Any], str | None]:
    if after:
        try:
            stmt = stmt.where(model.id > uuid.UUID(after))
        except ValueError as exc:
            raise InvalidRequest(ErrorCode.INVALID_REQUEST, "cursor") from exc
    rows = list(session.scalars(stmt.order_by(model.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].id) if more and rows else None)


# ---------------------------------------------------------------- residents


def get_resident(session: Session, *, tenant_id: int, resident_id: uuid.UUID) -> Resident:
    """A resident of this tenant (also with a register block: direct access is not a listing)."""
    resident = session.scalars(
        select(Resident)
        .where(Resident.id == resident_id, Resident.tenant_id == tenant_id)
        .options(selectinload(Resident.residences))
    ).first()
    if resident is None:
        raise NotFound()
    return resident


def list_residents(
    session: Session,
    *,
    tenant_id: int,
    external_ref: str | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[Resident], str | None]:
    """A page of the tenant's residents without a register block."""
    stmt = (
        select(Resident)
        .where(Resident.tenant_id == tenant_id, Resident.register_block.is_(False))
        .options(selectinload(Resident.residences))
    )
    if external_ref is not None:
        stmt = stmt.where(Resident.external_ref == external_ref)
    return _page(session, stmt, Resident, after=after, limit=limit)


def _residence_row(tenant_id: int, resident_id: uuid.UUID, data: ResidenceIn) -> Residence:
    return Residence(
        tenant_id=tenant_id,
        resident_id=resident_id,
        kind=data.kind.value,
        street=data.street,
        house_number=data.house_number,
        postcode=data.postcode,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
    )


def _resident_changed(
    session: Session, *, tenant_id: int, resident: Resident, actor: str, action: str, now: datetime
) -> None:
    audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        object_type="resident",
        object_id=str(resident.id),
        now=now,
    )
    session.flush()
    registry_events.on_resident_changed(
        session, tenant_id=tenant_id, resident_id=resident.id, now=now
    )


def create_resident(
    session: Session, *, tenant_id: int, data: ResidentCreate, actor: str, now: datetime
) -> Resident:
    """A new resident; Conflict if the external reference exists in this tenant."""
    exists = session.scalars(
        select(Resident.id).where(
            Resident.tenant_id == tenant_id, Resident.external_ref == data.external_ref
        )
    ).first()
    if exists is not None:
        raise Conflict(ErrorCode.ALREADY_EXISTS)
    resident = Resident(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        external_ref=data.external_ref,
        given_name=data.given_name,
        family_name=data.family_name,
        birth_date=data.birth_date,
        register_block=data.register_block,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(resident)
    for item in data.residences:
        resident.residences.append(_residence_row(tenant_id, resident.id, item))
    session.flush()
    _resident_changed(
        session,
        tenant_id=tenant_id,
        resident=resident,
        actor=actor,
        action="resident_created",
        now=now,
    )
    return resident


def update_resident(
    session: Session,
    *,
    tenant_id: int,
    resident_id: uuid.UUID,
    data: ResidentUpdate,
    actor: str,
    now: datetime,
) -> Resident:
    """Apply the fields that were sent."""
    resident = get_resident(session, tenant_id=tenant_id, resident_id=resident_id)
    changes = data.model_dump(exclude_unset=True)
    for field in ("given_name", "family_name", "register_block"):
        if field in changes and changes[field] is None:
            raise InvalidRequest(ErrorCode.INVALID_REQUEST, field)
    for field, value in changes.items():
        setattr(resident, field, value)
    resident.updated_at = now
    resident.version += 1
    _resident_changed(
        session,
        tenant_id=tenant_id,
        resident=resident,
        actor=actor,
        action="resident_updated",
        now=now,
    )
    return resident


def add_residence(
    session: Session,
    *,
    tenant_id: int,
    resident_id: uuid.UUID,
    data: ResidenceIn,
    actor: str,
    now: datetime,
) -> Resident:
    """Register an address (a move in)."""
    resident = get_resident(session, tenant_id=tenant_id, resident_id=resident_id)
    resident.residences.append(_residence_row(tenant_id, resident.id, data))
    resident.updated_at = now
    resident.version += 1
    _resident_changed(
        session,
        tenant_id=tenant_id,
        resident=resident,
        actor=actor,
        action="residence_added",
        now=now,
    )
    return resident


def update_residence(
    session: Session,
    *,
    tenant_id: int,
    resident_id: uuid.UUID,
    residence_id: uuid.UUID,
    data: ResidenceUpdate,
    actor: str,
    now: datetime,
) -> Resident:
    """Change an address, e.g. end it (move out)."""
    resident = get_resident(session, tenant_id=tenant_id, resident_id=resident_id)
    residence = next((r for r in resident.residences if r.id == residence_id), None)
    if residence is None:
        raise NotFound()
    changes = data.model_dump(exclude_unset=True)
    for field in ("street", "house_number", "postcode"):
        if field in changes and changes[field] is None:
            raise InvalidRequest(ErrorCode.INVALID_REQUEST, field)
    for field, value in changes.items():
        setattr(residence, field, value)
    if residence.valid_until is not None and residence.valid_until < residence.valid_from:
        raise InvalidRequest(ErrorCode.INVALID_REQUEST, "valid_until before valid_from")
    resident.updated_at = now
    resident.version += 1
    _resident_changed(
        session,
        tenant_id=tenant_id,
        resident=resident,
        actor=actor,
        action="residence_updated",
        now=now,
    )
    return resident


# ---------------------------------------------------------------- vehicles


def _check_holder(session: Session, tenant_id: int, holder_id: uuid.UUID | None) -> None:
    if holder_id is None:
        return
    found = session.scalars(
        select(Resident.id).where(Resident.id == holder_id, Resident.tenant_id == tenant_id)
    ).first()
    if found is None:  # another tenant's resident looks exactly like a missing one
        raise InvalidRequest(ErrorCode.INVALID_REQUEST, "holder_id")


def get_vehicle(session: Session, *, tenant_id: int, vehicle_id: uuid.UUID) -> Vehicle:
    """A vehicle of this tenant, else NotFound."""
    vehicle = session.scalars(
        select(Vehicle).where(Vehicle.id == vehicle_id, Vehicle.tenant_id == tenant_id)
    ).first()
    if vehicle is None:
        raise NotFound()
    return vehicle


def list_vehicles(
    session: Session,
    *,
    tenant_id: int,
    plate: str | None = None,
    holder_id: uuid.UUID | None = None,
    after: str | None = None,
    limit: int = 50,
) -> tuple[list[Vehicle], str | None]:
    """A page of the tenant's vehicles, never those held by a resident with a register block."""
    blocked = select(Resident.id).where(
        Resident.tenant_id == tenant_id, Resident.register_block.is_(True)
    )
    stmt = select(Vehicle).where(
        Vehicle.tenant_id == tenant_id,
        or_(Vehicle.holder_id.is_(None), Vehicle.holder_id.not_in(blocked)),
    )
    if plate is not None:
        stmt = stmt.where(Vehicle.plate == normalize_plate(plate))
    if holder_id is not None:
        stmt = stmt.where(Vehicle.holder_id == holder_id)
    return _page(session, stmt, Vehicle, after=after, limit=limit)


def _vehicle_changed(
    session: Session, *, tenant_id: int, vehicle: Vehicle, actor: str, action: str, now: datetime
) -> None:
    audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action=action,
        object_type="vehicle",
        object_id=str(vehicle.id),
        now=now,
    )
    session.flush()
    registry_events.on_vehicle_changed(session, tenant_id=tenant_id, vehicle_id=vehicle.id, now=now)


def create_vehicle(
    session: Session, *, tenant_id: int, data: VehicleCreate, actor: str, now: datetime
) -> Vehicle:
    """A new vehicle; Conflict if its external reference exists in this tenant."""
    plate = normalize_plate(data.plate)
    _check_holder(session, tenant_id, data.holder_id)
    if data.external_ref is not None:
        exists = session.scalars(
            select(Vehicle.id).where(
                Vehicle.tenant_id == tenant_id, Vehicle.external_ref == data.external_ref
            )
        ).first()
        if exists is not None:
            raise Conflict(ErrorCode.ALREADY_EXISTS)
    vehicle = Vehicle(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        external_ref=data.external_ref,
        plate=plate,
        kind=data.kind.value,
        proof_ref=data.proof_ref,
        holder_id=data.holder_id,
        vehicle_class=data.vehicle_class.value,
        length_mm=data.length_mm,
        width_mm=data.width_mm,
        valid_until=data.valid_until,
        created_at=now,
        updated_at=now,
        version=1,
    )
    session.add(vehicle)
    session.flush()
    _vehicle_changed(
        session,
        tenant_id=tenant_id,
        vehicle=vehicle,
        actor=actor,
        action="vehicle_created",
        now=now,
    )
    return vehicle


def update_vehicle(
    session: Session,
    *,
    tenant_id: int,
    vehicle_id: uuid.UUID,
    data: VehicleUpdate,
    actor: str,
    now: datetime,
) -> Vehicle:
    """Apply the fields that were sent (plate re-canonicalised, holder checked)."""
    vehicle = get_vehicle(session, tenant_id=tenant_id, vehicle_id=vehicle_id)
    changes = data.model_dump(exclude_unset=True)
    for field in ("plate", "kind", "vehicle_class"):
        if field in changes and changes[field] is None:
            raise InvalidRequest(ErrorCode.INVALID_REQUEST, field)
    if "plate" in changes:
        changes["plate"] = normalize_plate(changes["plate"])
    if "holder_id" in changes:
        _check_holder(session, tenant_id, changes["holder_id"])
    for field, value in changes.items():
        setattr(vehicle, field, value.value if hasattr(value, "value") else value)
    if vehicle.kind != "own" and not vehicle.proof_ref:
        raise InvalidRequest(ErrorCode.INVALID_REQUEST, "proof_ref")
    vehicle.updated_at = now
    vehicle.version += 1
    _vehicle_changed(
        session,
        tenant_id=tenant_id,
        vehicle=vehicle,
        actor=actor,
        action="vehicle_updated",
        now=now,
    )
    return vehicle


# ---------------------------------------------------------------- zones


def _segments(items: Sequence[SegmentIn]) -> list[ZoneSegment]:
    return [
        ZoneSegment(
            position=i,
            street=s.street,
            number_from=s.number_from,
            number_to=s.number_to,
            parity=s.parity.value,
        )
        for i, s in enumerate(items)
    ]


def get_zone(session: Session, *, tenant_id: int, zone_id: uuid.UUID) -> Zone:
    """A zone of this tenant, else NotFound."""
    zone = session.scalars(
        select(Zone)
        .where(Zone.id == zone_id, Zone.tenant_id == tenant_id)
        .options(selectinload(Zone.segments))
    ).first()
    if zone is None:
        raise NotFound()
    return zone


def get_zone_by_code(session: Session, *, tenant_id: int, code: str) -> Zone:
    """A zone of this tenant by code, else NotFound."""
    zone = session.scalars(
        select(Zone)
        .where(Zone.code == normalize_zone_code(code), Zone.tenant_id == tenant_id)
        .options(selectinload(Zone.segments))
    ).first()
    if zone is None:
        raise NotFound()
    return zone


def list_zones(session: Session, *, tenant_id: int) -> list[Zone]:
    """The tenant's zones by code."""
    return list(
        session.scalars(
            select(Zone)
            .where(Zone.tenant_id == tenant_id)
            .options(selectinload(Zone.segments))
            .order_by(Zone.code)
        )
    )


def create_zone(
    session: Session, *, tenant_id: int, data: ZoneCreate, actor: str, now: datetime
) -> Zone:
    """A new zone; Conflict if its code exists in this tenant."""
    code = normalize_zone_code(data.code)
    exists = session.scalars(
        select(Zone.id).where(Zone.tenant_id == tenant_id, Zone.code == code)
    ).first()
    if exists is not None:
        raise Conflict(ErrorCode.ALREADY_EXISTS)
    zone = Zone(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        code=code,
        name=data.name,
        created_at=now,
        updated_at=now,
        version=1,
    )
    zone.segments = _segments(data.segments)
    session.add(zone)
    session.flush()
    audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="zone_created",
        object_type="zone",
        object_id=str(zone.id),
        now=now,
    )
    return zone


def update_zone(
    session: Session,
    *,
    tenant_id: int,
    zone_id: uuid.UUID,
    data: ZoneUpdate,
    actor: str,
    now: datetime,
) -> Zone:
    """Rename and/or replace the segments."""
    zone = get_zone(session, tenant_id=tenant_id, zone_id=zone_id)
    if data.name is not None:
        zone.name = data.name
    if data.segments is not None:
        zone.segments.clear()
        session.flush()
        zone.segments.extend(_segments(data.segments))
    zone.updated_at = now
    zone.version += 1
    session.flush()
    audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="zone_updated",
        object_type="zone",
        object_id=str(zone.id),
        now=now,
    )
    return zone
