"""A small world for handheld tests: two municipalities with permits, an operator, the root.

    world = handheld_world(app, clock, api_client, tmp_path)
    world.permits["05513000"]["qr"], world.plates, world.anchor (a JWK file of the root)

Gelsenkirchen (05513000) and Recklinghausen (05562032) both have a zone "A3" and one
resident permit each (plates GE-HH 100 and RE-HH 200). Set the FixedClock to the wall
clock before building when a `buergerid-verify` subprocess will check the permits.
`verify(data_dir, *args)` runs the installed CLI and returns (status, JSON or text).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.testclient import TestClient

from issuer.services.clock import FixedClock
from tests.support.jobs import run_jobs
from tests.support.world import ALL_SCOPES, CHEAP_KDF, World, make_world

GE, RE = "05513000", "05562032"
PLATES = {GE: "GE-HH 100", RE: "RE-HH 200"}
NAMES = {GE: "Stadt Gelsenkirchen", RE: "Stadt Recklinghausen"}
VERIFY = str(Path(sys.executable).parent / "buergerid-verify")


@dataclass
class HandheldWorld:
    """What the handheld tests need from the server side."""

    client: TestClient
    worlds: dict[str, World]
    operator: dict[str, str]
    anchor: Path
    permits: dict[str, dict[str, Any]] = field(default_factory=dict)
    plates: dict[str, str] = field(default_factory=lambda: dict(PLATES))

    def revoke(self, ags: str) -> None:
        """Revoke the municipality's permit (through the municipal API)."""
        world = self.worlds[ags]
        r = world.post(f"/api/v1/permits/{self.permits[ags]['id']}/revoke", {"reason": "misuse"})
        assert r.status_code == 200, r.text

    def enforcement_client(self, *municipalities: str) -> str:
        """An enforcement client covering the municipalities; its id."""
        r = self.client.post(
            "/api/v1/enforcement/clients",
            json={"name": "Ordnungsdienst", "municipalities": list(municipalities)},
            headers=self.operator,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def enrolment_code(self, client_id: str, label: str = "Handheld 1") -> dict[str, Any]:
        """A one-time enrolment code (and its device) for the client."""
        r = self.client.post(
            f"/api/v1/enforcement/clients/{client_id}/enrolment-codes",
            json={"label": label},
            headers=self.operator,
        )
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        return out

    def withdraw(self, device_id: str) -> None:
        """Withdraw a handheld (operator API)."""
        r = self.client.post(
            f"/api/v1/enforcement/devices/{device_id}/withdraw", headers=self.operator
        )
        assert r.status_code == 200, r.text


def handheld_world(
    app: FastAPI, clock: FixedClock, api_client: Any, tmp_path: Path
) -> HandheldWorld:
    """Two municipalities with a permit each, an operator client and the pinned root's JWK."""
    client = TestClient(app, raise_server_exceptions=False)
    worlds = {ags: make_world(app, client, clock, api_client, ags=ags) for ags in (GE, RE)}
    operator = api_client(scopes=("admin",), ags=None)
    settings = app.state.settings
    root = app.state.keys.ensure_ring(
        settings.root_key_ring, "operator", root=True, now=clock.now(), kdf=CHEAP_KDF
    )
    from verifier.formats import key_to_jwk

    anchor = tmp_path / "root.jwk"
    anchor.write_text(
        json.dumps(key_to_jwk(root.records(int(clock.now().timestamp()))[0].public_key))
    )
    from issuer.db.models import Tenant

    with app.state.session_factory() as session, session.begin():
        for tenant in session.query(Tenant).filter(Tenant.ags.in_(list(NAMES))):
            tenant.name = NAMES[tenant.ags]
    hw = HandheldWorld(client, worlds, operator.headers, anchor)
    for ags, world in worlds.items():
        resident = world.resident()
        car = world.vehicle(resident, plate=PLATES[ags])
        r = world.apply(resident, [car], display_required=False)  # digital-only: plate checks
        assert r.status_code == 201, r.text
        hw.permits[ags] = r.json()
    run_jobs(app, "plate_indexes")  # the job runner's work: handhelds get the last build
    return hw


def verify(data_dir: Path, *args: str, stdin: str | None = None) -> tuple[int, Any]:
    """Run `buergerid-verify --data-dir DIR ARGS` (English); (status, JSON or stdout+stderr)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LC_", "LANG", "BUERGERID"))}
    env["LANG"] = "C.UTF-8"
    proc = subprocess.run(
        [VERIFY, "--data-dir", str(data_dir), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        return proc.returncode, proc.stdout + proc.stderr


__all__ = ["ALL_SCOPES", "GE", "PLATES", "RE", "HandheldWorld", "handheld_world", "verify"]
