"""Liveness and readiness: every check names its reason; the cause is logged once."""

from __future__ import annotations

import shutil

from starlette.testclient import TestClient

from issuer.services import tenants as tenants_service
from issuer.services.clock import FixedClock
from tests.support.db import ApiClientFactory


def test_healthz_is_up(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_needs_database_and_key_rings(
    client: TestClient, api_client: ApiClientFactory, clock: FixedClock
) -> None:
    settings = client.app.state.settings  # type: ignore[attr-defined]
    tenants_service.provision_root_ring(settings, now=clock.now())
    api_client(ags="05513000")
    body = client.get("/readyz").json()
    assert body["status"] == "ready"
    # no worker ran yet: every job is reported stale, and the instance is ready all the same
    assert {(j["last_success"], j["stale"]) for j in body["jobs"]} == {(None, True)}
    shutil.rmtree(settings.keys_dir / "05513000")  # the tenant's whole ring is gone
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "not_ready"
    assert response.json()["errors"] == [
        {"check": "tenant_keys", "tenant": "05513000", "code": "ring_not_found"}
    ]
