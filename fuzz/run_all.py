"""Run every atheris harness of fuzz/ for a bounded number of runs, each in its own process.

    python fuzz/run_all.py --runs 200000            # what `make fuzz` does
    python fuzz/run_all.py --runs 2000 --only verify cose jwk

Harnesses are the ``fuzz_<name>.py`` files beside this one (e.g. ``fuzz_jwk.py``, the strict
JWK decoder). Each harness first writes its seed corpus (from tests/vectors/verify.json or its
own seeds) into a temporary directory, then libFuzzer runs ``--runs`` inputs with
``--timeout`` seconds per input and a memory limit. Prints one line per harness with the
number of inputs that ran; the exit status is 0 only if every harness finished cleanly.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DONE = re.compile(r"Done (\d+) runs in (\d+) second")


def harnesses() -> list[str]:
    return sorted(p.stem.removeprefix("fuzz_") for p in HERE.glob("fuzz_*.py"))


def run_one(name: str, runs: int, timeout_s: int, rss_mb: int) -> tuple[bool, int, float, str]:
    script = HERE / f"fuzz_{name}.py"
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{name}-") as tmp:
        corpus = Path(tmp) / "corpus"
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                str(script),
                "--write-seeds",
                str(corpus),
                f"-runs={runs}",
                f"-timeout={timeout_s}",
                f"-rss_limit_mb={rss_mb}",
                f"-artifact_prefix={tmp}/",
                "-print_final_stats=1",
            ],
            capture_output=True,
            text=True,
            cwd=HERE,
            check=False,
        )
        elapsed = time.perf_counter() - started
        match = DONE.search(proc.stderr)
        ran = int(match.group(1)) if match else 0
        ok = proc.returncode == 0 and match is not None
        tail = "" if ok else "\n".join(proc.stderr.strip().splitlines()[-25:])
        return ok, ran, elapsed, tail


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200_000, help="inputs per harness")
    parser.add_argument("--timeout", type=int, default=10, help="seconds per input")
    parser.add_argument("--rss-mb", type=int, default=2048, help="memory limit per harness")
    parser.add_argument("--only", nargs="*", default=None, help="harness names")
    args = parser.parse_args()
    names = args.only or harnesses()
    unknown = sorted(set(names) - set(harnesses()))
    if unknown:
        parser.error(f"unknown harness: {', '.join(unknown)}")
    failed = []
    total = 0
    for name in names:
        ok, ran, elapsed, tail = run_one(name, args.runs, args.timeout, args.rss_mb)
        total += ran
        state = "ok" if ok else "FAILED"
        print(f"{name:12s} {state:6s} {ran:>10d} inputs in {elapsed:7.1f} s", flush=True)
        if not ok:
            failed.append(name)
            print(tail, flush=True)
    print(f"total: {total} inputs over {len(names)} harnesses; failed: {len(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
