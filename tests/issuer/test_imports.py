"""Bulk import: NDJSON and CSV, idempotent upsert, per-line errors without personal data, bounds."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, func, select
from starlette.testclient import TestClient

from issuer.app import create_app
from issuer.db.models import AuditEntry, Resident, Tenant, Vehicle
from issuer.db.session import make_engine, make_session_factory, normalize_url
from issuer.errors import InvalidRequest
from issuer.services import imports
from issuer.services.clock import FixedClock
from issuer.text import has_control_character
from tests.support.db import ApiClientFactory, make_test_settings
from tests.support.http import HTTP_TIMEOUT, live_server


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


def test_total_size_is_bounded_and_the_report_says_what_was_committed(
    app: FastAPI, tenant_id: int
) -> None:
    data = _ndjson([_resident(i) for i in range(50)])
    with app.state.session_factory() as s:
        report = imports.import_residents(
            s, tenant_id, io.BytesIO(data), "ndjson", max_bytes=2048, batch_rows=4
        )
    assert report.stopped is not None and report.stopped.code == "import_too_large"
    # rows of committed batches only; nothing from the stop line on
    assert report.inserted == _count(app, Resident) > 0
    assert report.inserted % 4 == 0 and report.stopped.line == report.inserted + 1
    assert report.as_dict()["complete"] is False


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


# ---------------------------------------------------------------- hostile input


def _batch_app(app: FastAPI, tmp_path: Path, clock: FixedClock, **overrides: Any) -> FastAPI:
    """A second app on the same database (credentials shared) with other import settings."""
    settings = app.state.settings
    return create_app(
        make_test_settings(settings.database_url, settings.data_dir, **overrides), clock=clock
    )


def test_hostile_lines_are_per_line_errors_and_the_report_matches_the_database(
    app: FastAPI, tmp_path: Path, clock: FixedClock, writer: dict[str, str]
) -> None:
    lines = [
        json.dumps(_resident(1)),  # 1
        json.dumps(_resident(2, given_name="Er\u0000ika")),  # 2 NUL (escaped)
        "[" * 3000 + "]" * 3000,  # 3 nested 3,000 deep
        json.dumps(_resident(4)),  # 4
        '{"external_ref": "MR-5", "given_name": "A", "given_name": "B", "family_name": "C"}',
        json.dumps(_resident(6, street="Bahnhof\tstraße")),  # 6 TAB
        json.dumps(_resident(7)),  # 7
        json.dumps(_resident(8, family_name="Test\u2028person")),  # 8 line separator
        json.dumps(_resident(9, family_name="Test\u0085person")),  # 9 C1
        '{"external_ref": "MR-10", "given_name": "\\ud800", "family_name": "C"}',  # 10
        json.dumps(_resident(11)),  # 11
        json.dumps(_resident(12, family_name={"nested": ["x"]})),  # 12 not a string
        '{"a":' * 20 + "1" + "}" * 20,  # 13 nested objects
        json.dumps(_resident(14)),  # 14
        json.dumps(_resident(15, external_ref="MR\u0000")),  # 15
        json.dumps(_resident(16)),  # 16
        "\u0000",  # 17 raw NUL: not JSON
        json.dumps(_resident(18)),  # 18
    ]
    data = ("\n".join(lines) + "\n").encode()
    batched = _batch_app(app, tmp_path, clock, import_batch_rows=2)
    with live_server(batched) as base:
        response = httpx.post(
            f"{base}/api/v1/imports/residents",
            params={"format": "ndjson"},
            headers=writer,
            content=data,
            timeout=30,
        )
    batched.state.engine.dispose()
    assert response.status_code == 200, response.text
    report = response.json()
    got = [(e["line"], e["code"], e.get("field")) for e in report["errors"]]
    assert got == [
        (2, "invalid_field", "given_name"),
        (3, "nesting_too_deep", None),
        (5, "duplicate_field", "given_name"),
        (6, "invalid_field", "street"),
        (8, "invalid_field", "family_name"),
        (9, "invalid_field", "family_name"),
        (10, "invalid_field", "given_name"),
        (12, "invalid_field", "family_name"),
        (13, "nesting_too_deep", None),
        (15, "invalid_field", "external_ref"),
        (17, "invalid_json", None),
    ]
    assert report["complete"] is True and report["stopped"] is None
    assert (report["inserted"], report["failed"], report["lines"]) == (7, 11, 18)
    with app.state.session_factory() as s:
        refs = sorted(s.scalars(select(Resident.external_ref)))
    assert refs == [f"MR-{i:06d}" for i in (1, 4, 7, 11, 14, 16, 18)]
    assert report["inserted"] == len(refs)


def _csv_post(base: str, writer: dict[str, str], body: bytes, kind: str = "residents") -> Any:
    return httpx.post(
        f"{base}/api/v1/imports/{kind}",
        params={"format": "csv"},
        headers=writer,
        content=body,
        timeout=HTTP_TIMEOUT,
    )


DATA_LINE = "\nMR-1,Erika,Mustermann,Erika\n"
HEADER_FAULTS: list[tuple[str, list[dict[str, Any]]]] = [
    ("external_ref,given_name,family_name,given_name" + DATA_LINE,
     [{"code": "duplicate_column", "column": 4, "field": "given_name"}]),
    ("external_ref,given_name,family_name,Geheim" + DATA_LINE,
     [{"code": "unknown_column", "column": 4}]),
    ("external_ref,,given_name,family_name" + DATA_LINE, [{"code": "empty_column", "column": 2}]),
    ("external_ref,family_name" + DATA_LINE, [{"code": "missing_column", "field": "given_name"}]),
    (DATA_LINE, [{"code": "empty_header", "line": 1}]),
    ("\ufeff" + DATA_LINE, [{"code": "empty_header", "line": 1}]),
    ("", [{"code": "empty_header", "line": 1}]),
    ("external_ref,\ufeffgiven_name,family_name" + DATA_LINE,
     [{"code": "unknown_column", "column": 2}, {"code": "missing_column", "field": "given_name"}]),
    ('external_ref,"given_name,family_name' + DATA_LINE, [{"code": "invalid_csv", "line": 1}]),
]  # fmt: skip


def test_csv_header_faults_refuse_the_whole_import(
    app: FastAPI, live_base_url: str, writer: dict[str, str]
) -> None:
    for body, expected in HEADER_FAULTS:
        response = _csv_post(live_base_url, writer, body.encode())
        assert response.status_code == 422, response.text
        problem = response.json()
        assert (problem["code"], problem["errors"]) == ("invalid_header", expected), body
        assert "Geheim" not in response.text and "Erika" not in response.text
    assert _count(app, Resident) == 0


def test_a_bom_before_the_header_is_dropped(live_base_url: str, writer: dict[str, str]) -> None:
    body = "\ufeffexternal_ref,given_name,family_name\r\nMR-1,Erika,Mustermann\r\n".encode()
    response = _csv_post(live_base_url, writer, body)
    assert response.status_code == 200, response.text
    assert (response.json()["inserted"], response.json()["failed"]) == (1, 0)
    vehicles = '\ufeff"external_ref","plate"\nV-1,GE-AB 1\n'.encode()
    response = _csv_post(live_base_url, writer, vehicles, "vehicles")
    assert response.status_code == 200, response.text
    assert response.json()["inserted"] == 1


def test_csv_cells_with_control_characters_are_per_line_errors(
    app: FastAPI, live_base_url: str, writer: dict[str, str]
) -> None:
    body = (
        "external_ref,given_name,family_name,street,house_number,postcode,residence_kind,valid_from\n"
        "MR-1,Erika,Mustermann,Markt,1,45879,main,2020-01-01\n"
        "MR-2,Er\tika,Mustermann,Markt,1,45879,main,2020-01-01\n"
        "MR-3,Erika,Muster\x85mann,Markt,1,45879,main,2020-01-01\n"
        'MR-4,Erika,Mustermann,"Markt\u2028",1,45879,main,2020-01-01\n'
        "MR-5,Erika,Mustermann,Mar\x00kt,1,45879,main,2020-01-01\n"
        "MR-6,Erika,Mustermann,Markt,1,45879,main,2020-01-01\n"
    ).encode()
    response = _csv_post(live_base_url, writer, body)
    assert response.status_code == 200, response.text
    report = response.json()
    assert [(e["line"], e["code"], e.get("field")) for e in report["errors"]] == [
        (3, "invalid_field", "given_name"),
        (4, "invalid_field", "family_name"),
        (5, "invalid_field", "street"),
        (6, "invalid_field", "street"),  # a raw NUL in the cell
    ]
    assert report["inserted"] == 2 == _count(app, Resident)


def test_cli_import_refuses_a_duplicated_csv_column(
    app: FastAPI, tenant_id: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from issuer.cli import main

    settings = app.state.settings
    monkeypatch.setenv("BUERGERID_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("BUERGERID_DATA_DIR", str(settings.data_dir))
    path = tmp_path / "residents.csv"
    path.write_text("external_ref,given_name,family_name,family_name\nMR-1,A,B,C\n")
    with app.state.session_factory() as s:
        ags = s.scalars(select(Tenant.ags).where(Tenant.id == tenant_id)).one()
    assert main(["import", "--tenant", ags, str(path)]) == 3
    assert "duplicate_column" in capsys.readouterr().err
    assert _count(app, Resident) == 0


class _Blocker:
    """Another connection holding the lock every import batch needs."""

    def __init__(self, app: FastAPI) -> None:
        self.conn = app.state.engine.connect()
        self.tx: Any = None

    def hold(self) -> None:
        if self.tx is not None:
            return
        self.tx = self.conn.begin()  # SQLite: BEGIN IMMEDIATE, the write lock
        if self.conn.dialect.name == "postgresql":
            self.conn.exec_driver_sql("LOCK TABLE residents IN EXCLUSIVE MODE")

    def release(self) -> None:
        if self.tx is not None:
            self.tx.rollback()
        self.conn.close()


def _impatient_engine(url: str) -> Any:
    """An engine that gives up on a held lock within a fraction of a second."""
    if url.startswith("sqlite"):
        return make_engine(url, busy_timeout_ms=100)
    return create_engine(normalize_url(url), connect_args={"options": "-c lock_timeout=200"})


def test_an_import_that_stops_midway_reports_exactly_what_was_committed(
    app: FastAPI, tenant_id: int, clock: FixedClock
) -> None:
    data = _ndjson([_resident(i) for i in range(1, 11)])
    blocker = _Blocker(app)
    engine = _impatient_engine(app.state.settings.database_url)
    try:
        with make_session_factory(engine)() as s:
            report = imports.import_residents(
                s, tenant_id, io.BytesIO(data), "ndjson", now=clock.now(), batch_rows=3,
                progress=lambda _lines: blocker.hold(),
            )  # fmt: skip
    finally:
        blocker.release()
        engine.dispose()
    assert report.stopped == imports.ImportStop(4, imports.StopCode.UNAVAILABLE)
    assert report.as_dict()["complete"] is False
    assert report.inserted == 3 == _count(app, Resident)
    with app.state.session_factory() as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.tenant_id == tenant_id))
        assert list(actions).count("residents_imported") == 1


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_http_import_that_stops_answers_a_problem_with_its_report(
    app: FastAPI, tmp_path: Path, clock: FixedClock, writer: dict[str, str], db_url: str,
    pg_admin_url: str,
) -> None:  # fmt: skip
    database = db_url.rsplit("/", 1)[-1]
    admin = create_engine(normalize_url(pg_admin_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"ALTER DATABASE {database} SET lock_timeout = '200ms'")
    admin.dispose()
    blocker = _Blocker(app)
    blocker.hold()
    fresh = _batch_app(app, tmp_path, clock)  # new connections: with the lock timeout
    try:
        with live_server(fresh) as base:
            response = httpx.post(
                f"{base}/api/v1/imports/residents",
                params={"format": "ndjson"},
                headers=writer,
                content=_ndjson([_resident(1), _resident(2)]),
                timeout=30,
            )
    finally:
        blocker.release()
        fresh.state.engine.dispose()
    assert response.status_code == 503, response.text
    problem = response.json()
    assert problem["code"] == "unavailable"
    assert problem["report"]["stopped"] == {"line": 1, "code": "unavailable"}
    assert problem["report"]["inserted"] == 0 == _count(app, Resident)


# ---------------------------------------------------------------- the line parser

_char = st.characters(exclude_categories=())
_hostile_text = st.text(alphabet=_char, max_size=30)
_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _hostile_text,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(_hostile_text, c, max_size=3),
    max_leaves=12,
)
_fields = st.sampled_from(sorted(imports.ResidentRow.model_fields))
_line = st.one_of(
    _hostile_text,  # anything, control characters included
    st.binary(max_size=60).map(lambda b: b.decode("latin-1")),  # broken encodings below
    st.integers(0, 5000).map(lambda n: "[" * n + "]" * (n // 2)),  # deep and unbalanced
    st.integers(0, 3000).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.dictionaries(_fields | _hostile_text, _json_value, max_size=6).map(json.dumps),
    st.tuples(_fields, _hostile_text, _hostile_text).map(
        lambda t: json.dumps({t[0]: t[1]})[:-1] + ", " + json.dumps(t[0]) + ": "
        + json.dumps(t[2]) + "}"
    ),  # a duplicated key
    st.builds(lambda i: json.dumps(_resident(i)), st.integers(0, 10**6)),
)  # fmt: skip


def _blank_lines(data: bytes) -> set[int]:
    """Line numbers the parser skips as blank (decoded and stripped as it does)."""
    blank = set()
    for number, line in enumerate(data.split(b"\n")[:-1], start=1):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if not (text.removeprefix("\ufeff") if number == 1 else text).strip():
            blank.add(number)
    return blank


def _lines_bytes(lines: list[str], raw: list[bool]) -> bytes:
    out = []
    for text, is_raw in zip(lines, raw, strict=True):
        encoded = (
            text.encode("latin-1", "replace") if is_raw else text.encode("utf-8", "surrogatepass")
        )
        out.append(encoded.replace(b"\n", b" ").replace(b"\r", b" "))
    return b"\n".join(out) + b"\n"


@given(st.lists(st.tuples(_line, st.booleans()), max_size=12), st.sampled_from(["ndjson", "csv"]))
@hypothesis_settings(max_examples=300, deadline=None)
def test_random_nested_and_hostile_lines_only_ever_give_per_line_errors(
    pairs: list[tuple[str, bool]], fmt: str
) -> None:
    lines = [text for text, _ in pairs]
    raw = [is_raw for _, is_raw in pairs]
    header = "external_ref,given_name,family_name,street,postcode"
    if fmt == "csv":
        lines, raw = [header, *lines], [False, *raw]
    data = _lines_bytes(lines, raw)
    report = imports.ImportReport(kind="residents", import_id="x")
    try:
        rows = list(
            imports.read_rows(
                io.BytesIO(data), imports.ImportFormat(fmt), report, max_line_bytes=8192
            )
        )
    except InvalidRequest as exc:  # only a CSV header refuses as a whole; ours is fine
        raise AssertionError(exc.errors) from exc
    # every line is either a row or exactly one error, never both, never a crash
    first = 2 if fmt == "csv" else 1
    judged = [n for n, _ in rows] + [e.line for e in report.errors]
    assert len(judged) == len(set(judged))
    assert set(judged) == set(range(first, report.lines + 1)) - _blank_lines(data)
    for _, row in rows:
        for value in row.model_dump().values():
            assert not (isinstance(value, str) and has_control_character(value))
