"""The dependency direction of docs/architecture.md, checked by walking every import with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
OURS = {"verifier", "keys", "issuer", "wallet_api", "mobile_sdk_stub"}

# package -> what it must never import (ours and foreign)
FORBIDDEN: dict[str, set[str]] = {
    "verifier": {
        "keys",
        "issuer",
        "wallet_api",
        "mobile_sdk_stub",
        "fastapi",
        "starlette",
        "sqlalchemy",
        "argon2",
        "qrcode",
        "alembic",
        "uvicorn",
    },
    "keys": {"issuer", "wallet_api", "mobile_sdk_stub", "fastapi", "starlette", "sqlalchemy"},
    "issuer": {"wallet_api", "mobile_sdk_stub"},
    "wallet_api": {"mobile_sdk_stub", "issuer.routes"},
    "mobile_sdk_stub": {"issuer", "wallet_api", "keys", "fastapi", "starlette", "sqlalchemy"},
}
# package -> the modules of a forbidden package it may import all the same. The permit
# printer is shared by the issuer and the wallet stand-in; it holds no key and imports no
# other module of keys/ (checked below), so the phone gets no key code through it.
# The wallet deployment alone serves the same /healthz and /readyz as the issuer: one
# operational router (no municipal route), not a copy of it.
ALLOWED: dict[str, set[str]] = {
    "mobile_sdk_stub": {"keys.windscreen"},
    "wallet_api": {"issuer.routes.health"},
}
SHARED_LEAVES = {"keys.windscreen": "keys/windscreen.py"}
# file -> foreign packages it alone of its package may import. Key rings live in the shared
# database in production, so the ring storage for it speaks SQLAlchemy Core (an engine is
# passed in; it never imports the issuer). Every other module of keys/ stays free of it.
ALLOWED_IN_FILE: dict[str, set[str]] = {"keys/storage/sql.py": {"sqlalchemy"}}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _violations(package: str) -> list[str]:
    found = []
    for path in sorted((REPO / package).rglob("*.py")):
        exempt = ALLOWED_IN_FILE.get(str(path.relative_to(REPO)), set())
        for name in _imports(path) - ALLOWED.get(package, set()):
            if any(name == e or name.startswith(e + ".") for e in exempt):
                continue
            for banned in FORBIDDEN[package]:
                if name == banned or name.startswith(banned + "."):
                    found.append(f"{path.relative_to(REPO)} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_the_dependency_direction(package: str) -> None:
    assert (REPO / package / "__init__.py").is_file()
    assert _violations(package) == []


@pytest.mark.parametrize("module", sorted(SHARED_LEAVES))
def test_a_shared_module_imports_none_of_ours_but_the_verifier(module: str) -> None:
    ours = {n for n in _imports(REPO / SHARED_LEAVES[module]) if n.split(".")[0] in OURS}
    assert ours and all(n.split(".")[0] == "verifier" for n in ours), ours


def test_the_checker_sees_a_forbidden_edge(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("import sqlalchemy\nfrom issuer.db import models\n", encoding="utf-8")
    assert _imports(bad) == {"sqlalchemy", "issuer.db"}


def test_only_the_sql_ring_storage_of_keys_speaks_sqlalchemy() -> None:
    users = sorted(
        str(path.relative_to(REPO))
        for path in (REPO / "keys").rglob("*.py")
        if any(n == "sqlalchemy" or n.startswith("sqlalchemy.") for n in _imports(path))
    )
    assert users == ["keys/storage/sql.py"]
