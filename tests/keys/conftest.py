"""Fixtures of the key tests: cheap argon2 parameters, a fixed time, a SoftHSM2 token."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from keys.storage.file import KdfParams
from tests.support.softhsm import SoftHsm, init_token

CHEAP_KDF = KdfParams(time_cost=1, memory_kib=8, parallelism=1)
T0 = 1_800_000_000  # a fixed "now" for every test
__all__ = ["CHEAP_KDF", "T0", "SoftHsm"]


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsm]:
    """One token per test process: the module reads SOFTHSM2_CONF once, at C_Initialize."""
    hsm = init_token(tmp_path_factory.mktemp("softhsm"))
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
    yield hsm
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous
