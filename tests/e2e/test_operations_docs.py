"""docs/operations.md, "A first production start, step by step", executed as written by bash
on a fresh PostgreSQL database: a SoftHSM2 token, production settings, migrate, the root ring
in the database with its key in the token, a tenant (its key in the token), an API client,
two `serve` instances, `worker --once` and a `worker` in the background, readiness of both
instances and metrics.

Only what differs on a test machine is replaced: the database URL, the directories, the
files holding the secrets and the ports. The processes started in the background are
stopped by the script's exit trap, whatever happens."""

from __future__ import annotations

import json
import re
import secrets
import shlex
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from keys.storage.sql import connect, key_directory_files, key_ring_blobs, key_rings
from tests.support.db import PostgresServer, _admin_exec
from tests.support.key_material import key_material
from tests.support.processes import BIN, free_port, run_script
from tests.support.softhsm import softhsm_module

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "operations.md"
SECTION = "### A first production start, step by step"


def doc_commands() -> list[str]:
    """The `$ ` lines of the section's console block, in order."""
    text = DOC.read_text(encoding="utf-8").split(SECTION, 1)[1]
    block = re.search(r"```console\n(.*?)```", text, flags=re.S)
    assert block is not None
    return [line[2:] for line in block.group(1).splitlines() if line.startswith("$ ")]


def test_the_section_shows_the_whole_way() -> None:
    commands = "\n".join(doc_commands())
    for step in ("softhsm2-util --init-token", "BUERGERID_PKCS11_TOKEN_LABEL",
                 "BUERGERID_PKCS11_PIN_FILE", "BUERGERID_ENVIRONMENT=production", "migrate",
                 "buergerid-keys create", "--backend pkcs11", "buergerid-keys ca create",
                 "tenant create", "client create",
                 "BUERGERID_PORT=8000", "BUERGERID_PORT=8001", "worker --once", "worker &",
                 "/readyz", "/metrics"):  # fmt: skip
        assert step in commands, step


@pytest.mark.postgres
def test_every_command_of_the_production_start_runs(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    database = f"quickstart_{uuid.uuid4().hex[:8]}"
    _admin_exec(postgres_server, f"CREATE DATABASE {database}")
    softhsm_module()  # skips without SoftHSM2 (fails under BUERGERID_REQUIRE_SOFTHSM=1)
    etc, data = tmp_path / "etc", tmp_path / "lib"
    etc.mkdir(mode=0o700)
    for name, value in (("server-secret", secrets.token_urlsafe(36)), ("pkcs11-pin", "4711-0815"),
                        ("pkcs11-so-pin", secrets.token_hex(8))):  # fmt: skip
        (etc / name).write_text(value + "\n")
        (etc / name).chmod(0o600)
    replacements = {
        "postgresql+psycopg://buergerid@db.gkd.example/buergerid": postgres_server.url(database),
        "/var/lib/buergerid": str(data),
        "/etc/buergerid": str(etc),
    }
    replacements |= {port: str(free_port()) for port in ("8000", "8001", "9464", "9465")}
    script = ["set -eu", f"cd {shlex.quote(str(tmp_path))}", "PIDS="]
    # SIGTERM: a background job of a script ignores SIGINT until Python sets its own handler
    script.append('trap \'for p in $PIDS; do kill "$p"; wait "$p" || true; done\' EXIT')
    for command in doc_commands():
        for old, new in replacements.items():
            command = command.replace(old, new)
        script.append(command)
        if command.endswith("&"):
            script.append('PIDS="$! $PIDS"')
    out = run_script(script, home=tmp_path, path_first=BIN)
    assert "database migrated to head" in out
    assert "tenant 05562032 created" in out
    assert re.search(r"token\s+bid_\S+", out)
    assert "plate_indexes: ok built=1" in out and "trust_bundle: ok built=1" in out
    assert out.count('"status":"ready"') == 2  # both instances
    assert re.search(r'^buergerid_job_runs_total\{job="plate_indexes"\} 1\.0$', out, re.M)
    # the rings are in the database and every key is in the token: PKCS#11 keys only, no
    # key file in the database, nothing of the keys under the data directory
    engine = connect(postgres_server.url(database))
    try:
        with engine.connect() as conn:
            rings = dict(conn.execute(select(key_rings.c.name, key_rings.c.metadata)).all())
            blobs = conn.execute(select(key_ring_blobs.c.name)).all()
            ca = dict(
                conn.execute(
                    select(key_directory_files.c.name, key_directory_files.c.data).where(
                        key_directory_files.c.directory == "ca"
                    )
                ).all()
            )
    finally:
        engine.dispose()
    assert sorted(rings) == ["05562032", "root"] and blobs == []
    for ring, metadata in rings.items():
        assert [k["backend"] for k in json.loads(metadata)["keys"]] == ["pkcs11"], ring
    assert not (data / "keys").exists()
    # the issuing CA is in the database too, its key in the token: a handle, no key file
    assert {"ca.json", "ca.pem"} <= set(ca) and "ca.key" not in ca
    assert json.loads(ca["ca.json"])["backend"] == "pkcs11"
    assert key_material(data) == []
