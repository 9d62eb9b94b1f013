"""Alembic: down to base and up to head again, on both databases."""

from __future__ import annotations

from sqlalchemy import inspect

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
