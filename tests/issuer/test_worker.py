"""The job runner (`buergerid-issuer worker`, issuer/worker/) on SQLite and PostgreSQL.

Time is a FixedClock that the tests move: a job's period is whole multiples of its interval
since the epoch (T0 = 2026-01-15 09:00 UTC is one for every job but `key_rotation`, 6 h, and
`retention`, a day). Several runners stand for several worker processes: each has its own
engine, owner and lock.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from issuer.db.job_models import WorkerJob
from issuer.db.models import AuditEntry, Tenant
from issuer.db.permit_models import Permit, StatusList
from issuer.logs import JsonFormatter
from issuer.services import audit, signing
from issuer.settings import Settings
from issuer.worker import jobs
from issuer.worker.runner import Runner, backoff, period_end
from tests.support.clock import T0
from tests.support.world import World


def _rows(world: World) -> dict[str, WorkerJob]:
    with world.app.state.session_factory() as session:
        return {row.name: row for row in session.scalars(select(WorkerJob))}


def _runner(settings: Settings, world: World, owner: str, *names: str) -> Runner:
    return Runner(settings, clock=world.clock, owner=owner, jobs=jobs.select_jobs(list(names)))


def _audit_actions(world: World, chain_tenant: int | None) -> list[tuple[str, str | None]]:
    with world.app.state.session_factory() as session:
        rows = session.scalars(
            select(AuditEntry)
            .where(AuditEntry.chain == audit.chain_for(chain_tenant))
            .order_by(AuditEntry.seq)
        )
        return [(r.action, r.reason) for r in rows]


def test_each_job_runs_once_per_period_whatever_the_number_of_workers(
    world: World, settings: Settings
) -> None:
    world.issue(display_required=False)
    runners = [_runner(settings, world, f"worker-{i}") for i in range(3)]
    barrier = threading.Barrier(len(runners))
    results: list[list[Any]] = [[] for _ in runners]

    def run(i: int) -> None:
        barrier.wait()
        results[i] = runners[i].run_due()

    def round_of_all() -> Counter[str]:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(runners))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        statuses = [o.status for r in results for o in r]
        assert "failed" not in statuses, results
        return Counter(o.job for r in results for o in r if o.status == "ok")

    try:
        assert round_of_all() == Counter(jobs.JOB_NAMES)  # each exactly once, by any worker
        rows = _rows(world)
        assert {name: row.runs for name, row in rows.items()} == dict.fromkeys(jobs.JOB_NAMES, 1)
        assert all(row.lease_owner is None for row in rows.values())  # every lock let go
        assert rows["plate_indexes"].next_due_at == T0 + timedelta(seconds=60)
        assert rows["key_rotation"].next_due_at == T0.replace(hour=12)
        assert rows["retention"].next_due_at == (T0 + timedelta(days=1)).replace(hour=0)
        assert round_of_all() == Counter()  # the same period: nothing is due
        world.clock.advance(60)
        assert round_of_all() == Counter(["plate_indexes"])
        world.clock.advance(240)  # T0 + 5 min
        assert round_of_all() == Counter(["plate_indexes", "expire_permits", "status_lists"])
        assert _rows(world)["plate_indexes"].runs == 3
    finally:
        for runner in runners:
            runner.close()


def test_a_failing_job_is_retried_with_backoff_and_logged_without_personal_data(
    world: World, settings: Settings, api_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    permit = world.issue(display_required=False)
    plate = permit["plates"][0]
    ring = Path(settings.keys_dir) / world.ags
    hidden = ring.with_name("hidden")
    ring.rename(hidden)  # the tenant's keys are away: no plate index can be signed
    runner = _runner(settings, world, "w", "plate_indexes")
    caplog.set_level(logging.INFO)
    try:
        [outcome] = runner.run_due()
        assert outcome.status == "failed"
        assert outcome.errors == ({"tenant": world.ags, "code": "no_signing_key"},)
        row = _rows(world)["plate_indexes"]
        assert (row.runs, row.failures, row.failures_in_row) == (1, 1, 1)
        assert row.last_error == "no_signing_key"
        assert row.next_due_at == T0 + timedelta(seconds=30)
        world.clock.advance(10)
        assert [o.status for o in runner.run_due()] == ["not_due"]
        world.clock.advance(20)
        assert [o.status for o in runner.run_due()] == ["failed"]
        assert _rows(world)["plate_indexes"].next_due_at == world.clock.now() + timedelta(
            seconds=60
        )
        hidden.rename(ring)
        world.clock.advance(60)
        [outcome] = runner.run_due()
        assert (outcome.status, outcome.counts) == ("ok", {"built": 1})
        row = _rows(world)["plate_indexes"]
        assert (row.runs, row.failures, row.failures_in_row, row.last_error) == (3, 2, 0, None)
        assert row.next_due_at == period_end(world.clock.now(), 60)
    finally:
        runner.close()
    failed = [r for r in caplog.records if r.getMessage() == "job_failed"]
    assert len(failed) == 2
    assert failed[0].errors == f"{world.ags}:no_signing_key"  # type: ignore[attr-defined]
    lines = [JsonFormatter().format(r) for r in caplog.records if r.name.startswith("issuer")]
    for line in lines:
        json.loads(line)
        assert plate not in line and "Mustermann" not in line
    officer = api_client(scopes=("enforcement:read",), ags=world.ags)
    served = world.client.get("/api/v1/enforcement/plate-index", headers=officer.headers)
    assert served.status_code == 200
    assert [backoff(n, 3600) for n in (1, 2, 3, 8, 50)] == [30, 60, 120, 3600, 3600]


def test_the_jobs_do_their_work_once_and_audit_it(world: World, settings: Settings) -> None:
    ending = world.issue(valid_until=(T0 + timedelta(days=10)).isoformat())
    revoked = world.issue(display_required=False)
    r = world.post(f"/api/v1/permits/{revoked['id']}/revoke", {"reason": "misuse"})
    assert r.status_code == 200, r.text
    answered = world.client.post(
        "/api/v1/zones",
        json={
            "code": "C9",
            "name": "Hafen",
            "segments": [{"street": "Kai", "number_from": 1, "number_to": 9}],
        },
        headers={**world.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert answered.status_code == 201, answered.text
    runner = _runner(settings, world, "w")
    try:
        first = {o.job: o for o in runner.run_due()}
        assert first["trust_bundle"].counts == {"built": 1}
        assert first["plate_indexes"].counts == {"built": 1}
        assert first["status_lists"].counts == {"signed": 1}  # the revocation, signed now
        assert first["expire_permits"].counts == {"expired": 0}
        with world.app.state.session_factory() as session:
            row = session.scalars(select(StatusList)).one()
            assert row.built_version == row.version

        world.clock.advance(days=11)  # the first permit ended; stored answers are old
        second = {o.job: o for o in runner.run_due()}
        assert second["expire_permits"].counts == {"expired": 1}
        assert second["idempotency_purge"].counts == {"purged": 1}
        with world.app.state.session_factory() as session:
            assert session.get(Permit, uuid.UUID(ending["id"])).state == "expired"  # type: ignore[union-attr]
        again = {o.job: o.status for o in runner.run_due()}
        assert set(again.values()) == {"not_due"}  # idempotent: same period, nothing runs

        # the keys (made at T0 to sign for a year) near their end: successors are made
        world.clock.set(T0 + timedelta(days=365) - timedelta(days=29))
        rotation = _runner(settings, world, "r", "key_rotation")
        try:
            [outcome] = rotation.run_due()
            assert (outcome.status, outcome.counts) == ("ok", {"rotated": 2})  # tenant + root
            world.clock.advance(hours=6)
            [outcome] = rotation.run_due()
            assert (outcome.status, outcome.counts) == ("ok", {})  # a successor is pending
        finally:
            rotation.close()
    finally:
        runner.close()
    with world.app.state.session_factory() as session:
        tenant = session.get(Tenant, world.tenant_id)
        assert tenant is not None
        at = int(world.clock.now().timestamp())
        states = sorted(
            str(k.state) for k in signing.KeyStore(settings).tenant_ring(tenant).records(at)
        )
        assert states == ["active", "pending"]
        assert audit.verify_chains(session) == []
    operator = _audit_actions(world, None)
    assert ("job.expire_permits", "expired=1") in operator
    assert ("job.idempotency_purge", "purged=1") in operator
    # at T0, and 11 days later (half its freshness period had passed); never in between
    assert [a for a, _ in operator].count("job.trust_bundle") == 2
    assert [a for a, _ in operator].count("keys.rotated") == 1  # the root ring
    assert [a for a, _ in _audit_actions(world, world.tenant_id)].count("keys.rotated") == 1


def test_readiness_reports_the_jobs_and_stays_ready_when_they_are_stale(
    world: World, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    from issuer.services.tenants import provision_root_ring

    provision_root_ring(settings, now=world.clock.now())
    runner = _runner(settings, world, "w")
    try:
        runner.run_due()
    finally:
        runner.close()
    body = world.client.get("/readyz").json()
    assert body["status"] == "ready"
    by_job = {j["job"]: j for j in body["jobs"]}
    assert set(by_job) == set(jobs.JOB_NAMES)
    assert {j["stale"] for j in body["jobs"]} == {False}
    world.clock.advance(3 * 60 + 1)  # three periods of plate_indexes without a success
    caplog.set_level(logging.WARNING)
    for _ in range(2):
        late = world.client.get("/readyz")
        assert late.status_code == 200
    stale = {j["job"] for j in late.json()["jobs"] if j["stale"]}
    assert stale == {"plate_indexes"}
    assert [r.job for r in caplog.records if r.getMessage() == "job_stale"] == ["plate_indexes"]  # type: ignore[attr-defined]


def test_the_worker_command_runs_due_jobs_once(
    world: World, settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from tests.support.processes import settings_env
    from wallet_api.service import main

    for name, value in settings_env(settings).items():
        if name.startswith("BUERGERID_"):
            monkeypatch.setenv(name, value)
    assert main(["worker", "--once", "--job", "plate_indexes"]) == 0
    assert "plate_indexes: ok built=1" in capsys.readouterr().out
    assert main(["worker", "--once", "--job", "plate_indexes"]) == 0
    assert "plate_indexes: not_due" in capsys.readouterr().out
    root = Path(settings.keys_dir) / settings.root_key_ring
    root.rename(root.with_name("away"))
    # a failed job: exit 1 (for cron), retried after its backoff
    assert main(["worker", "--once", "--job", "trust_bundle"]) == 1
    assert "trust_bundle: failed errors: " in capsys.readouterr().out
    root.with_name("away").rename(root)
    assert main(["worker", "--once", "--job", "trust_bundle"]) == 0
    assert "trust_bundle: not_due" in capsys.readouterr().out
    assert main(["worker", "--once", "--job", "no_such_job"]) == 2
