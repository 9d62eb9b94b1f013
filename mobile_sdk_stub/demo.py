"""``make demo``: the whole story against the server ``make run`` started.

1. the municipality (demo API key) finds an active permit and creates a credential offer;
2. the stub wallet redeems it with the tx_code, stores the SD-JWT VC and the QR token;
3. the wallet prints the windscreen permit (PDF), rendered back to PNG with pdftoppm;
4. the officer's handheld pins the root key, syncs the trust bundle, scans: valid;
5. the municipality revokes the permit; the handheld re-syncs and scans: revoked.
6. the demo's phone is removed again (the wallet keys are the demo's own data).

Server: BUERGERID_HOST / BUERGERID_PORT (default 127.0.0.1:8000). The demo API key: the
environment variable BUERGERID_DEMO_API_KEY, else the file ``demo-api-key`` that the
development bootstrap writes into BUERGERID_DATA_DIR (default ``var``) as ``dev-api-key``.
The handheld pins the operator's root key exported from the local root ring with
``buergerid-keys export-public`` (never a key fetched from the server it checks).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from mobile_sdk_stub.client import WalletClient
from verifier import PermitType

# the issuer API's permit state a QR can be drawn in (its `PermitState.ACTIVE`; the stub
# speaks to the issuer over HTTP only and imports none of it)
ACTIVE = "active"


def say(step: str, text: str) -> None:
    """One clear line per step."""
    sys.stdout.write(f"[{step}] {text}\n")
    sys.stdout.flush()


def _data_dir() -> Path:
    return Path(os.environ.get("BUERGERID_DATA_DIR", "var"))


def _api_key(data_dir: Path) -> str:
    if os.environ.get("BUERGERID_DEMO_API_KEY"):
        return os.environ["BUERGERID_DEMO_API_KEY"]
    path = data_dir / "dev-api-key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    raise SystemExit(f"no demo API key at {path}: is `make run` serving? (BUERGERID_DEMO_API_KEY)")


def _verify(data_dir: Path, *args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "verifier", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout.strip() or proc.stderr.strip()


def _root_anchor(work: Path, data_dir: Path) -> Path:
    """The operator's root public key as one JWK file (``buergerid-keys export-public``)."""
    exported = work / "root-export.json"
    proc = subprocess.run(
        [sys.executable, "-m", "keys.cli", "export-public", str(data_dir / "keys" / "root"),
         "--format", "jwk", "--out", str(exported)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"cannot export the root key: {proc.stderr.strip()}")
    document = json.loads(exported.read_text(encoding="utf-8"))
    jwk = document["keys"][0] if isinstance(document, dict) and "keys" in document else document
    if isinstance(jwk, list):
        jwk = jwk[0]
    anchor = work / "root-anchor.jwk"
    anchor.write_text(json.dumps(jwk), encoding="utf-8")
    return anchor


def _items(body: Any) -> list[dict[str, Any]]:
    items = body.get("items", []) if isinstance(body, dict) else body
    return [dict(i) for i in items if isinstance(i, dict)]


def _permit(http: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    """An active resident permit: an existing one, else applied for (and paid) now."""
    listed = http.get("/api/v1/permits", headers=headers, params={"state": ACTIVE})
    if listed.status_code == 200:
        for item in _items(listed.json()):
            if item.get("state") == ACTIVE and item.get("resident_id"):
                return item
    residents = _items(http.get("/api/v1/residents", headers=headers).json())
    vehicles = _items(http.get("/api/v1/vehicles", headers=headers).json())
    zones = _items(http.get("/api/v1/zones", headers=headers).json())
    if not (residents and vehicles and zones):
        raise SystemExit("the demo tenant has no resident, vehicle or zone")
    resident = residents[0]
    vehicle = next((v for v in vehicles if v.get("holder_id") == resident["id"]), vehicles[0])
    applied = http.post(
        "/api/v1/permits",
        json={
            "permit_type": PermitType.BEW,
            "resident_id": resident["id"],
            "zones": [zones[0]["code"]],
            "vehicle_ids": [vehicle["id"]],
            "months": 12,
        },
        headers=headers,
    )
    if applied.status_code != 201:
        raise SystemExit(f"the permit application was refused: {applied.text}")
    permit = dict(applied.json())
    if permit.get("state") != ACTIVE:
        paid = http.post(
            f"/api/v1/permits/{permit['id']}/payment",
            json={"amount_cents": 3000, "payment_ref": "DEMO"},
            headers=headers,
        )
        permit = dict(paid.json())
    if permit.get("state") != ACTIVE:
        raise SystemExit(f"the demo permit is {permit.get('state')}, not active")
    return permit


def _until(exp: object) -> str:
    if not isinstance(exp, int):
        return "-"
    return datetime.fromtimestamp(exp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe(verdict: dict[str, Any]) -> str:
    """What the officer sees of one ``--json`` verdict, in one line."""
    permit = verdict.get("permit") or {}
    zones = ", ".join(str(z) for z in permit.get("zones") or []) or "-"
    plates = ", ".join(str(p) for p in permit.get("plates") or [])
    if not plates and permit.get("fleet"):
        plates = f"fleet {permit['fleet']}"
    return (
        f"{str(verdict.get('outcome', '?')).upper()}"
        f" | reason {verdict.get('reason') or '-'}"
        f" | zone {zones} | plate {plates or '-'}"
        f" | valid until {_until(permit.get('exp'))}"
    )


def _scan(handheld: Path, scan_args: list[str]) -> tuple[int, list[dict[str, Any]], str]:
    """Run the officer's check with ``--json``: exit status, verdicts, stderr's first line."""
    command, *rest = scan_args
    proc = subprocess.run(
        [sys.executable, "-m", "verifier", "--data-dir", str(handheld), command, "--json", *rest],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    verdicts: list[dict[str, Any]] = []
    for line in proc.stdout.splitlines():
        try:
            parsed = json.loads(line)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            verdicts.append(parsed)
    error = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ""
    return proc.returncode, verdicts, error


def _officer_scan(
    step: str, handheld: Path, scan_args: list[str], *, outcome: str, reason: str | None
) -> bool:
    """Scan, print the verdict line and the exit status; True if it is the one expected."""
    code, verdicts, error = _scan(handheld, scan_args)
    if not verdicts:
        say(step, f"scan: no verdict ({error or 'no output'}) (exit {code})")
        return False
    for verdict in verdicts:
        say(step, f"scan: {describe(verdict)} (exit {code})")
    expected_code = {"valid": 0, "invalid": 1}.get(outcome, 3)
    return code == expected_code and all(
        v.get("outcome") == outcome and v.get("reason") == reason for v in verdicts
    )


def run_story(base: str, api_key: str, data_dir: Path, work: Path) -> bool:
    """The whole story against the server at ``base``; True if every step behaved."""
    headers = {"Authorization": f"Bearer {api_key}"}
    with httpx.Client(base_url=base, timeout=30) as http:
        permit = _permit(http, headers)
        say("1 municipality", f"permit no. {permit.get('number')} found; creating an offer")
        offer = http.post(
            "/api/v1/offers", json={"kind": "permit", "permit_id": permit["id"]}, headers=headers
        )
        offer.raise_for_status()
        body = offer.json()
        say("1 municipality", f"offer created; tx_code {body['tx_code']} (sent by letter)")

        with WalletClient(base, work / "phone") as wallet:
            (stored,) = wallet.redeem(body["credential_offer_url"], body["tx_code"])
            say("2 wallet", f"redeemed: {stored.kind} SD-JWT VC + QR token stored")
            phone_kid = wallet.device.kid
            pdf = work / "permit.pdf"
            pdf.write_bytes(wallet.pdf(stored.id))
            (work / "permit-qr.png").write_bytes(wallet.qr_png(stored.id))
            say("3 wallet", f"windscreen permit printed: {pdf}")
        pdftoppm = shutil.which("pdftoppm")
        scan_args: list[str]
        if pdftoppm:
            subprocess.run(
                [pdftoppm, "-png", "-r", "200", "-singlefile", str(pdf), str(work / "page")],
                check=True,
                timeout=60,
            )
            scan_args = ["scan", str(work / "page.png")]
            say("3 wallet", "PDF rendered to PNG with pdftoppm for the officer's camera")
        else:
            assert stored.qr_text is not None
            scan_args = ["check", stored.qr_text]
            say("3 wallet", "pdftoppm missing: the officer checks the QR text instead")

        handheld = work / "handheld"
        anchor = _root_anchor(work, data_dir)
        code, out = _verify(handheld, "trust", "add-anchor", str(anchor))
        say("4 officer", f"root key pinned ({out}) (exit {code})")
        ok = code == 0
        code, out = _verify(handheld, "sync", f"{base}/trust-bundle")
        say("4 officer", f"trust bundle synced ({out}) (exit {code})")
        ok = ok and code == 0
        ok = _officer_scan("4 officer", handheld, scan_args, outcome="valid", reason=None) and ok

        revoke = http.post(
            f"/api/v1/permits/{permit['id']}/revoke", json={"reason": "demo"}, headers=headers
        )
        say("5 municipality", f"permit revoked (HTTP {revoke.status_code})")
        ok = ok and revoke.is_success
        code, out = _verify(handheld, "sync", f"{base}/trust-bundle")
        say("5 officer", f"re-synced ({out}) (exit {code})")
        ok = ok and code == 0
        revoked = _officer_scan(
            "5 officer", handheld, scan_args, outcome="invalid", reason="revoked"
        )
        ok = revoked and ok
        ok = _remove_demo_phone(http, headers, permit, phone_kid) and ok
    say("done", "the story ran as expected" if ok else "FAILED: a step did not behave as expected")
    return ok


def _remove_demo_phone(
    http: httpx.Client, headers: dict[str, str], permit: dict[str, Any], kid: str
) -> bool:
    """Remove the demo's throwaway phone again (its own data only), so that repeated demos
    stay within the resident's device quota."""
    listed = http.get(f"/api/v1/residents/{permit['resident_id']}/devices", headers=headers)
    mine = [d for d in listed.json() if d.get("thumbprint") == kid] if listed.is_success else []
    for device in mine:
        removed = http.delete(f"/api/v1/devices/{device['id']}", headers=headers)
        say("6 municipality", f"demo phone removed (HTTP {removed.status_code})")
        if not removed.is_success:
            return False
    return len(mine) == 1


def main() -> int:
    """Run the story against ``make run``'s server; 0 when every step behaved as expected."""
    host = os.environ.get("BUERGERID_HOST", "127.0.0.1")
    port = os.environ.get("BUERGERID_PORT", "8000")
    data_dir = _data_dir()
    work = Path(tempfile.mkdtemp(prefix="buergerid-demo-"))
    ok = run_story(f"http://{host}:{port}", _api_key(data_dir), data_dir, work)
    sys.stdout.write(json.dumps({"work_dir": str(work)}) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
