"""Permit routes: apply/issue, read, lifecycle actions, QR images, rules, fee schedules, jobs.

Each handler parses, calls one service function and maps the result; scope and tenant checks
come from issuer.deps.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Response, status
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from issuer.db.models import Tenant
from issuer.deps import ClockDep, KeysDep, SessionDep, TenantDep, require_scope
from issuer.schemas.common import PROBLEM_RESPONSES, ProblemOut
from issuer.schemas.permits import (
    CountOut,
    ExtendIn,
    FeeScheduleIn,
    FeeScheduleList,
    FeeScheduleOut,
    FinaliseIn,
    JobOut,
    PaymentIn,
    PermitCreate,
    PermitList,
    PermitOut,
    ReasonIn,
    RenewIn,
    ReplaceIn,
    ResumeIn,
    RulesIn,
    RulesOut,
    VoidIn,
)
from issuer.services import fees as fees_service
from issuer.services import permits as service
from issuer.services import windscreen
from issuer.services.clients import Principal
from issuer.services.permits import PermitState
from issuer.services.signing import KeyStore
from verifier import PermitType

router = APIRouter(prefix="/api/v1", tags=["permits"], responses=PROBLEM_RESPONSES)

Issuer = Annotated[Principal, Depends(require_scope("permits:issue"))]
Revoker = Annotated[Principal, Depends(require_scope("permits:revoke"))]
Reader = Annotated[
    Principal, Depends(require_scope("permits:issue", "permits:revoke", "audit:read"))
]
Admin = Annotated[Principal, Depends(require_scope("admin"))]
PermitTypePath = Annotated[
    str,
    Path(
        description="A permit type: "
        + ", ".join(f"`{t}`" for t in PermitType)
        + "; another answers 422 `rules_invalid`."
    ),
]


@router.post("/permits", status_code=status.HTTP_201_CREATED, response_model=PermitOut)
async def apply_for_permit(
    body: PermitCreate,
    principal: Issuer,
    tenant: TenantDep,
    session: SessionDep,
    keys: KeysDep,
    clock: ClockDep,
) -> PermitOut:
    """Check eligibility and issue; 422 `application_refused` lists every failed rule."""
    # the database work, the mapping and the commit in one worker thread; FastAPI then checks
    # the answer on the event loop (a plain function would cost it a second trip to a thread)
    return await run_in_threadpool(_apply, body, principal, tenant, session, keys, clock.now())


def _apply(
    body: PermitCreate,
    principal: Principal,
    tenant: Tenant,
    session: Session,
    keys: KeyStore,
    now: datetime,
) -> PermitOut:
    request = service.PermitRequest(
        permit_type=body.permit_type,
        resident_id=body.resident_id,
        zone_codes=tuple(body.zones),
        vehicle_ids=tuple(body.vehicle_ids),
        plates=tuple(body.plates),
        fleet=body.fleet,
        holder_label=body.holder_label,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        months=body.months,
        windows=tuple(tuple(w) for w in body.windows),
        max_stay_minutes=body.max_stay_minutes,
        provisional=body.provisional,
        auto_renew=body.auto_renew,
        display_required=body.display_required,
    )
    issued = service.apply(
        session, keys, tenant=tenant, request=request, actor=principal.key_id, now=now
    )
    answer = PermitOut.of(issued.permit, issued.qr)
    # committed here, in this thread: the tenant's locks are let go at once (the answer
    # leaves only after the commit, as for every route)
    session.commit()
    return answer


@router.get("/permits", response_model=PermitList)
def list_permits(
    principal: Reader,
    tenant: TenantDep,
    session: SessionDep,
    state: PermitState | None = None,
    resident_id: uuid.UUID | None = None,
    plate: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=100, ge=1, le=1000),
    offset: int = Query(default=0, ge=0, le=10_000_000),
) -> PermitList:
    """The tenant's permits (residents with a register block are never listed)."""
    items = service.list_permits(
        session,
        tenant_id=tenant.id,
        state=state,
        resident_id=resident_id,
        plate=plate,
        limit=limit,
        offset=offset,
    )
    return PermitList(items=[PermitOut.of(p) for p in items])


@router.get("/permits/{permit_id}", response_model=PermitOut)
def get_permit(
    permit_id: uuid.UUID, principal: Reader, tenant: TenantDep, session: SessionDep
) -> PermitOut:
    """One permit of this tenant."""
    return PermitOut.of(service.get_permit(session, tenant_id=tenant.id, permit_id=permit_id))


@router.post("/permits/{permit_id}/payment", response_model=PermitOut)
def record_payment(
    permit_id: uuid.UUID,
    body: PaymentIn,
    principal: Issuer,
    tenant: TenantDep,
    session: SessionDep,
    keys: KeysDep,
    clock: ClockDep,
) -> PermitOut:
    """Payment callback: marks the open charge paid; awaiting_payment → active."""
    issued = service.record_payment(
        session,
        keys,
        tenant_id=tenant.id,
        permit_id=permit_id,
        amount_cents=body.amount_cents,
        payment_ref=body.payment_ref,
        actor=principal.key_id,
        now=clock.now(),
    )
    return PermitOut.of(issued.permit, issued.qr)


@router.post("/permits/{permit_id}/suspend", response_model=PermitOut)
def suspend_permit(
    permit_id: uuid.UUID,
    body: ReasonIn,
    principal: Revoker,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> PermitOut:
    """active → suspended (status 2 on every token)."""
    permit = service.suspend(
        session,
        tenant_id=tenant.id,
        permit_id=permit_id,
        reason=body.reason,
        actor=principal.key_id,
        now=clock.now(),
        expected_version=body.expected_version,
    )
    return PermitOut.of(permit)


@router.post("/permits/{permit_id}/resume", response_model=PermitOut)
def resume_permit(
    permit_id: uuid.UUID,
    body: ResumeIn,
    principal: Revoker,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> PermitOut:
    """suspended → active (status 0 on every token)."""
    permit = service.resume(
        session,
        tenant_id=tenant.id,
        permit_id=permit_id,
        actor=principal.key_id,
        now=clock.now(),
        expected_version=body.expected_version,
    )
    return PermitOut.of(permit)


@router.post("/permits/{permit_id}/revoke", response_model=PermitOut)
def revoke_permit(
    permit_id: uuid.UUID,
    body: ReasonIn,
    principal: Revoker,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> PermitOut:
    """Any live state → revoked (status 1 on every token)."""
    permit = service.revoke(
        session,
        tenant_id=tenant.id,
        permit_id=permit_id,
        reason=body.reason,
        actor=principal.key_id,
        now=clock.now(),
        expected_version=body.expected_version,
    )
    return PermitOut.of(permit)


@router.post("/permits/{permit_id}/renew", response_model=PermitOut)
def renew_permit(
    permit_id: uuid.UUID,
    body: RenewIn,
    principal: Issuer,
    tenant: TenantDep,
    session: SessionDep,
    keys: KeysDep,
    clock: ClockDep,
) -> PermitOut:
    """Renew inside the renewal window; a new token with a new index."""
    issued = service.renew(
        session,
        keys,
        tenant_id=tenant.id,
        permit_id=permit_id,
        months=body.months,
        actor=principal.key_id,
        now=clock.now(),
        expected_version=body.expected_version,
    )
    return PermitOut.of(issued.permit, issued.qr)


@router.post("/permits/{permit_id}/replace", response_model=PermitOut)
def replace_permit(
    permit_id: uuid.UUID,
    body: ReplaceIn,
    principal: Issuer,
    tenant: TenantDep,
    session: SessionDep,
    keys: KeysDep,
    clock: ClockDep,
) -> PermitOut:
    """Replace for the remaining term; the old permit's tokens are revoked at once."""
    issued = service.replace(
        session,
        keys,
        tenant=tenant,
        permit_id=permit_id,
        reason=body.reason,
        vehicle_ids=body.vehicle_ids,
        plates=body.plates,
        zone_codes=body.zones,
        actor=principal.key_id,
        now=clock.now(),
        expected_version=body.expected_version,
    )
    return PermitOut.of(issued.permit, issued.qr)


@router.post("/permits/{permit_id}/finalise", response_model=PermitOut)
def finalise_permit(
    permit_id: uuid.UUID,
    body: FinaliseIn,
    principal: Issuer,
    tenant: TenantDep,
    session: SessionDep,
    keys: KeysDep,
    clock: ClockDep,
) -> PermitOut:
    """A provisional permit becomes the regular one."""
    issued = service.finalise(
        session,
        keys,
        tenant_id=tenant.id,
        permit_id=permit_id,
        months=body.months,
        actor=principal.key_id,
        now=clock.now(),
    )
    return PermitOut.of(issued.permit, issued.qr)


def _qr_text(
    permit_id: uuid.UUID, tenant: TenantDep, session: SessionDep, keys: KeysDep, now: datetime
) -> str:
    permit = service.get_permit(session, tenant_id=tenant.id, permit_id=permit_id)
    return service.current_qr(session, keys, permit=permit, now=now)


@router.get(
    "/permits/{permit_id}/qr.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}}},
)
def permit_qr_png(
    permit_id: uuid.UUID,
    principal: Issuer,
    tenant: TenantDep,
    session: SessionDep,
    keys: KeysDep,
    clock: ClockDep,
) -> Response:
    """The permit's QR as PNG (alphanumeric, ECC Q)."""
    text = _qr_text(permit_id, tenant, session, keys, clock.now())
    return Response(
        service.render_png(text), media_type="image/png", headers={"Cache-Control": "no-store"}
    )


@router.get(
    "/permits/{permit_id}/qr.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
def permit_qr_svg(
    permit_id: uuid.UUID,
    principal: Issuer,
    tenant: TenantDep,
    session: SessionDep,
    keys: KeysDep,
    clock: ClockDep,
) -> Response:
    """The permit's QR as SVG."""
    text = _qr_text(permit_id, tenant, session, keys, clock.now())
    return Response(
        service.render_svg(text),
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/permits/{permit_id}/windscreen.pdf",
    response_class=Response,
    responses={
        200: {
            "content": {"application/pdf": {}},
            "description": "The printable permit (PDF, one page, portrait).",
        },
        409: {"model": ProblemOut, "description": "illegal_transition: the permit is not active"},
    },
)
def permit_windscreen_pdf(
    permit_id: uuid.UUID,
    principal: Issuer,
    tenant: TenantDep,
    session: SessionDep,
    keys: KeysDep,
    clock: ClockDep,
    page: Annotated[
        Literal["A6", "A5"], Query(description="Paper size: `A6` (default) or `A5`.")
    ] = "A6",
) -> Response:
    """The windscreen permit to print for a citizen, e.g. one without a smartphone: city,
    permit type, QR (50 mm wide), zones with their names, plates, first and last day of
    validity, permit number and issuing office; no name or address of the holder. The QR is
    the permit's current token, the same as `qr.png`. A digital-only permit prints too, with
    a line saying that it need not be displayed. Only an active permit prints (409
    `illegal_transition` otherwise); another tenant's permit answers 404."""
    permit = service.get_permit(session, tenant_id=tenant.id, permit_id=permit_id)
    pdf = windscreen.printed_pdf(
        session, keys, tenant=tenant, permit=permit, now=clock.now(), page=page
    )
    return Response(pdf.body, media_type=pdf.media_type, headers=pdf.headers)


# ------------------------------------------------------------------- rules, fees, jobs


@router.put("/permit-rules/{permit_type}", response_model=RulesOut)
def set_rules(
    permit_type: PermitTypePath,
    body: RulesIn,
    principal: Admin,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> RulesOut:
    """Store the tenant's eligibility rules for a permit type."""
    rules = service.set_rules(
        session,
        tenant_id=tenant.id,
        permit_type=permit_type,
        rules=body.rules,
        actor=principal.key_id,
        now=clock.now(),
    )
    return RulesOut(permit_type=PermitType(permit_type), rules=rules.to_dict())


@router.get("/permit-rules/{permit_type}", response_model=RulesOut)
def get_rules(
    permit_type: PermitTypePath, principal: Reader, tenant: TenantDep, session: SessionDep
) -> RulesOut:
    """The rules in force (defaults when none were stored)."""
    kind = service.parse_permit_type(permit_type)
    rules = service.rules_for(session, tenant_id=tenant.id, permit_type=kind)
    return RulesOut(permit_type=kind, rules=rules.to_dict())


@router.post("/fee-schedules", status_code=status.HTTP_201_CREATED, response_model=FeeScheduleOut)
def create_fee_schedule(
    body: FeeScheduleIn, principal: Admin, tenant: TenantDep, session: SessionDep, clock: ClockDep
) -> FeeScheduleOut:
    """Add an effective-dated fee schedule."""
    schedule = fees_service.create_schedule(
        session,
        tenant_id=tenant.id,
        permit_type=body.permit_type,
        kind=body.kind,
        params=body.params,
        effective_from=body.effective_from,
        effective_until=body.effective_until,
        actor=principal.key_id,
        now=clock.now(),
    )
    return FeeScheduleOut.model_validate(schedule)


@router.get("/fee-schedules", response_model=FeeScheduleList)
def list_fee_schedules(
    principal: Reader, tenant: TenantDep, session: SessionDep
) -> FeeScheduleList:
    """Every schedule of the tenant, voided ones included."""
    return FeeScheduleList(
        items=[
            FeeScheduleOut.model_validate(s)
            for s in fees_service.list_schedules(session, tenant_id=tenant.id)
        ]
    )


@router.post("/fee-schedules/{schedule_id}/void", response_model=FeeScheduleList)
def void_fee_schedule(
    body: VoidIn,
    principal: Admin,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
    schedule_id: int = Path(ge=1, le=2**31 - 1),
) -> FeeScheduleList:
    """Void a schedule (court ruling); issued permits keep their recorded fee."""
    replacement = body.replacement.model_dump() if body.replacement else None
    new = fees_service.void_schedule(
        session,
        tenant_id=tenant.id,
        schedule_id=schedule_id,
        reason=body.reason,
        replacement=replacement,
        actor=principal.key_id,
        now=clock.now(),
    )
    items = [FeeScheduleOut.model_validate(s) for s in [new] if s is not None]
    return FeeScheduleList(items=items)


@router.post("/permits:extend-validity", response_model=CountOut)
def extend_validity(
    body: ExtendIn,
    principal: Admin,
    tenant: TenantDep,
    session: SessionDep,
    keys: KeysDep,
    clock: ClockDep,
) -> CountOut:
    """Tenant-wide: permits ending in a range stay valid until `new_until` (Münster case).

    `new_until` may lie at most the type's maximum validity after now (422
    `extension_too_long`) and not after the signing keys' end (422 `validity_beyond_key`)."""
    ids = service.extend_validity(
        session,
        keys,
        tenant_id=tenant.id,
        permit_type=body.permit_type,
        ending_from=body.ending_from,
        ending_before=body.ending_before,
        new_until=body.new_until,
        reason=body.reason,
        actor=principal.key_id,
        now=clock.now(),
    )
    return CountOut(count=len(ids), ids=ids)


@router.post("/permits:run-jobs", response_model=JobOut)
def run_jobs(
    principal: Admin,
    tenant: TenantDep,
    session: SessionDep,
    keys: KeysDep,
    clock: ClockDep,
) -> JobOut:
    """Expire due permits and run automatic renewal for this tenant now."""
    now = clock.now()
    expired = service.expire_due(session, tenant_id=tenant.id, now=now)
    counts = service.auto_renew(session, keys, tenant_id=tenant.id, actor=principal.key_id, now=now)
    return JobOut(counts={"expired": expired, **counts})
