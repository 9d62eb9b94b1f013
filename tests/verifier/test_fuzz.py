"""Random and mutated input through verify() and verify_plate(): typed verdicts, never a crash.

Hypothesis properties here; the atheris harnesses of fuzz/ run for a small bounded number
of inputs each, through ``fuzz/run_all.py`` exactly as ``make fuzz`` calls it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.verifier_internals import ALPHABET
from tests.vectors import own_vectors_root
from verifier import (
    Context,
    DataDir,
    Outcome,
    Reason,
    TrustStore,
    Verdict,
    VerifierError,
    ZoneError,
    verify,
    verify_plate,
)
from verifier.formats import b45decode, b45encode

REPO = Path(__file__).resolve().parents[2]
VECTORS = json.loads((own_vectors_root() / "verify.json").read_text(encoding="utf-8"))
CASES = {c["name"]: c for c in VECTORS["cases"]}
NOW = CASES["valid_es256"]["now"]
VALID = CASES["valid_es256"]["input"]


def _decodes(text: str) -> bool:
    try:
        b45decode(text[5:])
    except VerifierError:
        return False
    return text.startswith("BID1:")


TOKENS = [c["input"] for c in VECTORS["cases"] if c["kind"] == "qr" and _decodes(c["input"])]
SETTINGS = settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TrustStore:
    spec = VECTORS["stores"]["main"]
    data_dir = DataDir(tmp_path_factory.mktemp("fuzz-store"))
    for anchor in spec["anchors"]:
        data_dir.add_anchor(bytes.fromhex(anchor))
    for blob in spec["sync"]:
        data_dir.sync_bytes(bytes.fromhex(blob))
    return data_dir.load()


def assert_typed(verdict: Verdict) -> None:
    assert isinstance(verdict.outcome, Outcome)
    assert (verdict.reason is None) == (verdict.outcome is Outcome.VALID)
    assert verdict.reason is None or isinstance(verdict.reason, Reason)
    json.dumps(verdict.to_json())


@SETTINGS
@given(st.text(max_size=1200))
def test_random_text_is_invalid_with_a_reason(store: TrustStore, text: str) -> None:
    verdict = verify(text, store, NOW)
    assert_typed(verdict)
    if not text.startswith("BID1:"):
        assert verdict.reason is Reason.UNSUPPORTED_FORMAT


@SETTINGS
@given(st.text(alphabet=ALPHABET, max_size=995), st.integers(-(10**6), 10**9))
def test_random_base45_is_typed(store: TrustStore, body: str, shift: int) -> None:
    context = Context(zone="05513000:A3", plate="GE-X 1")
    assert_typed(verify("BID1:" + body, store, NOW + shift, context))


@st.composite
def mutated(draw: st.DrawFn) -> str:
    raw = bytearray(b45decode(draw(st.sampled_from(TOKENS))[5:]) or b"\xa0")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "set"]))
        at = draw(st.integers(0, max(0, len(raw) - 1)))
        if op == "flip" and raw:
            raw[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "insert":
            raw.insert(at, draw(st.integers(0, 255)))
        elif op == "delete" and len(raw) > 1:
            del raw[at]
        elif raw:
            raw[at] = draw(st.sampled_from([0x00, 0x18, 0x1F, 0x5F, 0x9F, 0xBF, 0xD2, 0xFF]))
    return "BID1:" + b45encode(bytes(raw))


@SETTINGS
@given(mutated(), st.integers(-(10**5), 10**8))
def test_mutated_tokens_are_typed(store: TrustStore, text: str, shift: int) -> None:
    assert_typed(verify(text, store, NOW + shift))
    assert_typed(verify(text, store, NOW, Context(zone="05562032:B1", plate="NL:X1")))


@SETTINGS
@given(st.text(max_size=40), st.none() | st.text(max_size=20), st.integers(-(10**6), 10**9))
def test_random_plates_are_typed(store: TrustStore, plate: str, zone: str | None, t: int) -> None:
    try:
        verdict = verify_plate(plate, store, NOW + t, zone=zone, municipality="05513000")
    except ZoneError as exc:  # a usage error, typed; nothing checked
        assert exc.reason is Reason.BAD_ZONE
        return
    assert_typed(verdict)


def test_empty_store_is_always_indeterminate_or_invalid() -> None:
    empty = TrustStore()
    assert verify(VALID, empty, NOW).reason is Reason.NO_BUNDLE
    assert verify_plate("GE-AB 1234", empty, NOW).reason is Reason.NO_PLATE_INDEX


def test_atheris_harnesses_run_clean() -> None:
    """Every harness of fuzz/, a small bounded number of inputs each, as `make fuzz` does."""
    proc = subprocess.run(
        [sys.executable, "fuzz/run_all.py", "--runs", "2000", "--timeout", "10"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if " ok " in line]
    harnesses = sorted(p.stem for p in (REPO / "fuzz").glob("fuzz_*.py"))
    assert len(lines) == len(harnesses) >= 11
    assert any(line.split()[0] == "jwk" for line in lines)
    assert all(int(line.split()[2]) >= 2000 for line in lines)
