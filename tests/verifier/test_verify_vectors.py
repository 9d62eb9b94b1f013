"""Our own vectors (tests/vectors/verify.json) through verify(), verify_plate(), sync and the CLI.

Every case is evaluated at its own ``now``; every sync sequence runs step by step against a
fresh data directory. ``tests/vectors/generate.py`` makes the file; a test checks that it
still reproduces it byte for byte.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from tests.support.verifier_internals import VERDICT_REASONS, CliIo
from tests.support.verifier_stores import load_vector_generator
from tests.vectors import own_vectors_root
from verifier import (
    Context,
    DataDir,
    Notice,
    Outcome,
    TrustStore,
    Verdict,
    VerifierError,
    verify,
    verify_plate,
)
from verifier.cli import run

VECTORS = json.loads((own_vectors_root() / "verify.json").read_text(encoding="utf-8"))
CASES: list[dict[str, Any]] = VECTORS["cases"]
SYNC: list[dict[str, Any]] = VECTORS["sync"]
REPO = Path(__file__).resolve().parents[2]
EXIT = {"valid": 0, "invalid": 1, "indeterminate": 3}


def make_store(root: Path, spec: dict[str, Any]) -> DataDir:
    data_dir = DataDir(root)
    for anchor in spec["anchors"]:
        data_dir.add_anchor(bytes.fromhex(anchor))
    for blob in spec["sync"]:
        data_dir.sync_bytes(bytes.fromhex(blob))
    return data_dir


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, TrustStore]]:
    built = {}
    for name, spec in VECTORS["stores"].items():
        root = tmp_path_factory.mktemp(f"store-{name}")
        built[name] = (root, make_store(root, spec).load())
    return built


def run_case(case: dict[str, Any], store: TrustStore) -> Verdict:
    if case["kind"] == "plate":
        return verify_plate(
            case["input"], store, case["now"], case["zone"], municipality=case["municipality"]
        )
    context = None
    if case["zone"] is not None or case["plate"] is not None:
        context = Context(zone=case["zone"], plate=case["plate"], municipality=case["municipality"])
    return verify(case["input"], store, case["now"], context)


def environ(case: dict[str, Any]) -> dict[str, str]:
    """The handheld's municipality, as the CLI reads it."""
    m = case["municipality"]
    return {} if m is None else {"BUERGERID_VERIFY_MUNICIPALITY": m}


def assert_matches(got: dict[str, Any], expected: dict[str, Any]) -> None:
    assert (got["outcome"], got["reason"]) == (expected["outcome"], expected["reason"])
    assert sorted(got["warnings"]) == sorted(expected["warnings"])
    number = None if got["permit"] is None else got["permit"]["number"]
    assert number == expected["number"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_case_through_verify(
    case: dict[str, Any], stores: dict[str, tuple[Path, TrustStore]]
) -> None:
    verdict = run_case(case, stores[case["store"]][1])
    assert_matches(verdict.to_json(), case["expected"])


def cli_args(case: dict[str, Any], root: Path) -> list[str]:
    args = ["--data-dir", str(root), case["kind"] if case["kind"] == "plate" else "check"]
    args += ["--at", str(case["now"]), "--json"]
    if case["zone"] is not None:
        args += ["--zone", case["zone"]]
    if case["plate"] is not None:
        args += ["--plate", case["plate"]]
    return [*args, "--", case["input"]]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_case_through_the_cli(
    case: dict[str, Any], stores: dict[str, tuple[Path, TrustStore]]
) -> None:
    out, err = io.StringIO(), io.StringIO()
    status = run(
        cli_args(case, stores[case["store"]][0]),
        CliIo(out, err, io.StringIO(), environ(case), lambda: 0),
    )
    assert err.getvalue() == ""
    assert_matches(json.loads(out.getvalue()), case["expected"])
    assert status == EXIT[case["expected"]["outcome"]]


def _subprocess(
    args: list[str], extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verifier", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "LANG": "C", **(extra_env or {})},
        check=False,
        timeout=120,
    )


def test_every_case_through_cli_subprocesses(
    stores: dict[str, tuple[Path, TrustStore]], tmp_path: Path
) -> None:
    """Every case as a script runs it: QR cases as ``check --batch`` (one process per store,
    time and context), plate cases as ``plate --json``; exit status as the contract says."""
    Group = tuple[str, int, str | None, str | None, str | None]
    groups: dict[Group, list[dict[str, Any]]] = defaultdict(list)
    for case in CASES:
        if case["kind"] == "qr":
            key = (case["store"], case["now"], case["zone"], case["plate"], case["municipality"])
            groups[key].append(case)
    for n, ((store, now, zone, plate, _m), cases) in enumerate(sorted(groups.items(), key=str)):
        batch = tmp_path / f"batch-{n}.txt"
        batch.write_text("".join(c["input"] + "\n" for c in cases), encoding="utf-8")
        args = ["--data-dir", str(stores[store][0]), "check", "--at", str(now)]
        args += ["--zone", zone] if zone is not None else []
        args += ["--plate", plate] if plate is not None else []
        proc = _subprocess([*args, "--batch", str(batch)], environ(cases[0]))
        assert proc.stderr == ""
        lines = proc.stdout.splitlines()
        assert len(lines) == len(cases)
        for line, case in zip(lines, cases, strict=True):
            assert_matches(json.loads(line), case["expected"])
        outcomes = {c["expected"]["outcome"] for c in cases}
        expected_status = 1 if "invalid" in outcomes else 3 if "indeterminate" in outcomes else 0
        assert proc.returncode == expected_status
    for case in CASES:
        if case["kind"] == "plate":
            proc = _subprocess(cli_args(case, stores[case["store"]][0]), environ(case))
            assert proc.stderr == ""
            assert_matches(json.loads(proc.stdout), case["expected"])
            assert proc.returncode == EXIT[case["expected"]["outcome"]]


@pytest.mark.parametrize("seq", SYNC, ids=lambda s: s["name"])
def test_sync_sequence(seq: dict[str, Any], tmp_path: Path) -> None:
    data_dir = DataDir(tmp_path)
    for anchor in seq["anchors"]:
        data_dir.add_anchor(bytes.fromhex(anchor))
    for step in seq["steps"]:
        before = sorted(
            (p.relative_to(tmp_path), p.read_bytes()) for p in tmp_path.rglob("*") if p.is_file()
        )
        data = bytes.fromhex(step["data"])
        if step["expect"] in ("stored", "unchanged"):
            result = data_dir.sync_bytes(data)
            assert result.changed is (step["expect"] == "stored")
            data_dir.load()  # what was stored loads again
        else:
            with pytest.raises(VerifierError) as info:
                data_dir.sync_bytes(data)
            assert info.value.reason == step["expect"]
            after = sorted(
                (p.relative_to(tmp_path), p.read_bytes())
                for p in tmp_path.rglob("*")
                if p.is_file()
            )
            assert after == before  # a refusal leaves the store as it was


def test_vectors_cover_every_reason_warning_and_outcome() -> None:
    reasons = {c["expected"]["reason"] for c in CASES}
    warnings = {w for c in CASES for w in c["expected"]["warnings"]}
    outcomes = {c["expected"]["outcome"] for c in CASES}
    assert {str(r) for r in VERDICT_REASONS} <= reasons
    assert {str(n) for n in Notice} <= warnings
    assert {str(o) for o in Outcome} == outcomes
    refusals = {s["expect"] for seq in SYNC for s in seq["steps"]}
    assert {
        "bundle_rollback",
        "untrusted_bundle",
        "untrusted_plate_index",
        "stored",
        "unchanged",
    } <= refusals


def test_generator_reproduces_the_committed_file() -> None:
    generate = load_vector_generator()
    text = json.dumps(generate.build(), indent=1, ensure_ascii=False) + "\n"
    assert text == generate.OUT.read_text(encoding="utf-8")
