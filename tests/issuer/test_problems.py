"""problem+json on every error type: IssuerError family, validation, 404, 405, 413, 415, 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.testclient import TestClient

from issuer.errors import ErrorCode, Refused
from tests.support.db import ApiClientFactory

PROBLEM_KEYS = {"type", "title", "status", "code", "instance"}


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert PROBLEM_KEYS <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:buergerid:problem:{code}"
    assert "traceback" not in response.text.lower()
    return body


@pytest.fixture
def boom_client(app: FastAPI) -> Iterator[TestClient]:
    @app.get("/test-only/boom")
    def boom() -> None:
        raise RuntimeError("secret detail Mustermann")

    @app.get("/test-only/refused")
    def refused() -> None:
        raise Refused(errors=[{"code": "not_in_zone"}, {"code": "vehicle_too_long"}])

    @app.get("/test-only/race")
    def race() -> None:
        raise IntegrityError("INSERT …", {}, Exception("duplicate key Mustermann"))

    @app.get("/test-only/locked")
    def locked() -> None:
        raise OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_unknown_route_is_404(client: TestClient) -> None:
    body = _problem(client.get("/nope"), 404, "not_found")
    assert body["instance"] == "/nope"


def test_wrong_method_is_405(client: TestClient) -> None:
    _problem(client.delete("/healthz"), 405, "method_not_allowed")


def test_validation_error_is_invalid_request_without_input(
    client: TestClient, api_client: ApiClientFactory
) -> None:
    headers = api_client(scopes=["registry:write"]).headers
    response = client.post(
        "/api/v1/residents",
        headers=headers,
        json={
            "external_ref": "MR-1",
            "given_name": "Erika",
            "family_name": 42,
            "birth_date": "Geheim",
        },
    )
    body = _problem(response, 422, "invalid_request")
    assert {tuple(e["loc"]) for e in body["errors"]} >= {
        ("body", "family_name"),
        ("body", "birth_date"),
    }
    assert "Geheim" not in response.text and "Erika" not in response.text


def test_malformed_json_is_invalid_request(
    client: TestClient, api_client: ApiClientFactory
) -> None:
    headers = {**api_client(scopes=["registry:write"]).headers, "Content-Type": "application/json"}
    _problem(
        client.post("/api/v1/residents", headers=headers, content=b"{nope"), 422, "invalid_request"
    )


def test_bad_path_parameter_is_invalid_request(
    client: TestClient, api_client: ApiClientFactory
) -> None:
    headers = api_client(scopes=["registry:write"]).headers
    _problem(client.get("/api/v1/residents/not-a-uuid", headers=headers), 422, "invalid_request")


def test_unexpected_exception_is_bare_500(boom_client: TestClient) -> None:
    response = boom_client.get("/test-only/boom", headers={"X-Request-ID": "req-500"})
    assert response.headers["x-request-id"] == "req-500"
    body = _problem(response, 500, "internal_error")
    assert "detail" not in body
    assert "Mustermann" not in response.text and "RuntimeError" not in response.text


def test_refusal_lists_every_rule(boom_client: TestClient) -> None:
    body = _problem(boom_client.get("/test-only/refused"), 422, "application_refused")
    assert [e["code"] for e in body["errors"]] == ["not_in_zone", "vehicle_too_long"]


def test_lost_race_is_409_and_database_trouble_503(boom_client: TestClient) -> None:
    race = boom_client.get("/test-only/race")
    _problem(race, 409, "conflict")
    assert "Mustermann" not in race.text
    locked = boom_client.get("/test-only/locked")
    _problem(locked, 503, "unavailable")
    assert locked.headers["retry-after"] == "1"


def test_every_code_has_a_title() -> None:
    from issuer.errors import TITLES

    assert set(TITLES) == set(ErrorCode)
