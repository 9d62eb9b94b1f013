"""Wallet API fixtures: a database with one tenant and one resident, proof keys, a clock."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

import issuer.db.models as platform_models
import issuer.db.permit_models  # noqa: F401 - tables on Base
import wallet_api.models  # noqa: F401 - tables on Base
from issuer.db.base import Base
from issuer.db.session import make_engine, make_session_factory
from issuer.settings import Settings
from tests.support.db import make_test_settings
from tests.wallet_api.support import T0

__all__ = ["T0"]


@pytest.fixture
def session(tmp_path: Path) -> Iterator[Session]:
    """A fresh SQLite database (all tables) with tenant 1 and one resident."""
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    Base.metadata.create_all(engine)
    factory = make_session_factory(engine)
    with factory() as s:
        s.add(
            platform_models.Tenant(
                id=1,
                ags="05513000",
                name="Gelsenkirchen",
                issuer_url="https://ge.example",
                key_ring="05513000",
                created_at=T0,
            )
        )
        s.flush()
        s.add(
            platform_models.Resident(
                id=RESIDENT_A,
                tenant_id=1,
                external_ref="A",
                given_name="Erika",
                family_name="Mustermann",
                birth_date=date(1980, 2, 29),
                created_at=T0,
                updated_at=T0,
            )
        )
        s.add(
            platform_models.Resident(
                id=RESIDENT_B,
                tenant_id=1,
                external_ref="B",
                given_name="Max",
                family_name="Muster",
                birth_date=date(1990, 1, 1),
                created_at=T0,
                updated_at=T0,
            )
        )
        s.commit()
        yield s
    engine.dispose()


RESIDENT_A = uuid.UUID("00000000-0000-4000-8000-00000000000a")
RESIDENT_B = uuid.UUID("00000000-0000-4000-8000-00000000000b")
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def sqlite_settings(sqlite_template: Path, tmp_path: Path) -> Settings:
    """Settings on a migrated SQLite copy, for protocol logic that no database changes."""
    path = tmp_path / "test.db"
    shutil.copyfile(sqlite_template, path)
    return make_test_settings(f"sqlite:///{path}", tmp_path / "data")
