"""Residents and their residences (scope registry:write; reads also permits:*)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from issuer.deps import ClockDep, RegistryReader, RegistryWriter, SessionDep, TenantDep
from issuer.schemas.common import PROBLEM_RESPONSES
from issuer.schemas.registry import (
    ResidenceIn,
    ResidenceUpdate,
    ResidentCreate,
    ResidentOut,
    ResidentPage,
    ResidentUpdate,
)
from issuer.services import registry as service

router = APIRouter(prefix="/residents", tags=["registry"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ResidentOut)
def create_resident(
    body: ResidentCreate,
    principal: RegistryWriter,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> ResidentOut:
    """Register a resident (409 if the Melderegister reference exists)."""
    resident = service.create_resident(
        session, tenant_id=tenant.id, data=body, actor=principal.key_id, now=clock.now()
    )
    return ResidentOut.model_validate(resident)


@router.get("", response_model=ResidentPage)
def list_residents(
    _principal: RegistryReader,
    tenant: TenantDep,
    session: SessionDep,
    external_ref: Annotated[str | None, Query(max_length=64)] = None,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ResidentPage:
    """Residents without a register block, by id; pass `next_cursor` as `after`."""
    items, cursor = service.list_residents(
        session, tenant_id=tenant.id, external_ref=external_ref, after=after, limit=limit
    )
    return ResidentPage(items=[ResidentOut.model_validate(r) for r in items], next_cursor=cursor)


@router.get("/{resident_id}", response_model=ResidentOut)
def get_resident(
    resident_id: uuid.UUID, _principal: RegistryReader, tenant: TenantDep, session: SessionDep
) -> ResidentOut:
    """One resident of the tenant."""
    return ResidentOut.model_validate(
        service.get_resident(session, tenant_id=tenant.id, resident_id=resident_id)
    )


@router.patch("/{resident_id}", response_model=ResidentOut)
def update_resident(
    resident_id: uuid.UUID,
    body: ResidentUpdate,
    principal: RegistryWriter,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> ResidentOut:
    """Change names, birth date or the register block."""
    resident = service.update_resident(
        session,
        tenant_id=tenant.id,
        resident_id=resident_id,
        data=body,
        actor=principal.key_id,
        now=clock.now(),
    )
    return ResidentOut.model_validate(resident)


@router.post(
    "/{resident_id}/residences", status_code=status.HTTP_201_CREATED, response_model=ResidentOut
)
def add_residence(
    resident_id: uuid.UUID,
    body: ResidenceIn,
    principal: RegistryWriter,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> ResidentOut:
    """Register an address (move in)."""
    resident = service.add_residence(
        session,
        tenant_id=tenant.id,
        resident_id=resident_id,
        data=body,
        actor=principal.key_id,
        now=clock.now(),
    )
    return ResidentOut.model_validate(resident)


@router.patch("/{resident_id}/residences/{residence_id}", response_model=ResidentOut)
def update_residence(
    resident_id: uuid.UUID,
    residence_id: uuid.UUID,
    body: ResidenceUpdate,
    principal: RegistryWriter,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> ResidentOut:
    """Change or end an address (move out: set `valid_until`)."""
    resident = service.update_residence(
        session,
        tenant_id=tenant.id,
        resident_id=resident_id,
        residence_id=residence_id,
        data=body,
        actor=principal.key_id,
        now=clock.now(),
    )
    return ResidentOut.model_validate(resident)
