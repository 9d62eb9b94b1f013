"""SoftHSM2 tokens for tests: one initialised token in a directory of its own.

    hsm = init_token(tmp_path / "softhsm")      # skips (or fails under
    env = {**os.environ, **hsm.env()}           # BUERGERID_REQUIRE_SOFTHSM=1) without SoftHSM2

The module reads `SOFTHSM2_CONF` once per process (at C_Initialize): a test process that uses
a token itself keeps to one token per session (tests/keys/conftest.py); tests that hand the
token to subprocesses (servers, CLIs) may make as many as they like.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from keys.storage.pkcs11 import DEFAULT_MODULE, MODULE_ENV

TOKEN_LABEL = "buergerid-test"
USER_PIN = "123456"
SO_PIN = "12345678"
REQUIRE_ENV = "BUERGERID_REQUIRE_SOFTHSM"


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


def softhsm_module() -> str:
    """The module to test with; skips (fails under BUERGERID_REQUIRE_SOFTHSM=1) without it."""
    module = os.environ.get(MODULE_ENV) or DEFAULT_MODULE
    reason = None
    if not os.path.isfile(module):
        reason = f"PKCS#11 module {module} not found (Debian package softhsm2)"
    elif shutil.which("softhsm2-util") is None:
        reason = "softhsm2-util not on PATH (Debian package softhsm2)"
    if reason is not None:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {reason}")
        pytest.skip(reason)
    return module


def init_token(root: Path, label: str = TOKEN_LABEL, pin: str = USER_PIN) -> SoftHsm:
    """A fresh token labelled `label` with user PIN `pin`, its files under `root`."""
    module = softhsm_module()
    (root / "tokens").mkdir(parents=True)
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {root / 'tokens'}\n"
        "objectstore.backend = file\nlog.level = ERROR\n",
        encoding="utf-8",
    )
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin,
         "--so-pin", SO_PIN],
        check=True,
        capture_output=True,
        env={**os.environ, "SOFTHSM2_CONF": str(conf)},
    )  # fmt: skip
    return SoftHsm(module=module, conf=conf, token_label=label, pin=pin)
