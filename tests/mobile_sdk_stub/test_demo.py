"""`make demo`'s story against a live server (uvicorn on 127.0.0.1) with the dev bootstrap."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from issuer.devserver import bootstrap_dev
from mobile_sdk_stub import demo
from tests.support.db import make_test_settings
from tests.support.http import live_server
from wallet_api.app import create_combined_app


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_story_shows_the_officers_verdicts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = tmp_path / "var"
    port = _free_port()
    settings = make_test_settings(
        f"sqlite:///{tmp_path / 'demo.db'}",
        data_dir,
        public_base_url=f"http://127.0.0.1:{port}",
    )
    info = bootstrap_dev(settings)
    app = create_combined_app(settings)
    with live_server(app, port=port) as base_url:
        ok = demo.run_story(base_url, info.api_key, data_dir, tmp_path / "work")
    out = capsys.readouterr().out
    assert ok, out
    scans = [line for line in out.splitlines() if "officer] scan:" in line]
    assert len(scans) == 2, out
    valid, revoked = scans
    assert valid.startswith("[4 officer] scan: VALID | reason - | zone A3 | plate GE-")
    assert "| valid until 20" in valid and valid.endswith("(exit 0)")
    assert revoked.startswith("[5 officer] scan: INVALID | reason revoked | zone A3 | plate GE-")
    assert revoked.endswith("(exit 1)")
    assert "[6 municipality] demo phone removed (HTTP 200)" in out.splitlines()
    assert out.splitlines()[-1] == "[done] the story ran as expected"


def test_describe_a_verdict_without_a_permit() -> None:
    line = demo.describe({"outcome": "invalid", "reason": "bad_signature", "permit": None})
    assert line == "INVALID | reason bad_signature | zone - | plate - | valid until -"


def test_describe_a_fleet_permit() -> None:
    permit = {"zones": ["A3", "B1"], "plates": [], "fleet": "CS-1", "exp": 1798761600}
    line = demo.describe({"outcome": "valid", "reason": None, "permit": permit})
    assert (
        line
        == "VALID | reason - | zone A3, B1 | plate fleet CS-1 | valid until 2027-01-01 00:00 UTC"
    )


def test_an_unexpected_verdict_fails_the_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a handheld without trust cannot call a code valid: the step must report failure
    ok = demo._officer_scan(
        "4 officer",
        tmp_path / "handheld",
        ["check", "BID1:NOT-A-TOKEN"],
        outcome="valid",
        reason=None,
    )
    assert ok is False
    assert "[4 officer] scan:" in capsys.readouterr().out


def test_the_demo_asks_for_the_issuers_active_state() -> None:
    """The stub imports nothing of the issuer; its one state word must be the issuer's."""
    from issuer.services.permits.vocabulary import PermitState

    assert demo.ACTIVE == PermitState.ACTIVE
