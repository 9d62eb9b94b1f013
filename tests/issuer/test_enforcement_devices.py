"""Enforcement clients and handhelds: the tables match migration 0007, the operator API and
CLI, and the enrolment's refusals (the whole flow over real HTTP is in tests/e2e)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table

from issuer.db.session import make_engine

TABLES = {
    "enforcement_clients",
    "enforcement_coverage",
    "enforcement_devices",
    "enforcement_assertions",
    "enforcement_tokens",
}


def test_models_match_migration_0007(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import issuer.db.enforcement_models  # noqa: F401 - registers the tables
    from issuer.db.base import Base

    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()

    def table_of(change: Any) -> str | None:
        item = change[0] if isinstance(change, list) else change
        for part in item[1:]:
            if isinstance(part, Table):
                return str(part.name)
            if isinstance(part, str):
                return part
            table = getattr(part, "table", None)
            if isinstance(table, Table):
                return str(table.name)
        return None

    assert [d for d in diff if table_of(d) in TABLES] == []


def test_operator_only_and_clear_refusals(client: Any, api_client: Any) -> None:
    tenant_admin = api_client(scopes=("admin", "enforcement:read"), ags="05513000")
    operator = api_client(scopes=("admin",), ags=None)
    body = {"name": "Ordnungsdienst", "municipalities": ["05513000"]}
    r = client.post("/api/v1/enforcement/clients", json=body, headers=tenant_admin.headers)
    assert r.status_code == 403 and r.json()["code"] == "operator_required"
    r = client.post(
        "/api/v1/enforcement/clients",
        json={**body, "municipalities": ["09999999"]},
        headers=operator.headers,
    )
    assert r.status_code == 422
    r = client.post("/api/v1/enforcement/clients", json=body, headers=operator.headers)
    assert r.status_code == 201, r.text
    client_id = r.json()["id"]
    r = client.post(
        f"/api/v1/enforcement/clients/{client_id}/enrolment-codes",
        json={"label": "Handheld 1"},
        headers=operator.headers,
    )
    assert r.status_code == 201 and r.json()["code"].startswith("BIDE-")
    devices = client.get(
        f"/api/v1/enforcement/clients/{client_id}/devices", headers=operator.headers
    ).json()["items"]
    assert [d["label"] for d in devices] == ["Handheld 1"] and devices[0]["enrolled_at"] is None
    assert "code" not in devices[0]
    # enrolment requests that are not signed by the key they carry are refused, one answer
    for request in ("", "x.y.z", "a" * 4096):
        r = client.post("/api/v1/enforcement/enrol", json={"enrolment_request": request})
        assert r.status_code == 422
    r = client.post("/api/v1/enforcement/token", content=b"grant_type=client_credentials",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 401 and r.json()["code"] == "invalid_client"
    repeated = b"client_id=a&client_id=b"
    r = client.post("/api/v1/enforcement/token", content=repeated,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 401
    # an API client reads its own municipality's index by AGS, not another's
    own = client.get("/api/v1/enforcement/plate-index/05513000", headers=tenant_admin.headers)
    # allowed, but the job runner has built no index yet
    assert own.status_code == 503 and own.json()["code"] == "plate_index_not_built"
    other = client.get("/api/v1/enforcement/plate-index/05562032", headers=tenant_admin.headers)
    assert other.status_code == 404


def test_issuer_cli_manages_handhelds(settings: Any, api_client: Any, capsys: Any,
                                      monkeypatch: Any) -> None:  # fmt: skip
    from issuer import cli

    api_client(scopes=("admin",), ags="05513000")  # the tenant
    for name, value in settings.model_dump().items():
        if value in (None, ()) or name in ("key_passphrase", "server_secret"):
            continue
        text = ",".join(value) if isinstance(value, tuple) else str(value)  # lists: comma-joined
        monkeypatch.setenv(f"BUERGERID_{name.upper()}", text)
    monkeypatch.setenv("BUERGERID_KEY_PASSPHRASE", "x")
    assert cli.main(["enforcement", "client-create", "--name", "OD", "--municipalities",
                     "05513000"]) == 0  # fmt: skip
    client_id = capsys.readouterr().out.split()[-1]
    assert cli.main(["enforcement", "code", client_id, "--label", "HH 1"]) == 0
    printed = capsys.readouterr().out
    device_id = printed.split()[1]
    assert "BIDE-" in printed
    assert cli.main(["enforcement", "devices", client_id]) == 0
    assert "waiting" in capsys.readouterr().out
    assert cli.main(["enforcement", "withdraw", device_id]) == 0
    assert cli.main(["enforcement", "devices", client_id]) == 0
    assert "withdrawn" in capsys.readouterr().out
