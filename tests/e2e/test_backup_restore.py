"""Backup and restore as an operator does it (docs/operations.md, "Backup and restore"):
with the key rings in the database (production), `pg_dump` alone, restored into a fresh
PostgreSQL database and an empty data directory; with directory rings (development), the
dump plus a copy of the key directory. With the database store the dump also brings back
the issuing CA (its key certifies on first use, the status list JWT's x5c validates to its
root) and the relying party's identity. Afterwards permits issued before verify with the restored
keys (and a revoked one is still revoked in the status list), the audit chains verify, and
new permits get fresh status indices, never one used before the backup."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from issuer.app import create_app
from issuer.db.permit_models import StatusEntry
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from keys.issuing_ca import IssuingCa
from keys.relying_party import ensure_identity, open_identity
from keys.storage.sql import SqlDocuments, connect
from tests.keys.conftest import CHEAP_KDF
from tests.support.db import TEST_PASSPHRASE, PostgresServer, _admin_exec, make_test_settings
from tests.support.processes import BUERGERID_ISSUER, settings_env
from tests.support.world import World, make_world, verify_qr
from verifier.formats import peek_jws_header, validate_x5c

pytestmark = [
    pytest.mark.parametrize("db_url", ["postgresql"], indirect=True),
    pytest.mark.parametrize("key_store", ["database", "directory"]),
]


@pytest.fixture
def settings(db_url: str, tmp_path: Path, key_store: str) -> Settings:
    return make_test_settings(db_url, tmp_path / "data", key_store=key_store)


def _pg(server: PostgresServer, program: str, *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [*server.as_user, str(server.bin_dir / program), "-h", "127.0.0.1", "-p",
         str(server.port), "-U", "postgres", *args],
        input=stdin, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_dump_and_key_store_restore_into_a_fresh_database(
    world: World,
    settings: Settings,
    clock: FixedClock,
    postgres_server: PostgresServer,
    tmp_path: Path,
    key_store: str,
) -> None:
    before = [world.issue() for _ in range(4)]
    r = world.post(f"/api/v1/permits/{before[0]['id']}/revoke", {"reason": "misuse"})
    assert r.status_code == 200, r.text
    old_places = {
        (c.status_list, c.status_idx) for c in (verify_qr(world, p["qr"]) for p in before)
    }

    now = int(clock.now().timestamp())
    if key_store == "database":  # the issuing CA and the relying party's identity too
        engine = connect(settings.database_url)
        try:
            ca = IssuingCa.create(
                SqlDocuments(engine, settings.issuing_ca_dir),
                common_name="GKD Issuing CA",
                organization=None,
                now=now - 60,
                valid_seconds=10 * 365 * 86400,
                passphrase=TEST_PASSPHRASE,
                kdf=CHEAP_KDF,
            )
            rp = ensure_identity(
                SqlDocuments(engine, settings.rp_dir),
                passphrase=TEST_PASSPHRASE,
                ca=ca,
                base_url=settings.public_base_url,
                common_name="Bürger-ID",
                now=now,
                kdf=CHEAP_KDF,
            )
        finally:
            engine.dispose()

    # backup: the database dump (and a copy of the key directory, for directory rings)
    database = str(settings.database_url).rsplit("/", 1)[1]
    dump = _pg(postgres_server, "pg_dump", "--no-owner", "--format=plain", database)
    backup_keys = tmp_path / "backup-keys"
    if key_store == "directory":
        shutil.copytree(settings.keys_dir, backup_keys)
    else:
        assert not settings.keys_dir.exists()  # nothing of the keys is outside the database

    # restore: a fresh database and a fresh data directory
    fresh = f"restored_{uuid.uuid4().hex[:8]}"
    _admin_exec(postgres_server, f"CREATE DATABASE {fresh}")
    _pg(postgres_server, "psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", fresh, stdin=dump)
    restored = make_test_settings(
        postgres_server.url(fresh), tmp_path / "restored", key_store=key_store
    )
    if key_store == "directory":
        shutil.copytree(backup_keys, restored.keys_dir)

    audit = subprocess.run(
        [BUERGERID_ISSUER, "verify-audit"], env=settings_env(restored),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert audit.returncode == 0, audit.stdout + audit.stderr

    app: FastAPI = create_app(restored, clock=clock)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            again = World(client, app, clock, world.headers, world.tenant_id, world.ags)
            again.made.update(world.made)  # plates already taken
            for permit in before:  # issued before the backup: verify with the restored keys
                claims: Any = verify_qr(again, permit["qr"])
                got = again.get(f"/api/v1/permits/{permit['id']}").json()
                assert got["state"] == ("revoked" if permit is before[0] else "active")
                assert claims.status_idx >= 0
            after = [again.issue() for _ in range(4)]
            new_places = {
                (c.status_list, c.status_idx) for c in (verify_qr(again, p["qr"]) for p in after)
            }
            assert len(new_places) == 4 and not new_places & old_places
            # the allocator's record of used indices came back whole (random draws alone
            # would rarely collide; this is what makes reuse impossible)
            with app.state.session_factory() as session:
                used = set(session.execute(select(StatusEntry.list_no, StatusEntry.idx)).all())
            assert old_places | new_places == used
            first = verify_qr(again, before[0]["qr"])
            from verifier.formats import decode_status_list_cwt

            r = client.get(
                f"/status-lists/{world.ags}/{first.status_list}",
                headers={"Accept": "application/statuslist+cwt"},
            )
            assert r.status_code == 200
            lst = decode_status_list_cwt(r.content)[1].status_list
            assert lst.get(first.status_idx) == 1
            if key_store == "database":
                # the CA came back with the dump: its key certifies the signing key on first
                # use and the status list JWT's chain validates to its root
                jwt = client.get(f"/status-lists/{world.ags}/{first.status_list}")
                assert jwt.status_code == 200
                x5c = peek_jws_header(jwt.text)["x5c"]
                validate_x5c(x5c, [ca.certificate], now)
                engine = connect(restored.database_url)
                try:
                    back = open_identity(
                        SqlDocuments(engine, restored.rp_dir), passphrase=TEST_PASSPHRASE
                    )
                finally:
                    engine.dispose()
                assert back.x509_hash == rp.x509_hash
                assert back.signer.public_key == rp.signer.public_key
        if key_store == "database":
            assert not restored.keys_dir.exists()  # signed from the restored database alone
    finally:
        app.state.engine.dispose()
        _admin_exec(postgres_server, f"DROP DATABASE IF EXISTS {fresh} WITH (FORCE)")


@pytest.fixture
def world(app: FastAPI, client: Any, clock: FixedClock, api_client: Any) -> World:
    return make_world(app, client, clock, api_client)
