"""Tenant isolation on every endpoint: tenant B gets exactly the answer for a missing object."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from tests.support.db import ApiClientFactory
from tests.support.registry import ZONE, iter_api_routes, resident, vehicle

ALL = ["registry:write", "audit:read", "admin", "permits:issue"]
MISSING = str(uuid.uuid4())

# (method, path template, json body); placeholders filled from tenant A's objects
OBJECT_ENDPOINTS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("GET", "/api/v1/residents/{resident_id}", None),
    ("PATCH", "/api/v1/residents/{resident_id}", {"family_name": "X"}),
    (
        "POST",
        "/api/v1/residents/{resident_id}/residences",
        {
            "kind": "main",
            "street": "Ringstraße",
            "house_number": "1",
            "postcode": "45879",
            "valid_from": "2025-01-01",
        },
    ),
    (
        "PATCH",
        "/api/v1/residents/{resident_id}/residences/{residence_id}",
        {"valid_until": "2026-01-01"},
    ),
    ("GET", "/api/v1/vehicles/{vehicle_id}", None),
    ("PATCH", "/api/v1/vehicles/{vehicle_id}", {"valid_until": "2026-01-01"}),
    ("GET", "/api/v1/zones/{zone_id}", None),
    ("PATCH", "/api/v1/zones/{zone_id}", {"name": "X"}),
    ("GET", "/api/v1/clients/{client_id}", None),
    ("POST", "/api/v1/clients/{client_id}/rotate", {"grace_seconds": 0}),
    ("POST", "/api/v1/clients/{client_id}/revoke", None),
    ("GET", "/api/v1/tenants/{ags}", None),
]
ISSUER_ROUTE_MODULES = {
    "issuer.routes.residents",
    "issuer.routes.vehicles",
    "issuer.routes.zones",
    "issuer.routes.clients",
    "issuer.routes.tenants",
}


def test_every_object_endpoint_is_in_the_table(app: FastAPI) -> None:
    covered = {(m, p.split("{")[0] + "{" + p.split("{", 1)[1]) for m, p, _ in OBJECT_ENDPOINTS}
    wanted = set()
    for path, route in iter_api_routes(app):
        if route.endpoint.__module__ in ISSUER_ROUTE_MODULES and "{" in path:
            wanted |= {(m, path) for m in route.methods}
    assert len(wanted) == len(OBJECT_ENDPOINTS)
    assert wanted <= covered


@pytest.fixture
def tenant_a_objects(client: TestClient, api_client: ApiClientFactory) -> dict[str, str]:
    a = api_client(scopes=ALL, ags="05513000")
    res = client.post("/api/v1/residents", headers=a.headers, json=resident()).json()
    veh = client.post("/api/v1/vehicles", headers=a.headers, json=vehicle(res["id"])).json()
    zone = client.post("/api/v1/zones", headers=a.headers, json=ZONE).json()
    return {
        "resident_id": res["id"],
        "residence_id": res["residences"][0]["id"],
        "vehicle_id": veh["id"],
        "zone_id": zone["id"],
        "client_id": str(a.client_id),
        "ags": "05513000",
        "a_auth": a.headers["Authorization"],
    }


@pytest.mark.parametrize(("method", "template", "body"), OBJECT_ENDPOINTS, ids=lambda v: str(v))
def test_other_tenant_gets_plain_404(
    client: TestClient,
    api_client: ApiClientFactory,
    tenant_a_objects: dict[str, str],
    method: str,
    template: str,
    body: dict[str, Any] | None,
) -> None:
    b = api_client(scopes=ALL, ags="05562004")
    foreign = template.format(**tenant_a_objects)
    missing = template.format(
        **{k: MISSING if k != "ags" else "09999999" for k in tenant_a_objects}
    )
    got = client.request(method, foreign, headers=b.headers, json=body)
    ref = client.request(method, missing, headers=b.headers, json=body)
    assert got.status_code == ref.status_code == 404
    strip = lambda r: {k: v for k, v in r.json().items() if k != "instance"}  # noqa: E731
    assert strip(got) == strip(ref)
    # tenant A's objects are untouched and its client still works
    a_headers = {"Authorization": tenant_a_objects["a_auth"]}
    res = client.get(f"/api/v1/residents/{tenant_a_objects['resident_id']}", headers=a_headers)
    assert res.status_code == 200
    assert res.json()["version"] == 1


def test_listings_and_audit_show_only_own_tenant(
    client: TestClient, api_client: ApiClientFactory, tenant_a_objects: dict[str, str]
) -> None:
    b = api_client(scopes=ALL, ags="05562004")
    for path in ("/api/v1/residents", "/api/v1/vehicles"):
        assert client.get(path, headers=b.headers).json()["items"] == []
    assert client.get("/api/v1/zones", headers=b.headers).json()["items"] == []
    clients = client.get("/api/v1/clients", headers=b.headers).json()["items"]
    assert [c["id"] for c in clients] == [str(b.client_id)]
    tenants = client.get("/api/v1/tenants", headers=b.headers).json()["items"]
    assert [t["ags"] for t in tenants] == ["05562004"]
    object_ids = {
        e["object_id"] for e in client.get("/api/v1/audit", headers=b.headers).json()["items"]
    }
    assert not object_ids & set(tenant_a_objects.values())
    plate = client.get("/api/v1/vehicles", headers=b.headers, params={"plate": "GE-AB 1234"})
    assert plate.json()["items"] == []


def test_foreign_holder_is_refused_like_a_missing_one(
    client: TestClient, api_client: ApiClientFactory, tenant_a_objects: dict[str, str]
) -> None:
    b = api_client(scopes=ALL, ags="05562004")
    foreign = client.post(
        "/api/v1/vehicles", headers=b.headers, json=vehicle(tenant_a_objects["resident_id"])
    )
    missing = client.post("/api/v1/vehicles", headers=b.headers, json=vehicle(MISSING))
    assert foreign.status_code == missing.status_code == 422
    assert foreign.json()["code"] == missing.json()["code"]


def test_imports_stay_inside_the_tenant(
    client: TestClient, api_client: ApiClientFactory, tenant_a_objects: dict[str, str]
) -> None:
    b = api_client(scopes=ALL, ags="05562004")
    # tenant A's resident is MR-1; B importing MR-1 makes B's own resident, A's is untouched
    rows = b'{"external_ref": "MR-1", "given_name": "B", "family_name": "Andere"}\n'
    report = client.post(
        "/api/v1/imports/residents", params={"format": "ndjson"}, headers=b.headers, content=rows
    ).json()
    assert (report["inserted"], report["updated"]) == (1, 0)
    a_headers = {"Authorization": tenant_a_objects["a_auth"]}
    a_res = client.get(f"/api/v1/residents/{tenant_a_objects['resident_id']}", headers=a_headers)
    assert a_res.json()["family_name"] == "Mustermann"
    # a holder that exists only in tenant A looks exactly like one that exists nowhere
    client.post("/api/v1/residents", headers=a_headers, json=resident("MR-A-ONLY"))
    vehicles = b"external_ref,plate,holder_ref\nV-1,GE-B 1,MR-A-ONLY\nV-2,GE-B 2,MR-404\n"
    vreport = client.post(
        "/api/v1/imports/vehicles", params={"format": "csv"}, headers=b.headers, content=vehicles
    ).json()
    assert [(e["line"], e["code"]) for e in vreport["errors"]] == [
        (2, "unknown_holder"),
        (3, "unknown_holder"),
    ]
