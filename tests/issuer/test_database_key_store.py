"""The issuer with its key rings in the database (`key_store=database`, PostgreSQL): nothing
is written under the data directory's keys, tenant creation is all or nothing with the
ring, signing asks the database nothing between version checks, and a rotation by another
process shows in what every instance publishes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event, select

from issuer.db.models import Tenant
from issuer.services import publication, signing
from issuer.settings import Settings
from keys.lifecycle import RotationPolicy
from keys.ring import KeyRing
from keys.storage.sql import SqlRingStore, connect, key_ring_blobs, key_rings
from tests.support.db import TEST_PASSPHRASE, ApiClientFactory, make_test_settings
from tests.support.http import HTTP_TIMEOUT, live_server
from tests.support.world import CHEAP_KDF, World, bundle_of

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

AGS = "05911000"
NEW = {"ags": AGS, "name": "Stadt Bochum", "issuer_url": "https://ausweis.bochum.example"}


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_test_settings(db_url, tmp_path / "data", key_store="database")


@pytest.fixture
def other_process(db_url: str) -> Iterator[Engine]:
    """An engine of its own, as another process (the CLI, the job runner) has."""
    engine = connect(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def _rings(engine: Engine) -> dict[str, bytes]:
    with engine.connect() as conn:
        return {r.name: r.metadata.encode() for r in conn.execute(select(key_rings))}


def _tenants(app: FastAPI) -> list[str]:
    with app.state.session_factory() as session:
        return list(session.scalars(select(Tenant.ags).where(Tenant.ags == AGS)))


@pytest.fixture
def http(app: FastAPI, api_client: ApiClientFactory) -> Iterator[httpx.Client]:
    operator = api_client(scopes=["admin"], ags=None)
    with (
        live_server(app) as base,
        httpx.Client(base_url=base, headers=operator.headers, timeout=HTTP_TIMEOUT) as c,
    ):
        yield c


def test_tenant_creation_puts_the_ring_in_the_database_all_or_nothing(
    app: FastAPI, http: httpx.Client, other_process: Engine, settings: Settings
) -> None:
    # a failure after the row was made (argon2 refuses 64 lanes in 8 KiB): neither stays
    app.state.settings = settings.model_copy(update={"key_kdf_parallelism": 64})
    failed = http.post("/api/v1/tenants", json=NEW)
    assert failed.status_code == 503 and failed.json()["code"] == "unavailable"
    assert AGS not in _rings(other_process) and _tenants(app) == []
    app.state.settings = settings
    made = http.post("/api/v1/tenants", json=NEW)
    assert made.status_code == 201, made.text
    rings = _rings(other_process)
    assert AGS in rings and _tenants(app) == [AGS]
    again = http.post("/api/v1/tenants", json={**NEW, "name": "Bochum again"})
    assert again.status_code == 409 and again.json()["code"] == "already_exists"
    assert _rings(other_process)[AGS] == rings[AGS]  # no key added to it
    with other_process.connect() as conn:
        blobs = conn.execute(select(key_ring_blobs.c.ring)).scalars().all()
    assert AGS in blobs  # its encrypted key file
    assert not settings.keys_dir.exists()  # nothing on this server's disk


def test_a_ring_prepared_in_the_database_is_adopted_on_request(
    app: FastAPI, http: httpx.Client, other_process: Engine, settings: Settings
) -> None:
    at = int(app.state.clock.now().timestamp())
    ring = KeyRing.create(
        SqlRingStore(other_process).ring(AGS),
        AGS,
        url=NEW["issuer_url"],
        passphrase=TEST_PASSPHRASE,
        kdf=CHEAP_KDF,
    )
    refused = http.post("/api/v1/tenants", json=NEW)
    assert refused.status_code == 409 and refused.json()["code"] == "key_ring_exists"
    ring.add_key(nbf=at, sign_until=at + 86400 * 365, exp=at + 86400 * 800, now=at)
    adopted = http.post("/api/v1/tenants", json={**NEW, "adopt_key_ring": True})
    assert adopted.status_code == 201, adopted.text
    assert _tenants(app) == [AGS]
    assert not settings.keys_dir.exists()


def test_permits_are_signed_without_asking_the_database_for_keys(
    app: FastAPI,
    client: Any,
    clock: Any,
    api_client: Any,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    from tests.support.world import make_world

    monkeypatch.setattr(signing, "RING_STAT_SECONDS", 3600.0)  # no version check in the test
    world = make_world(app, client, clock, api_client)
    world.issue()  # the signer is loaded (one read of its key file)
    statements: list[str] = []

    def count(*args: Any) -> None:
        if re.search(r"\b(key_rings|key_ring_blobs)\b", str(args[2])):
            statements.append(str(args[2]))

    engine: Engine = app.state.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(3):
            world.issue()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert statements == []
    assert not settings.keys_dir.exists()
    ready = world.client.get("/readyz")
    assert ready.status_code == 200, ready.text


def test_a_rotation_by_another_process_is_published_after_the_interval(
    world: World, other_process: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = world.app.state.settings
    before = bundle_of(world.client.get("/trust-bundle").content)
    with world.app.state.session_factory() as session:
        tenant = session.get(Tenant, world.tenant_id)
        assert tenant is not None
        name = tenant.key_ring
    other = KeyRing.open(SqlRingStore(other_process).ring(name), passphrase=TEST_PASSPHRASE)
    policy = RotationPolicy(
        fresh_seconds=settings.trust_bundle_fresh_seconds,
        max_token_seconds=2 * 366 * 24 * 3600,
        sign_seconds=365 * 24 * 3600,
    )
    info = other.rotate(int(world.clock.now().timestamp()), policy, force=True)
    assert info is not None
    monkeypatch.setattr(publication, "RING_STAT_SECONDS", 3600.0)
    assert bundle_of(world.client.get("/trust-bundle").content).seq == before.seq
    # once the interval passed: one statement over the rings' versions shows the change,
    # and the open ring reads its new metadata at once
    monkeypatch.setattr(publication, "RING_STAT_SECONDS", 0.0)
    after = bundle_of(world.client.get("/trust-bundle").content)
    assert after.seq == before.seq + 1
    assert len(after.issuers[world.ags].keys) == len(before.issuers[world.ags].keys) + 1
    kids = {k["kid"] for k in world.client.get("/.well-known/jwks.json").json()["keys"]}
    assert info.kid in kids
