"""Tenants: created by operator clients (or the CLI); a tenant client sees only its own."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy.orm import Session, sessionmaker

from issuer.deps import (
    ApiClientDep,
    ClockDep,
    OperatorDep,
    SessionDep,
    SettingsDep,
    get_session_factory,
)
from issuer.errors import NotFound
from issuer.schemas.common import PROBLEM_RESPONSES, ProblemOut
from issuer.schemas.tenants import TenantCreate, TenantList, TenantOut
from issuer.services import tenants as service

router = APIRouter(prefix="/tenants", tags=["tenants"], responses=PROBLEM_RESPONSES)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TenantOut,
    responses={
        409: {
            "model": ProblemOut,
            "description": "already_exists, key_ring_exists, key_ring_unusable",
        }
    },
)
def create_tenant(
    body: TenantCreate,
    principal: OperatorDep,
    sessions: Annotated[sessionmaker[Session], Depends(get_session_factory)],
    clock: ClockDep,
    settings: SettingsDep,
) -> TenantOut:
    """Create a municipality and its key ring, all or nothing (operator clients only)."""
    tenant = service.register_tenant(
        sessions, settings, body, actor=principal.key_id, now=clock.now()
    )
    return TenantOut.model_validate(tenant)


@router.get("", response_model=TenantList)
def list_tenants(principal: ApiClientDep, session: SessionDep) -> TenantList:
    """Operator: every tenant; tenant client: its own."""
    if principal.tenant_id is None:
        items = service.list_tenants(session)
    else:
        items = [service.get_tenant(session, principal.tenant_id)]
    return TenantList(items=[TenantOut.model_validate(t) for t in items])


@router.get("/{ags}", response_model=TenantOut)
def get_tenant(ags: str, principal: ApiClientDep, session: SessionDep) -> TenantOut:
    """One tenant; another tenant's AGS is 404 for a tenant client."""
    tenant = service.get_tenant_by_ags(session, ags)
    if principal.tenant_id is not None and tenant.id != principal.tenant_id:
        raise NotFound()
    return TenantOut.model_validate(tenant)
