"""Enforcement: the plate index (docs/formats.md), for enforcement clients and handhelds only.

Personal data: `Cache-Control: private, no-store`; never cached by a CDN or a shared proxy.

- `GET /plate-index`: the index of the calling API client's tenant (scope `enforcement:read`).
- `GET /plate-index/{ags}`: the index of one municipality, for an enrolled handheld covering
  it (device access token) or an `enforcement:read` client of that tenant.
- Handhelds: `POST /enrol` (one-time code + key-bound request), `POST /token` (RFC 7523
  `private_key_jwt`, client credentials grant).
- Operator (admin): enforcement clients, enrolment codes, device list, withdrawal.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Path, Request, Response, status
from starlette.concurrency import run_in_threadpool

from issuer.client_address import client_address
from issuer.db.enforcement_models import EnforcementClient, EnforcementDevice
from issuer.db.models import Tenant
from issuer.deps import (
    ClockDep,
    OperatorDep,
    SessionDep,
    SettingsDep,
    TenantDep,
    get_principal,
    get_session_factory,
    require_scope,
)
from issuer.errors import (
    ErrorCode,
    Forbidden,
    InvalidRequest,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from issuer.schemas.common import PROBLEM_RESPONSES, ProblemOut
from issuer.schemas.enforcement import (
    DeviceList,
    DeviceOut,
    EnforcementClientCreate,
    EnforcementClientList,
    EnforcementClientOut,
    EnrolmentCodeCreate,
    EnrolmentCodeOut,
    EnrolOut,
    EnrolRequest,
    TokenOut,
)
from issuer.services import enforcement as devices
from issuer.services import plate_index as service
from issuer.services.authentication import AuthGuard
from issuer.services.clients import Principal
from issuer.settings import Settings

router = APIRouter(prefix="/api/v1/enforcement", tags=["enforcement"], responses=PROBLEM_RESPONSES)

Enforcer = Annotated[Principal, Depends(require_scope("enforcement:read"))]
PLATE_INDEX_TYPE = "application/vnd.buergerid.plate-index+cbor"


@router.get(
    "/plate-index",
    response_class=Response,
    responses={200: {"content": {PLATE_INDEX_TYPE: {}}}},
)
def get_plate_index(
    request: Request,
    principal: Enforcer,
    tenant: TenantDep,
    session: SessionDep,
) -> Response:
    """The tenant's signed plate index, as last built by the job runner (a new salt for every
    build); 503 `plate_index_not_built` until the first build."""
    return _serve_index(request, session, tenant)


def _serve_index(request: Request, session: SessionDep, tenant: Tenant) -> Response:
    record = service.latest(session, tenant_id=tenant.id)
    if record is None:  # the job runner builds it (`buergerid-issuer worker`), never a request
        raise Unavailable(ErrorCode.PLATE_INDEX_NOT_BUILT, headers={"Retry-After": "60"})
    headers = {
        "ETag": record.etag,
        "Cache-Control": "private, no-store, max-age=0",
        "Pragma": "no-cache",
        "Vary": "Authorization",
    }
    if request.headers.get("if-none-match", "").strip() == record.etag:
        return Response(status_code=304, headers=headers)
    return Response(record.body, media_type=PLATE_INDEX_TYPE, headers=headers)


def _public(settings: Settings, path: str) -> str:
    return settings.public_base_url.rstrip("/") + path


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated()
    return token.strip()


async def _index_reader(
    request: Request, clock: ClockDep, settings: SettingsDep
) -> frozenset[str] | int:
    """Who reads a plate index: a handheld (the AGS it covers) or an `enforcement:read` API
    client (its tenant id). Resolved in its own short transaction, before the request's."""
    token = _bearer(request)
    if devices.is_device_token(token):
        return await run_in_threadpool(_device_municipalities, request, token, clock.now())
    principal = await get_principal(request, clock, settings)
    if not principal.has_any(("enforcement:read",)):
        raise Forbidden(ErrorCode.INSUFFICIENT_SCOPE)
    if principal.tenant_id is None:
        raise Forbidden(ErrorCode.TENANT_REQUIRED)
    return principal.tenant_id


def _device_municipalities(request: Request, token: str, now: datetime) -> frozenset[str]:
    with get_session_factory(request)() as session, session.begin():
        return devices.authenticate_token(session, token, now=now).municipalities


@router.get(
    "/plate-index/{ags}",
    response_class=Response,
    responses={200: {"content": {PLATE_INDEX_TYPE: {}}}},
)
def get_plate_index_of(
    request: Request,
    reader: Annotated[frozenset[str] | int, Depends(_index_reader)],
    session: SessionDep,
    ags: str = Path(pattern=r"^\d{8}$"),
) -> Response:
    """One municipality's plate index, for a handheld covering it (device access token) or an
    `enforcement:read` client of that municipality."""
    tenant = session.query(Tenant).filter_by(ags=ags).one_or_none()
    allowed = tenant is not None and (
        ags in reader if isinstance(reader, frozenset) else reader == tenant.id
    )
    if tenant is None or not allowed:
        raise NotFound()
    return _serve_index(request, session, tenant)


@contextmanager
def _counted_failures(request: Request, session: SessionDep, now: datetime) -> Iterator[None]:
    """A handheld's enrolment or token request from an address at its failure limit gets 429
    before any work; a refused one counts against that address (the budget of API keys)."""
    guard: AuthGuard = request.app.state.auth_guard
    address = client_address(request)
    guard.refuse_if_blocked(address, now=now)
    try:
        yield
    except (InvalidRequest, Unauthenticated):
        session.rollback()  # nothing of this request stays; the counter writes alone
        guard.count_failure(address, now=now)
        raise


@router.post(
    "/enrol",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrolOut,
    responses={429: {"model": ProblemOut, "description": "too many refused requests"}},
)
def enrol(
    body: EnrolRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> EnrolOut:
    """Redeem a one-time enrolment code: binds the handheld's key (JWK in the signed request).
    Refused requests count against the client address like failed API-key authentications:
    beyond `BUERGERID_AUTH_FAILURES_PER_ADDRESS` a window, 429 with `Retry-After`."""
    now = clock.now()
    with _counted_failures(request, session, now):
        device, municipalities = devices.enrol(
            session,
            request=body.enrolment_request,
            audience=_public(settings, devices.ENROL_PATH),
            now=now,
        )
    return EnrolOut(
        device_id=device.id,
        municipalities=municipalities,
        token_endpoint=_public(settings, devices.TOKEN_PATH),
        trust_bundle_url=_public(settings, "/trust-bundle"),
        plate_index_url=_public(settings, devices.PLATE_INDEX_PATH),
    )


MAX_FORM_BYTES = 8 * 1024


async def _form(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body (RFC 6749 §4.4.2), bounded, no repeats."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise Unauthenticated(ErrorCode.INVALID_CLIENT)
    try:
        pairs = parse_qsl(body.decode("ascii"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise Unauthenticated(ErrorCode.INVALID_CLIENT) from None
    form = dict(pairs)
    if len(form) != len(pairs):  # RFC 6749 §3.2: parameters must not be repeated
        raise Unauthenticated(ErrorCode.INVALID_CLIENT)
    return form


@router.post(
    "/token",
    response_model=TokenOut,
    responses={429: {"model": ProblemOut, "description": "too many refused requests"}},
)
def token(
    form: Annotated[dict[str, str], Depends(_form)],
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> TokenOut:
    """RFC 7523 client authentication of a handheld; a short-lived access token. Refused
    requests count against the client address as at `/enrol`."""
    now = clock.now()
    with _counted_failures(request, session, now):
        access, seconds, municipalities = devices.issue_token(
            session,
            form=form,
            audience=_public(settings, devices.TOKEN_PATH),
            token_seconds=settings.enforcement_token_seconds,
            now=now,
        )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return TokenOut(
        access_token=access,
        token_type="Bearer",
        expires_in=seconds,
        municipalities=municipalities,
    )


# --------------------------------------------------------------------------- operator


def _client_out(session: SessionDep, client: EnforcementClient) -> EnforcementClientOut:
    return EnforcementClientOut(
        id=client.id,
        name=client.name,
        municipalities=devices.client_municipalities(session, client),
        created_at=client.created_at,
        revoked_at=client.revoked_at,
    )


def device_out(device: EnforcementDevice) -> DeviceOut:
    """Map a device row to its schema."""
    return DeviceOut(
        id=device.id,
        client_id=device.client_id,
        label=device.label,
        created_at=device.created_at,
        enrolled_at=device.enrolled_at,
        last_seen_at=device.last_seen_at,
        withdrawn_at=device.withdrawn_at,
        key_thumbprint=device.key_thumbprint,
    )


@router.post("/clients", status_code=status.HTTP_201_CREATED, response_model=EnforcementClientOut)
def create_client(
    body: EnforcementClientCreate, principal: OperatorDep, session: SessionDep, clock: ClockDep
) -> EnforcementClientOut:
    """An enforcement client covering one or more municipalities."""
    client = devices.create_client(
        session,
        name=body.name,
        municipalities=body.municipalities,
        actor=principal.key_id,
        now=clock.now(),
    )
    return _client_out(session, client)


@router.get("/clients", response_model=EnforcementClientList)
def list_clients(_principal: OperatorDep, session: SessionDep) -> EnforcementClientList:
    """Every enforcement client."""
    return EnforcementClientList(
        items=[_client_out(session, c) for c in devices.list_clients(session)]
    )


@router.post("/clients/{client_id}/revoke", response_model=EnforcementClientOut)
def revoke_client(
    client_id: uuid.UUID, principal: OperatorDep, session: SessionDep, clock: ClockDep
) -> EnforcementClientOut:
    """Revoke a client and withdraw all its handhelds."""
    client = devices.revoke_client(
        session, client_id=client_id, actor=principal.key_id, now=clock.now()
    )
    return _client_out(session, client)


@router.post(
    "/clients/{client_id}/enrolment-codes",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrolmentCodeOut,
)
def issue_code(
    client_id: uuid.UUID,
    body: EnrolmentCodeCreate,
    principal: OperatorDep,
    session: SessionDep,
    settings: SettingsDep,
    clock: ClockDep,
) -> EnrolmentCodeOut:
    """A one-time enrolment code for a new handheld of the client (in this answer only)."""
    issued = devices.issue_code(
        session,
        client_id=client_id,
        label=body.label,
        ttl_seconds=settings.enrolment_code_ttl_seconds,
        actor=principal.key_id,
        now=clock.now(),
    )
    return EnrolmentCodeOut(
        device=device_out(issued.device),
        code=issued.code,
        expires_at=issued.device.code_expires_at,
    )


@router.get("/clients/{client_id}/devices", response_model=DeviceList)
def list_devices(client_id: uuid.UUID, _principal: OperatorDep, session: SessionDep) -> DeviceList:
    """A client's handhelds."""
    return DeviceList(items=[device_out(d) for d in devices.list_devices(session, client_id)])


@router.post("/devices/{device_id}/withdraw", response_model=DeviceOut)
def withdraw_device(
    device_id: uuid.UUID, principal: OperatorDep, session: SessionDep, clock: ClockDep
) -> DeviceOut:
    """Withdraw a handheld (lost, stolen, retired): its access ends at once."""
    device = devices.withdraw_device(
        session, device_id=device_id, actor=principal.key_id, now=clock.now()
    )
    return device_out(device)
