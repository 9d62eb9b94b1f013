"""The municipal API's face of ``clients`` (API key, tenant scoped):

PUT    /api/v1/rp-clients/{client_id}/policy   admin    a client's allow-list
GET    /api/v1/rp-clients/{client_id}/policy   admin
DELETE /api/v1/rp-clients/{client_id}/policy   admin
POST   /api/v1/presentations                   residents:identify (and an allow-list): start
GET    /api/v1/presentations/{id}              residents:identify: its state (poll)
POST   /api/v1/presentations/{id}/result       residents:identify: the answer, once
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from issuer.deps import ClockDep, SessionDep, TenantAdmin, TenantDep, require_scope
from issuer.schemas.common import ApiModel
from issuer.services.clients import Principal
from issuer.text import JsonObject
from wallet_api.errors import WalletProblem
from wallet_api.relying_party import clients
from wallet_api.relying_party.identity import RelyingParty
from wallet_api.services.rate_limits import retry_after

router = APIRouter(prefix="/api/v1", tags=["relying party (municipal services)"])
Identifier = Annotated[Principal, Depends(require_scope("residents:identify"))]


class PolicyIn(ApiModel):
    """A client's allow-list."""

    allowed_claims: JsonObject = Field(
        description='credential ("residence": the Bürger-ID, "pid": the EU or German PID) '
        '→ claim names, e.g. "address.locality"',
        max_length=2,
    )
    redirect_uris: list[str] = Field(default_factory=list, max_length=8)


class PolicyOut(BaseModel):
    """A client's allow-list as stored."""

    client_id: str
    allowed_claims: dict[str, list[str]]
    redirect_uris: list[str]


class PresentationIn(ApiModel):
    """What a municipal application asks for."""

    dcql_query: JsonObject = Field(description="a DCQL query (OpenID4VP 1.0 §6)")
    redirect_uri: str | None = Field(
        default=None, max_length=500, description="a registered URI for the same-device flow"
    )


class PresentationOut(BaseModel):
    """A started presentation: the links to show."""

    transaction_id: str
    same_device_url: str
    cross_device_url: str
    expires_at: str


class PresentationState(BaseModel):
    """The state of a presentation."""

    status: str
    error: str | None
    flow: str | None


class ResultIn(ApiModel):
    """The response_code the return page received (same device), or nothing."""

    response_code: str | None = Field(default=None, max_length=128)


def _rp(request: Request) -> RelyingParty:
    rp: RelyingParty = request.app.state.relying_party
    return rp


def _out(policy: clients.Policy) -> PolicyOut:
    return PolicyOut(
        client_id=policy.client_id,
        allowed_claims=policy.allowed_claims,
        redirect_uris=policy.redirect_uris,
    )


@router.put("/rp-clients/{client_id}/policy")
def put_policy(
    client_id: str,
    body: PolicyIn,
    _admin: TenantAdmin,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> PolicyOut:
    """Set what a municipal application may ask residents to show."""
    policy = clients.set_policy(
        session,
        tenant=tenant,
        client_id=client_id,
        allowed_claims=body.allowed_claims,
        redirect_uris=body.redirect_uris,
        now=clock.now(),
    )
    session.commit()
    return _out(policy)


@router.get("/rp-clients/{client_id}/policy")
def get_policy(
    client_id: str, _admin: TenantAdmin, tenant: TenantDep, session: SessionDep
) -> PolicyOut:
    """A client's allow-list."""
    return _out(clients.get_policy(session, tenant=tenant, client_id=client_id))


@router.delete("/rp-clients/{client_id}/policy", status_code=204)
def delete_policy(
    client_id: str, _admin: TenantAdmin, tenant: TenantDep, session: SessionDep
) -> None:
    """Remove a client's allow-list."""
    clients.delete_policy(session, tenant=tenant, client_id=client_id)
    session.commit()


def _spend_client_start(request: Request, principal: Identifier, session: SessionDep) -> None:
    """Count one start of the calling application; 429 ``slow_down`` once its window's
    budget is spent. The count writes in a transaction of its own, so the request's
    transaction (the credential read) ends first: on SQLite every transaction holds the
    database's write lock. The route's own statements begin a new one."""
    session.commit()
    rp = _rp(request)
    wait = rp.client_starts.wait(str(principal.client_id), int(rp.clock.now().timestamp()))
    if wait is not None:
        raise WalletProblem(
            "slow_down",
            "too many presentations started by this application",
            status=429,
            headers=retry_after(wait),
        )


@router.post("/presentations", status_code=201)
async def start_presentation(
    body: PresentationIn,
    request: Request,
    principal: Identifier,
    _budget: Annotated[None, Depends(_spend_client_start)],
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> PresentationOut:
    """Ask a resident to show her Bürger-ID (within the client's allow-list). Each
    application may start `rp_client_starts_per_window` presentations per window; beyond
    that 429 `slow_down` with `Retry-After`, and nothing is stored."""
    rp = _rp(request)

    def run() -> PresentationOut:
        started = clients.start(
            session,
            rp,
            tenant=tenant,
            client_id=principal.client_id,
            query_doc=body.dcql_query,
            redirect_uri=body.redirect_uri,
            now=clock.now(),
        )
        session.commit()
        return PresentationOut(
            transaction_id=started.id,
            same_device_url=started.same_device_url,
            cross_device_url=started.cross_device_url,
            expires_at=started.expires_at.isoformat(),
        )

    return await run_in_threadpool(run)


@router.get("/presentations/{transaction_id}")
def presentation_state(
    transaction_id: str,
    request: Request,
    principal: Identifier,
    _tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> PresentationState:
    """The state of one of the client's presentations."""
    view = clients.status(
        session,
        _rp(request),
        client_id=principal.client_id,
        transaction_id=transaction_id,
        now=clock.now(),
    )
    return PresentationState(status=view.status, error=view.error, flow=view.flow)


@router.post("/presentations/{transaction_id}/result")
def presentation_result(
    transaction_id: str,
    body: ResultIn,
    request: Request,
    principal: Identifier,
    tenant: TenantDep,
    session: SessionDep,
    clock: ClockDep,
) -> dict[str, Any]:
    """The verified answer, once: the claims asked, ``lives_here``, a pairwise subject."""
    answer = clients.take_result(
        session,
        _rp(request),
        tenant=tenant,
        client_id=principal.client_id,
        transaction_id=transaction_id,
        response_code=body.response_code,
        now=clock.now(),
    )
    session.commit()
    return answer
