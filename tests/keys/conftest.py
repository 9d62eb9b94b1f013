"""Fixtures of the key tests: cheap argon2 parameters, a fixed time, a SoftHSM2 token."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from keys.storage.file import KdfParams
from keys.storage.pkcs11 import DEFAULT_MODULE, MODULE_ENV

CHEAP_KDF = KdfParams(time_cost=1, memory_kib=8, parallelism=1)
T0 = 1_800_000_000  # a fixed "now" for every test
TOKEN_LABEL = "buergerid-test"
USER_PIN = "123456"
SO_PIN = "12345678"


@dataclass(frozen=True, slots=True)
class SoftHsm:
    """An initialised SoftHSM2 token in a temporary directory."""

    module: str
    conf: Path
    token_label: str
    pin: str

    def env(self) -> dict[str, str]:
        """Environment for a subprocess that must see this token."""
        return {**os.environ, "SOFTHSM2_CONF": str(self.conf), MODULE_ENV: self.module}


def _softhsm_missing_reason(module: str) -> str | None:
    if not os.path.isfile(module):
        return f"PKCS#11 module {module} not found (Debian package softhsm2)"
    if shutil.which("softhsm2-util") is None:
        return "softhsm2-util not on PATH (Debian package softhsm2)"
    return None


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """One token per test process: the module reads SOFTHSM2_CONF once, at C_Initialize."""
    module = os.environ.get(MODULE_ENV) or DEFAULT_MODULE
    reason = _softhsm_missing_reason(module)
    if reason is not None:
        if os.environ.get("BUERGERID_REQUIRE_SOFTHSM") == "1":
            pytest.fail(f"BUERGERID_REQUIRE_SOFTHSM=1 but {reason}")
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\n"
        "objectstore.backend = file\nlog.level = ERROR\n",
        encoding="utf-8",
    )
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    subprocess.run(
        [
            "softhsm2-util",
            "--init-token",
            "--free",
            "--label",
            TOKEN_LABEL,
            "--pin",
            USER_PIN,
            "--so-pin",
            SO_PIN,
        ],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    yield SoftHsm(module=module, conf=conf, token_label=TOKEN_LABEL, pin=USER_PIN)
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous
