"""200 concurrent requests over real HTTP (uvicorn), SQLite and PostgreSQL: issuances (some racing
for the same resident), then revocations racing suspensions while the register moves other
residents out (revoking through the registry hook). Afterwards: no status index twice,
no lost update (every change is one audit row and one version step), no permit without its
token and audit row, each resident with at most one live permit."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func, select

from issuer.db.models import AuditEntry
from issuer.db.permit_models import Permit, PermitToken, StatusEntry
from tests.support.http import live_server
from tests.support.world import World, make_world

RESIDENTS = 100
DUPLICATES = 20
RACED = 40
MOVERS = 20


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
        for n in range(RESIDENTS)
    ]
    r = world.client.post(
        "/api/v1/imports/residents",
        content="".join(json.dumps(x) + "\n" for x in rows),
        headers={**world.headers, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    cars = [
        {"external_ref": f"KBA-{n}", "plate": f"GE-C {n + 1}", "holder_ref": f"MR-{n}"}
        for n in range(RESIDENTS)
    ]
    r = world.client.post(
        "/api/v1/imports/vehicles",
        content="".join(json.dumps(x) + "\n" for x in cars),
        headers={**world.headers, "Content-Type": "application/x-ndjson"},
    )
    assert r.status_code == 200, r.text
    residents = {
        x["external_ref"]: x["id"]
        for x in world.get("/api/v1/residents", params={"limit": 500}).json()["items"]
    }
    vehicles = {
        x["external_ref"]: x["id"]
        for x in world.get("/api/v1/vehicles", params={"limit": 500}).json()["items"]
    }
    order = [f"{n}" for n in range(RESIDENTS)]
    return [residents[f"MR-{n}"] for n in order], [vehicles[f"KBA-{n}"] for n in order]


def test_concurrent_issuance_and_revocation(
    app: Any, client: Any, clock: Any, api_client: Any
) -> None:
    clock.set(datetime(2026, 3, 1, tzinfo=UTC))
    world = make_world(app, client, clock, api_client)
    residents, vehicles = _seed(world)
    assert len(residents) == RESIDENTS
    jobs: list[tuple[str, dict[str, Any]]] = [
        ("/api/v1/permits", {"resident_id": r, "zones": ["A3"], "vehicle_ids": [v]})
        for r, v in zip(residents, vehicles, strict=True)
    ]
    jobs += jobs[:DUPLICATES]  # the same application twice, racing
    with live_server(app) as base:
        with httpx.Client(base_url=base, headers=world.headers, timeout=60) as http:

            def send(job: tuple[str, dict[str, Any]]) -> httpx.Response:
                return http.post(job[0], json=job[1])

            with ThreadPoolExecutor(max_workers=16) as pool:
                issued = list(pool.map(send, jobs))
            statuses = Counter(r.status_code for r in issued)
            assert statuses == {201: RESIDENTS, 422: DUPLICATES}, statuses
            permits = [r.json() for r in issued if r.status_code == 201]
            racing: list[tuple[str, dict[str, Any]]] = []
            for p in permits[:RACED]:
                racing.append((f"/api/v1/permits/{p['id']}/revoke", {"reason": "misuse"}))
                racing.append((f"/api/v1/permits/{p['id']}/suspend", {"reason": "other"}))
            assert len(jobs) + len(racing) == 200
            # meanwhile the register moves MOVERS other residents out of the zone (their
            # permits are revoked by the registry hook in the same transactions)
            movers = permits[RACED : RACED + MOVERS]
            moves = []
            for p in movers:
                resident = http.get(f"/api/v1/residents/{p['resident_id']}").json()
                residence = resident["residences"][0]["id"]
                moves.append(f"/api/v1/residents/{p['resident_id']}/residences/{residence}")

            def change(i: int) -> httpx.Response:
                if i < len(racing):
                    return send(racing[i])
                return http.patch(moves[i - len(racing)], json={"valid_until": "2026-03-01"})

            with ThreadPoolExecutor(max_workers=16) as pool:
                changed = list(pool.map(change, range(len(racing) + len(moves))))
            assert {r.status_code for r in changed} <= {200, 409}, [r.text for r in changed]
            revoked_ok = sum(1 for r in changed[0 : len(racing) : 2] if r.status_code == 200)
            assert revoked_ok == RACED  # a suspended permit can still be revoked
            assert all(r.status_code == 200 for r in changed[len(racing) :])

    with app.state.session_factory() as session:
        entries = session.execute(select(StatusEntry.list_no, StatusEntry.idx)).all()
        assert len(entries) == len(set(entries))
        tokens = session.execute(select(PermitToken.list_no, PermitToken.idx)).all()
        assert len(tokens) == len(set(tokens)) == RESIDENTS
        all_permits = session.scalars(select(Permit)).all()
        assert len(all_permits) == RESIDENTS
        assert len({p.number for p in all_permits}) == RESIDENTS
        audit_counts = dict(
            session.execute(
                select(AuditEntry.object_id, func.count(AuditEntry.id))
                .where(AuditEntry.object_type == "permit")
                .group_by(AuditEntry.object_id)
            ).all()
        )
        token_counts = Counter(str(t) for t in session.scalars(select(PermitToken.permit_id)).all())
        for permit in all_permits:
            # each change is one version step and one audit row: nothing lost or doubled
            assert audit_counts[str(permit.id)] == permit.version, permit.state
            assert token_counts[str(permit.id)] == 1
        states = Counter(p.state for p in all_permits)
        assert states == {"active": RESIDENTS - RACED - MOVERS, "revoked": RACED + MOVERS}
        reasons = Counter(p.state_reason for p in all_permits if p.state == "revoked")
        assert reasons == {"misuse": RACED, "moved_out": MOVERS}
        revoked_ids = {p.id for p in all_permits if p.state == "revoked"}
        revoked_statuses = session.execute(
            select(StatusEntry.status)
            .join(
                PermitToken,
                (PermitToken.list_no == StatusEntry.list_no) & (PermitToken.idx == StatusEntry.idx),
            )
            .where(PermitToken.permit_id.in_(revoked_ids))
        ).all()
        assert {s for (s,) in revoked_statuses} == {1}
