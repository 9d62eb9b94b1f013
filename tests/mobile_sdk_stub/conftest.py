"""Fixtures of the wallet stub tests."""

from __future__ import annotations

from pathlib import Path

import pytest

# A BID1: text for rendering tests: the prefix plus Base45 characters (the real token path
# is tested with the verifier); long enough for a QR version like a real permit's.
BID1_TEXT = "BID1:" + "6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDE$VK G2EV6UY06ZVL" * 3


@pytest.fixture
def wallet_dir(tmp_path: Path) -> Path:
    return tmp_path / "wallet"
