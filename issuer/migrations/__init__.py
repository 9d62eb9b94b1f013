"""Alembic migrations of the shared database; the only way the schema changes.

Chain: 0001 platform (tenants, clients, registry, audit) → 0002 permits → 0003 wallet →
0004 wallet grants (device bindings, retired refresh tokens) → 0005 shared rate counters →
0006 data hardening (wallet rows cascade when a resident is erased) → 0007 enforcement
clients and enrolled handhelds → 0008 wallet standards (bindings, offer references, deferred
issuance, replay, tenant settings).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from issuer.db.session import normalize_url

HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str) -> Config:
    """An Alembic config for the packaged scripts and this URL (from Settings)."""
    config = Config(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("version_locations", str(HERE / "versions"))
    config.attributes["database_url"] = normalize_url(database_url)
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database at `database_url` to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Downgrade the database at `database_url` to `revision`."""
    command.downgrade(alembic_config(database_url), revision)
