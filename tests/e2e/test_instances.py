"""Three `buergerid-issuer serve` instances and two `buergerid-issuer worker`s on one
PostgreSQL, sharing nothing else: the key rings and their encrypted key files are in the
database (`key_store=database`), every process has its own empty data directory, and none
of them writes a key to it. A client spreads its requests over them (round robin, several
threads):

- issuance on every instance, concurrently: every permit gets its own status index (none
  twice), every permit is there once with its audit entries (nothing lost or doubled);
- revocations and a registry move (a resident moves out of the zone) on instances other than
  the issuing one, while more permits are issued: each revoked permit is revoked, and its
  status is 1 in the status list that EVERY instance serves right after the revoking answer
  (status lists follow the database at every request: the bound is zero);
- a key rotation by another process (`buergerid-issuer keys rotate`): once the stated bound
  (`RING_STAT_SECONDS`) has passed, every instance publishes the new key;
- the two workers run each job exactly once per period (their `job_done` lines name the
  period; no period twice, and the runs recorded in the database are exactly these);
- the instances and the workers run exactly the commands of the systemd units in `deploy/`;
- the wallet token endpoint's rate limit and the failed-authentication limit per key id hold
  across the instances, not per instance.
"""

from __future__ import annotations

import json
import shlex
import string
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from itertools import count, cycle
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from issuer.db.job_models import WorkerJob
from issuer.db.models import AuditEntry
from issuer.db.permit_models import Permit, StatusEntry
from issuer.services.clock import FixedClock
from issuer.services.publication import RING_STAT_SECONDS
from issuer.settings import Settings
from issuer.worker import jobs as catalogue
from keys.ring import KeyRing
from keys.storage.sql import SqlRingStore
from tests.support.db import TEST_PASSPHRASE, make_test_settings
from tests.support.http import HTTP_TIMEOUT
from tests.support.key_material import key_material
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

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

INSTANCES = 3
WORKERS = 2
PERIOD = 2  # seconds: every job's interval here, so the test sees several periods
FIRST, LATER, REVOKED, MOVERS = 15, 6, 5, 2
TOKEN_BUDGET = 30  # WalletPolicy.token_requests_per_window (per client address, per minute)
KEY_FAILURES = 10  # BUERGERID_AUTH_FAILURES_PER_KEY default
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
INSTALLED = "/opt/buergerid/bin/buergerid-issuer"


def unit_command(unit: str, env: dict[str, str]) -> list[str]:
    """The ExecStart of `deploy/<unit>` as systemd runs it (`${VAR}` from `env`), with the
    installed program replaced by this environment's."""
    [line] = [x for x in (DEPLOY / unit).read_text().splitlines() if x.startswith("ExecStart=")]
    argv = shlex.split(line.removeprefix("ExecStart="))
    assert argv[0] == INSTALLED
    return [BUERGERID_ISSUER, *(string.Template(a).substitute(env) for a in argv[1:])]


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """The test's own settings: rings in the database, a server secret every process shares
    (as production has), a data directory only this test process uses."""
    return make_test_settings(
        db_url, tmp_path / "data", key_store="database", server_secret="s" * 40
    )


def own_data_dir(tmp_path: Path, name: str) -> str:
    """A fresh, empty data directory for one process: instances share no directory."""
    path = tmp_path / "instances" / name
    path.mkdir(parents=True)
    return str(path)


@pytest.fixture
def world(app: FastAPI, client: Any, clock: FixedClock, api_client: Any) -> World:
    # the served processes read the wall clock: keys and data are made at its time
    clock.set(datetime.now(UTC).replace(microsecond=0))
    return make_world(app, client, clock, api_client)


@pytest.fixture
def cluster(
    world: World, settings: Settings, tmp_path: Path
) -> Iterator[tuple[list[str], list[Process]]]:
    ports = [free_port() for _ in range(INSTANCES)]
    logs = tmp_path / "logs"
    logs.mkdir()
    intervals = json.dumps({job.name: PERIOD for job in catalogue.JOBS})
    # behind one load balancer every instance has the same public URL
    public = f"http://127.0.0.1:{ports[0]}"
    servers = []
    for n, port in enumerate(ports):
        env = settings_env(
            settings,
            BUERGERID_PORT=str(port),  # the unit's instance name, %i
            BUERGERID_PUBLIC_BASE_URL=public,
            BUERGERID_WORKERS="1",
            BUERGERID_DATA_DIR=own_data_dir(tmp_path, f"serve{n}"),
        )
        command = unit_command("buergerid-serve@.service", env)
        servers.append(start(f"serve{n}", command, env, logs))
    env = settings_env(
        settings, BUERGERID_PUBLIC_BASE_URL=public, BUERGERID_WORKER_INTERVALS=intervals
    )
    command = unit_command("buergerid-worker.service", env)
    workers = [
        start(
            f"worker{n}",
            command,
            {**env, "BUERGERID_DATA_DIR": own_data_dir(tmp_path, f"worker{n}")},
            logs,
        )
        for n in range(WORKERS)
    ]
    try:
        for server, port in zip(servers, ports, strict=True):
            wait_http(server, f"http://127.0.0.1:{port}/healthz")
        yield [f"http://127.0.0.1:{port}" for port in ports], workers
    finally:
        stop([*servers, *workers])
    for process in (*servers, *workers):
        assert process.proc.returncode == 0, process.output()[1][-3000:]


@pytest.fixture
def clients(cluster: tuple[list[str], list[Process]], world: World) -> Iterator[list[httpx.Client]]:
    """One HTTP client per instance, closed however the test ends (a failed test leaves no
    open sockets for the garbage collector to report in the next test)."""
    made = [httpx.Client(base_url=b, headers=world.headers, timeout=60) for b in cluster[0]]
    try:
        yield made
    finally:
        for http in made:
            http.close()


def _claims(qr: str) -> Any:
    from verifier.formats import b45decode, decode_claims_map, decode_permit_claims, decode_sign1

    return decode_permit_claims(decode_claims_map(decode_sign1(b45decode(qr[5:])).payload))


def _statuses(base: str, ags: str, list_no: int) -> Any:
    from verifier.formats import decode_status_list_cwt

    r = httpx.get(
        f"{base}/status-lists/{ags}/{list_no}",
        headers={"Accept": "application/statuslist+cwt"},
        timeout=HTTP_TIMEOUT,
    )
    assert r.status_code == 200, r.text
    return decode_status_list_cwt(r.content)[1].status_list


def _whole_window(seconds: int, needed: float) -> None:
    """Start a burst that a fixed window of `seconds` must hold whole: if the current window
    ends within `needed` seconds, wait for the next one (a pause, not a measurement)."""
    left = seconds - time.time() % seconds
    if left < needed:
        threading.Event().wait(left + 0.2)


def test_three_instances_and_two_workers_share_nothing_but_postgresql(
    cluster: tuple[list[str], list[Process]],
    clients: list[httpx.Client],
    world: World,
    settings: Settings,
    api_client: Any,
    tmp_path: Path,
) -> None:
    bases, workers = cluster
    turn = cycle(range(INSTANCES))
    plates = count(1000)  # one plate per car: a plate met twice is refused (vehicle_has_permit)
    turn_lock = threading.Lock()

    def on_next() -> tuple[int, int, httpx.Client]:
        with turn_lock:
            n, plate = next(turn), next(plates)
        return n, plate, clients[n]

    def issue(_: int) -> tuple[int, dict[str, Any]]:
        n, number, http = on_next()
        body = {
            "external_ref": uuid.uuid4().hex[:12],
            "given_name": "Erika",
            "family_name": "Mustermann",
            "residences": [{"kind": "main", "street": "Hauptstraße", "house_number": "13",
                            "postcode": "45879", "valid_from": "2020-01-01"}],
        }  # fmt: skip
        r = http.post("/api/v1/residents", json=body)
        assert r.status_code == 201, r.text
        resident = r.json()
        plate = f"GE-MI {number}"
        car = http.post("/api/v1/vehicles", json={"plate": plate, "holder_id": resident["id"],
                                                  "length_mm": 4500, "width_mm": 1800})  # fmt: skip
        assert car.status_code == 201, car.text
        r = http.post("/api/v1/permits", json={"resident_id": resident["id"], "zones": ["A3"],
                                               "vehicle_ids": [car.json()["id"]]})  # fmt: skip
        assert r.status_code == 201, r.text
        permit: dict[str, Any] = r.json()
        permit["_residence"] = resident["residences"][0]["id"]
        return n, permit

    with ThreadPoolExecutor(max_workers=6) as pool:
        first = list(pool.map(issue, range(FIRST)))
    assert Counter(n for n, _ in first) == {n: FIRST // INSTANCES for n in range(INSTANCES)}

    # revocations and moves on another instance than the issuing one, more issuance meanwhile,
    # and a key rotation by another process
    revoke = first[:REVOKED]
    movers = first[REVOKED : REVOKED + MOVERS]
    today = datetime.now(UTC).date().isoformat()

    def change(i: int) -> Any:
        if i < REVOKED:
            n, permit = revoke[i]
            r = clients[(n + 1) % INSTANCES].post(
                f"/api/v1/permits/{permit['id']}/revoke", json={"reason": "misuse"}
            )
            assert r.status_code == 200, r.text
            return (n + 1) % INSTANCES, permit
        if i < REVOKED + MOVERS:
            n, permit = movers[i - REVOKED]
            path = f"/api/v1/residents/{permit['resident_id']}/residences/{permit['_residence']}"
            r = clients[(n + 2) % INSTANCES].patch(path, json={"valid_until": today})
            assert r.status_code == 200, r.text
            return (n + 2) % INSTANCES, permit
        if i == REVOKED + MOVERS:
            rotated = subprocess.run(
                [BUERGERID_ISSUER, "keys", "rotate", "--tenant", world.ags, "--force"],
                env=settings_env(settings, BUERGERID_DATA_DIR=own_data_dir(tmp_path, "cli")),
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            assert rotated.returncode == 0, rotated.stdout + rotated.stderr
            return time.monotonic(), rotated.stdout
        return issue(i)

    tasks = range(REVOKED + MOVERS + 1 + LATER)
    with ThreadPoolExecutor(max_workers=6) as pool:
        changed = list(pool.map(change, tasks))
    rotation_done, rotation_out = changed[REVOKED + MOVERS]
    later = changed[REVOKED + MOVERS + 1 :]
    permits = [p for _, p in first + later]
    revoked_ids = {p["id"] for _, p in revoke + movers}

    # every revocation is in the status list every instance serves, at once (bound: zero)
    claims = {p["id"]: _claims(p["qr"]) for p in permits}
    places = [(c.status_list, c.status_idx) for c in claims.values()]
    assert len(places) == len(set(places)) == FIRST + LATER  # no status index twice
    for base in bases:
        lists = {n: _statuses(base, world.ags, n) for n in {c.status_list for c in claims.values()}}
        for permit_id, c in claims.items():
            assert lists[c.status_list].get(c.status_idx) == int(permit_id in revoked_ids)

    # no lost update: each permit, read on another instance, in the state it was left in
    for n, permit in enumerate(permits):
        got = clients[n % INSTANCES].get(f"/api/v1/permits/{permit['id']}").json()
        want = ("revoked", "misuse") if permit["id"] in {p["id"] for _, p in revoke} else (
            ("revoked", "moved_out") if permit["id"] in revoked_ids else ("active", None)
        )  # fmt: skip
        assert (got["state"], got["state_reason"]) == want, got
    with world.app.state.session_factory() as session:
        entries = session.execute(select(StatusEntry.list_no, StatusEntry.idx)).all()
        assert len(entries) == len(set(entries)) == FIRST + LATER
        db_permits = session.scalars(select(Permit)).all()
        assert len(db_permits) == FIRST + LATER
        audit_counts = dict(
            session.execute(
                select(AuditEntry.object_id, func.count(AuditEntry.id))
                .where(AuditEntry.object_type == "permit")
                .group_by(AuditEntry.object_id)
            ).all()
        )
        for permit_row in db_permits:  # one audit entry per version step: none lost, none twice
            assert audit_counts[str(permit_row.id)] == permit_row.version

    # the rotated key: every instance publishes it once the stated bound has passed
    assert "new pending key" in rotation_out, rotation_out
    keys = world.app.state.keys.store()
    assert isinstance(keys, SqlRingStore)
    ring = KeyRing.open(keys.ring(world.ags), passphrase=TEST_PASSPHRASE)
    new_kids = {k.kid for k in ring.published(int(time.time()))}
    assert len(new_kids) >= 2  # the active key and its successor
    wait = RING_STAT_SECONDS - (time.monotonic() - rotation_done)
    if wait > 0:
        threading.Event().wait(wait + 0.05)
    for base in bases:
        served = {
            k["kid"]
            for k in httpx.get(f"{base}/.well-known/jwks.json", timeout=HTTP_TIMEOUT).json()["keys"]
        }
        assert new_kids and new_kids <= served, (rotation_out, served)

    # the wallet token endpoint: one budget per address across the instances, not one each
    _whole_window(60, needed=15)
    token_answers = [
        httpx.post(f"{bases[i % INSTANCES]}/wallet/token", data={
            "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
            "pre-authorized_code": f"unknown-{i}"}, timeout=HTTP_TIMEOUT).status_code
        for i in range(TOKEN_BUDGET + 2 * INSTANCES)
    ]  # fmt: skip
    assert 429 not in token_answers[:TOKEN_BUDGET], token_answers
    assert token_answers[TOKEN_BUDGET:] == [429] * (2 * INSTANCES), token_answers

    # failed authentications of one key id: counted together by all instances
    victim = api_client(scopes=("registry:write",), name="victim")
    wrong = {"Authorization": f"Bearer bid_{victim.key_id}.{'x' * 43}"}
    _whole_window(settings.auth_failure_window_seconds, needed=10)
    auth_answers = [
        httpx.get(
            f"{bases[i % INSTANCES]}/api/v1/zones", headers=wrong, timeout=HTTP_TIMEOUT
        ).status_code
        for i in range(KEY_FAILURES + INSTANCES)
    ]
    assert auth_answers == [401] * KEY_FAILURES + [429] * INSTANCES, auth_answers

    # the audit chains verify
    audit = subprocess.run(
        [BUERGERID_ISSUER, "verify-audit"], env=settings_env(settings),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert audit.returncode == 0, audit.stdout + audit.stderr

    # each job exactly once per period, whichever worker ran it
    stop(workers)
    runs: Counter[tuple[str, int]] = Counter()
    for worker in workers:
        assert worker.proc.returncode == 0, worker.output()[1][-3000:]
        for line in worker.output()[1].splitlines():
            record = json.loads(line)
            if record.get("event") in ("job_done", "job_failed"):
                assert record["event"] == "job_done", record
                runs[(record["job"], record["period"])] += 1
    assert runs and max(runs.values()) == 1, [k for k, v in runs.items() if v > 1]
    per_job = Counter(job for job, _ in runs)
    assert set(per_job) == {job.name for job in catalogue.JOBS}
    assert min(per_job.values()) >= 2  # several periods passed during the test
    with world.app.state.session_factory() as session:
        recorded = dict(session.execute(select(WorkerJob.name, WorkerJob.runs)).all())
    assert recorded == dict(per_job)

    # no process kept key material on its own disk (no ring, key file, encrypted key, PEM
    # key or certificate), nor did this test's
    own_dirs = sorted((tmp_path / "instances").iterdir())
    assert [d.name for d in own_dirs] == ["cli", "serve0", "serve1", "serve2", "worker0", "worker1"]
    on_disk = {
        str(d.relative_to(tmp_path)): key_material(d) for d in [*own_dirs, settings.data_dir]
    }
    assert on_disk == {name: [] for name in on_disk}
