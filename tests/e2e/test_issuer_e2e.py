"""End to end over real HTTP (uvicorn on 127.0.0.1), on SQLite and PostgreSQL, verified offline
with the `buergerid-verify` CLI in a subprocess:

tenant + clients → resident import → zone → permit → trust bundle → `sync` → `check` valid →
revoke → re-sync → revoked → a digital-only permit and one that must be displayed → plate
index → `plate` valid for the first, `no_permit` ("look for the displayed permit") for the
second, whose QR still verifies → the first's resident moves out (re-import) → revoked
automatically → `plate` revoked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from issuer.db.models import Tenant
from issuer.services.clock import FixedClock
from tests.support.http import live_server
from tests.support.jobs import run_jobs
from tests.support.world import CHEAP_KDF

AGS = "05513000"
VERIFY = str(Path(sys.executable).parent / "buergerid-verify")


def verify_cli(data_dir: Path, *args: str) -> tuple[int, dict[str, Any] | str]:
    env = {**os.environ, "BUERGERID_VERIFY_DATA": str(data_dir)}
    proc = subprocess.run(
        [VERIFY, "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError:
        return proc.returncode, proc.stdout + proc.stderr


def sync(http: httpx.Client, data_dir: Path, path: str, name: str, **kw: Any) -> None:
    r = http.get(path, **kw)
    assert r.status_code == 200, r.text
    target = data_dir.parent / name
    target.write_bytes(r.content)
    code, out = verify_cli(data_dir, "sync", str(target))
    assert code == 0, out


def test_issue_verify_revoke_move_out_plate(
    app: FastAPI, clock: FixedClock, api_client: Any, tmp_path: Path
) -> None:
    # the handheld's CLI uses `--at`; the server clock is a fixed, recent instant
    clock.set(datetime.now(UTC).replace(microsecond=0))
    at = str(int(clock.now().timestamp()))
    settings = app.state.settings
    operator = api_client(scopes=("admin",), ags=None)
    store = tmp_path / "handheld"
    store.mkdir()
    with live_server(app) as base, httpx.Client(base_url=base, timeout=30) as http:
        r = http.post(
            "/api/v1/tenants",
            json={"ags": AGS, "name": "Gelsenkirchen", "issuer_url": "https://ge.example.de"},
            headers=operator.headers,
        )
        assert r.status_code == 201, r.text
        # keys: the tenant's ring and the operator's root (as `buergerid-keys` would make them)
        with app.state.session_factory() as session:
            tenant = session.query(Tenant).filter_by(ags=AGS).one()
            app.state.keys.ensure_ring(
                tenant.key_ring, AGS, root=False, now=clock.now(), kdf=CHEAP_KDF
            )
        root = app.state.keys.ensure_ring(
            settings.root_key_ring, "operator", root=True, now=clock.now(), kdf=CHEAP_KDF
        )
        admin = api_client(scopes=("admin",), ags=AGS, name="Ordnungsamt admin")
        r = http.post(
            "/api/v1/clients",
            json={
                "name": "Fachverfahren",
                "scopes": ["registry:write", "permits:issue", "permits:revoke"],
            },
            headers=admin.headers,
        )
        assert r.status_code == 201, r.text
        h = {"Authorization": f"Bearer {r.json()['token']}"}
        r = http.post(
            "/api/v1/clients",
            json={"name": "Handheld sync", "scopes": ["enforcement:read"]},
            headers=admin.headers,
        )
        officer = {"Authorization": f"Bearer {r.json()['token']}"}

        rows = [
            {
                "external_ref": f"MR-{n}",
                "given_name": "Erika",
                "family_name": "Mustermann",
                "residence_kind": "main",
                "street": "Bahnhofstraße",
                "house_number": str(2 * n + 1),
                "postcode": "45879",
                "valid_from": "2020-04-01",
            }
            for n in range(3)
        ]
        body = "".join(json.dumps(row) + "\n" for row in rows)
        r = http.post(
            "/api/v1/imports/residents",
            content=body,
            headers={**h, "Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 200, r.text
        residents = http.get("/api/v1/residents", headers=h).json()["items"]
        by_ref = {x["external_ref"]: x["id"] for x in residents}
        r = http.post(
            "/api/v1/zones",
            json={
                "code": "A3",
                "name": "Altstadt",
                "segments": [{"street": "Bahnhofstraße", "number_from": 1, "number_to": 49}],
            },
            headers=h,
        )
        assert r.status_code == 201, r.text
        cars = []
        for n, plate in enumerate(("GE-AB 1234", "GE-CD 77", "GE-EF 5")):
            r = http.post(
                "/api/v1/vehicles",
                json={"plate": plate, "holder_id": by_ref[f"MR-{n}"], "length_mm": 4300},
                headers=h,
            )
            assert r.status_code == 201, r.text
            cars.append(r.json()["id"])
        r = http.post(
            "/api/v1/permits",
            json={"resident_id": by_ref["MR-0"], "zones": ["A3"], "vehicle_ids": [cars[0]]},
            headers=h,
        )
        assert r.status_code == 201, r.text
        permit = r.json()

        # the handheld: pin the root, sync the bundle, check the QR
        from verifier.formats import key_to_jwk

        anchor = tmp_path / "root.jwk"
        anchor.write_text(json.dumps(key_to_jwk(root.records(int(at))[0].public_key)))
        assert verify_cli(store, "trust", "add-anchor", str(anchor))[0] == 0
        sync(http, store, "/trust-bundle", "bundle1.cbor")
        code, out = verify_cli(
            store, "check", "--json", "--at", at, "--zone", "A3", "--plate", "ge ab 1234",
            permit["qr"],
        )  # fmt: skip
        assert code == 0, out
        assert isinstance(out, dict) and out["outcome"] == "valid"
        assert out["permit"]["number"] == permit["number"]

        # revoke → re-sync → revoked
        r = http.post(
            f"/api/v1/permits/{permit['id']}/revoke", json={"reason": "misuse"}, headers=h
        )
        assert r.status_code == 200, r.text
        sync(http, store, "/trust-bundle", "bundle2.cbor")
        code, out = verify_cli(store, "check", "--json", "--at", at, permit["qr"])
        assert (code, out["reason"]) == (1, "revoked"), out  # type: ignore[index]

        # a second resident's digital-only permit, a third one's that must be displayed
        r = http.post(
            "/api/v1/permits",
            json={"resident_id": by_ref["MR-1"], "zones": ["A3"], "vehicle_ids": [cars[1]],
                  "display_required": False},
            headers=h,
        )  # fmt: skip
        assert r.status_code == 201, r.text
        second = r.json()
        r = http.post(
            "/api/v1/permits",
            json={"resident_id": by_ref["MR-2"], "zones": ["A3"], "vehicle_ids": [cars[2]]},
            headers=h,
        )
        assert r.status_code == 201 and r.json()["display_required"] is True, r.text
        displayed = r.json()
        sync(http, store, "/trust-bundle", "bundle3.cbor")
        run_jobs(app, "plate_indexes")  # what `buergerid-issuer worker` does
        sync(http, store, "/api/v1/enforcement/plate-index", "index1.cbor", headers=officer)
        code, out = verify_cli(store, "plate", "--json", "--at", at, "--zone", "A3", "GE-CD 77")
        assert code == 0 and out["outcome"] == "valid", out  # type: ignore[index]
        # not valid by plate alone: the officer is told to look for the displayed permit ...
        code, out = verify_cli(store, "plate", "--json", "--at", at, "--zone", "A3", "GE-EF 5")
        assert (code, out["reason"]) == (1, "no_permit"), out  # type: ignore[index]
        for lang, words in (("de", "ausgelegten Ausweis suchen"), ("en", "a displayed permit")):
            code, text = verify_cli(store, "plate", "--lang", lang, "--at", at, "GE-EF 5")
            assert code == 1 and words in " ".join(str(text).split()), text
        # ... whose QR verifies
        code, out = verify_cli(
            store, "check", "--json", "--at", at, "--zone", "A3", "--plate", "GE-EF 5",
            displayed["qr"],
        )  # fmt: skip
        assert code == 0 and out["outcome"] == "valid", out  # type: ignore[index]

        # the second resident moves out (the register re-imports)

        moved = {**rows[1], "street": "Ringstraße", "house_number": "200"}
        r = http.post(
            "/api/v1/imports/residents",
            content=json.dumps(moved) + "\n",
            headers={**h, "Content-Type": "application/x-ndjson"},
        )
        assert r.status_code == 200, r.text
        state = http.get(f"/api/v1/permits/{second['id']}", headers=h).json()
        assert (state["state"], state["state_reason"]) == ("revoked", "moved_out")
        sync(http, store, "/trust-bundle", "bundle4.cbor")
        code, out = verify_cli(store, "check", "--json", "--at", at, second["qr"])
        assert (code, out["reason"]) == (1, "revoked"), out  # type: ignore[index]
        sync(http, store, "/api/v1/enforcement/plate-index", "index2.cbor", headers=officer)
        code, out = verify_cli(store, "plate", "--json", "--at", at, "--zone", "A3", "GE-CD 77")
        assert (code, out["reason"]) == (1, "revoked"), out  # type: ignore[index]
