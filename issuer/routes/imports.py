"""Bulk imports (scope registry:write): `POST /api/v1/imports/{residents|vehicles}`.

The body (NDJSON or CSV, chosen by `?format=` or Content-Type) is streamed into a spool file
(memory-capped, bounded by `max_import_bytes`), then imported in batches off the event loop.
"""

from __future__ import annotations

import tempfile
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from issuer.deps import ClockDep, RegistryWriter, SettingsDep
from issuer.errors import ErrorCode, Forbidden, PayloadTooLarge, UnsupportedMediaType
from issuer.problems import PROBLEM_JSON, problem_body
from issuer.schemas.common import PROBLEM_RESPONSES
from issuer.services import imports as service

router = APIRouter(prefix="/imports", tags=["registry"], responses=PROBLEM_RESPONSES)

_SPOOL_MEMORY_BYTES = 1024 * 1024
_REPORT_EXAMPLE: dict[str, Any] = {
    "kind": "residents",
    "import_id": "9f0c5a7e3b2d4c1a8e6f0b9d7c5a3e1f",
    "lines": 4,
    "inserted": 2,
    "updated": 0,
    "unchanged": 1,
    "failed": 1,
    "errors": [{"line": 3, "code": "invalid_field", "field": "postcode"}],
    "errors_truncated": False,
    "complete": True,
    "stopped": None,
}
_MEDIA = {
    "application/x-ndjson": service.ImportFormat.NDJSON,
    "application/ndjson": service.ImportFormat.NDJSON,
    "application/jsonl": service.ImportFormat.NDJSON,
    "text/csv": service.ImportFormat.CSV,
}


class ImportKind(StrEnum):
    """What is imported."""

    RESIDENTS = "residents"
    VEHICLES = "vehicles"


def _format(request: Request, explicit: service.ImportFormat | None) -> service.ImportFormat:
    if explicit is not None:
        return explicit
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in _MEDIA:
        raise UnsupportedMediaType()
    return _MEDIA[media]


@router.post(
    "/{kind}",
    responses={
        200: {
            "description": "import report (per-line errors carry line numbers and codes only)",
            "content": {"application/json": {"example": _REPORT_EXAMPLE}},
        },
        413: {"description": "import too large (problem+json; `report` if rows were committed)"},
        422: {"description": "a CSV header that cannot be read (`invalid_header`)"},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/x-ndjson": {
                    "example": '{"external_ref":"MR-1","given_name":"Erika",'
                    '"family_name":"Mustermann","residence_kind":"main",'
                    '"street":"Bahnhofstraße","house_number":"13","postcode":"45879",'
                    '"valid_from":"2020-04-01"}\n'
                },
                "text/csv": {
                    "example": "external_ref,given_name,family_name\nMR-1,Erika,Mustermann\n"
                },
            }
        }
    },
)
async def import_rows(
    kind: ImportKind,
    request: Request,
    principal: RegistryWriter,
    clock: ClockDep,
    settings: SettingsDep,
    format: Annotated[service.ImportFormat | None, Query()] = None,
) -> JSONResponse:
    """Upsert residents or vehicles from NDJSON/CSV; idempotent on `external_ref`.

    A CSV header that cannot be read refuses the import (422 `invalid_header`). An import
    that stops before the end answers a problem (413/503/500) whose `report` counts exactly
    the rows committed before `report.stopped.line`."""
    fmt = _format(request, format)
    # no request session here: the import commits per batch in its own session, and on
    # SQLite an open request transaction would hold the write lock
    if principal.tenant_id is None:
        raise Forbidden(ErrorCode.TENANT_REQUIRED)
    tenant_id = principal.tenant_id
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY_BYTES) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > settings.max_import_bytes:
                raise PayloadTooLarge(ErrorCode.IMPORT_TOO_LARGE)
            spool.write(chunk)
        spool.seek(0)
        run = service.import_residents if kind is ImportKind.RESIDENTS else service.import_vehicles
        factory = request.app.state.session_factory

        def work() -> service.ImportReport:
            with factory() as session:
                return run(
                    session,
                    tenant_id,
                    spool,
                    fmt,
                    actor=principal.key_id,
                    now=clock.now(),
                    batch_rows=settings.import_batch_rows,
                    max_line_bytes=settings.max_import_line_bytes,
                    max_bytes=settings.max_import_bytes,
                )

        report = await run_in_threadpool(work)
    if report.stopped is not None:
        return _stopped(request, report)
    return JSONResponse(report.as_dict())


_STOP_STATUS = {
    service.StopCode.IMPORT_TOO_LARGE: (413, ErrorCode.IMPORT_TOO_LARGE),
    service.StopCode.UNAVAILABLE: (503, ErrorCode.UNAVAILABLE),
    service.StopCode.INTERNAL_ERROR: (500, ErrorCode.INTERNAL_ERROR),
}


def _stopped(request: Request, report: service.ImportReport) -> JSONResponse:
    """A problem whose `report` member says exactly what was committed before the stop."""
    assert report.stopped is not None
    status, code = _STOP_STATUS[report.stopped.code]
    body = problem_body(status, code, request.url.path) | {"report": report.as_dict()}
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)
