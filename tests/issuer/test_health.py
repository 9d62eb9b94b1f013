"""Liveness and readiness."""

from __future__ import annotations

import shutil

from starlette.testclient import TestClient

from tests.support.db import ApiClientFactory


def test_healthz_is_up(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_needs_database_and_key_rings(
    client: TestClient, api_client: ApiClientFactory, settings: object
) -> None:
    api_client(ags="05513000")
    assert client.get("/readyz").json() == {"status": "ready"}
    shutil.rmtree(client.app.state.settings.keys_dir / "05513000")  # type: ignore[attr-defined]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unavailable"
