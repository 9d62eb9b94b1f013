"""Enforcement: the plate index (DESIGN §3.5), for `enforcement:read` clients only.

Personal data: `Cache-Control: private, no-store`; never cached by a CDN or a shared proxy.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from issuer.deps import ClockDep, SessionDep, SettingsDep, TenantDep, require_scope
from issuer.schemas.common import PROBLEM_RESPONSES
from issuer.services import plate_index as service
from issuer.services.clients import Principal

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
    settings: SettingsDep,
    clock: ClockDep,
) -> Response:
    """The tenant's signed plate index (a new salt for every build)."""
    record = service.current(session, settings, tenant=tenant, now=clock.now())
    headers = {
        "ETag": record.etag,
        "Cache-Control": "private, no-store, max-age=0",
        "Pragma": "no-cache",
        "Vary": "Authorization",
    }
    if request.headers.get("if-none-match", "").strip() == record.etag:
        return Response(status_code=304, headers=headers)
    return Response(record.body, media_type=PLATE_INDEX_TYPE, headers=headers)
