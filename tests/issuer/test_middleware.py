"""HTTP hygiene: body limit (declared and chunked), request ids, Idempotency-Key."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.testclient import TestClient

from issuer.db.models import IdempotencyRecord, Resident
from issuer.middleware import IdempotencyContext, claim_idempotency_key, idempotency_secret
from issuer.services.clock import FixedClock
from tests.support.db import ApiClientFactory
from tests.support.http import HTTP_TIMEOUT, live_server
from tests.support.registry import resident


def test_declared_body_over_limit_is_413(client: TestClient, api_client: ApiClientFactory) -> None:
    headers = api_client(scopes=["registry:write"]).headers
    response = client.post("/api/v1/residents", headers=headers, content=b"x" * (64 * 1024 + 1))
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "request_too_large"


def test_chunked_body_over_limit_is_413(client: TestClient, api_client: ApiClientFactory) -> None:
    headers = {**api_client(scopes=["registry:write"]).headers, "Content-Type": "application/json"}

    def body() -> Iterator[bytes]:
        for _ in range(20):
            yield b" " * 8192

    response = client.post("/api/v1/residents", headers=headers, content=body())
    assert response.status_code == 413
    assert response.json()["code"] == "request_too_large"


def test_small_chunked_body_passes(client: TestClient, api_client: ApiClientFactory) -> None:
    import json

    headers = {**api_client(scopes=["registry:write"]).headers, "Content-Type": "application/json"}
    payload = json.dumps(resident()).encode()
    response = client.post(
        "/api/v1/residents", headers=headers, content=iter([payload[:10], payload[10:]])
    )
    assert response.status_code == 201


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["x-request-id"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert made.headers["x-request-id"] not in ("", "bad id with spaces")
    assert len(client.get("/healthz").headers["x-request-id"]) == 32


def _count_residents(app: FastAPI) -> int:
    with app.state.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(Resident)) or 0)


def test_idempotent_retry_returns_the_first_answer(
    client: TestClient, api_client: ApiClientFactory
) -> None:
    headers = {**api_client(scopes=["registry:write"]).headers, "Idempotency-Key": "k-1"}
    first = client.post("/api/v1/residents", headers=headers, json=resident())
    second = client.post("/api/v1/residents", headers=headers, json=resident())
    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second.headers["idempotent-replayed"] == "true"
    assert _count_residents(client.app) == 1  # type: ignore[arg-type]
    # without the key the same body is a new request (and a duplicate)
    plain = {k: v for k, v in headers.items() if k != "Idempotency-Key"}
    assert client.post("/api/v1/residents", headers=plain, json=resident()).status_code == 409


def test_same_key_other_body_is_422(client: TestClient, api_client: ApiClientFactory) -> None:
    headers = {**api_client(scopes=["registry:write"]).headers, "Idempotency-Key": "k-2"}
    assert (
        client.post("/api/v1/residents", headers=headers, json=resident("MR-1")).status_code == 201
    )
    other = client.post("/api/v1/residents", headers=headers, json=resident("MR-2"))
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


def test_keys_are_per_client(client: TestClient, api_client: ApiClientFactory) -> None:
    a = {**api_client(scopes=["registry:write"]).headers, "Idempotency-Key": "same"}
    b = {**api_client(scopes=["registry:write"], ags="05562004").headers, "Idempotency-Key": "same"}
    assert client.post("/api/v1/residents", headers=a, json=resident()).status_code == 201
    second = client.post("/api/v1/residents", headers=b, json=resident())
    assert second.status_code == 201
    assert "idempotent-replayed" not in second.headers


def _preclaim(app: FastAPI, creds: Any, key: str, body: bytes, now: Any) -> IdempotencyContext:
    """Claim `key` as if a first request with `body` were still running."""
    import hashlib
    import hmac

    secret = idempotency_secret(app)
    message = b"buergerid/idempotency-request-hash/v1\0POST\0/api/v1/residents\0\0" + body
    digest = hmac.new(secret, message, hashlib.sha256).hexdigest()
    ctx = IdempotencyContext(key=key, request_hash=digest, secret=secret)
    claim_idempotency_key(
        app.state.session_factory,
        ctx,
        client_id=creds.client_id,
        tenant_id=creds.tenant_id,
        now=now,
    )
    return ctx


def test_in_flight_duplicate_is_409_after_the_wait(
    app: FastAPI, api_client: ApiClientFactory, clock: FixedClock
) -> None:
    import json

    from issuer.app import create_app
    from tests.support.db import make_test_settings

    creds = api_client(scopes=["registry:write"])
    body = json.dumps(resident()).encode()
    _preclaim(app, creds, "k-3", body, clock.now())
    settings = app.state.settings
    impatient = create_app(
        make_test_settings(settings.database_url, settings.data_dir, idempotency_wait_seconds=0),
        clock=clock,
    )
    headers = {**creds.headers, "Idempotency-Key": "k-3", "Content-Type": "application/json"}
    with TestClient(impatient, raise_server_exceptions=False) as client:
        response = client.post("/api/v1/residents", headers=headers, content=body)
    impatient.state.engine.dispose()
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_in_progress"
    assert _count_residents(app) == 0


def test_in_flight_duplicate_waits_for_the_first_answer(
    client: TestClient, api_client: ApiClientFactory, clock: FixedClock
) -> None:
    import json

    from issuer.middleware.idempotency import _finish_claim

    app: FastAPI = client.app  # type: ignore[assignment]
    creds = api_client(scopes=["registry:write"])
    body = json.dumps(resident()).encode()
    ctx = _preclaim(app, creds, "k-7", body, clock.now())
    assert ctx.record_id is not None
    first_answer = b'{"first": true}'
    # the first request finishes while the duplicate waits (or before it looks: same answer)
    finisher = threading.Thread(
        target=_finish_claim,
        args=(app.state.session_factory, ctx, 201, "application/json", first_answer),
    )
    finisher.start()
    headers = {**creds.headers, "Idempotency-Key": "k-7", "Content-Type": "application/json"}
    response = client.post("/api/v1/residents", headers=headers, content=body)
    finisher.join()
    assert response.status_code == 201
    assert response.content == first_answer
    assert response.headers["idempotent-replayed"] == "true"
    assert _count_residents(app) == 0


def test_failed_first_request_releases_the_key(
    client: TestClient, api_client: ApiClientFactory
) -> None:
    headers = {**api_client(scopes=["registry:write"]).headers, "Idempotency-Key": "k-4"}
    bad = resident()
    bad["residences"] = "nope"
    first = client.post("/api/v1/residents", headers=headers, json=bad)
    assert first.status_code == 422
    again = client.post("/api/v1/residents", headers=headers, json=bad)
    assert again.json() == first.json()  # 4xx answers are stored and replayed too


def test_concurrent_duplicates_over_real_http_create_one_object(
    app: FastAPI, api_client: ApiClientFactory
) -> None:
    headers = {**api_client(scopes=["registry:write"]).headers, "Idempotency-Key": "k-5"}
    results: list[int] = []
    with live_server(app) as base_url:
        start = threading.Barrier(4)

        def post() -> None:
            start.wait()
            with httpx.Client(base_url=base_url, timeout=30) as http:
                results.append(
                    http.post("/api/v1/residents", headers=headers, json=resident()).status_code
                )

        threads = [threading.Thread(target=post) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    # the duplicates waited for the first answer and got it
    assert _count_residents(app) == 1
    assert results == [201, 201, 201, 201]
    with app.state.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(IdempotencyRecord)) == 1


def test_live_server_round_trip(app: FastAPI, api_client: ApiClientFactory) -> None:
    headers: dict[str, Any] = api_client(scopes=["registry:write"]).headers
    with (
        live_server(app) as base_url,
        httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT) as http,
    ):
        assert http.get("/healthz").json() == {"status": "ok"}
        created = http.post("/api/v1/residents", headers=headers, json=resident())
        assert created.status_code == 201
        assert created.headers["x-request-id"]
        listed = http.get("/api/v1/residents", headers=headers).json()["items"]
        assert [r["id"] for r in listed] == [created.json()["id"]]


def test_old_idempotency_records_are_purged(
    client: TestClient, api_client: ApiClientFactory, clock: FixedClock
) -> None:
    from datetime import timedelta

    from issuer.middleware import purge_idempotency_records

    headers = {**api_client(scopes=["registry:write"]).headers, "Idempotency-Key": "k-6"}
    assert client.post("/api/v1/residents", headers=headers, json=resident()).status_code == 201
    factory = client.app.state.session_factory  # type: ignore[attr-defined]
    with factory() as s, s.begin():
        assert purge_idempotency_records(s, before=clock.now()) == 0
    with factory() as s, s.begin():
        assert purge_idempotency_records(s, before=clock.now() + timedelta(seconds=1)) == 1


def test_import_bodies_have_their_own_limit(app: FastAPI, api_client: ApiClientFactory) -> None:
    from tests.support.db import make_test_settings

    settings = app.state.settings
    small = make_test_settings(settings.database_url, settings.data_dir, max_import_bytes=2048)
    from issuer.app import create_app

    limited = create_app(small)
    headers = api_client(scopes=["registry:write"]).headers
    with TestClient(limited, raise_server_exceptions=False) as client:
        over = client.post(
            "/api/v1/imports/residents",
            params={"format": "csv"},
            headers=headers,
            content=iter([b"external_ref,given_name,family_name\n", b"x" * 4096]),
        )
        assert over.status_code == 413
        assert over.json()["code"] == "request_too_large"
        rows = b"external_ref,given_name,family_name\n" + b"MR-1,Erika,Mustermann\n"
        assert (
            client.post(
                "/api/v1/imports/residents", params={"format": "csv"}, headers=headers, content=rows
            ).status_code
            == 200
        )
    limited.state.engine.dispose()
