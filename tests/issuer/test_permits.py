"""Issuing permits over the API (SQLite and PostgreSQL): eligibility answers, tokens, audit,
fees, special permit types (the `world` fixture: tests/support/world.py)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from starlette.testclient import TestClient

from issuer.db.models import AuditEntry
from issuer.db.permit_models import Permit, PermitToken, StatusEntry
from issuer.services.clock import FixedClock
from tests.support.world import AGS, World, codes, make_world, verify_qr


def test_issue_a_resident_permit_with_token_index_and_audit(world: World) -> None:
    out = world.issue(months=12)
    assert out["state"] == "active"
    assert out["plates"] == ["GE-AB 100"]
    claims = verify_qr(world, out["qr"])
    assert claims.issuer == AGS
    assert claims.type == "BEW"
    assert claims.zones == ("A3",)
    assert claims.plates == ("GE-AB 100",)
    assert claims.number == out["number"]
    assert claims.exp == int(datetime.fromisoformat(out["valid_until"]).timestamp())
    with world.app.state.session_factory() as session:
        token = session.scalars(select(PermitToken)).one()
        assert (token.list_no, token.idx) == (claims.status_list, claims.status_idx)
        entry = session.scalars(select(StatusEntry)).one()
        assert (entry.list_no, entry.idx, entry.status) == (token.list_no, token.idx, 0)
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_id == out["id"])
        ).all()
        assert actions == ["permit.issued"]


def test_refusal_lists_every_failed_rule(world: World) -> None:
    resident = world.resident(street="Nebenweg", number="2", kind="secondary")
    car = world.vehicle(None, vehicle_class="lkw", length_mm=6100)
    r = world.apply(resident, [car], months=24)
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "application_refused"
    assert r.headers["content-type"].startswith("application/problem+json")
    assert set(codes(r)) == {
        "address_not_in_zone",
        "vehicle_not_held",
        "vehicle_class_not_allowed",
        "validity_too_long",
    }


def test_one_permit_per_resident_and_per_vehicle(world: World) -> None:
    first = world.issue()
    second_car = world.vehicle(first["_resident"])
    r = world.apply(first["_resident"], [second_car])
    assert r.status_code == 422 and codes(r) == ["resident_has_permit"]
    other = world.resident(number="15")
    # the same plate registered again, now in the other resident's proven permanent use
    same_plate = world.vehicle(other, plate="GE-AB 100", kind="company", proof_ref="AG-1")
    r = world.apply(other, [same_plate])
    assert r.status_code == 422 and codes(r) == ["vehicle_has_permit"]


def test_unknown_zone_resident_or_other_tenants_permit_are_404(
    world: World, app: FastAPI, client: TestClient, clock: FixedClock, api_client: Any
) -> None:
    out = world.issue()
    r = world.apply(world.resident(), [], zones=["ZZ"])
    assert r.status_code == 404
    other = make_world(app, client, clock, api_client, ags="05562000")
    assert other.get(f"/api/v1/permits/{out['id']}").status_code == 404
    r = other.post(f"/api/v1/permits/{out['id']}/revoke", {"reason": "misuse"})
    assert r.status_code == 404
    r = other.apply(out["_resident"], [out["_vehicle"]])
    assert r.status_code == 404


def test_register_block_issues_but_never_lists(world: World) -> None:
    blocked = world.resident(register_block=True)
    car = world.vehicle(blocked)
    r = world.apply(blocked, [car])
    assert r.status_code == 201
    listed = world.get("/api/v1/permits").json()["items"]
    assert listed == []
    assert world.get(f"/api/v1/permits/{r.json()['id']}").status_code == 200


def test_fee_area_schedule_then_court_voids_it(world: World) -> None:
    t0 = world.clock.now()
    r = world.post(
        "/api/v1/fee-schedules",
        {
            "kind": "area",
            "params": {"rate_cents": 45, "weeks": 52, "min_cents": 10000},
            "effective_from": (t0 - timedelta(days=30)).isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    schedule_id = r.json()["id"]
    first = world.issue(months=12)
    # 4.50 × 1.80 × 0.45 × 52 = 189.54 €
    assert first["charges"][0]["amount_cents"] == 18954
    assert first["charges"][0]["fee_schedule_id"] == schedule_id
    r = world.post(
        f"/api/v1/fee-schedules/{schedule_id}/void",
        {
            "reason": "OVG 2026",
            "replacement": {
                "kind": "flat",
                "params": {"amount_cents": 3000},
                "effective_from": t0.isoformat(),
            },
        },
    )
    assert r.status_code == 200, r.text
    new_id = r.json()["items"][0]["id"]
    second = world.issue(months=12)
    assert (second["charges"][0]["fee_schedule_id"], second["charges"][0]["amount_cents"]) == (
        new_id,
        3000,
    )
    again = world.get(f"/api/v1/permits/{first['id']}").json()
    assert again["charges"][0] == first["charges"][0]


def test_awaiting_payment_until_the_callback(world: World) -> None:
    r = world.client.put(
        "/api/v1/permit-rules/BEW",
        json={"rules": {"awaiting_payment": True}},
        headers=world.headers,
    )
    assert r.status_code == 200, r.text
    world.post(
        "/api/v1/fee-schedules",
        {
            "kind": "flat",
            "params": {"amount_cents": 26000},
            "effective_from": "2020-01-01T00:00:00Z",
        },
    )
    out = world.issue()
    assert out["state"] == "awaiting_payment" and out["qr"] is None
    pid = out["id"]
    wrong = world.post(f"/api/v1/permits/{pid}/payment", {"amount_cents": 1, "payment_ref": "X"})
    assert wrong.status_code == 422 and wrong.json()["code"] == "payment_mismatch"
    paid = world.post(
        f"/api/v1/permits/{pid}/payment", {"amount_cents": 26000, "payment_ref": "EPAY-1"}
    )
    assert paid.status_code == 200
    assert paid.json()["state"] == "active" and paid.json()["qr"].startswith("BID1:")
    assert paid.json()["charges"][0]["payment_ref"] == "EPAY-1"
    repeat = world.post(
        f"/api/v1/permits/{pid}/payment", {"amount_cents": 26000, "payment_ref": "EPAY-1"}
    )
    assert repeat.status_code == 200 and repeat.json()["version"] == paid.json()["version"]


def test_visitor_permit_with_foreign_plate_and_quota(world: World) -> None:
    world.client.put(
        "/api/v1/permit-rules/BES",
        json={"rules": {**_bes_rules(), "visitor_quota_per_year": 2}},
        headers=world.headers,
    )
    host = world.resident()
    for plate in ("nl:ab-123-c", "GE-X 1"):
        r = world.post(
            "/api/v1/permits",
            {"permit_type": "BES", "resident_id": host, "zones": ["A3"], "plates": [plate]},
        )
        assert r.status_code == 201, r.text
    assert r.json()["plates"] == ["GE-X 1"]
    r = world.post(
        "/api/v1/permits",
        {"permit_type": "BES", "resident_id": host, "zones": ["A3"], "plates": ["GE-Y 2"]},
    )
    assert r.status_code == 422 and codes(r) == ["visitor_quota_exhausted"]


def _bes_rules() -> dict[str, Any]:
    from issuer.services.eligibility import default_rules

    return default_rules("BES").to_dict()


def test_tradesperson_permit_with_windows_and_max_stay(world: World) -> None:
    body = {
        "permit_type": "HAN",
        "holder_label": "Elektro Schmidt GmbH",
        "zones": ["A3", "B1"],
        "plates": ["re-x 7e", "GE-AB 9"],
        "months": 6,
        "max_stay_minutes": 180,
    }
    r = world.post("/api/v1/permits", body)
    assert r.status_code == 422 and codes(r) == ["time_windows_required"]
    r = world.post("/api/v1/permits", {**body, "windows": [[31, 360, 1080]]})
    assert r.status_code == 201, r.text
    claims = verify_qr(world, r.json()["qr"])
    assert claims.plates == ("RE-X 7E", "GE-AB 9")
    assert claims.max_stay == 180
    assert [(w.days, w.start_minute, w.end_minute) for w in claims.windows] == [(31, 360, 1080)]
    bad = world.post("/api/v1/permits", {**body, "windows": [[31, 600, 500]]})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_windows"


def test_fleet_permit_names_the_car_sharing_organisation(world: World) -> None:
    world.client.put(
        "/api/v1/permit-rules/BEW",
        json={"rules": {"allow_fleet": True}},
        headers=world.headers,
    )
    resident = world.resident()
    r = world.apply(resident, [], fleet="Stadtteilauto")
    assert r.status_code == 201, r.text
    claims = verify_qr(world, r.json()["qr"])
    assert claims.fleet == "Stadtteilauto" and claims.plates == ()


def test_provisional_permit_then_finalised(world: World) -> None:
    out = world.issue(provisional=True)
    assert out["is_provisional"] is True
    start = datetime.fromisoformat(out["valid_from"])
    assert datetime.fromisoformat(out["valid_until"]) - start == timedelta(days=28)
    r = world.post(f"/api/v1/permits/{out['id']}/finalise", {"months": 12})
    assert r.status_code == 200, r.text
    assert r.json()["is_provisional"] is False
    assert verify_qr(world, r.json()["qr"]).exp == int(
        datetime.fromisoformat(r.json()["valid_until"]).timestamp()
    )
    again = world.post(f"/api/v1/permits/{out['id']}/finalise", {})
    assert again.status_code == 409 and again.json()["code"] == "illegal_transition"


def test_scopes_are_enforced(world: World, api_client: Any) -> None:
    reader = api_client(scopes=("registry:write",), ags=AGS)
    r = world.client.post("/api/v1/permits", json={"zones": ["A3"]}, headers=reader.headers)
    assert r.status_code == 403
    with world.app.state.session_factory() as session:
        assert session.scalars(select(Permit)).all() == []


def test_migration_0002_matches_the_models(app: FastAPI) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from issuer.db.base import Base
    from issuer.db.permit_models import Permit as PermitModel

    ours = {t.name for t in PermitModel.metadata.sorted_tables if t.name in _PERMIT_TABLES}
    assert ours == _PERMIT_TABLES
    with app.state.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), Base.metadata)

    def table_of(diff: Any) -> str | None:
        item = diff[0] if isinstance(diff, list) else diff
        for part in item[1:]:
            name = getattr(part, "name", None) if not isinstance(part, str) else part
            table = getattr(part, "table", None)
            if table is not None and getattr(table, "name", None) in _PERMIT_TABLES:
                return str(table.name)
            if name in _PERMIT_TABLES:
                return str(name)
        return None

    assert [d for d in diffs if table_of(d) is not None] == []


_PERMIT_TABLES = {
    "permit_rule_sets",
    "fee_schedules",
    "permit_counters",
    "permits",
    "permit_plates",
    "permit_charges",
    "status_lists",
    "status_entries",
    "permit_tokens",
    "publication_state",
    "trust_bundles",
    "plate_indexes",
}
