"""The systemd units in `deploy/` pass `systemd-analyze verify`: every key is one systemd
knows, the service has its command, and that command exists and is executable.

The units name the installed distribution (`/opt/buergerid/bin/...`); the copies checked here
name this environment's instead, nothing else changes. The serve unit is a template: it is
checked as the instance `buergerid-serve@8000.service`. Without `systemd-analyze` (no
systemd on the machine, e.g. a CI container) the check is skipped with that reason; where it
is installed it always runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.processes import BIN

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
INSTALLED = "/opt/buergerid/bin/"
UNITS = {"buergerid-serve@.service": "buergerid-serve@8000.service",
         "buergerid-worker.service": "buergerid-worker.service"}  # fmt: skip


def _systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze not installed (Debian package systemd)")
    return found


def _verify(analyze: str, unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [analyze, "verify", "--man=no", str(unit)],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0"},
    )  # fmt: skip


def test_every_unit_in_deploy_is_checked() -> None:
    assert sorted(p.name for p in DEPLOY.glob("*.service")) == sorted(UNITS)


@pytest.mark.parametrize("unit", sorted(UNITS))
def test_the_unit_passes_systemd_analyze_verify(unit: str, tmp_path: Path) -> None:
    analyze = _systemd_analyze()
    text = (DEPLOY / unit).read_text(encoding="utf-8")
    assert INSTALLED in text
    checked = tmp_path / UNITS[unit]
    checked.write_text(text.replace(INSTALLED, f"{BIN}/"), encoding="utf-8")
    done = _verify(analyze, checked)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.strip() == "", done.stderr  # no warning either


def test_a_broken_unit_fails_the_check(tmp_path: Path) -> None:
    """The check can fail: a misspelt key leaves the worker without a command."""
    analyze = _systemd_analyze()
    text = (DEPLOY / "buergerid-worker.service").read_text(encoding="utf-8")
    broken = tmp_path / "buergerid-worker.service"
    broken.write_text(
        text.replace(INSTALLED, f"{BIN}/").replace("ExecStart=", "ExecStrat="), encoding="utf-8"
    )
    done = _verify(analyze, broken)
    assert done.returncode != 0 and "ExecStrat" in done.stderr
