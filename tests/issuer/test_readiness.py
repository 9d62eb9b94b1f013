"""`/readyz` over real HTTP: never ready while signing would fail, a reason per check, and the
cause logged once at start-up (not again on every poll). SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from issuer.app import create_app
from issuer.db.session import make_engine, make_session_factory
from issuer.migrations import downgrade
from issuer.services import tenants as tenants_service
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.support.db import TEST_PASSPHRASE
from tests.support.http import live_server

AGS = "05513000"


def _make_tenant(settings: Settings, clock: FixedClock, *, root: bool = True) -> None:
    now = clock.now()
    tenants_service.provision_key_ring_for(settings, AGS, now=now)
    if root:
        tenants_service.provision_root_ring(settings, now=now)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            tenants_service.create_tenant(
                session, ags=AGS, name="GE", issuer_url="https://ge.example", actor="t", now=now
            )
    finally:
        engine.dispose()


def _not_ready_records(caplog: pytest.LogCaptureFixture) -> list[tuple[Any, Any, Any]]:
    return [
        (r.check, r.tenant, r.reason)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "not_ready"
    ]


def _serve_and_probe(
    settings: Settings, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> tuple[httpx.Response, httpx.Response, list[tuple[Any, Any, Any]], list[Any]]:
    """Start a server, poll /readyz three times, ask for the trust bundle; returns the last
    /readyz, the bundle answer, the not_ready records at start-up and after the polls."""
    caplog.set_level(logging.INFO)
    app = create_app(settings, clock=clock)
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
            at_start = _not_ready_records(caplog)
            for _ in range(3):
                ready = http.get("/readyz")
            bundle = http.get("/trust-bundle")
    finally:
        app.state.engine.dispose()
    return ready, bundle, at_start, _not_ready_records(caplog)


def test_a_wrong_key_passphrase_is_not_ready_and_logged_once(
    settings: Settings, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    _make_tenant(settings, clock)
    wrong = settings.model_copy(update={"key_passphrase": SecretStr(TEST_PASSPHRASE + "-wrong")})
    ready, bundle, at_start, after = _serve_and_probe(wrong, clock, caplog)
    assert ready.status_code == 503
    assert ready.headers["content-type"] == "application/problem+json"
    assert ready.json()["code"] == "not_ready"
    assert ready.json()["errors"] == [
        {"check": "root_ring", "code": "key_file_decrypt"},
        {"check": "tenant_keys", "tenant": AGS, "code": "key_file_decrypt"},
    ]
    assert bundle.status_code == 503 and bundle.json()["code"] == "no_signing_key"
    expected = [("root_ring", None, "key_file_decrypt"), ("tenant_keys", AGS, "key_file_decrypt")]
    assert at_start == expected  # named at start-up, before any request
    assert after == expected  # and not again on every poll


def test_a_missing_root_ring_is_not_ready(
    settings: Settings, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    _make_tenant(settings, clock, root=False)
    ready, bundle, at_start, _after = _serve_and_probe(settings, clock, caplog)
    assert ready.status_code == 503
    assert ready.json()["errors"] == [{"check": "root_ring", "code": "ring_not_found"}]
    assert bundle.status_code == 503 and bundle.json()["code"] == "no_signing_key"
    assert at_start == [("root_ring", None, "ring_not_found")]


def test_with_every_key_in_place_it_is_ready(
    settings: Settings, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    _make_tenant(settings, clock)
    ready, bundle, at_start, _after = _serve_and_probe(settings, clock, caplog)
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert bundle.status_code == 200
    assert at_start == []
    assert any(r.getMessage() == "ready" for r in caplog.records)


def test_an_unmigrated_database_is_not_ready(
    settings: Settings, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    tenants_service.provision_root_ring(settings, now=clock.now())
    downgrade(settings.database_url, "base")
    ready, _bundle, at_start, _after = _serve_and_probe(settings, clock, caplog)
    assert ready.status_code == 503
    assert ready.json()["errors"] == [{"check": "database", "code": "database_not_migrated"}]
    assert at_start == [("database", None, "database_not_migrated")]


def test_an_unreachable_database_is_not_ready(
    tmp_path: Path, settings: Settings, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    # a directory where the database file should be: SQLite cannot open it
    tenants_service.provision_root_ring(settings, now=clock.now())
    gone = tmp_path / "gone.db"
    gone.mkdir()
    if "postgresql" in settings.database_url:
        url = "postgresql+psycopg://postgres@127.0.0.1:1/none"  # nothing listens on port 1
    else:
        url = f"sqlite:///{gone}"
    unreachable = settings.model_copy(update={"database_url": url})
    ready, _bundle, at_start, _after = _serve_and_probe(unreachable, clock, caplog)
    assert ready.status_code == 503
    assert ready.json()["errors"] == [{"check": "database", "code": "database_unreachable"}]
    assert at_start == [("database", None, "database_unreachable")]


def test_the_wallet_deployment_alone_is_ready_only_while_its_tenant_keys_load(
    settings: Settings, clock: FixedClock
) -> None:
    """`serve --app wallet` signs credentials with the tenants' keys, never the trust bundle:
    its /readyz checks the database and every tenant's keys, not the root ring."""
    from wallet_api.app import create_wallet_app

    _make_tenant(settings, clock, root=False)
    wrong = settings.model_copy(update={"key_passphrase": SecretStr(TEST_PASSPHRASE + "-wrong")})
    answers = {}
    for name, configured in (("right", settings), ("wrong", wrong)):
        app = create_wallet_app(configured, clock=clock)
        try:
            with live_server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
                assert http.get("/healthz").json() == {"status": "ok"}
                answers[name] = http.get("/readyz")
        finally:
            app.state.engine.dispose()
    assert answers["right"].status_code == 200
    assert answers["right"].json()["status"] == "ready"
    assert answers["wrong"].status_code == 503
    assert answers["wrong"].json()["errors"] == [
        {"check": "tenant_keys", "tenant": AGS, "code": "key_file_decrypt"}
    ]
