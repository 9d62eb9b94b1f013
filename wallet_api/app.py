"""App factories. Nothing runs at import.

- ``create_wallet_app(settings)``: the public wallet API (internet-facing): discovery,
  token, nonce, credential, notification and the holder's devices.
- ``create_municipal_app(settings)``: the issuer's municipal API (intranet) plus the wallet
  functions municipalities call (offers, a resident's devices, removing a lost phone).
- ``create_combined_app(settings)``: both in one process, as ``make run`` serves them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI

from issuer import collector, metrics
from issuer.app import create_app
from issuer.db.session import make_engine, make_session_factory
from issuer.docs_ui import install_docs
from issuer.metrics_middleware import MetricsMiddleware
from issuer.middleware import BodyLimitMiddleware, RequestIdMiddleware
from issuer.problems import install_problem_handlers
from issuer.routes.health import router as health_router
from issuer.services.clock import Clock, SystemClock
from issuer.services.rate_limits import RateLimit, SharedCounters
from issuer.services.readiness import ReadinessProbe
from issuer.services.registry_events import subscribe_resident_changes
from issuer.services.signing import KeyStore
from issuer.settings import Settings, resolve_server_secret
from issuer.url_guard import UrlGuardMiddleware
from wallet_api.deps import WalletState
from wallet_api.portal import admin_routes as portal_admin
from wallet_api.portal import routes as portal
from wallet_api.portal.payments import DevelopmentProvider, callback_secret
from wallet_api.problems import install_wallet_handlers
from wallet_api.relying_party import authorization_routes, client_routes
from wallet_api.relying_party import routes as relying_party
from wallet_api.relying_party.identity import RelyingParty
from wallet_api.routes import (
    devices,
    issuance,
    metadata,
    municipal,
    offer_references,
    token,
    type_metadata,
)
from wallet_api.services import residence_events
from wallet_api.services.attestations import load_trust_anchors
from wallet_api.services.dpop import DpopNonces
from wallet_api.services.policy import WalletPolicy
from wallet_api.services.rate_limits import RateLimiter

METADATA_LINK = "/.well-known/openid-credential-issuer"

# type_metadata last: it answers any path ending in /vct/<kind>
PUBLIC_ROUTERS = (
    metadata.router,
    token.router,
    issuance.router,
    devices.router,
    offer_references.router,
    relying_party.router,
    authorization_routes.router,
    portal.router,
    portal.callbacks,
    type_metadata.router,
)


def _install_state(app: FastAPI, policy: WalletPolicy | None) -> None:
    policy = policy or WalletPolicy()
    settings: Settings = app.state.settings
    counters = getattr(app.state, "rate_counters", None) or SharedCounters(
        app.state.session_factory, secret=partial(resolve_server_secret, settings)
    )
    limit = RateLimit("wallet-token", policy.token_requests_per_window, policy.token_window_seconds)
    app.state.wallet = WalletState(
        settings=settings,
        keys=app.state.keys,
        sessions=app.state.session_factory,
        clock=app.state.clock,
        policy=policy,
        token_limiter=RateLimiter(counters, limit),
        dpop_nonces=DpopNonces(resolve_server_secret(settings)),
        trust_anchors=load_trust_anchors(settings.wallet_trust_anchors),
    )
    app.state.relying_party = RelyingParty.from_settings(
        settings, app.state.clock, app.state.keys, counters
    )
    # the citizen portal; the development payment provider never runs in production
    app.state.portal = portal.PortalState(
        wallet=app.state.wallet,
        rp=app.state.relying_party,
        provider=None if settings.environment == "production" else DevelopmentProvider(),
        secret=callback_secret(settings),
    )
    install_wallet_handlers(app)
    # a register change revokes the Bürger-IDs whose facts it changed (same transaction)
    subscribe_resident_changes(residence_events.on_resident_changed)


def create_wallet_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    policy: WalletPolicy | None = None,
) -> FastAPI:
    """The public wallet API with its own engine on the shared database."""
    settings = settings or Settings()
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    metrics.install()
    metrics.instrument_engine(engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with collector.frozen():  # what the server keeps for its life: out of collections
            yield
        app.state.keys.close()
        metrics.uninstrument_engine(engine)
        engine.dispose()

    app = FastAPI(
        title="buergerid wallet API",
        version="1",
        description="OpenID4VCI 1.0 subset: pre-authorized code flow.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    app.state.clock = clock or SystemClock()
    app.state.keys = KeyStore(settings, engine=engine)
    # /readyz: the database answers and is migrated, every tenant's signing keys load (the
    # wallet side signs credentials, never the trust bundle: no root ring here)
    app.state.readiness = ReadinessProbe(
        settings, app.state.session_factory, app.state.keys, check_root_ring=False
    )
    install_problem_handlers(app)
    _install_state(app, policy)
    app.add_middleware(
        BodyLimitMiddleware,
        max_request_bytes=settings.max_request_bytes,
        max_import_bytes=settings.max_request_bytes,
    )
    app.add_middleware(UrlGuardMiddleware)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(MetricsMiddleware, server_timing=settings.server_timing)
    install_docs(
        app,
        extra_links=(
            (METADATA_LINK, "Credential Issuer metadata"),
            ("/healthz", "Liveness"),
            ("/readyz", "Readiness"),
        ),
    )
    app.include_router(health_router)
    for router in PUBLIC_ROUTERS:
        app.include_router(router)
    return app


def create_municipal_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    policy: WalletPolicy | None = None,
) -> FastAPI:
    """The issuer app plus the municipal wallet routes (offers, devices)."""
    app = create_app(settings, clock=clock)
    _install_state(app, policy)
    app.include_router(municipal.router)
    app.include_router(client_routes.router)
    app.include_router(portal_admin.router)
    return app


def create_combined_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    policy: WalletPolicy | None = None,
) -> FastAPI:
    """Municipal API and wallet API in one process (``make run``)."""
    app = create_municipal_app(settings, clock=clock, policy=policy)
    app.title = "buergerid (municipal + wallet API)"
    for router in PUBLIC_ROUTERS:
        app.include_router(router)
    return app
