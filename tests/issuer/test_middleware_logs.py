"""Structured logs: constant events with ids, never personal data, tokens or bodies."""

from __future__ import annotations

import io
import json
import logging

from starlette.testclient import TestClient

from tests.support.db import ApiClientFactory
from tests.support.registry import resident, vehicle


def test_registry_write_logs_no_personal_data(
    client: TestClient, api_client: ApiClientFactory, log_stream: io.StringIO
) -> None:
    creds = api_client(scopes=["registry:write"])
    headers = {**creds.headers, "X-Request-ID": "req-42"}
    person = resident("MR-LOG-1", family="Vertraulich")
    created = client.post("/api/v1/residents", headers=headers, json=person)
    assert created.status_code == 201
    client.post(
        "/api/v1/vehicles", headers=headers, json=vehicle(created.json()["id"], "GE-QQ 4711")
    )
    client.get("/api/v1/vehicles", headers=headers, params={"plate": "GE-QQ 4711"})
    client.post("/api/v1/residents", headers=headers, json={**person, "birth_date": "kaputt"})
    rows = (
        b'{"external_ref": "MR-LOG-2", "given_name": "Erika", "family_name": "Vertraulich"}\n'
        b'{"external_ref": "MR-LOG-3", "given_name": "Erika", "family_name": 7, "x": "kaputt"}\n'
    )
    imported = client.post(
        "/api/v1/imports/residents", params={"format": "ndjson"}, headers=headers, content=rows
    )
    assert imported.json()["inserted"] == 1
    text = log_stream.getvalue()
    records = [json.loads(line) for line in text.splitlines()]
    access = [r for r in records if r["event"] == "http_request"]
    assert all(r.get("request_id") == "req-42" for r in access)
    assert {r["route"] for r in access} == {
        "/api/v1/residents",
        "/api/v1/vehicles",
        "/api/v1/imports/{kind}",
    }
    for secret in (
        "Vertraulich",
        "Erika",
        "1980-02-29",
        "Bahnhofstraße",
        "45879",
        "GE-QQ 4711",
        "GE-QQ",
        "MR-LOG-1",
        "MR-LOG-2",
        "kaputt",
        creds.token.split(".")[1],
    ):
        assert secret not in text, secret


def test_exceptions_log_only_their_type(log_stream: io.StringIO) -> None:
    try:
        raise ValueError("Vertraulich")
    except ValueError:
        logging.getLogger("t").exception("boom_event")
    record = json.loads(log_stream.getvalue().splitlines()[-1])
    assert record["event"] == "boom_event"
    assert record["exc_type"] == "ValueError"
    assert "Vertraulich" not in log_stream.getvalue()
