"""buergerid-wallet against the combined app over real HTTP (SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from mobile_sdk_stub import cli
from tests.wallet_api.harness import WalletEnv, wallet_env


@pytest.fixture
def env(sqlite_settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(sqlite_settings, clock) as environment:
        yield environment


def test_redeem_list_qr_pdf_and_a_wrong_code(
    env: WalletEnv,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("time.time", env.now)  # the server runs on the FixedClock
    wallet = ["--wallet-dir", str(tmp_path / "w")]
    offer = env.offer()
    wrong = str((int(offer["tx_code"]) + 1) % 10 ** len(offer["tx_code"])).zfill(8)
    assert cli.main([*wallet, "redeem", offer["credential_offer_url"], "--tx-code", wrong]) == 1
    assert "invalid_grant" in capsys.readouterr().err
    assert (
        cli.main([*wallet, "redeem", offer["credential_offer_url"], "--tx-code", offer["tx_code"]])
        == 0
    )
    capsys.readouterr()
    assert cli.main([*wallet, "list", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["kind"] == "parking-permit" and row["has_qr"]
    assert cli.main([*wallet, "qr", row["id"], "--out", str(tmp_path / "q.svg"), "--svg"]) == 0
    assert (tmp_path / "q.svg").read_bytes().startswith(b"<?xml")
    assert cli.main([*wallet, "pdf", row["id"], "--out", str(tmp_path / "p.pdf")]) == 0
    assert (tmp_path / "p.pdf").read_bytes().startswith(b"%PDF")
