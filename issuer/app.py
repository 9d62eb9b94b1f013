"""`create_app(settings)`: the municipal API as a FastAPI app. Nothing runs at import."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import anyio.to_thread
from fastapi import FastAPI

from issuer import collector, metrics
from issuer.db.session import make_engine, make_session_factory
from issuer.docs_ui import install_docs
from issuer.metrics_middleware import MetricsMiddleware
from issuer.middleware import (
    BodyLimitMiddleware,
    IdempotencyMiddleware,
    RequestIdMiddleware,
    install_idempotency_handler,
)
from issuer.problems import install_problem_handlers
from issuer.routes import (
    audit,
    clients,
    enforcement,
    health,
    imports,
    permits,
    publication,
    residents,
    tenants,
    vehicles,
    zones,
)
from issuer.services.authentication import AuthGuard
from issuer.services.clients import SecretHasher
from issuer.services.clock import Clock, SystemClock
from issuer.services.rate_limits import SharedCounters
from issuer.services.readiness import ReadinessProbe
from issuer.services.signing import KeyStore
from issuer.settings import Settings, resolve_server_secret
from issuer.throttle import ThrottleMiddleware
from issuer.url_guard import UrlGuardMiddleware

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The issuer app with its own engine, session factory, clock and secret hasher."""
    settings = settings or Settings()
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    metrics.install()
    metrics.instrument_engine(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # at start-up, so a wrong passphrase or a missing ring is in the log at once
        now = int(app.state.clock.now().timestamp())
        await anyio.to_thread.run_sync(app.state.readiness.check, now)
        with collector.frozen():  # what the server keeps for its life: out of collections
            yield
        app.state.keys.close()
        metrics.uninstrument_engine(engine)
        engine.dispose()

    app = FastAPI(
        title="buergerid municipal API",
        version="1",
        description="Tenants, registry, permits and publication of buergerid.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.clock = clock or SystemClock()
    app.state.keys = KeyStore(settings, engine=engine)
    app.state.hasher = SecretHasher(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    app.state.readiness = ReadinessProbe(settings, app.state.session_factory, app.state.keys)
    app.state.rate_counters = SharedCounters(
        app.state.session_factory, secret=partial(resolve_server_secret, settings)
    )
    app.state.auth_guard = AuthGuard(
        settings,
        sessions=app.state.session_factory,
        hasher=app.state.hasher,
        counters=app.state.rate_counters,
    )

    install_problem_handlers(app)
    install_idempotency_handler(app)
    # outermost first: Metrics → RequestId → UrlGuard → Throttle → BodyLimit → Idempotency →
    # routes (added in the opposite order)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(
        BodyLimitMiddleware,
        max_request_bytes=settings.max_request_bytes,
        max_import_bytes=settings.max_import_bytes,
    )
    app.add_middleware(ThrottleMiddleware)
    app.add_middleware(UrlGuardMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(MetricsMiddleware, server_timing=settings.server_timing)

    install_docs(app, extra_links=(("/healthz", "Liveness"), ("/readyz", "Readiness")))
    app.include_router(health.router)
    for module in (tenants, clients, residents, vehicles, zones, audit, imports):
        app.include_router(module.router, prefix=API_PREFIX)
    # these routers carry their full paths (public artefacts live outside /api/v1)
    for module in (permits, publication, enforcement):
        app.include_router(module.router)
    return app


def app_from_environment() -> FastAPI:
    """The municipal API with Settings from the environment: the factory a worker process
    imports (`buergerid-issuer serve --app municipal` without the whole service)."""
    return create_app(Settings())
