"""The relying-party tables: the 0009 migration matches the models, on SQLite and
PostgreSQL, and goes down and up again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, inspect

import wallet_api.models
import wallet_api.relying_party.models  # noqa: F401 - the tables under test
from issuer.db.base import Base
from issuer.db.session import make_engine
from issuer.migrations import downgrade, upgrade

TABLES = {"rp_transactions", "rp_client_policies", "wallet_authorizations"}


def _table_of(change: Any) -> str | None:
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


def test_the_migration_matches_the_models(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    engine = make_engine(db_url)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert [d for d in diff if _table_of(d) in TABLES] == []


def test_down_to_0008_and_up_again(db_url: str) -> None:
    downgrade(db_url, "0008")
    engine = make_engine(db_url)
    try:
        assert not TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    upgrade(db_url, "head")
    engine = make_engine(db_url)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
