"""verifier's public face: what each public module exports, and that nobody reaches past it.

The public modules are ``verifier``, ``verifier.formats``, ``verifier.sdjwt`` and
``verifier.handheld`` (plus ``verifier.cli``, the command line). Each lists exactly its
public names in ``__all__``, and docs/dev/verifier-api.md documents every one of them.
Outside verifier/, code imports only those names: every import is walked with ``ast``, and
a private module or name (a leading underscore anywhere after ``verifier``) is allowed in
one file only, tests/support/verifier_internals.py, the documented seam of the white-box
tests, fuzz harnesses and benchmarks.
"""

from __future__ import annotations

import ast
import importlib
import re
import types
from pathlib import Path

import pytest

import tests.support.verifier_internals as internals

REPO = Path(__file__).resolve().parents[2]
PUBLIC = ("verifier", "verifier.formats", "verifier.sdjwt", "verifier.handheld")
LIBRARY = {name: importlib.import_module(name) for name in PUBLIC}
COMMAND_LINE = "verifier.cli"
OUTSIDE = ("keys", "issuer", "wallet_api", "mobile_sdk_stub", "tests", "bench", "fuzz")
SEAM = "tests/support/verifier_internals.py"
API_DOC = REPO / "docs" / "dev" / "verifier-api.md"


@pytest.mark.parametrize("name", PUBLIC)
def test_all_lists_public_names_once_and_each_exists(name: str) -> None:
    module = LIBRARY[name]
    assert len(set(module.__all__)) == len(module.__all__)
    for member in module.__all__:
        assert not member.startswith("_"), member
        assert hasattr(module, member), member


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_attribute_is_listed(name: str) -> None:
    module = LIBRARY[name]
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and attr != "annotations"
        and not isinstance(value, types.ModuleType)  # submodules appear once imported
    }
    assert public == set(module.__all__)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_exported_name_is_documented(name: str) -> None:
    text = API_DOC.read_text(encoding="utf-8")
    assert f"`{name}`" in text
    missing = [
        member
        for member in LIBRARY[name].__all__
        if not re.search(f"`{re.escape(member)}(?![A-Za-z0-9_])", text)
    ]
    assert missing == []


def test_the_public_modules_share_no_name() -> None:
    seen: dict[str, str] = {}
    for name in PUBLIC:
        for member in LIBRARY[name].__all__:
            assert member not in seen, f"{member} in {seen.get(member)} and {name}"
            seen[member] = name


# --------------------------------------------------------------------------- imports


def _is_private(dotted: str) -> bool:
    """True for ``verifier._x``, ``verifier.sdjwt._y`` and names like ``verifier.cli._Io``."""
    parts = dotted.split(".")
    return parts[0] == "verifier" and any(part.startswith("_") for part in parts[1:])


def _reaches(tree: ast.AST) -> list[tuple[int, str]]:
    """Every private name of verifier the code imports or looks up, with its line."""
    found: list[tuple[int, str]] = []
    aliases: set[str] = set()  # local names bound to a verifier module
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "verifier":
                    aliases.add((alias.asname or alias.name).split(".")[0])
                    if _is_private(alias.name):
                        found.append((node.lineno, alias.name))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.split(".")[0] != "verifier":
                continue
            for alias in node.names:
                dotted = f"{node.module}.{alias.name}"
                if _is_private(dotted):
                    found.append((node.lineno, dotted))
                elif dotted in PUBLIC or dotted == COMMAND_LINE:
                    aliases.add(alias.asname or alias.name)
                elif node.module in LIBRARY and alias.name not in LIBRARY[node.module].__all__:
                    found.append((node.lineno, f"{dotted} (not in its __all__)"))
                elif node.module not in LIBRARY and node.module != COMMAND_LINE:
                    found.append((node.lineno, f"{dotted} (not a public module)"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
            and isinstance(node.value, ast.Name | ast.Attribute)
            and ast.unparse(node.value).split(".")[0] in aliases
        ):
            found.append((node.lineno, f"{ast.unparse(node.value)}.{node.attr}"))
    return found


def _files() -> list[Path]:
    return [
        path
        for top in OUTSIDE
        for path in sorted((REPO / top).rglob("*.py"))
        if "node_modules" not in path.parts
    ]


def test_nothing_outside_verifier_reaches_into_it() -> None:
    found = []
    for path in _files():
        relative = path.relative_to(REPO).as_posix()
        if relative == SEAM:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=relative)
        found += [f"{relative}:{line}: {name}" for line, name in _reaches(tree)]
    assert found == [], "use the public names (docs/dev/verifier-api.md) or the seam " + SEAM


def test_the_checker_sees_every_way_in() -> None:
    code = """
import verifier._claims
import verifier as v
from verifier import _store
from verifier._keys import thumbprint
from verifier.sdjwt._parsing import parse
from verifier.cli import _Io
from verifier import verify_signature
from verifier.formats import b45decode
from verifier.sdjwt import issue_sd_jwt
v._verify.verify
"""
    names = [name for _, name in _reaches(ast.parse(code))]
    assert names == [
        "verifier._claims",
        "verifier._store",
        "verifier._keys.thumbprint",
        "verifier.sdjwt._parsing.parse",
        "verifier.cli._Io",
        "verifier.verify_signature (not in its __all__)",
        "v._verify",
    ]


def _seam_names_used(tree: ast.AST) -> set[str]:
    used = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == internals.__name__:
            used.update(alias.name for alias in node.names)
    return used


def test_the_seam_holds_only_private_names_that_are_used() -> None:
    public = {member for module in LIBRARY.values() for member in module.__all__}
    assert sorted(set(internals.__all__) & public) == []
    used: set[str] = set()
    for path in _files():
        if path.relative_to(REPO).as_posix() != SEAM:
            used |= _seam_names_used(ast.parse(path.read_text(encoding="utf-8")))
    assert sorted(set(internals.__all__) - used) == []
    assert sorted(used - set(internals.__all__)) == []
    seam = ast.parse((REPO / SEAM).read_text(encoding="utf-8"))
    for node in seam.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("verifier"):
            for alias in node.names:
                assert _is_private(f"{node.module}.{alias.name}"), alias.name
