"""docs/operations.md, "A first production start, step by step", executed as written by bash
on a fresh PostgreSQL database: production settings, migrate, the root ring, a tenant, an
API client, `serve --workers 4`, `worker --once`, readiness and metrics.

Only what differs on a test machine is replaced: the database URL, the directories, the
files holding the secrets and the ports. The server started in the background is stopped
by the script's exit trap, whatever happens."""

from __future__ import annotations

import re
import secrets
import shlex
import uuid
from pathlib import Path

import pytest

from tests.support.db import PostgresServer, _admin_exec
from tests.support.processes import BIN, free_port, run_script

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
    for step in ("BUERGERID_ENVIRONMENT=production", "migrate", "buergerid-keys create",
                 "tenant create", "client create", "serve --workers", "worker --once",
                 "/readyz", "/metrics"):  # fmt: skip
        assert step in commands, step


@pytest.mark.postgres
def test_every_command_of_the_production_start_runs(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    database = f"quickstart_{uuid.uuid4().hex[:8]}"
    _admin_exec(postgres_server, f"CREATE DATABASE {database}")
    etc, data = tmp_path / "etc", tmp_path / "lib"
    etc.mkdir(mode=0o700)
    for name in ("key-passphrase", "server-secret"):
        (etc / name).write_text(secrets.token_urlsafe(36) + "\n")
        (etc / name).chmod(0o600)
    port, metrics_port = free_port(), free_port()
    replacements = {
        "postgresql+psycopg://buergerid@db.gkd.example/buergerid": postgres_server.url(database),
        "/var/lib/buergerid": str(data),
        "/etc/buergerid": str(etc),
        "8000": str(port),
        "9464": str(metrics_port),
    }
    script = ["set -eu", f"cd {shlex.quote(str(tmp_path))}", "SERVE_PID="]
    script.append(
        'trap \'[ -n "$SERVE_PID" ] && kill -INT "$SERVE_PID" && wait "$SERVE_PID"\' EXIT'
    )
    for command in doc_commands():
        for old, new in replacements.items():
            command = command.replace(old, new)
        script.append(command)
        if command.endswith("&"):
            script.append("SERVE_PID=$!")
    out = run_script(script, home=tmp_path, path_first=BIN)
    assert "database migrated to head" in out
    assert "tenant 05562032 created" in out
    assert re.search(r"token\s+bid_\S+", out)
    assert "plate_indexes: ok built=1" in out and "trust_bundle: ok built=1" in out
    assert '"status":"ready"' in out
    assert re.search(r'^buergerid_job_runs_total\{job="plate_indexes"\} 1\.0$', out, re.M)
