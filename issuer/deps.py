"""Request dependencies as `Annotated` aliases; authentication, scope and tenant checks live here.

SessionDep    the request's Session, one transaction, committed before the response is sent
ClockDep      the app's Clock
SettingsDep   the app's Settings
KeysDep       the app's KeyStore (where signing keys come from)
ApiClientDep  the authenticated Principal (401 problem otherwise); claims Idempotency-Keys
TenantDep     the principal's Tenant row (403 for operator clients)
require_scope("permits:issue", ...)  a dependency: 403 unless the principal has one of them
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from issuer.client_address import client_address
from issuer.db.models import Tenant
from issuer.errors import ErrorCode, Forbidden, Unauthenticated
from issuer.middleware import IDEMPOTENCY_SCOPE_KEY, IdempotencyContext, claim_idempotency_key
from issuer.services import clients as clients_service
from issuer.services.authentication import AuthGuard, tenant_read_with_credential
from issuer.services.clients import Principal
from issuer.services.clock import Clock
from issuer.services.signing import KeyStore
from issuer.settings import Settings


def get_settings(request: Request) -> Settings:
    """The app's Settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_clock(request: Request) -> Clock:
    """The app's Clock."""
    clock: Clock = request.app.state.clock
    return clock


def get_keys(request: Request) -> KeyStore:
    """The app's KeyStore."""
    keys: KeyStore = request.app.state.keys
    return keys


def get_session_factory(request: Request) -> sessionmaker[Session]:
    """The app's session factory."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session and transaction per request; rolled back on any exception.

    The transaction begins with the first statement: for a route with an API key, reading
    the credential (`get_principal`), so one connection and one transaction serve the whole
    request. It is committed when the route returns, unless the route committed already (in
    its worker thread: the database's locks are let go without a trip through the event
    loop). The session is made on the event loop (no connection yet); a commit or rollback
    and the close run in a worker thread, never cancelled halfway."""
    session = get_session_factory(request)()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(_end, session, False, limiter=anyio.CapacityLimiter(1))
        raise
    if not session.in_transaction():  # the route committed: no connection left, no I/O
        session.close()
        return
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(_end, session, True, limiter=anyio.CapacityLimiter(1))


def _end(session: Session, commit: bool) -> None:
    # own limiter above: ending a session never waits for a free worker thread (the threads
    # in use may be waiting for this session's connection)
    with session:
        if commit:
            session.commit()
        else:
            session.rollback()


# The dependencies below only read app.state: as coroutines FastAPI calls them on the event
# loop, where a plain function would cost a trip to a worker thread each (every request).


async def _settings(request: Request) -> Settings:
    return get_settings(request)


async def _clock(request: Request) -> Clock:
    return get_clock(request)


async def _keys(request: Request) -> KeyStore:
    return get_keys(request)


SettingsDep = Annotated[Settings, Depends(_settings)]
ClockDep = Annotated[Clock, Depends(_clock)]
KeysDep = Annotated[KeyStore, Depends(_keys)]
# scope="function": commit before the response leaves, so a client never sees an answer
# whose transaction could still fail
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


# declares the API key in the OpenAPI document (Swagger UI's "Authorize"); checking it is
# get_principal's work, so a missing or malformed header is not refused here
API_KEY = HTTPBearer(
    scheme_name="apiKey",
    bearerFormat="bid_<key id>.<secret>",
    description="An API client's key (`buergerid-issuer client create`), sent as "
    "`Authorization: Bearer bid_…`.",
    auto_error=False,
)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated()
    return token.strip()


async def get_principal(
    request: Request,
    clock: ClockDep,
    settings: SettingsDep,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(API_KEY)] = None,
    session: SessionDep = None,  # type: ignore[assignment]  # None: called directly
) -> Principal:
    """Authenticate the bearer token (services/authentication.py) and claim an Idempotency-Key.

    The credential is read in the request's session. When the verification cache vouches for
    the secret and the route itself works in that session (and no Idempotency-Key is to be
    claimed), its transaction goes on for the route: one connection, one transaction. In
    every other case the read's transaction ends at once, and the argon2 verification (at most
    one, none on a cache hit) runs after it ended, so it never holds a database lock."""
    token = _bearer(request)
    guard: AuthGuard = request.app.state.auth_guard
    now = clock.now()
    ctx = request.scope.get(IDEMPOTENCY_SCOPE_KEY)
    claims = isinstance(ctx, IdempotencyContext) and ctx.record_id is None
    principal = await guard.authenticate(
        token,
        address=client_address(request),
        now=now,
        session=session,
        keep=not claims and _route_works_in_session(request),
    )
    if claims:
        assert isinstance(ctx, IdempotencyContext)
        await run_in_threadpool(
            claim_idempotency_key,
            get_session_factory(request),
            ctx,
            client_id=principal.client_id,
            tenant_id=principal.tenant_id,
            now=now,
            wait_seconds=settings.idempotency_wait_seconds,
        )
    request.state.principal = principal
    return principal


ApiClientDep = Annotated[Principal, Depends(get_principal)]


def _works_in_session(dependant: Dependant) -> bool:
    """True when `dependant` or one of its dependencies, other than `get_principal`, takes
    the request's session."""
    for dep in dependant.dependencies:
        if dep.call is get_principal:
            continue
        if dep.call is get_session or _works_in_session(dep):
            return True
    return False


def _route_works_in_session(request: Request) -> bool:
    """True when the matched route takes the request's session beyond authenticating (a
    route without one works in transactions of its own: the read's must not stay open).
    Worked out once per route, kept on app.state."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if not isinstance(dependant, Dependant):
        return False
    state = request.app.state
    known: dict[int, bool] | None = getattr(state, "routes_in_session", None)
    if known is None:
        known = state.routes_in_session = {}
    found = known.get(id(route))
    if found is None:
        found = known[id(route)] = _works_in_session(dependant)
    return found


def require_scope(*scopes: str) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency: the principal, if it holds at least one of `scopes`, else 403."""
    wanted = tuple(clients_service.Scope(s).value for s in scopes)

    async def _check(principal: ApiClientDep) -> Principal:  # no I/O: on the event loop
        if not principal.has_any(wanted):
            raise Forbidden(ErrorCode.INSUFFICIENT_SCOPE)
        return principal

    _check.__name__ = "require_scope_" + "_".join(s.replace(":", "_") for s in wanted)
    return _check


async def get_tenant(principal: ApiClientDep, session: SessionDep) -> Tenant:
    """The tenant of a tenant-level client; operator clients get 403 tenant_required.

    Mostly the row read with the credential in the request's transaction (on the event loop:
    no statement, no worker thread); else read in a worker thread."""
    if principal.tenant_id is None:
        raise Forbidden(ErrorCode.TENANT_REQUIRED)
    tenant = tenant_read_with_credential(session, principal.tenant_id)
    if tenant is None:
        tenant = await run_in_threadpool(session.get, Tenant, principal.tenant_id)
    if tenant is None:  # deleted under us
        raise Unauthenticated()
    return tenant


async def require_operator(principal: ApiClientDep) -> Principal:  # no I/O
    """An operator-level client with the admin scope, else 403."""
    if not principal.is_operator or "admin" not in principal.scopes:
        raise Forbidden(ErrorCode.OPERATOR_REQUIRED)
    return principal


TenantDep = Annotated[Tenant, Depends(get_tenant)]
OperatorDep = Annotated[Principal, Depends(require_operator)]
RegistryWriter = Annotated[Principal, Depends(require_scope("registry:write"))]
RegistryReader = Annotated[
    Principal, Depends(require_scope("registry:write", "permits:issue", "permits:revoke"))
]
AuditReader = Annotated[Principal, Depends(require_scope("audit:read"))]
TenantAdmin = Annotated[Principal, Depends(require_scope("admin"))]
