"""kill -9 of a uvicorn subprocess in the middle of a burst of issuances (SQLite and PostgreSQL).

After a restart, every permit in the database has its token, its status index and its audit
row; every permit the client saw a 201 for is there; the audit chain verifies; the server
issues again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from issuer.db.models import AuditEntry
from issuer.db.permit_models import Permit, PermitToken, StatusEntry
from issuer.services import audit
from tests.support.world import World, make_world

BURST = 60
KILL_AFTER = 15


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(settings: Any, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "BUERGERID_DATABASE_URL": settings.database_url,
        "BUERGERID_DATA_DIR": str(settings.data_dir),
        "BUERGERID_KEY_PASSPHRASE": settings.key_passphrase.get_secret_value(),
        "BUERGERID_ENVIRONMENT": "test",
        "BUERGERID_ARGON2_TIME_COST": "1",
        "BUERGERID_ARGON2_MEMORY_KIB": "8",
    }
    cmd = [
        sys.executable, "-m", "uvicorn", "--factory", "issuer.app:create_app",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    with log.open("ab") as out:  # the child keeps its own descriptor
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=os.getcwd())
    with httpx.Client(timeout=1) as http:
        for _ in range(600):  # bounded readiness poll, ends as soon as it answers
            if proc.poll() is not None:
                raise RuntimeError(log.read_text()[-2000:])
            try:
                if http.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    return proc
            except httpx.TransportError:
                threading.Event().wait(0.05)
    proc.kill()
    raise RuntimeError("server did not start")


def _seed(world: World) -> tuple[list[str], list[str]]:
    rows = [
        {
            "external_ref": f"MR-{n}",
            "given_name": "E",
            "family_name": "M",
            "residence_kind": "main",
            "street": "Markt",
            "house_number": str(n % 40 + 1),
            "postcode": "45879",
            "valid_from": "2020-01-01",
        }
        for n in range(BURST + 1)
    ]
    world.client.post(
        "/api/v1/imports/residents",
        content="".join(json.dumps(x) + "\n" for x in rows),
        headers={**world.headers, "Content-Type": "application/x-ndjson"},
    )
    cars = [
        {"external_ref": f"KBA-{n}", "plate": f"GE-K {n + 1}", "holder_ref": f"MR-{n}"}
        for n in range(BURST + 1)
    ]
    world.client.post(
        "/api/v1/imports/vehicles",
        content="".join(json.dumps(x) + "\n" for x in cars),
        headers={**world.headers, "Content-Type": "application/x-ndjson"},
    )
    res = {
        x["external_ref"]: x["id"]
        for x in world.get("/api/v1/residents", params={"limit": 500}).json()["items"]
    }
    veh = {
        x["external_ref"]: x["id"]
        for x in world.get("/api/v1/vehicles", params={"limit": 500}).json()["items"]
    }
    n = range(BURST + 1)
    return [res[f"MR-{i}"] for i in n], [veh[f"KBA-{i}"] for i in n]


def test_kill_9_mid_burst_leaves_nothing_half_written(
    app: Any, client: Any, clock: Any, api_client: Any, tmp_path: Path
) -> None:
    clock.set(datetime.now(UTC))
    world = make_world(app, client, clock, api_client)
    residents, vehicles = _seed(world)
    settings = app.state.settings
    log = tmp_path / "server.log"
    port = _free_port()
    proc = _start(settings, port, log)
    seen_201: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=world.headers, timeout=30
        ) as http:

            def apply(i: int) -> None:
                if killed.is_set():
                    return
                body = {"resident_id": residents[i], "vehicle_ids": [vehicles[i]], "zones": ["A3"]}
                try:
                    r = http.post("/api/v1/permits", json=body)
                except httpx.TransportError:
                    return
                if r.status_code == 201:
                    with lock:
                        seen_201.append(r.json()["id"])
                        if len(seen_201) == KILL_AFTER and not killed.is_set():
                            killed.set()
                            os.kill(proc.pid, signal.SIGKILL)

            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(apply, range(BURST)))
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    assert killed.is_set() and len(seen_201) >= KILL_AFTER

    proc = _start(settings, port, log)  # restart on the same database
    try:
        with app.state.session_factory() as session:
            permits = session.scalars(select(Permit)).all()
            ids = {str(p.id) for p in permits}
            assert set(seen_201) <= ids
            assert len(permits) < BURST  # the kill did cut the burst short
            for permit in permits:
                tokens = session.scalars(
                    select(PermitToken).where(PermitToken.permit_id == permit.id)
                ).all()
                assert len(tokens) == 1
                entry = session.scalars(
                    select(StatusEntry).where(
                        StatusEntry.list_no == tokens[0].list_no,
                        StatusEntry.idx == tokens[0].idx,
                    )
                ).one()
                assert entry.status == 0
                actions = session.scalars(
                    select(AuditEntry.action).where(AuditEntry.object_id == str(permit.id))
                ).all()
                assert actions == ["permit.issued"]
            assert audit.verify_chains(session) == []
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=world.headers, timeout=30
        ) as http:
            last = {"resident_id": residents[BURST], "vehicle_ids": [vehicles[BURST]]}
            r = http.post("/api/v1/permits", json={**last, "zones": ["A3"]})
            assert r.status_code == 201, r.text
            assert http.get("/trust-bundle").status_code == 200
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
