"""API clients of the caller's tenant (scope `admin`): create, list, rotate, revoke."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, status

from issuer.db.models import ApiClient
from issuer.deps import ClockDep, SessionDep, SettingsDep, TenantAdmin, TenantDep
from issuer.schemas.clients import (
    ClientCreate,
    ClientList,
    ClientOut,
    ClientRotate,
    ClientSecretOut,
)
from issuer.schemas.common import PROBLEM_RESPONSES
from issuer.services import clients as service

router = APIRouter(prefix="/clients", tags=["clients"], responses=PROBLEM_RESPONSES)


def client_out(client: ApiClient) -> ClientOut:
    """Map a client row to its schema."""
    return ClientOut(
        id=client.id,
        name=client.name,
        scopes=client.scopes.split(),
        created_at=client.created_at,
        revoked_at=client.revoked_at,
    )


def _secret_out(issued: service.IssuedCredential) -> ClientSecretOut:
    return ClientSecretOut(
        client=client_out(issued.client), key_id=issued.key_id, token=issued.token
    )


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ClientSecretOut)
def create_client(
    body: ClientCreate,
    request: Request,
    principal: TenantAdmin,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> ClientSecretOut:
    """Create a client; the token is in this answer only."""
    issued = service.create_client(
        session,
        request.app.state.hasher,
        tenant_id=tenant.id,
        name=body.name,
        scopes=[s.value for s in body.scopes],
        actor=principal.key_id,
        now=clock.now(),
    )
    return _secret_out(issued)


@router.get("", response_model=ClientList)
def list_clients(_principal: TenantAdmin, tenant: TenantDep, session: SessionDep) -> ClientList:
    """The tenant's clients."""
    return ClientList(
        items=[client_out(c) for c in service.list_clients(session, tenant_id=tenant.id)]
    )


@router.get("/{client_id}", response_model=ClientOut)
def get_client(
    client_id: uuid.UUID, _principal: TenantAdmin, tenant: TenantDep, session: SessionDep
) -> ClientOut:
    """One client of the tenant."""
    return client_out(service.get_client(session, tenant_id=tenant.id, client_id=client_id))


@router.post("/{client_id}/rotate", response_model=ClientSecretOut)
def rotate_client(
    client_id: uuid.UUID,
    body: ClientRotate,
    request: Request,
    principal: TenantAdmin,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> ClientSecretOut:
    """A new secret; the old one stays valid for the grace period."""
    grace = (
        settings.client_rotation_grace_seconds if body.grace_seconds is None else body.grace_seconds
    )
    issued = service.rotate_client(
        session,
        request.app.state.hasher,
        tenant_id=tenant.id,
        client_id=client_id,
        grace_seconds=grace,
        actor=principal.key_id,
        now=clock.now(),
    )
    return _secret_out(issued)


@router.post("/{client_id}/revoke", response_model=ClientOut)
def revoke_client(
    client_id: uuid.UUID,
    principal: TenantAdmin,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> ClientOut:
    """Revoke the client and all its secrets at once."""
    client = service.revoke_client(
        session, tenant_id=tenant.id, client_id=client_id, actor=principal.key_id, now=clock.now()
    )
    return client_out(client)
