"""The project speaks of itself alone: its docs, code (comments, docstrings) and OpenAPI texts
cite its own documents (docs/formats.md, docs/verifier.md, ...), never a team document
outside the repository, a section of one, an issue of our tracker or who wrote what."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from issuer.app import create_app
from tests.support.db import make_test_settings
from wallet_api.app import create_combined_app

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".venv", "node_modules", "build", "dist", "__pycache__", ".mypy_cache"}
SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".html", ".js", ".css", ".txt", ".cfg"}

# spelled in parts so that this file does not cite what it forbids
FORBIDDEN = [
    ("a team document", re.compile(r"\b" + "DES" + r"IGN\b|\b(?:STYLE|DOMAIN)\.md\b")),
    ("the shared folder", re.compile(re.escape("../" + "shared/") + r"(?!vectors\b)")),
    # "issue #12", or "issue 12" ending a phrase ("we issue 3 permits" is the verb)
    ("an issue", re.compile(r"\b" + "iss" + r"ues? (?:#\d+|\d+\s*(?:[.,;:)\]\"'`]|$))", re.I)),
    ("a final report", re.compile("final " + "report", re.IGNORECASE)),
    ("who wrote it", re.compile(r"\b" + "engin" + r"eers?\b", re.IGNORECASE)),
]
# the conformance vectors are read from ../shared/vectors: a place, not a citation; an issue of
# an upstream project (named as such) is a fact about that project, not of our tracker
ALLOWED_LINE = re.compile(r"\bupstream\b", re.IGNORECASE)


def citations(text: str) -> list[str]:
    """What `text` cites that it must not, one entry per offending line."""
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if ALLOWED_LINE.search(line):
            continue
        for what, pattern in FORBIDDEN:
            if pattern.search(line):
                found.append(f"{number}: {what}: {line.strip()[:120]}")
    return found


def _files() -> list[Path]:
    out = []
    for path in ROOT.rglob("*"):
        parts = set(path.relative_to(ROOT).parts)
        if parts & SKIP_DIRS or not path.is_file() or path.suffix not in SUFFIXES:
            continue
        if path == Path(__file__).resolve():
            continue
        out.append(path)
    return out


def test_the_checker_finds_each_kind_of_citation() -> None:
    samples = [
        "see " + "DES" + "IGN §3.2",
        "as in ../" + "shared/" + "DES" + "IGN.md",
        "fixed in " + "iss" + "ue 7",
        "see " + "iss" + "ue #12 for why",
        "from the " + "final " + "report",
        "the permits " + "engin" + "eer's routers",
    ]
    for sample in samples:
        assert citations(sample), sample
    assert not citations("read from ../" + "shared/vectors beside the checkout")
    assert not citations("we issue 3 permits")  # the verb is no citation
    assert not citations("wire formats: docs/formats.md, Trust bundle")


def test_docs_and_code_cite_only_the_project() -> None:
    files = _files()
    assert any(p.name == "formats.md" for p in files)  # the walk reached docs/
    bad = [
        f"{path.relative_to(ROOT)}:{hit}"
        for path in files
        for hit in citations(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("which", ["issuer", "wallet"])
def test_openapi_texts_cite_only_the_project(tmp_path: Path, which: str) -> None:
    settings = make_test_settings(f"sqlite:///{tmp_path / 'a.db'}", tmp_path / "data")
    app = create_app(settings) if which == "issuer" else create_combined_app(settings)
    spec = json.dumps(app.openapi(), ensure_ascii=False, indent=1)
    assert len(spec) > 10_000  # the whole document, with its descriptions
    assert not citations(spec), citations(spec)
