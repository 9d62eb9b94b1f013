"""Alembic: down to base and up to head again, on both databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, inspect

from issuer.db.session import make_engine
from issuer.migrations import downgrade, upgrade

PLATFORM_TABLES = {
    "tenants",
    "api_clients",
    "api_credentials",
    "residents",
    "residences",
    "vehicles",
    "zones",
    "zone_segments",
    "audit_heads",
    "audit_entries",
    "idempotency_records",
    "rate_counters",
}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_to_head(db_url: str) -> None:
    assert PLATFORM_TABLES <= _tables(db_url)
    downgrade(db_url, "base")
    assert _tables(db_url) <= {"alembic_version"}
    upgrade(db_url, "head")
    assert PLATFORM_TABLES <= _tables(db_url)


def test_models_match_the_migrations(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import issuer.db.models  # noqa: F401 - registers the platform tables
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
            if isinstance(part, Table):  # add_table / remove_table
                return str(part.name)
            if isinstance(part, str):  # add_column / modify_*: (op, schema, table, ...)
                return part
            table = getattr(part, "table", None)  # index, constraint
            if isinstance(table, Table):
                return str(table.name)
        return None

    ours = [d for d in diff if table_of(d) in PLATFORM_TABLES]
    assert ours == []


def _row(table: Table, **given: Any) -> dict[str, Any]:
    """`given`, plus a plain value for every other required column (by its type)."""
    import uuid
    from datetime import UTC, date, datetime

    from sqlalchemy import JSON, Boolean, Date, DateTime, Integer, Uuid

    row = dict(given)
    for col in table.columns:
        if col.name in row or col.nullable or col.server_default is not None:
            continue
        kind = col.type
        if isinstance(kind, Uuid):
            row[col.name] = uuid.uuid4()
        elif isinstance(kind, DateTime):
            row[col.name] = datetime(2026, 1, 1, tzinfo=UTC)
        elif isinstance(kind, Date):
            row[col.name] = date(2026, 1, 1)
        elif isinstance(kind, Boolean):
            row[col.name] = False
        elif isinstance(kind, Integer):
            row[col.name] = 1
        elif isinstance(kind, JSON):
            row[col.name] = []
        else:
            row[col.name] = uuid.uuid4().hex[: getattr(kind, "length", None) or 32]
    return row


def test_0006_keeps_wallet_rows_and_erasing_a_resident_takes_them_along(db_url: str) -> None:
    import uuid

    from sqlalchemy import MetaData, func, select

    downgrade(db_url, "0003")
    engine = make_engine(db_url)
    wallet = ("wallet_offers", "wallet_grants", "wallet_devices", "wallet_credentials")
    try:
        meta = MetaData()
        meta.reflect(engine)
        t = meta.tables
        # as SQLAlchemy's Uuid stores it: CHAR(32) hex on SQLite, uuid on PostgreSQL
        resident: Any = uuid.uuid4().hex if engine.dialect.name == "sqlite" else uuid.uuid4()
        with engine.begin() as conn:
            conn.execute(t["tenants"].insert(), _row(t["tenants"], id=1))
            conn.execute(t["residents"].insert(), _row(t["residents"], id=resident, tenant_id=1))
            ids = {"resident_id": resident, "tenant_id": 1}
            conn.execute(t["wallet_offers"].insert(), _row(t["wallet_offers"], id="o1", **ids))
            conn.execute(
                t["wallet_grants"].insert(), _row(t["wallet_grants"], id="g1", offer_id="o1")
            )
            conn.execute(t["wallet_devices"].insert(), _row(t["wallet_devices"], id="d1", **ids))
            conn.execute(
                t["wallet_credentials"].insert(),
                _row(t["wallet_credentials"], id="c1", grant_id="g1", device_id="d1", **ids),
            )
        engine.dispose()
        upgrade(db_url, "head")  # SQLite rebuilds these tables: the rows must survive
        engine = make_engine(db_url)
        counts = {}
        with engine.connect() as conn:
            for name in wallet:
                counts[name] = conn.scalar(select(func.count()).select_from(t[name]))
        assert counts == dict.fromkeys(wallet, 1)
        with engine.begin() as conn:
            conn.execute(t["residents"].delete().where(t["residents"].c.id == resident))
        with engine.connect() as conn:
            for name in wallet:
                counts[name] = conn.scalar(select(func.count()).select_from(t[name]))
        assert counts == dict.fromkeys(wallet, 0)
    finally:
        engine.dispose()
