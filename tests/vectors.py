"""The only code that finds vector files.

Vectors written by others live in ``../shared/vectors`` beside the checkout and are read
in place, never copied; ``BUERGERID_SHARED_VECTORS`` overrides the location. A missing
folder fails loudly with the resolved path: a skipped conformance suite looks green.
Our own generated vectors live in ``tests/vectors/``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

_REPO = Path(__file__).resolve().parent.parent


def vectors_root() -> Path:
    """The shared conformance vectors folder; raises if it is missing."""
    override = os.environ.get("BUERGERID_SHARED_VECTORS")
    root = Path(override) if override else _REPO.parent / "shared" / "vectors"
    root = root.resolve()
    if not (root / "README.md").is_file():
        raise FileNotFoundError(f"shared conformance vectors not found at {root}")
    return root


def load_index(name: str) -> dict[str, Any]:
    """The parsed ``index.json`` of one shared vector set (``dcc``, ``cose-wg``, ...)."""
    with (vectors_root() / name / "index.json").open(encoding="utf-8") as fh:
        data: dict[str, Any] = json.load(fh)
    return data


def load_json(relative: str) -> Any:
    """A JSON file of the shared vectors, by path relative to the vectors root."""
    with (vectors_root() / relative).open(encoding="utf-8") as fh:
        return json.load(fh)


def own_vectors_root() -> Path:
    """Our own generated vectors (``tests/vectors``)."""
    return _REPO / "tests" / "vectors"
