"""``make demo``: the whole story against the server ``make run`` started.

1. the municipality (demo API key) finds an active permit and creates a credential offer;
2. the stub wallet redeems it with the tx_code, stores the SD-JWT VC and the QR token;
3. the wallet prints the windscreen permit (PDF), rendered back to PNG with pdftoppm;
4. the officer's handheld pins the root key, syncs the trust bundle, scans: valid;
5. the municipality revokes the permit; the handheld re-syncs and scans: revoked.

Server: BUERGERID_HOST / BUERGERID_PORT (default 127.0.0.1:8000). The demo API key: the
environment variable BUERGERID_DEMO_API_KEY, else the file ``demo-api-key`` that the
development bootstrap writes into BUERGERID_DATA_DIR (default ``var``). The root key
for the handheld: ``root-anchor.jwk`` in the same directory (a handheld pins the
operator's root key, never a key fetched from the server it checks).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx

from mobile_sdk_stub.client import WalletClient

OUT = sys.stdout


def say(step: str, text: str) -> None:
    """One clear line per step."""
    OUT.write(f"[{step}] {text}\n")
    OUT.flush()


def _data_dir() -> Path:
    return Path(os.environ.get("BUERGERID_DATA_DIR", "var"))


def _api_key() -> str:
    if os.environ.get("BUERGERID_DEMO_API_KEY"):
        return os.environ["BUERGERID_DEMO_API_KEY"]
    for name in ("demo-api-key", "demo_api_key", "demo-api-key.txt"):
        path = _data_dir() / name
        if path.exists():
            return path.read_text(encoding="utf-8").strip()
    raise SystemExit("no demo API key: is `make run` serving? (BUERGERID_DEMO_API_KEY)")


def _verify(data_dir: Path, *args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "verifier", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return proc.returncode, proc.stdout.strip() or proc.stderr.strip()


def _active_permit(http: httpx.Client, headers: dict[str, str]) -> dict[str, Any]:
    for path in ("/api/v1/permits", "/permits"):
        response = http.get(path, headers=headers, params={"state": "active"})
        if response.status_code == 200:
            body = response.json()
            items = body.get("items", body) if isinstance(body, dict) else body
            for item in items:
                if item.get("state") == "active" and item.get("resident_id"):
                    return dict(item)
    raise SystemExit("no active permit with a resident holder on the server")


def main() -> int:
    """Run the story; returns 0 when every step behaved as expected."""
    host = os.environ.get("BUERGERID_HOST", "127.0.0.1")
    port = os.environ.get("BUERGERID_PORT", "8000")
    base = f"http://{host}:{port}"
    headers = {"Authorization": f"Bearer {_api_key()}"}
    work = Path(tempfile.mkdtemp(prefix="buergerid-demo-"))
    with httpx.Client(base_url=base, timeout=30) as http:
        permit = _active_permit(http, headers)
        say("1 municipality", f"permit no. {permit.get('number')} found; creating an offer")
        offer = http.post(
            "/api/v1/offers", json={"kind": "permit", "permit_id": permit["id"]}, headers=headers
        )
        offer.raise_for_status()
        body = offer.json()
        say("1 municipality", f"offer created; tx_code {body['tx_code']} (sent by letter)")

        with WalletClient(base, work / "phone") as wallet:
            (stored,) = wallet.redeem(body["credential_offer_uri"], body["tx_code"])
            say("2 wallet", f"redeemed: {stored.kind} SD-JWT VC + QR token stored")
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
        anchor = _data_dir() / "root-anchor.jwk"
        if not anchor.exists():
            raise SystemExit(f"no root anchor at {anchor}: cannot pin the trust root")
        code, out = _verify(handheld, "trust", "add-anchor", str(anchor))
        say("4 officer", f"root key pinned ({out})")
        code, out = _verify(handheld, "sync", f"{base}/trust-bundle")
        say("4 officer", f"trust bundle synced ({out})")
        code, out = _verify(handheld, *scan_args)
        say("4 officer", f"scan: {out.splitlines()[0] if out else code} (exit {code})")
        ok = code == 0

        revoke = http.post(
            f"/permits/{permit['id']}/revoke", json={"reason": "demo"}, headers=headers
        )
        if revoke.status_code == 404:
            revoke = http.post(
                f"/api/v1/permits/{permit['id']}/revoke", json={"reason": "demo"}, headers=headers
            )
        say("5 municipality", f"permit revoked (HTTP {revoke.status_code})")
        code, out = _verify(handheld, "sync", f"{base}/trust-bundle")
        say("5 officer", f"re-synced ({out})")
        code, out = _verify(handheld, *scan_args)
        say("5 officer", f"scan: {out.splitlines()[0] if out else code} (exit {code})")
        ok = ok and code == 1
    say("done", "the story ran as expected" if ok else "something did not behave as expected")
    OUT.write(json.dumps({"work_dir": str(work)}) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
