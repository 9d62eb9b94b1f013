"""Shared setup of the atheris harnesses: seeds from our vectors, a loaded trust store.

Every harness calls ``run(target, seeds)``: the target gets one input, may raise only
``VerifierError`` (a typed refusal); anything else is a finding. ``fuzz/run_all.py`` runs
every harness in its own process with a bounded number of runs and time per input.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import atheris
import cbor2

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

VECTORS_PATH = REPO / "tests" / "vectors" / "verify.json"
NOW = 1774260000  # the vectors' NOW (tests/vectors/generate.py)


def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return data


def qr_texts() -> list[str]:
    return [c["input"] for c in vectors()["cases"] if c["kind"] == "qr"]


def plates() -> list[str]:
    return [c["input"] for c in vectors()["cases"] if c["kind"] == "plate"]


def main_store_blobs() -> list[bytes]:
    return [bytes.fromhex(b) for b in vectors()["stores"]["main"]["sync"]]


def sign1_payload(blob: bytes) -> bytes:
    payload: bytes = cbor2.loads(blob).value[2]
    return payload


def status_tokens() -> list[bytes]:
    bundle = cbor2.loads(sign1_payload(main_store_blobs()[0]))
    return [tok for entry in bundle["issuers"].values() for tok in entry["status"].values()]


def load_main_store() -> Any:
    """The vectors' main store, built in a temporary directory (atheris never writes it)."""
    from verifier import DataDir

    spec = vectors()["stores"]["main"]
    root = Path(tempfile.mkdtemp(prefix="buergerid-fuzz-"))
    data_dir = DataDir(root)
    for anchor in spec["anchors"]:
        data_dir.add_anchor(bytes.fromhex(anchor))
    for blob in spec["sync"]:
        data_dir.sync_bytes(bytes.fromhex(blob))
    return data_dir.load()


def write_seeds(corpus: Path, seeds: Iterable[bytes]) -> None:
    corpus.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(seeds):
        (corpus / f"seed-{i:04d}").write_bytes(seed)


def run(target: Callable[[bytes], None], seeds: Callable[[], Iterable[bytes]]) -> None:
    """atheris main. ``--write-seeds DIR`` first writes the seed corpus into DIR (then fuzzes
    with DIR as the corpus, as every other argument goes to libFuzzer)."""
    argv = list(sys.argv)
    if "--write-seeds" in argv:
        at = argv.index("--write-seeds")
        corpus = Path(argv[at + 1])
        write_seeds(corpus, seeds())
        argv[at : at + 2] = [str(corpus)]
    atheris.Setup(argv, target)
    atheris.Fuzz()


def text_of(data: bytes) -> str:
    """Bytes as text the way a scanner could hand them over (invalid UTF-8 replaced)."""
    return data.decode("utf-8", errors="replace")
