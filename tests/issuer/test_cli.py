"""`buergerid-issuer`: migrate, tenants, clients, import, verify-audit, dev bootstrap."""

from __future__ import annotations

import json
import os
import re
import stat
import time
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from issuer import cli
from issuer.db.models import AuditEntry
from issuer.db.session import make_engine
from issuer.devserver import bootstrap_dev
from issuer.settings import Settings
from keys.lifecycle import KeyType
from keys.ring import KeyRing
from tests.support.db import TEST_PASSPHRASE


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


def test_dev_bootstrap_twice(env: Path) -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    settings = settings.model_copy(update={"key_passphrase": None})
    first = bootstrap_dev(settings)
    second = bootstrap_dev(settings)
    assert first.seeded and not second.seeded
    assert first.api_key == second.api_key and first.api_key.startswith("bid_")
    now = int(time.time())
    assert KeyRing.open(env / "keys" / "05513000").active(now, KeyType.BEW)
    assert KeyRing.open(env / "keys" / "root").active(now, KeyType.BUNDLE)
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
