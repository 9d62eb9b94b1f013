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
        for name in _imports(path):
            for banned in FORBIDDEN[package]:
                if name == banned or name.startswith(banned + "."):
                    found.append(f"{path.relative_to(REPO)} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_the_dependency_direction(package: str) -> None:
    assert (REPO / package / "__init__.py").is_file()
    assert _violations(package) == []


def test_the_checker_sees_a_forbidden_edge(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("import sqlalchemy\nfrom issuer.db import models\n", encoding="utf-8")
    assert _imports(bad) == {"sqlalchemy", "issuer.db"}
