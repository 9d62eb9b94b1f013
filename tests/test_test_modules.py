"""No test module imports another: what tests share lives in a conftest.py or tests/support/.

A test module imported by another runs its fixtures and module-level code twice and ties two
test files together; a shared factory belongs in tests/support/ (or a conftest.py)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _test_module_imports(path: Path) -> list[str]:
    """The `tests.…test_*` modules `path` imports, at any depth (in functions too)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found += [
            name
            for name in names
            if name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith("test_")
        ]
    return found


def test_the_checker_sees_a_test_module_import(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text(
        "from tests.issuer.test_permits import World\n"
        "def f():\n    import tests.e2e.test_wallet_e2e\n"
        "from tests.support.world import make_world\n"
    )
    assert _test_module_imports(sample) == [
        "tests.issuer.test_permits",
        "tests.e2e.test_wallet_e2e",
    ]


def test_no_test_module_imports_another() -> None:
    offenders = {
        str(path.relative_to(TESTS)): imports
        for path in sorted(TESTS.rglob("*.py"))
        if (imports := _test_module_imports(path))
    }
    assert offenders == {}
