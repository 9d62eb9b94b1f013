"""``make demo``, the citizen portal's part: a resident of her own goes from "I want a
resident parking permit" to a valid permit in her wallet, headless, one line per step,
against the server ``make run`` started.

1. the municipality registers the demo's own resident (a new one each run, in zone A3) and
   her car: the demo never touches anyone else's data;
2. her phone gets a PID from the development PID provider, then her Bürger-ID without a
   letter (the PID presented at ``/rp/buergerid``);
3. she logs in to the portal with her wallet on its start page (same device);
4. on "Meine Parkausweise" she sees her car with zone, period and fee, applies, and pays
   when there is a fee (the development payment provider's page "Zahlung bestätigen");
5. the permit goes into her wallet in one step (the offer on the page; no letter, no code);
6. she returns it (after showing her wallet once more): it is revoked;
7. she logs out, and her phone is removed again (the wallet keys are the demo's own data).

Settings as in ``mobile_sdk_stub.demo``: BUERGERID_HOST / BUERGERID_PORT, the demo API key
(BUERGERID_DEMO_API_KEY or ``dev-api-key`` in BUERGERID_DATA_DIR), the development PID
provider and the issuing CA under the data directory.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import tempfile
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509

from mobile_sdk_stub.client import WalletClient
from mobile_sdk_stub.dev_pid import DEV_PROVIDER_URL, PID_DE, sign_with_dev_provider
from mobile_sdk_stub.openid4vp import Presenter

_LINK = re.compile(r'href="(openid4vp://[^"]+)"')
_OFFER = re.compile(r'href="(openid-credential-offer://[^"]+)"')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_PERMIT = re.compile(r"/permits/([0-9a-f-]{36})")
_AMOUNT = re.compile(r"Gebühr für \d+ Monate: ([^<]+)")


def say(step: str, text: str) -> None:
    """One clear line per step."""
    sys.stdout.write(f"[portal {step}] {text}\n")
    sys.stdout.flush()


def _found(pattern: re.Pattern[str], text: str, what: str) -> str:
    match = pattern.search(text)
    if match is None:
        raise SystemExit(f"the page shows no {what}")
    return unescape(match.group(1))


class Story:
    """The demo resident's browser, phone and the municipality's API key."""

    def __init__(self, base: str, api_key: str, data_dir: Path, work: Path) -> None:
        self.base, self.data_dir = base, data_dir
        self.api = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
        )
        self.browser = httpx.Client(base_url=base, timeout=60)
        self.wallet = WalletClient(base, work / "phone", timeout_seconds=60)
        roots = [x509.load_pem_x509_certificate((data_dir / "keys" / "ca" / "ca.pem").read_bytes())]
        self.presenter = Presenter(
            self.wallet.device, self.wallet.store, verifier_roots=roots, clock=self.wallet.now
        )
        self.ags = ""

    def close(self) -> None:
        for client in (self.api, self.browser, self.wallet, self.presenter):
            client.close()

    def answer(self, page: httpx.Response) -> httpx.Response:
        """Her wallet answers the link on the page; the browser follows it back."""
        link = _found(_LINK, page.text, "wallet link")
        redirect = self.presenter.respond(self.presenter.resolve(link))
        if redirect is None:
            raise SystemExit("the wallet got no way back")
        return self.browser.get(redirect)

    def post(self, path: str, page: httpx.Response, **fields: str) -> httpx.Response:
        token = _found(_CSRF, page.text, "form")
        return self.browser.post(path, data={"csrf": token, **fields})

    def register(self) -> tuple[dict[str, Any], str, str]:
        """1: her own resident record and car."""
        zones = self.api.get("/api/v1/zones").json()
        items = zones.get("items", zones) if isinstance(zones, dict) else zones
        if not items:
            raise SystemExit("the demo tenant has no zone (is `make run` serving?)")
        number = str(41 + secrets.randbelow(19))  # Ringstraße 41-59 lies in zone A3
        person = {"given": "Paula", "family": f"Portal{secrets.token_hex(3).upper()}"}
        made = self.api.post(
            "/api/v1/residents",
            json={
                "external_ref": f"PORTAL-DEMO-{secrets.token_hex(6)}",
                "given_name": person["given"],
                "family_name": person["family"],
                "birth_date": "1990-05-17",
                "residences": [
                    {
                        "kind": "main",
                        "street": "Ringstraße",
                        "house_number": number,
                        "postcode": "45879",
                        "valid_from": "2024-01-01",
                    }
                ],
            },
        )
        if made.status_code != 201:
            raise SystemExit(f"the demo resident was refused: {made.text}")
        resident = made.json()
        plate = f"GE-PD {100 + secrets.randbelow(8900)}"
        car = self.api.post(
            "/api/v1/vehicles",
            json={"plate": plate, "holder_id": resident["id"], "length_mm": 4200, "width_mm": 1790},
        )
        if car.status_code != 201:
            raise SystemExit(f"the demo car was refused: {car.text}")
        pid_person = {
            "given_name": person["given"].upper(),
            "family_name": person["family"].upper(),
            "birthdate": "1990-05-17",
            "address": {
                "street_address": f"RINGSTR. {number}",
                "postal_code": "45879",
                "locality": "GELSENKIRCHEN",
                "country": "DE",
            },
        }
        return pid_person, str(resident["id"]), str(car.json()["id"])

    def tenant_ags(self) -> str:
        """The demo municipality, as the branding answer names its portal."""
        body = self.api.get("/api/v1/portal/branding")
        if body.status_code != 200:
            raise SystemExit(f"no portal for the demo key ({body.status_code})")
        return str(body.json()["portal_url"]).rsplit("/", 1)[-1]


def run(base: str, api_key: str, data_dir: Path) -> None:
    """The whole story; raises SystemExit with the reason when a step fails."""
    with tempfile.TemporaryDirectory(prefix="buergerid-portal-demo-") as tmp:
        story = Story(base, api_key, data_dir, Path(tmp))
        try:
            _story(story, data_dir)
        finally:
            story.close()


def _story(story: Story, data_dir: Path) -> None:
    ags = story.tenant_ags()
    portal = f"/portal/{ags}"
    person, resident, car = story.register()
    say("1", "the municipality registers the demo's own resident (Ringstraße, zone A3) and her car")

    pid = sign_with_dev_provider(
        data_dir / "dev-pid-provider",
        person,
        holder_jwk=story.wallet.device.public_jwk(),
        vct=PID_DE,
        now=story.wallet.now(),
    )
    story.wallet.store.add(
        kind="pid", now=story.wallet.now(), sd_jwt=pid, vct=PID_DE, issuer=DEV_PROVIDER_URL
    )
    offer = story.answer(story.browser.get(f"/rp/buergerid/{ags}"))
    kinds = [c.kind for c in story.wallet.redeem(_found(_OFFER, offer.text, "offer"), None)]
    say("2", f"her phone holds a PID, then her Bürger-ID without a letter ({', '.join(kinds)})")

    landed = story.answer(story.browser.get(portal))  # the start page is the login
    if landed.status_code != 303:
        raise SystemExit(f"the portal login failed ({landed.status_code})")
    say("3", "she logs in to the portal with her wallet: Meine Parkausweise")

    form = story.browser.get(f"{portal}/permits")
    fee = _AMOUNT.search(form.text)
    applied = story.post(f"{portal}/apply", form, vehicle=car)
    if applied.status_code != 303:
        raise SystemExit(f"the application was refused: {applied.text[:200]}")
    target = applied.headers["location"]
    if "/portal/pay/" in target:  # a fee to pay first: the provider's page
        provider = story.browser.get(target)
        done = story.post(target, provider)
        target = done.headers["location"]
        paid = f"paid {fee.group(1) if fee else ''} at the development provider".replace("  ", " ")
    else:
        paid = "no fee in this city"
    permit = _found(_PERMIT, target, "permit")
    page = story.browser.get(target)
    say("4", f"she sees the fee, applies and pays: {paid}; the permit is valid")

    stored = story.wallet.redeem(_found(_OFFER, page.text, "offer"), None)
    qr = next((c.qr_text for c in stored if c.qr_text), None)
    if qr is None:
        raise SystemExit("the wallet got no QR token")
    kinds = sorted({c.kind for c in stored})
    say("5", f"the permit is in her wallet in one step ({', '.join(kinds)}; no letter, no code)")

    asked = story.browser.get(f"{portal}/permits/{permit}/return")
    form = asked
    if asked.status_code == 303:
        confirm = story.browser.get(asked.headers["location"])
        back = story.answer(confirm)
        form = story.browser.get(back.headers["location"])
    returned = story.post(f"{portal}/permits/{permit}/return", form)
    if "zurückgegeben" not in returned.text:
        raise SystemExit("the permit was not returned")
    say("6", "she returns the permit (her wallet confirms): revoked with the reason 'returned'")

    story.post(f"{portal}/logout", story.browser.get(f"{portal}/permits"))
    devices = story.api.get(f"/api/v1/residents/{resident}/devices")
    removed = 0
    for device in _listed(devices):
        if device.get("removed_at") is None:
            if story.api.delete(f"/api/v1/devices/{device['id']}").status_code == 200:
                removed += 1
    say("7", f"she logs out; the demo's phone is removed again ({removed} device)")


def _listed(response: httpx.Response) -> list[dict[str, Any]]:
    if response.status_code != 200:
        return []
    body: Any = response.json()
    items: list[Any] = body if isinstance(body, list) else []
    return [dict(i) for i in items if isinstance(i, dict)]


def main() -> int:
    from mobile_sdk_stub.demo import _api_key, _data_dir

    host = os.environ.get("BUERGERID_HOST", "127.0.0.1")
    port = os.environ.get("BUERGERID_PORT", "8000")
    data_dir = _data_dir()
    run(f"http://{host}:{port}", _api_key(data_dir), data_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
