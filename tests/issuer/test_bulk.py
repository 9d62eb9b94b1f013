"""Batch writes in one statement (issuer/db/bulk.py): what goes in comes back, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from sqlalchemy import Table, event, select
from sqlalchemy.exc import StatementError
from sqlalchemy.orm import Session

from issuer.db import bulk
from issuer.db.permit_models import Permit, PermitToken
from tests.support.world import World

PERMITS = cast(Table, Permit.__table__)
TOKENS = cast(Table, PermitToken.__table__)
CET = timezone(timedelta(hours=1))
T0 = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


def _permits(world: World, session: Session, count: int) -> list[uuid.UUID]:
    """`count` permits of the world's tenant, written by `insert_rows` too (a JSON column)."""
    ids = [uuid.uuid4() for _ in range(count)]
    rows = [
        {"id": pid, "tenant_id": world.tenant_id, "number": 1000 + n, "permit_type": "BEW",
         "state": "active", "zone_codes": ["A3", "B1"], "valid_from": T0,
         "valid_until": T0 + timedelta(days=365), "is_provisional": False, "auto_renew": False,
         "display_required": True, "legal_basis": "x", "version": 1, "created_at": T0,
         "updated_at": T0}
        for n, pid in enumerate(ids)
    ]  # fmt: skip
    bulk.insert_rows(session.connection(), PERMITS, rows)
    return ids


def _token(tenant_id: int, permit_id: uuid.UUID, n: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "tenant_id": tenant_id,
        "permit_id": permit_id,
        "permit_version": n + 1,
        "list_no": 1,
        "idx": n,
        "kind": "qr",
        "iat": 1_796_000_000 + n,
        "exp": 1_827_000_000 + n,
        "text": f"BID1:{n}",
        "created_at": T0 + timedelta(minutes=n),
    }
    row.update(values)
    return row


def _statements(session: Session) -> list[tuple[str, bool]]:
    seen: list[tuple[str, bool]] = []

    def record(*args: Any) -> None:
        seen.append((str(args[2]), bool(args[5])))

    event.listen(session.get_bind(), "before_cursor_execute", record)
    return seen


def test_insert_rows_round_trip(world: World) -> None:
    with world.app.state.session_factory() as session:
        seen = _statements(session)
        with session.begin():
            ids = _permits(world, session, 300)
            rows = [_token(world.tenant_id, pid, n) for n, pid in enumerate(ids)]
            # what JSON must escape, text beyond ASCII, NULL, and a time given in another zone
            rows[0]["text"] = 'quote " backslash \\ newline \n tab \t ß Ünïcödé ✓ 🚗 \u2028'
            rows[1]["text"] = None
            rows[2]["created_at"] = datetime(2026, 12, 6, 7, 0, tzinfo=CET)
            bulk.insert_rows(session.connection(), TOKENS, rows)
        writes = [(s, many) for s, many in seen if s.startswith("INSERT")]
        if session.get_bind().dialect.name == "postgresql":
            # one statement per table, whatever the number of rows
            assert len(writes) == 2 and not any(many for _, many in writes), writes
        stored = {t.idx: t for t in session.scalars(select(PermitToken))}
        assert sorted(stored) == list(range(300))
        for row in rows:
            got = stored[row["idx"]]
            for name, value in row.items():
                assert getattr(got, name) == value, name
        assert stored[2].created_at == datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
        permits = session.scalars(select(Permit).where(Permit.id.in_(ids))).all()
        assert len(permits) == 300 and {tuple(p.zone_codes) for p in permits} == {("A3", "B1")}


def test_insert_rows_refuses_a_naive_time(world: World) -> None:
    with world.app.state.session_factory() as session, session.begin():
        (pid,) = _permits(world, session, 1)
        naive = _token(world.tenant_id, pid, 0, created_at=datetime(2026, 1, 1))
        with pytest.raises((ValueError, StatementError), match="naive"):
            bulk.insert_rows(session.connection(), TOKENS, [naive])


def test_insert_rows_without_rows_writes_nothing(world: World) -> None:
    with world.app.state.session_factory() as session:
        seen = _statements(session)
        with session.begin():
            bulk.insert_rows(session.connection(), TOKENS, [])
        assert [s for s, _ in seen if "permit_tokens" in s] == []


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_rows_source_updates_the_matching_rows_only(world: World) -> None:
    # the PostgreSQL path of a batch UPDATE (SQLite updates with executemany)
    with world.app.state.session_factory() as session:
        with session.begin():
            ids = _permits(world, session, 5)
            rows = [_token(world.tenant_id, pid, n) for n, pid in enumerate(ids)]
            bulk.insert_rows(session.connection(), TOKENS, rows)
            # permit_version is the guard: rows 0-2 match, 3-4 carry a stale version
            wanted = [
                {"permit_id": r["permit_id"], "permit_version": r["permit_version"] + (i > 2),
                 "text": f"new {i}"}
                for i, r in enumerate(rows)
            ]  # fmt: skip
            columns = ("permit_id", "permit_version", "text")
            source, params = bulk.rows_source(TOKENS, columns, wanted)
            stmt = (
                TOKENS.update()
                .where(
                    TOKENS.c.permit_id == source.c.permit_id,
                    TOKENS.c.permit_version == source.c.permit_version,
                )
                .values(text=source.c.text)
            )
            assert session.connection().execute(stmt, params).rowcount == 3
        texts = session.scalars(select(PermitToken.text).order_by(PermitToken.idx)).all()
        assert texts == ["new 0", "new 1", "new 2", "BID1:3", "BID1:4"]
