"""Every lifecycle transition, the illegal ones (409 with a code), status indices of every token,
registry events, renewal, replacement, the Münster extension and the jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from issuer.db.models import AuditEntry, Tenant
from issuer.db.permit_models import PermitToken, StatusEntry
from issuer.services.status_lists import revoke_tokens
from tests.support.world import World, live_world, verify_qr


def statuses(world: World, permit_id: str) -> list[int]:
    with world.app.state.session_factory() as session:
        tokens = session.scalars(
            select(PermitToken).where(PermitToken.permit_id == _uuid(permit_id))
        ).all()
        out = []
        for t in tokens:
            entry = session.scalars(
                select(StatusEntry).where(
                    StatusEntry.tenant_id == t.tenant_id,
                    StatusEntry.list_no == t.list_no,
                    StatusEntry.idx == t.idx,
                )
            ).one()
            out.append(entry.status)
        return out


def audit_actions(world: World, permit_id: str) -> list[str]:
    with world.app.state.session_factory() as session:
        return list(
            session.scalars(
                select(AuditEntry.action)
                .where(AuditEntry.object_id == permit_id)
                .order_by(AuditEntry.seq)
            )
        )


def _uuid(text: str) -> Any:
    import uuid

    return uuid.UUID(text)


def act(world: World, permit_id: str, action: str, **body: Any) -> Any:
    return world.post(f"/api/v1/permits/{permit_id}/{action}", body)


def test_suspend_resume_revoke_set_every_token_index(world: World) -> None:
    out = world.issue()
    pid = out["id"]
    # a second token for the same version (a refresh) gets its own index
    png = world.get(f"/api/v1/permits/{pid}/qr.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    with world.app.state.session_factory() as session:
        from issuer.db.permit_models import Permit
        from issuer.services import permits

        permit = session.get(Permit, _uuid(pid))
        permits.issue_qr_token(session, world.app.state.keys, permit=permit, now=world.clock.now())
        session.commit()
        # a third token, revoked on its own (the wallet's lost phone)
        token = permits.issue_qr_token(
            session, world.app.state.keys, permit=permit, now=world.clock.now()
        )
        assert token.startswith("BID1:")
        last = session.scalars(select(PermitToken).order_by(PermitToken.id.desc())).first()
        assert last is not None
        revoke_tokens(session, tenant_id=world.tenant_id, tokens=[(last.list_no, last.idx)])
        session.commit()
    assert statuses(world, pid) == [0, 0, 1]

    r = act(world, pid, "suspend", reason="investigation")
    assert r.status_code == 200 and r.json()["state"] == "suspended"
    assert statuses(world, pid) == [2, 2, 1]
    r = act(world, pid, "resume")
    assert r.json()["state"] == "active" and statuses(world, pid) == [0, 0, 1]
    r = act(world, pid, "revoke", reason="misuse")
    assert r.json()["state"] == "revoked" and r.json()["state_reason"] == "misuse"
    assert statuses(world, pid) == [1, 1, 1]
    assert audit_actions(world, pid) == [
        "permit.issued",
        "permit.suspended",
        "permit.resumed",
        "permit.revoked",
    ]
    versions = [r.json()["version"]]
    assert versions[0] == out["version"] + 3


ILLEGAL = [
    ([], "resume", {}),
    (["suspend"], "suspend", {"reason": "other"}),
    (["suspend"], "renew", {}),
    (["suspend"], "replace", {"reason": "lost"}),
    (["revoke"], "revoke", {"reason": "other"}),
    (["revoke"], "resume", {}),
    (["revoke"], "suspend", {"reason": "other"}),
    (["revoke"], "replace", {"reason": "lost"}),
    (["revoke"], "renew", {}),
    ([], "finalise", {}),
]


def test_illegal_transitions_are_409_with_a_code(world: World) -> None:
    for setup, action, body in ILLEGAL:
        pid = world.issue()["id"]
        for step in setup:
            assert act(world, pid, step, reason="other").status_code == 200
        before = world.get(f"/api/v1/permits/{pid}").json()
        r = act(world, pid, action, **body)
        assert (r.status_code, r.json()["code"]) == (409, "illegal_transition"), (setup, action)
        assert world.get(f"/api/v1/permits/{pid}").json() == before
    r = act(world, "00000000-0000-0000-0000-000000000000", "revoke", reason="other")
    assert (r.status_code, r.json()["code"]) == (404, "permit_not_found")


def test_expected_version_detects_a_lost_update(world: World) -> None:
    out = world.issue()
    r = act(world, out["id"], "suspend", reason="other", expected_version=out["version"] + 5)
    assert r.status_code == 409 and r.json()["code"] == "stale_version"
    r = act(world, out["id"], "suspend", reason="other", expected_version=out["version"])
    assert r.status_code == 200


def test_renewal_window_and_new_token(world: World) -> None:
    out = world.issue(months=12)
    pid = out["id"]
    r = act(world, pid, "renew", months=12)
    assert r.status_code == 422 and [e["code"] for e in r.json()["errors"]] == ["renewal_too_early"]
    until = datetime.fromisoformat(out["valid_until"])
    world.clock.set(until - timedelta(days=42))
    r = act(world, pid, "renew", months=12)
    assert r.status_code == 200, r.text
    new_until = datetime.fromisoformat(r.json()["valid_until"])
    assert new_until.year == until.year + 1
    assert verify_qr(world, r.json()["qr"]).exp == int(new_until.timestamp())
    assert statuses(world, pid) == [0, 0]
    world.clock.set(new_until)
    r = act(world, pid, "renew", months=12)
    assert r.status_code == 422
    assert [e["code"] for e in r.json()["errors"]] == ["renewal_after_expiry"]


def test_plate_correction_fast_path_revokes_the_old_token_at_once(world: World) -> None:
    out = world.issue()
    r = act(world, out["id"], "replace", reason="plate_correction", plates=["GE-AB 1001"])
    assert r.status_code == 200, r.text
    new = r.json()
    assert new["plates"] == ["GE-AB 1001"] and new["predecessor_id"] == out["id"]
    assert new["valid_until"] == out["valid_until"]
    old = world.get(f"/api/v1/permits/{out['id']}").json()
    assert old["state"] == "replaced" and old["successor_id"] == new["id"]
    assert statuses(world, out["id"]) == [1]
    assert statuses(world, new["id"]) == [0]
    assert verify_qr(world, new["qr"]).plates == ("GE-AB 1001",)


def test_replace_with_a_new_vehicle_and_a_move_to_another_zone(world: World) -> None:
    out = world.issue()
    car = world.vehicle(out["_resident"], plate="GE-NE 1")
    r = act(world, out["id"], "replace", reason="new_vehicle", vehicle_ids=[car])
    assert r.status_code == 200, r.text
    new = r.json()
    # moving: the resident now lives in zone B1; replacing into B1 checks the new address
    r = world.client.post(
        f"/api/v1/residents/{out['_resident']}/residences",
        json={
            "kind": "main",
            "street": "Ringstraße",
            "house_number": "5",
            "postcode": "45879",
            "valid_from": "2026-01-01",
        },
        headers=world.headers,
    )
    assert r.status_code in (200, 201), r.text
    r = act(world, new["id"], "replace", reason="moved", zones=["B1"])
    assert r.status_code == 200, r.text
    assert r.json()["zones"] == ["B1"]


def test_moving_out_of_the_zone_revokes_automatically(world: World) -> None:
    out = world.issue()
    resident = world.get(f"/api/v1/residents/{out['_resident']}").json()
    residence = resident["residences"][0]["id"]
    r = world.client.patch(
        f"/api/v1/residents/{out['_resident']}/residences/{residence}",
        json={"valid_until": "2026-01-15"},
        headers=world.headers,
    )
    assert r.status_code == 200, r.text
    permit = world.get(f"/api/v1/permits/{out['id']}").json()
    assert (permit["state"], permit["state_reason"]) == ("revoked", "moved_out")
    assert statuses(world, out["id"]) == [1]
    assert audit_actions(world, out["id"])[-1] == "permit.revoked"


def test_vehicle_leaving_the_resident_revokes(world: World) -> None:
    out = world.issue()
    other = world.resident(number="21")
    r = world.client.patch(
        f"/api/v1/vehicles/{out['_vehicle']}", json={"holder_id": other}, headers=world.headers
    )
    assert r.status_code == 200, r.text
    permit = world.get(f"/api/v1/permits/{out['id']}").json()
    assert (permit["state"], permit["state_reason"]) == ("revoked", "vehicle_left")


def test_muenster_extension_keeps_expired_permits_valid(world: World) -> None:
    out = world.issue(months=1)
    until = datetime.fromisoformat(out["valid_until"])
    world.clock.set(until + timedelta(days=3))
    assert world.post("/api/v1/permits:run-jobs").json()["counts"]["expired"] == 1
    r = world.post(
        "/api/v1/permits:extend-validity",
        {
            "ending_from": (until - timedelta(days=1)).isoformat(),
            "ending_before": (until + timedelta(days=1)).isoformat(),
            "new_until": (until + timedelta(days=90)).isoformat(),
            "reason": "Gebührensatzung aufgehoben",
        },
    )
    assert r.status_code == 200 and r.json()["count"] == 1
    permit = world.get(f"/api/v1/permits/{out['id']}").json()
    assert permit["state"] == "active"
    assert datetime.fromisoformat(permit["valid_until"]) == until + timedelta(days=90)
    png = world.get(f"/api/v1/permits/{out['id']}/qr.svg")
    assert png.status_code == 200 and b"<svg" in png.content


def test_extension_is_bounded_by_max_validity_and_the_signing_key(
    app: Any, clock: Any, api_client: Any
) -> None:
    with live_world(app, clock, api_client) as world:
        out = world.issue(months=1)
        until = datetime.fromisoformat(out["valid_until"])
        now = world.clock.now()
        with world.app.state.session_factory() as session:
            tenant = session.get(Tenant, world.tenant_id)
            key_exp = world.app.state.keys.key_end(tenant, "BEW", now)

        def extend(new_until: datetime) -> Any:
            return world.post(
                "/api/v1/permits:extend-validity",
                {
                    "ending_from": (until - timedelta(days=1)).isoformat(),
                    "ending_before": (until + timedelta(days=1)).isoformat(),
                    "new_until": new_until.isoformat(),
                    "reason": "Umstellung",
                },
            )

        year_2099 = datetime(2099, 12, 31, tzinfo=UTC)
        for new_until in (year_2099, now + timedelta(days=367)):
            response = extend(new_until)
            assert response.status_code == 422, response.text
            assert response.json()["code"] == "extension_too_long"
        # a tenant allowing long permits is still bound by the key that signs their tokens
        rules = {"rules": {"max_validity_days": 3000}}
        r = world.client.put("/api/v1/permit-rules/BEW", json=rules, headers=world.headers)
        assert r.status_code == 200, r.text
        beyond_key = datetime.fromtimestamp(key_exp + 86400, UTC)
        response = extend(beyond_key)
        assert response.status_code == 422 and response.json()["code"] == "validity_beyond_key"
        holder = world.resident(number="15")
        response = world.apply(holder, [world.vehicle(holder)], months=60)
        assert response.status_code == 422 and response.json()["code"] == "validity_beyond_key"
        unchanged = world.get(f"/api/v1/permits/{out['id']}").json()
        assert datetime.fromisoformat(unchanged["valid_until"]) == until
        assert "permit.validity_extended" not in audit_actions(world, out["id"])
        # within both bounds: extended, and the new token ends with the permit, before the key
        within = datetime.fromtimestamp(key_exp, UTC)
        response = extend(within)
        assert response.status_code == 200 and response.json()["count"] == 1, response.text
        assert world.get(f"/api/v1/permits/{out['id']}/qr.svg").status_code == 200
        with world.app.state.session_factory() as session:
            text = session.scalars(
                select(PermitToken.text)
                .where(PermitToken.permit_id == _uuid(out["id"]), PermitToken.kind == "qr")
                .order_by(PermitToken.id.desc())
            ).first()
        assert text is not None
        assert verify_qr(world, text).exp == key_exp == int(within.timestamp())


def test_automatic_renewal_job_renews_in_batches(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # more permits due than one batch holds: the job refreshes the planner's statistics first
    # (PostgreSQL) and renews every batch, each permit once
    from issuer.services.permits import jobs

    monkeypatch.setattr(jobs, "BATCH", 2)
    issued = [world.issue(months=12, auto_renew=True) for _ in range(5)]
    until = min(datetime.fromisoformat(out["valid_until"]) for out in issued)
    world.clock.set(until - timedelta(days=10))
    counts = world.post("/api/v1/permits:run-jobs").json()["counts"]
    assert counts == {"expired": 0, "renewed": 5, "refused": 0}
    for out in issued:
        permit = world.get(f"/api/v1/permits/{out['id']}").json()
        assert datetime.fromisoformat(permit["valid_until"]) > until
        assert audit_actions(world, out["id"]).count("permit.renewed") == 1


def test_automatic_renewal_job(world: World) -> None:
    out = world.issue(months=12, auto_renew=True)
    until = datetime.fromisoformat(out["valid_until"])
    world.clock.set(until - timedelta(days=20))
    assert world.post("/api/v1/permits:run-jobs").json()["counts"]["renewed"] == 0
    world.clock.set(until - timedelta(days=10))
    counts = world.post("/api/v1/permits:run-jobs").json()["counts"]
    assert counts == {"expired": 0, "renewed": 1, "refused": 0}
    permit = world.get(f"/api/v1/permits/{out['id']}").json()
    assert datetime.fromisoformat(permit["valid_until"]) > until
    assert "permit.renewed" in audit_actions(world, out["id"])


def test_automatic_renewal_writes_each_table_once_per_batch(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 5 permits due in batches of 2: three batches, and each batch writes its new ends, its
    # charges and its tokens with one statement per table on PostgreSQL (rows per statement
    # on SQLite, in the process); the objects the server held at its start stay frozen
    import gc

    from sqlalchemy import event

    from issuer.services.permits import jobs

    monkeypatch.setattr(jobs, "BATCH", 2)
    issued = [world.issue(months=12, auto_renew=True) for _ in range(5)]
    world.clock.set(min(datetime.fromisoformat(o["valid_until"]) for o in issued) - timedelta(10))
    frozen_during: list[int] = []
    renew_many = jobs.renew_many

    def watched(*args: Any, **kwargs: Any) -> Any:
        frozen_during.append(gc.get_freeze_count())
        return renew_many(*args, **kwargs)

    monkeypatch.setattr(jobs, "renew_many", watched)
    seen: list[tuple[str, bool]] = []

    def record(*args: Any) -> None:
        seen.append((" ".join(str(args[2]).split()[:3]), bool(args[5])))

    engine = world.app.state.engine
    frozen_before = gc.get_freeze_count()
    event.listen(engine, "before_cursor_execute", record)
    try:
        counts = world.post("/api/v1/permits:run-jobs").json()["counts"]
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert counts == {"expired": 0, "renewed": 5, "refused": 0}
    # the server froze what it holds at its start (issuer.collector); the job keeps that
    # freeze and adds none of its own, which would keep the garbage alive at its start
    assert len(frozen_during) == 3 and all(0 < n <= frozen_before for n in frozen_during)
    assert 0 < gc.get_freeze_count() <= frozen_before
    for head in ("UPDATE permits SET", "INSERT INTO permit_charges", "INSERT INTO permit_tokens"):
        writes = [many for statement, many in seen if statement == head]
        if engine.dialect.name == "postgresql":
            assert writes == [False, False, False], head
        else:
            assert len(writes) == 3, head


def test_jobs_give_the_collector_back_as_they_found_it() -> None:
    import gc

    from issuer.services.permits.jobs import FULL_COLLECTION_EVERY, _collector_for_batches

    assert gc.get_freeze_count() == 0
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), _collector_for_batches():  # a batch fails
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[2] == max(before[2], FULL_COLLECTION_EVERY)
        raise RuntimeError("batch failed")
    assert (gc.get_freeze_count(), gc.get_threshold()) == (0, before)
    with _collector_for_batches():  # jobs at once: the first to end leaves the setting
        with _collector_for_batches():
            pass
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[2] == max(before[2], FULL_COLLECTION_EVERY)
    assert (gc.get_freeze_count(), gc.get_threshold()) == (0, before)
    gc.freeze()  # the process froze objects itself (e.g. before forking workers)
    try:
        with _collector_for_batches():
            pass
        assert gc.get_freeze_count() > 0 and gc.get_threshold() == before  # still frozen
    finally:
        gc.unfreeze()
