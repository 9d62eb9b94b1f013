"""Registry CRUD: residents, residences, vehicles, zones; register block; hooks; audit."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from issuer.services import registry as registry_service
from tests.support.db import ApiClientFactory
from tests.support.registry import ZONE, resident, vehicle


@pytest.fixture
def writer(api_client: ApiClientFactory) -> dict[str, str]:
    return api_client(scopes=["registry:write", "audit:read"]).headers


@pytest.fixture
def hook_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any]]:
    calls: list[tuple[str, Any]] = []
    events = registry_service.registry_events
    monkeypatch.setattr(
        events,
        "on_resident_changed",
        lambda session, *, tenant_id, resident_id, now: calls.append(("resident", resident_id)),
    )
    monkeypatch.setattr(
        events,
        "on_vehicle_changed",
        lambda session, *, tenant_id, vehicle_id, now: calls.append(("vehicle", vehicle_id)),
    )
    return calls


def test_resident_lifecycle(
    client: TestClient, writer: dict[str, str], hook_calls: list[tuple[str, Any]]
) -> None:
    created = client.post("/api/v1/residents", headers=writer, json=resident())
    assert created.status_code == 201, created.text
    body = created.json()
    rid = body["id"]
    assert body["residences"][0]["kind"] == "main"
    assert body["version"] == 1
    assert client.get(f"/api/v1/residents/{rid}", headers=writer).json()["external_ref"] == "MR-1"

    moved = client.post(
        f"/api/v1/residents/{rid}/residences",
        headers=writer,
        json={
            "kind": "secondary",
            "street": "Ringstraße",
            "house_number": "2",
            "postcode": "45879",
            "valid_from": "2025-01-01",
        },
    )
    assert moved.status_code == 201
    residence_id = moved.json()["residences"][0]["id"]
    ended = client.patch(
        f"/api/v1/residents/{rid}/residences/{residence_id}",
        headers=writer,
        json={"valid_until": "2026-03-31"},
    )
    assert ended.status_code == 200
    ended_res = next(r for r in ended.json()["residences"] if r["id"] == residence_id)
    assert ended_res["valid_until"] == "2026-03-31"
    renamed = client.patch(
        f"/api/v1/residents/{rid}", headers=writer, json={"family_name": "Musterfrau"}
    )
    assert renamed.json()["family_name"] == "Musterfrau"
    assert renamed.json()["version"] == 4
    assert [kind for kind, _ in hook_calls] == ["resident"] * 4
    assert {str(i) for _, i in hook_calls} == {rid}

    actions = [e["action"] for e in client.get("/api/v1/audit", headers=writer).json()["items"]]
    assert actions[-4:] == [
        "resident_created",
        "residence_added",
        "residence_updated",
        "resident_updated",
    ]


def test_duplicate_external_ref_is_409(client: TestClient, writer: dict[str, str]) -> None:
    assert client.post("/api/v1/residents", headers=writer, json=resident()).status_code == 201
    response = client.post("/api/v1/residents", headers=writer, json=resident())
    assert response.status_code == 409
    assert response.json()["code"] == "already_exists"


def test_invalid_residence_is_422(client: TestClient, writer: dict[str, str]) -> None:
    bad = resident()
    bad["residences"][0]["postcode"] = "4587"
    response = client.post("/api/v1/residents", headers=writer, json=bad)
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_request"
    assert "45879" not in response.text and "Mustermann" not in response.text


def test_register_block_is_never_listed(client: TestClient, writer: dict[str, str]) -> None:
    visible = client.post("/api/v1/residents", headers=writer, json=resident("MR-1")).json()
    hidden = client.post(
        "/api/v1/residents", headers=writer, json=resident("MR-2", block=True, family="Geheim")
    ).json()
    client.post("/api/v1/vehicles", headers=writer, json=vehicle(visible["id"], "GE-AB 1", "V1"))
    client.post("/api/v1/vehicles", headers=writer, json=vehicle(hidden["id"], "GE-CD 2", "V2"))

    listed = client.get("/api/v1/residents", headers=writer).json()["items"]
    assert [r["id"] for r in listed] == [visible["id"]]
    by_ref = client.get("/api/v1/residents", headers=writer, params={"external_ref": "MR-2"})
    assert by_ref.json()["items"] == []
    plates = [v["plate"] for v in client.get("/api/v1/vehicles", headers=writer).json()["items"]]
    assert plates == ["GE-AB 1"]
    by_plate = client.get("/api/v1/vehicles", headers=writer, params={"plate": "GE-CD 2"})
    assert by_plate.json()["items"] == []
    # direct access by id stays possible for the tenant's own registry system
    assert client.get(f"/api/v1/residents/{hidden['id']}", headers=writer).status_code == 200

    # blocking later hides an already listed resident
    client.patch(
        f"/api/v1/residents/{visible['id']}", headers=writer, json={"register_block": True}
    )
    assert client.get("/api/v1/residents", headers=writer).json()["items"] == []


def test_residents_paginate(client: TestClient, writer: dict[str, str]) -> None:
    for i in range(5):
        client.post("/api/v1/residents", headers=writer, json=resident(f"MR-{i}"))
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["after"] = cursor
        page = client.get("/api/v1/residents", headers=writer, params=params).json()
        seen += [r["external_ref"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"MR-{i}" for i in range(5)]


def test_vehicle_lifecycle(
    client: TestClient, writer: dict[str, str], hook_calls: list[tuple[str, Any]]
) -> None:
    holder = client.post("/api/v1/residents", headers=writer, json=resident()).json()
    hook_calls.clear()
    created = client.post("/api/v1/vehicles", headers=writer, json=vehicle(holder["id"]))
    assert created.status_code == 201, created.text
    vid = created.json()["id"]
    assert created.json()["plate"] == "GE-AB 1234"
    foreign = client.post(
        "/api/v1/vehicles", headers=writer, json=vehicle(holder["id"], "nl:ab-123-c", "ZF-2")
    )
    assert foreign.json()["plate"] == "NL:AB123C"
    updated = client.patch(
        f"/api/v1/vehicles/{vid}", headers=writer, json={"valid_until": "2026-06-30"}
    )
    assert updated.json()["valid_until"] == "2026-06-30"
    assert updated.json()["version"] == 2
    found = client.get("/api/v1/vehicles", headers=writer, params={"plate": "ge-ab 1234"}).json()
    assert [v["id"] for v in found["items"]] == [vid]
    assert [kind for kind, _ in hook_calls] == ["vehicle"] * 3


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"plate": "not a plate!"}, "invalid_plate"),
        ({"kind": "company", "proof_ref": None}, "invalid_request"),
        ({"holder_id": "00000000-0000-0000-0000-000000000001"}, "invalid_request"),
        ({"length_mm": 10}, "invalid_request"),
    ],
    ids=["plate", "proof", "holder", "length"],
)
def test_invalid_vehicle_is_422(
    client: TestClient, writer: dict[str, str], change: dict[str, Any], code: str
) -> None:
    payload = {**vehicle(None), **change}
    response = client.post("/api/v1/vehicles", headers=writer, json=payload)
    assert response.status_code == 422
    assert response.json()["code"] == code


def test_zone_lifecycle(client: TestClient, writer: dict[str, str]) -> None:
    created = client.post("/api/v1/zones", headers=writer, json=ZONE)
    assert created.status_code == 201, created.text
    zid = created.json()["id"]
    assert [s["parity"] for s in created.json()["segments"]] == ["odd", "even"]
    dup = client.post("/api/v1/zones", headers=writer, json=ZONE)
    assert dup.status_code == 409
    replaced = client.patch(
        f"/api/v1/zones/{zid}",
        headers=writer,
        json={"segments": [{"street": "Ringstraße", "number_from": 1, "number_to": 9}]},
    )
    assert [s["street"] for s in replaced.json()["segments"]] == ["Ringstraße"]
    assert replaced.json()["segments"][0]["parity"] == "all"
    listed = client.get("/api/v1/zones", headers=writer).json()["items"]
    assert [z["code"] for z in listed] == ["A3"]
    bad = client.post(
        "/api/v1/zones",
        headers=writer,
        json={
            **ZONE,
            "code": "B1",
            "segments": [{"street": "X", "number_from": 9, "number_to": 1}],
        },
    )
    assert bad.status_code == 422


def test_reads_allowed_to_permit_issuers_writes_not(
    client: TestClient, api_client: ApiClientFactory
) -> None:
    issuer_headers = api_client(scopes=["permits:issue"]).headers
    assert client.get("/api/v1/residents", headers=issuer_headers).status_code == 200
    response = client.post("/api/v1/residents", headers=issuer_headers, json=resident())
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


def test_concurrent_duplicate_creates_are_one_201_and_409s(
    app: Any, api_client: ApiClientFactory
) -> None:
    import threading

    import httpx

    from tests.support.http import live_server

    headers = api_client(scopes=["registry:write"]).headers
    results: list[int] = []
    with live_server(app) as base_url:
        barrier = threading.Barrier(4)

        def post() -> None:
            barrier.wait()
            with httpx.Client(base_url=base_url, timeout=30) as http:
                results.append(
                    http.post("/api/v1/residents", headers=headers, json=resident()).status_code
                )

        threads = [threading.Thread(target=post) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(results) == [201, 409, 409, 409]
