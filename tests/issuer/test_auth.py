"""Authentication and scopes: 401/403 problems for every way a credential can be wrong."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from issuer.services.clock import FixedClock
from tests.support.db import ApiClientFactory


def _assert_problem(response: object, status: int, code: str) -> None:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["code"] == code
    assert body["status"] == status


def test_missing_credential_is_401(client: TestClient) -> None:
    response = client.get("/api/v1/clients")
    _assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "token",
    ["bid_0000000000000000.AAAAAAAAAAAAAAAAAAAAAAAA", "not-a-token", "bid_zz.zz", "Basic abc"],
    ids=["unknown-key-id", "garbage", "malformed", "basic"],
)
def test_unknown_or_malformed_token_is_401(
    client: TestClient, api_client: ApiClientFactory, token: str
) -> None:
    api_client(scopes=["admin"])
    response = client.get("/api/v1/clients", headers={"Authorization": f"Bearer {token}"})
    _assert_problem(response, 401, "unauthenticated")


def test_wrong_secret_is_401(client: TestClient, api_client: ApiClientFactory) -> None:
    creds = api_client(scopes=["admin"])
    wrong = creds.token[:-4] + ("AAAA" if not creds.token.endswith("AAAA") else "BBBB")
    response = client.get("/api/v1/clients", headers={"Authorization": f"Bearer {wrong}"})
    _assert_problem(response, 401, "unauthenticated")


def test_right_secret_is_200(client: TestClient, api_client: ApiClientFactory) -> None:
    creds = api_client(scopes=["admin"])
    assert client.get("/api/v1/clients", headers=creds.headers).status_code == 200


def test_wrong_scope_is_403(client: TestClient, api_client: ApiClientFactory) -> None:
    creds = api_client(scopes=["registry:write"])
    _assert_problem(client.get("/api/v1/clients", headers=creds.headers), 403, "insufficient_scope")


def test_operator_client_has_no_tenant(client: TestClient, api_client: ApiClientFactory) -> None:
    operator = api_client(scopes=["admin"], ags=None)
    _assert_problem(client.get("/api/v1/clients", headers=operator.headers), 403, "tenant_required")


def test_revoked_client_is_401(client: TestClient, api_client: ApiClientFactory) -> None:
    admin = api_client(scopes=["admin"])
    victim = api_client(scopes=["admin"], name="to revoke")
    assert client.get("/api/v1/clients", headers=victim.headers).status_code == 200
    response = client.post(f"/api/v1/clients/{victim.client_id}/revoke", headers=admin.headers)
    assert response.status_code == 200
    assert response.json()["revoked_at"] is not None
    _assert_problem(client.get("/api/v1/clients", headers=victim.headers), 401, "unauthenticated")


def test_rotation_without_grace_revokes_old_secret(
    client: TestClient, api_client: ApiClientFactory
) -> None:
    creds = api_client(scopes=["admin"])
    response = client.post(
        f"/api/v1/clients/{creds.client_id}/rotate",
        headers=creds.headers,
        json={"grace_seconds": 0},
    )
    assert response.status_code == 200
    new_headers = {"Authorization": f"Bearer {response.json()['token']}"}
    _assert_problem(client.get("/api/v1/clients", headers=creds.headers), 401, "unauthenticated")
    assert client.get("/api/v1/clients", headers=new_headers).status_code == 200


def test_rotation_with_grace_keeps_old_secret_until_it_ends(
    client: TestClient, api_client: ApiClientFactory, clock: FixedClock
) -> None:
    creds = api_client(scopes=["admin"])
    response = client.post(
        f"/api/v1/clients/{creds.client_id}/rotate",
        headers=creds.headers,
        json={"grace_seconds": 3600},
    )
    new_headers = {"Authorization": f"Bearer {response.json()['token']}"}
    assert client.get("/api/v1/clients", headers=creds.headers).status_code == 200
    clock.advance(3600)
    _assert_problem(client.get("/api/v1/clients", headers=creds.headers), 401, "unauthenticated")
    assert client.get("/api/v1/clients", headers=new_headers).status_code == 200


def test_created_client_secret_is_shown_once_and_works(
    client: TestClient, api_client: ApiClientFactory
) -> None:
    admin = api_client(scopes=["admin"])
    response = client.post(
        "/api/v1/clients",
        headers=admin.headers,
        json={"name": "Bürgerbüro", "scopes": ["audit:read"]},
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("bid_" + body["key_id"] + ".")
    listed = client.get("/api/v1/clients", headers=admin.headers).json()["items"]
    assert all("token" not in item and "secret" not in str(item) for item in listed)
    new = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/api/v1/audit", headers=new).status_code in (200, 404)


def test_unknown_scope_is_refused(client: TestClient, api_client: ApiClientFactory) -> None:
    admin = api_client(scopes=["admin"])
    response = client.post(
        "/api/v1/clients", headers=admin.headers, json={"name": "x", "scopes": ["root"]}
    )
    _assert_problem(response, 422, "invalid_request")
