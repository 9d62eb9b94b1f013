"""The project's own verification vectors as handheld data: the committed ``verify.json``,
its generator, data dirs filled from them, and the command line run as a script runs it.

Shared by the verifier's tests so that no test module imports another.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.vectors import own_vectors_root
from verifier import DataDir

REPO = Path(__file__).resolve().parents[2]
VERIFY_VECTORS: dict[str, Any] = json.loads(
    (own_vectors_root() / "verify.json").read_text(encoding="utf-8")
)
_VALID_CASE = next(c for c in VERIFY_VECTORS["cases"] if c["name"] == "valid_es256")
NOW: int = _VALID_CASE["now"]
VALID: str = _VALID_CASE["input"]


def load_vector_generator() -> Any:
    """A fresh copy of the vectors' generator module (``generate.py``)."""
    spec = importlib.util.spec_from_file_location(
        "buergerid_vector_generator", own_vectors_root() / "generate.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@functools.cache
def vector_generator() -> Any:
    """The vectors' generator module, loaded once per test run."""
    return load_vector_generator()


def data_dir_with(tmp_path: Path, store: str = "main") -> DataDir:
    """A data dir under ``tmp_path`` holding one store of the vectors: anchors, then syncs."""
    spec = VERIFY_VECTORS["stores"][store]
    data_dir = DataDir(tmp_path / "data")
    for anchor in spec["anchors"]:
        data_dir.add_anchor(bytes.fromhex(anchor))
    for blob in spec["sync"]:
        data_dir.sync_bytes(bytes.fromhex(blob))
    return data_dir


def write_store_files(tmp: Path, store: str) -> tuple[list[Path], list[Path]]:
    """One store of the vectors as files: its anchor keys and its sync blobs."""
    spec = VERIFY_VECTORS["stores"][store]
    anchors, blobs = [], []
    for i, anchor in enumerate(spec["anchors"]):
        path = tmp / f"anchor-{i}.key"
        path.write_bytes(bytes.fromhex(anchor))
        anchors.append(path)
    for i, blob in enumerate(spec["sync"]):
        path = tmp / f"sync-{i}.cbor"
        path.write_bytes(bytes.fromhex(blob))
        blobs.append(path)
    return anchors, blobs


def cli(
    *args: str, data_dir: Path | None = None, stdin: str | None = None, lang: str = "C.UTF-8"
) -> subprocess.CompletedProcess[str]:
    """``buergerid-verify`` in a subprocess, with no locale or data dir from our environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG"))}
    env["LANG"] = lang
    env.pop("BUERGERID_VERIFY_DATA", None)
    prefix = [] if data_dir is None else ["--data-dir", str(data_dir)]
    return subprocess.run(
        [sys.executable, "-m", "verifier", *prefix, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
        timeout=60,
    )


def assert_error_line(proc: subprocess.CompletedProcess[str]) -> None:
    """Exit status 2 with one ``buergerid-verify: error:`` line on stderr and no traceback."""
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("buergerid-verify: error: ")
    assert "Traceback" not in proc.stderr


def fresh_dir(tmp_path: Path, *blobs: bytes) -> DataDir:
    """A data dir at ``tmp_path`` pinning the generator's first root, then ``blobs`` synced."""
    generator = vector_generator()
    data_dir = DataDir(tmp_path)
    data_dir.add_anchor(generator.dumps(generator.ROOT1.cose_key()))
    for blob in blobs:
        data_dir.sync_bytes(blob)
    return data_dir
