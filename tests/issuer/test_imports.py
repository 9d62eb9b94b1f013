"""Bulk import: NDJSON and CSV, idempotent upsert, per-line errors without personal data, bounds."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from starlette.testclient import TestClient

from issuer.db.models import AuditEntry, Resident, Vehicle
from issuer.errors import PayloadTooLarge
from issuer.services import imports
from issuer.services.clock import FixedClock
from tests.support.db import ApiClientFactory


def _resident(i: int, **extra: Any) -> dict[str, Any]:
    row = {
        "external_ref": f"MR-{i:06d}",
        "given_name": "Erika",
        "family_name": f"Testperson{i}",
        "birth_date": "1980-02-29",
        "residence_kind": "main",
        "street": "Bahnhofstraße",
        "house_number": str(i % 90 + 1),
        "postcode": "45879",
        "valid_from": "2020-04-01",
    }
    row.update(extra)
    return row


def _ndjson(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


@pytest.fixture
def tenant_id(api_client: ApiClientFactory) -> int:
    tid = api_client(scopes=["registry:write"]).tenant_id
    assert tid is not None
    return tid


def _count(app: FastAPI, model: Any) -> int:
    with app.state.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_ndjson_import_is_idempotent(app: FastAPI, tenant_id: int, clock: FixedClock) -> None:
    data = _ndjson([_resident(i) for i in range(30)])
    with app.state.session_factory() as s:
        first = imports.import_residents(
            s, tenant_id, io.BytesIO(data), "ndjson", now=clock.now(), batch_rows=7
        )
    assert (first.inserted, first.updated, first.unchanged, first.failed) == (30, 0, 0, 0)
    with app.state.session_factory() as s:
        again = imports.import_residents(s, tenant_id, io.BytesIO(data), "ndjson", now=clock.now())
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 30)
    changed = _ndjson([_resident(3, family_name="Neu"), _resident(4, valid_until="2026-01-31")])
    with app.state.session_factory() as s:
        third = imports.import_residents(
            s, tenant_id, io.BytesIO(changed), "ndjson", now=clock.now()
        )
    assert (third.inserted, third.updated, third.unchanged) == (0, 2, 0)
    assert _count(app, Resident) == 30
    with app.state.session_factory() as s:
        r3 = s.scalars(select(Resident).where(Resident.external_ref == "MR-000003")).one()
        assert r3.family_name == "Neu"
        assert r3.version == 2
        actions = s.scalars(
            select(AuditEntry.action).where(AuditEntry.tenant_id == tenant_id)
        ).all()
    # one audit entry per batch: 5 batches of 7 rows, then one each for the two re-imports
    assert actions.count("residents_imported") == 5 + 1 + 1


def test_repeated_reference_in_one_file_last_wins(app: FastAPI, tenant_id: int) -> None:
    data = _ndjson([_resident(1), _resident(1, family_name="Zweite")])
    with app.state.session_factory() as s:
        report = imports.import_residents(s, tenant_id, io.BytesIO(data), "ndjson")
    assert (report.inserted, report.updated) == (1, 1)
    with app.state.session_factory() as s:
        assert s.scalars(select(Resident.family_name)).one() == "Zweite"


def test_error_report_names_lines_and_codes_only(app: FastAPI, tenant_id: int) -> None:
    lines = [
        json.dumps(_resident(1)),  # 1 ok
        "{not json Geheimname",  # 2
        json.dumps(["Geheimname"]),  # 3
        json.dumps({k: v for k, v in _resident(4).items() if k != "family_name"}),  # 4
        json.dumps(_resident(5, postcode="Geheimname")),  # 5
        json.dumps(_resident(6, secret_column="Geheimname")),  # 6
        json.dumps(_resident(7, family_name="Geheimname" * 2000)),  # 7 too long
        "",  # 8 blank: skipped
        json.dumps(_resident(9)),  # 9 ok
        json.dumps(_resident(10, valid_until="2019-01-01")),  # 10 ends before it starts
    ]
    data = ("\n".join(lines) + "\n").encode()
    with app.state.session_factory() as s:
        report = imports.import_residents(
            s, tenant_id, io.BytesIO(data), "ndjson", max_line_bytes=4096
        )
    assert report.inserted == 2
    got = [(e.line, e.code.value, e.field) for e in report.errors]
    assert got == [
        (2, "invalid_json", None),
        (3, "not_an_object", None),
        (4, "missing_field", "family_name"),
        (5, "invalid_field", "postcode"),
        (6, "unknown_field", None),
        (7, "line_too_long", None),
        (10, "invalid_field", None),
    ]
    assert "Geheimname" not in json.dumps(report.as_dict())


def test_csv_residents_and_vehicles(app: FastAPI, tenant_id: int) -> None:
    residents_csv = (
        "external_ref,given_name,family_name,birth_date,register_block,residence_kind,street,"
        "house_number,postcode,valid_from,valid_until\n"
        "MR-1,Erika,Mustermann,1980-02-29,false,main,Bahnhofstraße,13,45879,2020-04-01,\n"
        'MR-2,"Hans, Peter",Beispiel,,true,,,,,,\n'
        "MR-3,too,few\n"
    ).encode()
    with app.state.session_factory() as s:
        report = imports.import_residents(s, tenant_id, io.BytesIO(residents_csv), "csv")
    assert (report.inserted, report.failed) == (2, 1)
    assert [(e.line, e.code.value) for e in report.errors] == [(4, "invalid_csv")]
    vehicles_csv = (
        b"external_ref,plate,kind,proof_ref,holder_ref,length_mm,width_mm\n"
        b"V-1,ge ab 1234,own,,MR-1,4300,1800\n"
        b"V-2,GE-XY 77,leasing,Vertrag 9,MR-2,,\n"
        b"V-3,??,own,,MR-1,,\n"
        b"V-4,GE-Z 1,own,,MR-404,,\n"
        b"V-5,GE-Z 2,company,,MR-1,,\n"
    )
    with app.state.session_factory() as s:
        vreport = imports.import_vehicles(s, tenant_id, io.BytesIO(vehicles_csv), "csv")
    assert vreport.inserted == 2
    assert [(e.line, e.code.value, e.field) for e in vreport.errors] == [
        (4, "invalid_plate", "plate"),
        (5, "unknown_holder", "holder_ref"),
        (6, "missing_field", "proof_ref"),
    ]
    with app.state.session_factory() as s:
        assert sorted(s.scalars(select(Vehicle.plate))) == ["GE-AB 1234", "GE-XY 77"]


def test_total_size_is_bounded(app: FastAPI, tenant_id: int) -> None:
    data = _ndjson([_resident(i) for i in range(50)])
    with app.state.session_factory() as s, pytest.raises(PayloadTooLarge):
        imports.import_residents(s, tenant_id, io.BytesIO(data), "ndjson", max_bytes=1024)


def test_ten_thousand_rows(app: FastAPI, tenant_id: int) -> None:
    data = _ndjson([_resident(i) for i in range(10_000)])
    with app.state.session_factory() as s:
        report = imports.import_residents(s, tenant_id, io.BytesIO(data), "ndjson")
    assert (report.inserted, report.failed) == (10_000, 0)
    assert _count(app, Resident) == 10_000


# ---------------------------------------------------------------- over HTTP


@pytest.fixture
def writer(api_client: ApiClientFactory) -> dict[str, str]:
    return api_client(scopes=["registry:write"]).headers


def test_http_import_ndjson_and_register_block_stays_hidden(
    client: TestClient, writer: dict[str, str]
) -> None:
    data = _ndjson([_resident(1), _resident(2, register_block=True)])
    response = client.post(
        "/api/v1/imports/residents",
        headers={**writer, "Content-Type": "application/x-ndjson"},
        content=data,
    )
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 2
    listed = client.get("/api/v1/residents", headers=writer).json()["items"]
    assert [r["external_ref"] for r in listed] == ["MR-000001"]


def test_http_import_csv_by_query_and_chunked_body(
    client: TestClient, writer: dict[str, str]
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"external_ref,given_name,family_name\n"
        yield b"MR-1,Erika,Mustermann\n"

    response = client.post(
        "/api/v1/imports/residents", params={"format": "csv"}, headers=writer, content=chunks()
    )
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 1


def test_http_import_unknown_media_type_is_415(client: TestClient, writer: dict[str, str]) -> None:
    response = client.post(
        "/api/v1/imports/residents", headers={**writer, "Content-Type": "text/plain"}, content=b"x"
    )
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_http_import_needs_registry_scope(client: TestClient, api_client: ApiClientFactory) -> None:
    headers = api_client(scopes=["audit:read"]).headers
    response = client.post(
        "/api/v1/imports/residents", params={"format": "csv"}, headers=headers, content=b"a\n"
    )
    assert response.status_code == 403


def test_http_import_may_exceed_the_request_body_limit(
    client: TestClient, writer: dict[str, str]
) -> None:
    data = _ndjson([_resident(i) for i in range(500)])
    assert len(data) > 64 * 1024
    response = client.post(
        "/api/v1/imports/residents", params={"format": "ndjson"}, headers=writer, content=data
    )
    assert response.status_code == 200
    assert response.json()["inserted"] == 500
