"""Zones and their street segments (scope registry:write; reads also permits:*)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from issuer.deps import ClockDep, RegistryReader, RegistryWriter, SessionDep, TenantDep
from issuer.schemas.common import PROBLEM_RESPONSES
from issuer.schemas.registry import ZoneCreate, ZoneList, ZoneOut, ZoneUpdate
from issuer.services import registry as service

router = APIRouter(prefix="/zones", tags=["registry"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ZoneOut)
def create_zone(
    body: ZoneCreate,
    principal: RegistryWriter,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> ZoneOut:
    """Create a zone with its segments (409 if the code exists)."""
    zone = service.create_zone(
        session, tenant_id=tenant.id, data=body, actor=principal.key_id, now=clock.now()
    )
    return ZoneOut.model_validate(zone)


@router.get("", response_model=ZoneList)
def list_zones(_principal: RegistryReader, tenant: TenantDep, session: SessionDep) -> ZoneList:
    """The tenant's zones."""
    return ZoneList(
        items=[ZoneOut.model_validate(z) for z in service.list_zones(session, tenant_id=tenant.id)]
    )


@router.get("/{zone_id}", response_model=ZoneOut)
def get_zone(
    zone_id: uuid.UUID, _principal: RegistryReader, tenant: TenantDep, session: SessionDep
) -> ZoneOut:
    """One zone of the tenant."""
    return ZoneOut.model_validate(service.get_zone(session, tenant_id=tenant.id, zone_id=zone_id))


@router.patch("/{zone_id}", response_model=ZoneOut)
def update_zone(
    zone_id: uuid.UUID,
    body: ZoneUpdate,
    principal: RegistryWriter,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> ZoneOut:
    """Rename a zone or replace its segments."""
    zone = service.update_zone(
        session,
        tenant_id=tenant.id,
        zone_id=zone_id,
        data=body,
        actor=principal.key_id,
        now=clock.now(),
    )
    return ZoneOut.model_validate(zone)
