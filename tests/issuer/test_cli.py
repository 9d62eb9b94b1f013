"""`buergerid-issuer`: migrate, tenants, clients, import, verify-audit, dev bootstrap."""

from __future__ import annotations

import json
import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from issuer import cli
from issuer.db.models import AuditEntry, Tenant
from issuer.db.session import make_engine
from issuer.devserver import bootstrap_dev
from issuer.settings import Settings
from keys.lifecycle import Purpose
from keys.ring import KeyRing
from tests.support.db import TEST_PASSPHRASE
from verifier import PermitType


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """cli.main() configures the root logger; leave it as the other tests expect it."""
    import logging

    root = logging.getLogger()
    level = root.level
    yield
    for handler in list(root.handlers):
        if getattr(handler, "is_buergerid", False):
            root.removeHandler(handler)
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = False


@pytest.fixture
def env(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    data = tmp_path / "data"
    for key, value in {
        "DATABASE_URL": db_url,
        "DATA_DIR": str(data),
        "ENVIRONMENT": "test",
        "KEY_PASSPHRASE": TEST_PASSPHRASE,
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "8",
        "KEY_KDF_TIME_COST": "1",
        "KEY_KDF_MEMORY_KIB": "8",
        "KEY_KDF_PARALLELISM": "1",
    }.items():
        monkeypatch.setenv("BUERGERID_" + key, value)
    return data


def _token(text: str) -> tuple[str, str]:
    client_id = re.search(r"client_id\s+(\S+)", text)
    token = re.search(r"token\s+(bid_\S+)", text)
    assert client_id and token
    return client_id.group(1), token.group(1)


def test_operator_workflow(env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["migrate"]) == 0
    assert (
        cli.main(
            [
                "tenant",
                "create",
                "--ags",
                "05513000",
                "--name",
                "GE",
                "--issuer-url",
                "https://ge.example",
            ]
        )
        == 0
    )
    assert (env / "keys" / "05513000").is_dir()
    assert (
        cli.main(
            [
                "tenant",
                "create",
                "--ags",
                "05513000",
                "--name",
                "GE",
                "--issuer-url",
                "https://x.example",
            ]
        )
        == 3
    )
    capsys.readouterr()
    assert (
        cli.main(
            [
                "client",
                "create",
                "--tenant",
                "05513000",
                "--name",
                "BB",
                "--scopes",
                "registry:write,admin",
            ]
        )
        == 0
    )
    client_id, token = _token(capsys.readouterr().out)
    assert token.startswith("bid_")
    assert (
        cli.main(["client", "rotate", "--tenant", "05513000", client_id, "--grace-seconds", "0"])
        == 0
    )
    _, token2 = _token(capsys.readouterr().out)
    assert token2 != token
    assert cli.main(["client", "revoke", "--tenant", "05513000", client_id]) == 0
    assert cli.main(["client", "create", "--operator", "--name", "ops", "--scopes", "admin"]) == 0

    rows = tmp_path / "residents.ndjson"
    rows.write_text(
        json.dumps({"external_ref": "MR-1", "given_name": "Erika", "family_name": "Mustermann"})
        + "\n{broken\n",
        encoding="utf-8",
    )
    capsys.readouterr()
    assert cli.main(["import", "--tenant", "05513000", str(rows)]) == 1
    output = capsys.readouterr().out
    assert "inserted=1" in output and "line 2: invalid_json" in output
    assert "Mustermann" not in output

    assert cli.main(["verify-audit"]) == 0
    assert cli.main(["verify-audit", "--tenant", "05513000"]) == 0


def test_verify_audit_names_the_changed_sequence(
    env: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(
        [
            "tenant",
            "create",
            "--ags",
            "05513000",
            "--name",
            "GE",
            "--issuer-url",
            "https://ge.example",
        ]
    )
    cli.main(["client", "create", "--tenant", "05513000", "--name", "a", "--scopes", "admin"])
    capsys.readouterr()
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            update(AuditEntry)
            .where(AuditEntry.chain == "t1", AuditEntry.seq == 2)
            .values(actor="x")
        )
    engine.dispose()
    assert cli.main(["verify-audit"]) == 1
    assert "chain t1 broken at sequence 2: changed" in capsys.readouterr().err


def test_tenant_create_refusals_leave_no_ring_and_no_row(
    env: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["migrate"]) == 0
    base = ["tenant", "create", "--ags", "05513000", "--name", "GE"]
    for extra in (
        ["--issuer-url", "http://ge.example"],  # checked before the ring is made
        ["--issuer-url", "https://ge.example", "--retention-days", "0"],
        ["--issuer-url", "https://ge.example", "--adopt-key-ring"],  # nothing to adopt
    ):
        assert cli.main([*base, *extra]) == cli.EXIT_REFUSED
        assert "refused: invalid_request" in capsys.readouterr().err
        assert not (env / "keys" / "05513000").exists()
    KeyRing.create(env / "keys" / "05513000", "05513000")  # an orphan: never taken silently
    assert cli.main([*base, "--issuer-url", "https://ge.example"]) == cli.EXIT_REFUSED
    assert "refused: key_ring_exists" in capsys.readouterr().err
    assert list((env / "keys" / "05513000" / "keys").glob("*.key")) == []  # no key added
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(select(Tenant.id)).all() == []
    finally:
        engine.dispose()


def test_dev_bootstrap_twice(env: Path) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    settings = settings.model_copy(update={"key_passphrase": None})
    first = bootstrap_dev(settings)
    second = bootstrap_dev(settings)
    assert first.seeded and not second.seeded
    assert first.api_key == second.api_key and first.api_key.startswith("bid_")
    now = int(time.time())
    assert KeyRing.open(env / "keys" / "05513000").active(now, PermitType.BEW)
    assert KeyRing.open(env / "keys" / "root").active(now, Purpose.BUNDLE)
    for name in ("dev-passphrase", "dev-api-key"):
        mode = stat.S_IMODE(os.stat(env / name).st_mode)
        assert mode == 0o600


def test_production_refuses_the_dev_passphrase(env: Path) -> None:
    with pytest.raises(ValueError, match="key_passphrase"):
        Settings(environment="production", key_passphrase=None)


def test_verify_audit_names_a_deleted_sequence(
    env: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cli.main(
        [
            "tenant",
            "create",
            "--ags",
            "05513000",
            "--name",
            "GE",
            "--issuer-url",
            "https://ge.example",
        ]
    )
    for name in ("a", "b", "c"):
        cli.main(["client", "create", "--tenant", "05513000", "--name", name, "--scopes", "admin"])
    capsys.readouterr()
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(delete(AuditEntry).where(AuditEntry.chain == "t1", AuditEntry.seq == 3))
    engine.dispose()
    assert cli.main(["verify-audit", "--tenant", "05513000"]) == 1
    assert "chain t1 broken at sequence 3: missing" in capsys.readouterr().err


def test_importing_the_package_has_no_side_effects(tmp_path: Path) -> None:
    import subprocess
    import sys

    code = "import issuer.app, issuer.cli, issuer.devserver, issuer.migrations; print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "ok"
    assert list(tmp_path.iterdir()) == []  # no database, no var/, no key files


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Lines:
    """Lines of a child's pipe, each waited for at most 30 s ('' on timeout or end of file)."""

    def __init__(self, stream: Any) -> None:
        self.fd = stream.fileno()
        self.buffer = b""

    def readline(self) -> str:
        import selectors

        while b"\n" not in self.buffer:
            with selectors.DefaultSelector() as sel:
                sel.register(self.fd, selectors.EVENT_READ)
                if not sel.select(timeout=30):
                    return ""
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return ""
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode("utf-8", "replace") + "\n"


def _run_dev_until_started(env_vars: dict[str, str]) -> tuple[str, str]:
    """Start `buergerid-issuer dev`, read its output up to uvicorn's startup line, then stop it
    after one request; returns (stdout so far, zones answer)."""
    import subprocess
    import sys

    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "issuer.cli", "dev"],
        env=env_vars,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out_lines: list[str] = []
    started = False
    stdout, stderr = _Lines(proc.stdout), _Lines(proc.stderr)
    try:
        # stdout first: the banner is flushed before uvicorn starts; it ends with verify-audit
        for _ in range(100):
            line = stdout.readline()
            out_lines.append(line)
            if not line or "verify-audit" in line:
                break
        for _ in range(400):  # then uvicorn's startup line on stderr (JSON logs)
            line = stderr.readline()
            if not line or "Application startup complete" in line:
                started = bool(line)
                break
        assert started, "".join(out_lines)
        text = "".join(out_lines)
        key_match = re.search(r"demo API key\s+(bid_\S+)", text)
        port = env_vars["BUERGERID_PORT"]
        assert key_match
        zones = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/zones",
            headers={"Authorization": f"Bearer {key_match.group(1)}"},
            timeout=30,
        )
        assert zones.status_code == 200
        return text, zones.text
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()


def test_dev_serves_and_restarts(tmp_path: Path) -> None:
    env_vars = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERID_")} | {
        "BUERGERID_DATA_DIR": str(tmp_path / "var"),
        "BUERGERID_PORT": str(_free_port()),
        "BUERGERID_ARGON2_TIME_COST": "1",
        "BUERGERID_ARGON2_MEMORY_KIB": "8",
        "BUERGERID_KEY_KDF_TIME_COST": "1",
        "BUERGERID_KEY_KDF_MEMORY_KIB": "8",
        "BUERGERID_KEY_KDF_PARALLELISM": "1",
    }
    # the first start ran in-process; the served process is the second start
    settings = Settings(
        data_dir=tmp_path / "var",
        argon2_time_cost=1,
        argon2_memory_kib=8,
        key_kdf_time_cost=1,
        key_kdf_memory_kib=8,
        key_kdf_parallelism=1,
    )
    first = bootstrap_dev(settings)
    assert first.seeded
    text, zones = _run_dev_until_started(env_vars)
    assert '"code":"A3"' in zones
    assert "curl" in text
    assert first.api_key in text
