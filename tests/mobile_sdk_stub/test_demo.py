"""`make demo`'s story against a live server (uvicorn on 127.0.0.1) with the dev bootstrap, beside
someone else's active permit that it must leave untouched."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import httpx
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


def _someone_elses_permit(base_url: str, headers: dict[str, str]) -> dict[str, Any]:
    """An active permit of a seeded resident (not the demo's): applied for and paid."""
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
        residents = http.get("/api/v1/residents", params={"external_ref": "DEMO-0001"}).json()
        [erika] = residents["items"]
        cars = http.get("/api/v1/vehicles").json()["items"]
        car = next(c for c in cars if c["holder_id"] == erika["id"])
        applied = http.post(
            "/api/v1/permits",
            json={"resident_id": erika["id"], "zones": ["A3"], "vehicle_ids": [car["id"]]},
        )
        assert applied.status_code == 201, applied.text
        permit = applied.json()
        if permit["state"] != "active":
            due = sum(c["amount_cents"] for c in permit["charges"] if c["paid_at"] is None)
            paid = http.post(
                f"/api/v1/permits/{permit['id']}/payment",
                json={"amount_cents": due, "payment_ref": "COUNTER-1"},
            )
            assert paid.status_code == 200, paid.text
            permit = paid.json()
        assert permit["state"] == "active"
        return dict(permit)


def _register(base_url: str, headers: dict[str, str]) -> dict[str, Any]:
    """Every permit, resident and vehicle of the tenant as the municipal API shows them."""
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
        return {
            kind: {row["id"]: row for row in http.get(f"/api/v1/{kind}").json()["items"]}
            for kind in ("permits", "residents", "vehicles")
        }


def test_the_story_shows_the_verdicts_and_touches_only_its_own_data(
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
    headers = {"Authorization": f"Bearer {info.api_key}"}
    with live_server(app, port=port) as base_url:
        theirs = _someone_elses_permit(base_url, headers)
        before = _register(base_url, headers)
        ok = demo.run_story(base_url, info.api_key, data_dir, tmp_path / "work")
        after = _register(base_url, headers)
        with httpx.Client(base_url=base_url, headers=headers, timeout=30) as http:
            devices = http.get(f"/api/v1/residents/{theirs['resident_id']}/devices").json()
    out = capsys.readouterr().out
    assert ok, out

    # someone else's permit, resident and car: exactly as they were, and no phone added
    assert after["permits"][theirs["id"]] == before["permits"][theirs["id"]]
    assert after["permits"][theirs["id"]]["state"] == "active"
    for kind in ("permits", "residents", "vehicles"):
        for key, row in before[kind].items():
            assert after[kind][key] == row, (kind, key)
    assert devices == []
    # what the demo added is its own: one resident and one car with its prefix, one permit
    # of that resident, revoked at the end of the story
    [resident] = [r for k, r in after["residents"].items() if k not in before["residents"]]
    [car] = [v for k, v in after["vehicles"].items() if k not in before["vehicles"]]
    [permit] = [p for k, p in after["permits"].items() if k not in before["permits"]]
    assert resident["external_ref"].startswith(demo.DEMO_PREFIX)
    assert car["external_ref"] == resident["external_ref"]
    assert (permit["resident_id"], permit["state"]) == (resident["id"], "revoked")

    lines = out.splitlines()
    assert lines[0].startswith(f"[1 municipality] demo resident {resident['external_ref']}")
    assert "[1 municipality] windscreen permit printed at the counter (HTTP 200)" in lines
    scans = [line for line in lines if "officer] scan:" in line]
    assert len(scans) == 2, out
    valid, revoked = scans
    assert valid.startswith("[4 officer] scan: VALID | reason - | zone A3 | plate DE-MO ")
    assert "| valid until 20" in valid and valid.endswith("(exit 0)")
    assert revoked.startswith("[5 officer] scan: INVALID | reason revoked | zone A3 | plate DE-MO")
    assert revoked.endswith("(exit 1)")
    assert "[6 municipality] demo phone removed (HTTP 200)" in lines
    assert lines[-1] == "[done] the story ran as expected"
    assert all(re.fullmatch(r"\[[0-9a-z ]+\] \S.*", line) for line in lines), out


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
