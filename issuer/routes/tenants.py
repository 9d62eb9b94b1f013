"""Tenants: created by operator clients (or the CLI); a tenant client sees only its own."""

from __future__ import annotations

from fastapi import APIRouter, status

from issuer.deps import ApiClientDep, ClockDep, OperatorDep, SessionDep, SettingsDep
from issuer.errors import NotFound
from issuer.schemas.common import PROBLEM_RESPONSES
from issuer.schemas.tenants import TenantCreate, TenantList, TenantOut
from issuer.services import tenants as service

router = APIRouter(prefix="/tenants", tags=["tenants"], responses=PROBLEM_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TenantOut)
def create_tenant(
    body: TenantCreate,
    principal: OperatorDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> TenantOut:
    """Create a municipality and its key ring (operator clients only)."""
    now = clock.now()
    service.validate_ags(body.ags)
    service.provision_key_ring_for(settings, body.ags, now=now, name=body.name, url=body.issuer_url)
    tenant = service.create_tenant(
        session,
        ags=body.ags,
        name=body.name,
        issuer_url=body.issuer_url,
        retention_days=body.retention_days,
        actor=principal.key_id,
        now=now,
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
