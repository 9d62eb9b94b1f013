"""Retention: ended permits are pseudonymised and departed residents erased after the tenant's
period, never before; the run is audited with counts and ids; the CLI runs it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from issuer.db.models import AuditEntry, IdempotencyRecord, Resident, Vehicle
from issuer.db.permit_models import Permit, PermitToken
from issuer.services import retention
from tests.support.world import World


def test_retention_pseudonymises_and_erases_only_after_the_period(world: World) -> None:
    keep = world.issue()  # stays active
    gone = world.issue()
    world.post(f"/api/v1/permits/{gone['id']}/revoke", {"reason": "returned"})
    resident = world.get(f"/api/v1/residents/{gone['_resident']}").json()
    r = world.client.patch(
        f"/api/v1/residents/{gone['_resident']}/residences/{resident['residences'][0]['id']}",
        json={"valid_until": "2026-01-16"},
        headers=world.headers,
    )
    assert r.status_code == 200, r.text
    factory = world.app.state.session_factory

    # within the period (365 days): nothing happens
    with factory() as session, session.begin():
        later = world.clock.now() + timedelta(days=300)
        reports = retention.run(session, now=later, tenant_id=world.tenant_id)
    assert reports[0].counts() == dict.fromkeys(reports[0].counts(), 0)

    with factory() as session, session.begin():
        much_later = world.clock.now() + timedelta(days=400)
        (report,) = retention.run(session, now=much_later, tenant_id=world.tenant_id)
    # the active permit expired meanwhile (one year), but only just: kept; the revoked one goes
    assert report.counts()["permits_pseudonymised"] == 1
    assert report.counts()["residents_deleted"] == 1
    assert report.counts()["vehicles_deleted"] == 1
    with factory() as session:
        permit = session.get(Permit, report.permits_pseudonymised[0])
        assert permit is not None and str(permit.id) == gone["id"]
        assert permit.resident_id is None and [p.plate for p in permit.plates] == ["-"]
        assert permit.number == gone["number"] and permit.charges  # fee record kept
        texts = session.scalars(
            select(PermitToken.text).where(PermitToken.permit_id == permit.id)
        ).all()
        assert texts == [None]
        assert session.get(Resident, report.residents_deleted[0]) is None
        assert session.get(Vehicle, report.vehicles_deleted[0]) is None
        kept = session.scalars(select(Permit).where(Permit.number == keep["number"])).one()
        assert kept.resident_id is not None and kept.state == "expired"
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "retention.run")
        ).one()
        assert entry.reason is not None and gone["id"] in entry.reason
        assert "Mustermann" not in entry.reason and "GE-AB" not in entry.reason


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_cli_retention_run(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from issuer.cli import main

    settings = world.app.state.settings
    monkeypatch.setenv("BUERGERID_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BUERGERID_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("BUERGERID_KEY_PASSPHRASE", settings.key_passphrase.get_secret_value())
    now = datetime.now(UTC)
    factory = world.app.state.session_factory
    with factory() as session, session.begin():
        for key, age in (("old", timedelta(hours=25)), ("fresh", timedelta(hours=1))):
            session.add(
                IdempotencyRecord(
                    client_id=uuid.uuid4(), key_hash=key.ljust(64, "0"),
                    request_hash="0" * 64, created_at=now - age,
                )
            )  # fmt: skip
    assert main(["retention", "run", "--tenant", world.ags]) == 0
    with factory() as session:
        left = session.scalars(select(IdempotencyRecord.key_hash)).all()
    # stored answers serve retries only: the retention run purges those older than 24 h
    assert left == ["fresh".ljust(64, "0")]
