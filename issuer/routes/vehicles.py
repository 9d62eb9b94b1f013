"""Vehicles (scope registry:write; reads also permits:*)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from issuer.deps import ClockDep, RegistryReader, RegistryWriter, SessionDep, TenantDep
from issuer.schemas.common import PROBLEM_RESPONSES
from issuer.schemas.registry import VehicleCreate, VehicleOut, VehiclePage, VehicleUpdate
from issuer.services import registry as service

router = APIRouter(prefix="/vehicles", tags=["registry"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=VehicleOut)
def create_vehicle(
    body: VehicleCreate,
    principal: RegistryWriter,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> VehicleOut:
    """Register a vehicle; the plate is stored canonical."""
    vehicle = service.create_vehicle(
        session, tenant_id=tenant.id, data=body, actor=principal.key_id, now=clock.now()
    )
    return VehicleOut.model_validate(vehicle)


@router.get("", response_model=VehiclePage)
def list_vehicles(
    _principal: RegistryReader,
    tenant: TenantDep,
    session: SessionDep,
    plate: Annotated[str | None, Query(max_length=32)] = None,
    holder_id: uuid.UUID | None = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> VehiclePage:
    """Vehicles (not those of residents with a register block), by id."""
    items, cursor = service.list_vehicles(
        session, tenant_id=tenant.id, plate=plate, holder_id=holder_id, after=after, limit=limit
    )
    return VehiclePage(items=[VehicleOut.model_validate(v) for v in items], next_cursor=cursor)


@router.get("/{vehicle_id}", response_model=VehicleOut)
def get_vehicle(
    vehicle_id: uuid.UUID, _principal: RegistryReader, tenant: TenantDep, session: SessionDep
) -> VehicleOut:
    """One vehicle of the tenant."""
    return VehicleOut.model_validate(
        service.get_vehicle(session, tenant_id=tenant.id, vehicle_id=vehicle_id)
    )


@router.patch("/{vehicle_id}", response_model=VehicleOut)
def update_vehicle(
    vehicle_id: uuid.UUID,
    body: VehicleUpdate,
    principal: RegistryWriter,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> VehicleOut:
    """Change holder, basis of use, dimensions or end of registration."""
    vehicle = service.update_vehicle(
        session,
        tenant_id=tenant.id,
        vehicle_id=vehicle_id,
        data=body,
        actor=principal.key_id,
        now=clock.now(),
    )
    return VehicleOut.model_validate(vehicle)
