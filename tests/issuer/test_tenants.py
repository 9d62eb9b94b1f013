"""Tenants over HTTP: operator creates, tenant clients see only their own."""

from __future__ import annotations

from starlette.testclient import TestClient

from tests.support.db import ApiClientFactory

NEW = {
    "ags": "05911000",
    "name": "Stadt Bochum",
    "issuer_url": "https://ausweis.bochum.example",
    "retention_days": 400,
}


def test_operator_creates_tenant_with_key_ring(
    client: TestClient, api_client: ApiClientFactory
) -> None:
    operator = api_client(scopes=["admin"], ags=None)
    response = client.post("/api/v1/tenants", headers=operator.headers, json=NEW)
    assert response.status_code == 201, response.text
    assert response.json()["ags"] == "05911000"
    assert (client.app.state.settings.keys_dir / "05911000").is_dir()  # type: ignore[attr-defined]
    again = client.post("/api/v1/tenants", headers=operator.headers, json=NEW)
    assert again.status_code == 409
    assert again.json()["code"] == "already_exists"
    listed = client.get("/api/v1/tenants", headers=operator.headers).json()["items"]
    assert "05911000" in [t["ags"] for t in listed]
    assert client.get("/api/v1/tenants/05911000", headers=operator.headers).status_code == 200


def test_tenant_admin_cannot_create_tenants(
    client: TestClient, api_client: ApiClientFactory
) -> None:
    admin = api_client(scopes=["admin"])
    response = client.post("/api/v1/tenants", headers=admin.headers, json=NEW)
    assert response.status_code == 403
    assert response.json()["code"] == "operator_required"


def test_invalid_tenant_is_422(client: TestClient, api_client: ApiClientFactory) -> None:
    operator = api_client(scopes=["admin"], ags=None)
    for bad in ({**NEW, "ags": "123"}, {**NEW, "issuer_url": "http://plain.example"}):
        response = client.post("/api/v1/tenants", headers=operator.headers, json=bad)
        assert response.status_code == 422
        assert response.json()["code"] == "invalid_request"


def test_tenant_client_sees_itself(client: TestClient, api_client: ApiClientFactory) -> None:
    own = api_client(scopes=["registry:write"])
    assert client.get("/api/v1/tenants/05513000", headers=own.headers).json()["ags"] == "05513000"
    assert [
        t["ags"] for t in client.get("/api/v1/tenants", headers=own.headers).json()["items"]
    ] == ["05513000"]
