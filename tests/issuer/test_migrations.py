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
