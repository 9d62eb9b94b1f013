"""Alembic environment: URL from the config attributes (set from Settings), metadata from every
models module. Run through `issuer.migrations.upgrade()`, `buergerid-issuer migrate`, or plain
`alembic -c issuer/migrations/alembic.ini upgrade head` (URL then from BUERGERID_* settings)."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager

from alembic import context
from sqlalchemy.engine import Connection

from issuer.db.base import Base
from issuer.db.session import make_engine, normalize_url

# Every module that puts tables on Base; optional ones are imported when they exist.
MODEL_MODULES = (
    "issuer.db.models",
    "issuer.db.permit_models",
    "issuer.db.enforcement_models",
    "issuer.db.job_models",
)
for _name in MODEL_MODULES:
    if importlib.util.find_spec(_name) is not None:
        importlib.import_module(_name)

target_metadata = Base.metadata
config = context.config


def _url() -> str:
    """From `issuer.migrations.upgrade(url)`, else `-x url=…`, else Settings (environment)."""
    url = config.attributes.get("database_url") or context.get_x_argument(as_dictionary=True).get(
        "url"
    )
    if not url:
        from issuer.settings import Settings

        url = Settings().database_url
    return normalize_url(str(url))


def run_migrations_offline() -> None:
    """Emit SQL without a connection (`alembic upgrade --sql`)."""
    context.configure(
        url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a live connection; SQLite needs batch mode for ALTERs."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with _sqlite_foreign_keys_deferred(connection), context.begin_transaction():
        context.run_migrations()


@contextmanager
def _sqlite_foreign_keys_deferred(connection: Connection) -> Iterator[None]:
    """SQLite: a batch-mode table rebuild drops and recreates a table, which with foreign keys
    enforced would delete (or cascade from) every row referring to it. Enforcement is off
    while the migrations run (the pragma only works outside a transaction) and every
    reference of the whole database is checked once they are done."""
    if connection.dialect.name != "sqlite" or connection.in_transaction():
        yield
        return
    raw = connection.connection.driver_connection
    assert raw is not None
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")
    broken = raw.execute("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"migration left {len(broken)} broken foreign key reference(s)")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
