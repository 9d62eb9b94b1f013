"""`POST /api/v1/tenants` over real HTTP: everything is checked before anything is made, and
no refusal leaves a key ring or a tenant row behind (SQLite and PostgreSQL). The CLI's
`tenant create` runs the same service: tests/issuer/test_cli.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from issuer.db.models import Tenant
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from keys.ring import KeyRing
from tests.support.db import TEST_PASSPHRASE, ApiClientFactory
from tests.support.http import HTTP_TIMEOUT, live_server
from tests.support.world import CHEAP_KDF

AGS = "05911000"
NEW = {"ags": AGS, "name": "Stadt Bochum", "issuer_url": "https://ausweis.bochum.example"}


def tenant_rows(app: FastAPI, ags: str = AGS) -> list[str]:
    with app.state.session_factory() as session:
        return list(session.scalars(select(Tenant.ags).where(Tenant.ags == ags)))


def ring_dir(app: FastAPI, ags: str = AGS) -> Path:
    settings: Settings = app.state.settings
    return settings.keys_dir / ags


@pytest.fixture
def http(app: FastAPI, api_client: ApiClientFactory) -> Iterator[httpx.Client]:
    operator = api_client(scopes=["admin"], ags=None)
    with (
        live_server(app) as base,
        httpx.Client(base_url=base, headers=operator.headers, timeout=HTTP_TIMEOUT) as c,
    ):
        yield c


@pytest.mark.parametrize(
    "change",
    [
        {"issuer_url": "http://ausweis.bochum.example"},
        {"ags": "0591100"},
        {"name": ""},
        {"retention_days": 0},
        {"unknown": 1},
    ],
    ids=["http-url", "short-ags", "empty-name", "no-retention", "unknown-field"],
)
def test_an_invalid_tenant_leaves_nothing(
    app: FastAPI, http: httpx.Client, change: dict[str, Any]
) -> None:
    response = http.post("/api/v1/tenants", json={**NEW, **change})
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"
    ags = str(change.get("ags", AGS))
    assert not ring_dir(app, ags).exists()
    assert tenant_rows(app, ags) == []


def test_a_taken_ags_is_refused_before_its_ring_is_touched(
    app: FastAPI, http: httpx.Client
) -> None:
    assert http.post("/api/v1/tenants", json=NEW).status_code == 201
    ring_json = (ring_dir(app) / "ring.json").read_bytes()
    again = http.post("/api/v1/tenants", json={**NEW, "name": "Bochum again"})
    assert again.status_code == 409 and again.json()["code"] == "already_exists"
    assert (ring_dir(app) / "ring.json").read_bytes() == ring_json  # no key added to it
    assert tenant_rows(app) == [AGS]


def test_an_orphan_ring_is_never_reused_silently(app: FastAPI, http: httpx.Client) -> None:
    orphan = KeyRing.create(ring_dir(app), AGS, url="https://elsewhere.example")
    before = (orphan.path / "ring.json").read_bytes()
    response = http.post("/api/v1/tenants", json=NEW)
    assert response.status_code == 409 and response.json()["code"] == "key_ring_exists"
    assert (orphan.path / "ring.json").read_bytes() == before
    assert tenant_rows(app) == []
    # adopting it must be asked for, and it must be this tenant's ring
    adopt = http.post("/api/v1/tenants", json={**NEW, "adopt_key_ring": True})
    assert adopt.status_code == 409 and adopt.json()["code"] == "key_ring_unusable"
    assert adopt.json()["detail"] == "url"
    assert (orphan.path / "ring.json").read_bytes() == before
    assert tenant_rows(app) == []


def test_a_prepared_ring_is_adopted_on_request(
    app: FastAPI, http: httpx.Client, clock: FixedClock
) -> None:
    at = int(clock.now().timestamp())
    ring = KeyRing.create(
        ring_dir(app), AGS, url=NEW["issuer_url"], passphrase=TEST_PASSPHRASE, kdf=CHEAP_KDF
    )
    nothing = http.post("/api/v1/tenants", json={**NEW, "adopt_key_ring": True})
    assert nothing.status_code == 409 and nothing.json()["detail"] == "no_active_key"
    ring.add_key(nbf=at, sign_until=at + 86400 * 365, exp=at + 86400 * 800, now=at)
    adopted = http.post("/api/v1/tenants", json={**NEW, "adopt_key_ring": True})
    assert adopted.status_code == 201, adopted.text
    assert tenant_rows(app) == [AGS]
    assert [k.kid for k in KeyRing.open(ring_dir(app)).records(at)] == [
        k.kid for k in ring.records(at)
    ]


def test_adopting_where_there_is_no_ring_leaves_nothing(app: FastAPI, http: httpx.Client) -> None:
    response = http.post("/api/v1/tenants", json={**NEW, "adopt_key_ring": True})
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"
    assert not ring_dir(app).exists()
    assert tenant_rows(app) == []


def test_a_ring_that_fails_half_way_is_removed_with_the_row(
    app: FastAPI, http: httpx.Client
) -> None:
    # argon2 refuses 64 lanes in 8 KiB: the row and the ring directory are made, then the
    # ring's first key fails
    settings: Settings = app.state.settings
    app.state.settings = settings.model_copy(update={"key_kdf_parallelism": 64})
    response = http.post("/api/v1/tenants", json=NEW)
    assert response.status_code == 503 and response.json()["code"] == "unavailable"
    assert not ring_dir(app).exists()
    assert tenant_rows(app) == []
