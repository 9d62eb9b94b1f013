"""The production command as an operator runs it, on SQLite and PostgreSQL:
`buergerid-issuer serve --workers 2` with metrics on their own port, and
`buergerid-issuer worker --once`.

- One command serves the whole service: the municipal API, offers, the wallet API (a wallet
  redeems an offer), the enforcement routes, publication, Swagger UI and the start page.
- `/metrics` answers only on the metrics port; scraped over HTTP and parsed with
  prometheus-client's own parser it shows what both workers counted (exactly the requests
  sent, whichever worker took them), issuance and revocation per tenant and type, signing
  latency, pool use, status-list fill, and the jobs the worker ran; no label value holds a
  plate, a name, a reference or an id.
- The workers' metrics directory is private, emptied at start and left empty at the end.
"""

from __future__ import annotations

import json
import stat
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from issuer.settings import Settings
from mobile_sdk_stub.client import WalletClient
from tests.support.clock import FixedClock
from tests.support.http import HTTP_TIMEOUT
from tests.support.processes import (
    BUERGERID_ISSUER,
    Process,
    free_port,
    settings_env,
    start,
    stop,
    wait_http,
)
from tests.support.world import World, make_world

SPREAD = 24  # requests of one route over fresh connections, spread over the workers
MAX_SPREAD_ROUNDS = 20


@pytest.fixture
def world(app: FastAPI, client: Any, clock: FixedClock, api_client: Any) -> World:
    # the served processes read the wall clock: keys and data are made at its time
    clock.set(datetime.now(UTC).replace(microsecond=0))
    return make_world(app, client, clock, api_client)


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _samples(families: dict[str, Any], name: str, **labels: str) -> list[Any]:
    family = families.get(name)
    assert family is not None, f"{name} missing"
    return [
        s
        for s in family.samples
        if all(s.labels.get(k) == v for k, v in labels.items()) and not s.name.endswith("_created")
    ]


@pytest.fixture
def served(
    world: World, settings: Settings, tmp_path: Path
) -> Iterator[tuple[str, str, Path, Process]]:
    port, metrics_port = free_port(), free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir(mode=0o755)
    (metrics_dir / "counter_999999.db").write_bytes(b"left over from an earlier run")
    env = settings_env(
        settings,
        BUERGERID_PORT=str(port),
        BUERGERID_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        BUERGERID_METRICS_PORT=str(metrics_port),
        BUERGERID_METRICS_DIR=str(metrics_dir),
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    server = start("serve", [BUERGERID_ISSUER, "serve", "--workers", "2"], env, logs)
    try:
        wait_http(server, f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{metrics_port}", metrics_dir, server
    finally:
        stop([server])
    assert server.proc.returncode == 0, server.output()[1][-3000:]
    assert list(metrics_dir.glob("*.db")) == []  # nothing left behind


def test_serve_with_workers_is_the_whole_service_and_its_metrics_name_nobody(
    served: tuple[str, str, Path, Process],
    world: World,
    settings: Settings,
    api_client: Any,
    tmp_path: Path,
) -> None:
    base, metrics_base, metrics_dir, server = served
    http = httpx.Client(base_url=base, timeout=30, headers=world.headers)
    # the municipal API: permits for two residents' digital-only cars, one revoked, an offer
    plate, other_plate = "GE-MX 4711", "GE-MX 4712"
    residents, cars, issued = [], [], []
    for number_plate in (plate, other_plate):
        residents.append(world.resident())
        cars.append(world.vehicle(residents[-1], plate=number_plate))
        r = http.post(
            "/api/v1/permits",
            json={"resident_id": residents[-1], "zones": ["A3"], "vehicle_ids": [cars[-1]],
                  "display_required": False},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        issued.append(r.json())
    r = http.post(f"/api/v1/permits/{issued[1]['id']}/revoke", json={"reason": "misuse"})
    assert r.status_code == 200, r.text
    offer = http.post("/api/v1/offers", json={"kind": "permit", "permit_id": issued[0]["id"]})
    assert offer.status_code == 201, offer.text
    # the wallet API of the same command: a wallet redeems the offer
    with WalletClient(base, tmp_path / "wallet") as wallet:
        stored = wallet.redeem(offer.json()["credential_offer_url"], offer.json()["tx_code"])
    assert stored
    # a request with a plate in its path and query: counted by its route template only
    assert http.get(f"/api/v1/vehicles/{plate}", params={"plate": plate}).status_code < 500
    # enforcement (the plate index is the worker's work), publication, docs, start page
    officer = api_client(scopes=("enforcement:read",), ags=world.ags)
    index = http.get("/api/v1/enforcement/plate-index", headers=officer.headers)
    assert index.status_code == 503 and index.json()["code"] == "plate_index_not_built"
    worker = subprocess.run(
        [BUERGERID_ISSUER, "worker", "--once"],
        env=settings_env(settings, BUERGERID_PUBLIC_BASE_URL=base),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert worker.returncode == 0, worker.stdout + worker.stderr
    assert "plate_indexes: ok built=1" in worker.stdout
    for line in worker.stderr.splitlines():  # the worker logs JSON too
        json.loads(line)
    assert http.get("/api/v1/enforcement/plate-index", headers=officer.headers).status_code == 200
    assert httpx.get(f"{base}/trust-bundle", timeout=HTTP_TIMEOUT).status_code == 200
    assert (
        httpx.get(f"{base}/.well-known/openid-credential-issuer", timeout=HTTP_TIMEOUT).status_code
        == 200
    )
    assert 'href="/docs"' in httpx.get(f"{base}/", timeout=HTTP_TIMEOUT).text
    assert httpx.get(f"{base}/docs", timeout=HTTP_TIMEOUT).status_code == 200
    assert (
        httpx.get(f"{base}/metrics", timeout=HTTP_TIMEOUT).status_code == 404
    )  # never on the service's port

    # requests over fresh connections land on both workers; the counts add up exactly
    def fetch(_: int) -> int:
        return httpx.get(
            f"{base}/openapi.json", headers={"Connection": "close"}, timeout=HTTP_TIMEOUT
        ).status_code

    def pids() -> set[str]:
        return {p.name.rsplit("_", 1)[1] for p in metrics_dir.glob("counter_*.db")}

    # the kernel spreads fresh connections over the workers, but an unlucky (or loaded)
    # machine may give one worker a whole round: more rounds, bounded, until both answered
    sent = 0
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _round in range(MAX_SPREAD_ROUNDS):
            assert set(pool.map(fetch, range(SPREAD))) == {200}
            sent += SPREAD
            if len(pids()) == 2:
                break
    assert stat.S_IMODE(metrics_dir.stat().st_mode) == 0o700
    assert not (metrics_dir / "counter_999999.db").exists()  # emptied at start
    assert len(pids()) == 2  # both workers wrote their counts

    scrape = httpx.get(f"{metrics_base}/metrics", timeout=HTTP_TIMEOUT)
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    assert httpx.get(f"{metrics_base}/", timeout=HTTP_TIMEOUT).status_code == 404
    families = _families(scrape.text)
    spread = _samples(
        families,
        "buergerid_http_requests",
        method="GET",
        route="/openapi.json",
        status="200",
    )
    assert [s.value for s in spread] == [sent]
    [issued_count] = _samples(
        families, "buergerid_permits_issued", tenant=world.ags, permit_type="BEW"
    )
    [revoked_count] = _samples(
        families, "buergerid_permits_revoked", tenant=world.ags, permit_type="BEW"
    )
    assert (issued_count.value, revoked_count.value) == (2, 1)
    credentials = _samples(families, "buergerid_wallet_credentials_issued", tenant=world.ags)
    assert sum(s.value for s in credentials) >= 1
    signing = _samples(families, "buergerid_signing_duration_seconds", backend="software")
    assert next(s.value for s in signing if s.name.endswith("_count")) >= 3
    [size] = _samples(families, "buergerid_db_pool_size")
    [in_use] = _samples(families, "buergerid_db_pool_connections_in_use")
    assert size.value > 0 and 0 <= in_use.value <= size.value
    [fill] = _samples(families, "buergerid_status_list_fill_ratio", tenant=world.ags)
    assert 0 < fill.value < 0.5
    runs = {s.labels["job"]: s.value for s in _samples(families, "buergerid_job_runs")}
    assert set(runs.values()) == {1} and "plate_indexes" in runs
    assert _samples(families, "buergerid_plate_index_built_timestamp_seconds", tenant=world.ags)
    assert [s.value for s in _samples(families, "buergerid_metrics_database_up")] == [1]

    # no personal data in any label: plates (also without spaces), names, references, ids
    personal = {plate, other_plate, plate.replace(" ", ""), plate.replace(" ", "%20"),
                "Erika", "Mustermann", *residents, *cars, *(p["id"] for p in issued),
                offer.json()["offer_id"]}  # fmt: skip
    with world.app.state.session_factory() as session:
        from issuer.db.models import Resident

        for resident_id in residents:
            row = session.get(Resident, uuid.UUID(resident_id))
            assert row is not None
            personal.add(row.external_ref)
    values = {v for f in families.values() for s in f.samples for v in s.labels.values()}
    leaks = {v for v in values for p in personal if p and p in v}
    assert leaks == set()
    http.close()
    _stdout, stderr = server.output()
    for line in stderr.splitlines():
        json.loads(line)  # every worker and the supervisor: JSON lines only
        assert plate not in line and "Mustermann" not in line
