"""The promise of the citizen portal, on a fresh `make run`, in Debian's Chromium: a resident
of the demo city goes from "I want a resident parking permit" to a valid permit in her
wallet and on paper in at most five actions of her own, without a clerk.

The server is started by the command of the Makefile's `run` target (read from the
Makefile, so the test follows it), on a new temporary data directory and a free port of
127.0.0.1; only the key derivation costs are lowered, for speed. Her phone is the stand-in
wallet with a PID of the development PID provider that `make run` makes
(``buergerid-wallet dev-pid``), for the demo resident Erika Mustermann.

Her actions are counted as they happen: every click in the browser and every consent in her
wallet (a QR code she scans is read off the page by the phone and counts as the consent
that follows it, not as an action of its own):

1. log in: her wallet consents to the start page's QR code;
2. "Kostenpflichtig beantragen" at her car (the fee is on the page before);
3. "Zahlung bestätigen" at the development payment provider;
4. into the wallet: her wallet consents to the offer's QR code on the permit page;
5. "Für die Windschutzscheibe drucken": the PDF, in her browser session.

Then the officer's ``buergerid-verify`` (root key pinned, trust bundle synced) finds the
wallet's QR and the printed QR valid.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from cryptography import x509

from mobile_sdk_stub.cli import run as wallet_cli
from mobile_sdk_stub.client import WalletClient
from mobile_sdk_stub.demo import _root_anchor, _verify
from mobile_sdk_stub.openid4vp import Presenter
from tests.support.browser import BrowserFactory, new_page
from tests.support.pdf import rasterize
from tests.support.portal import wallet_link
from tests.support.processes import free_port, start, stop, wait_http
from verifier.handheld import read_qr_texts_from_image

REPO = Path(__file__).resolve().parents[2]
AGS = "05513000"  # the demo city of `make run`
CAR = "GE-EM 1234"  # Erika's car in the demo register
MAX_ACTIONS = 5
T = TypeVar("T")


def make_run_command() -> list[str]:
    """The `run` target's recipe, with this interpreter for $(PY)."""
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^run:.*\n\t(.+)$", makefile, flags=re.M)
    assert recipe is not None, "the Makefile has no run target"
    words = shlex.split(recipe.group(1))
    assert words[0] == "$(PY)", words
    return words[1:]


class Resident:
    """What she does, counted."""

    def __init__(self) -> None:
        self.actions: list[str] = []

    def click(self, what: str, locator: Any) -> None:
        self.actions.append(f"click {what}")
        locator.click()

    def consent(self, what: str, answer: Callable[[], T]) -> T:
        self.actions.append(f"wallet consents: {what}")
        return answer()


def test_five_actions_on_a_fresh_make_run_from_nothing_to_a_valid_permit(
    browser_factory: BrowserFactory, tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERID_")} | {
        "BUERGERID_DATA_DIR": str(data_dir),
        "BUERGERID_PORT": str(port),
        "BUERGERID_ARGON2_TIME_COST": "1",
        "BUERGERID_ARGON2_MEMORY_KIB": "8",
        "BUERGERID_KEY_KDF_TIME_COST": "1",
        "BUERGERID_KEY_KDF_MEMORY_KIB": "8",
        "BUERGERID_KEY_KDF_PARALLELISM": "1",
    }
    server = start("make-run", make_run_command(), env, tmp_path)
    wallet = presenter = None
    try:
        wait_http(server, f"{base}/healthz")
        # her phone: a PID from the development PID provider (`buergerid-wallet dev-pid`)
        wallet_dir = tmp_path / "phone"
        provider = str(data_dir / "dev-pid-provider")
        argv = ["--wallet-dir", str(wallet_dir), "--server", base]
        assert wallet_cli([*argv, "dev-pid", "--provider-dir", provider]) == 0
        wallet = WalletClient(base, wallet_dir, timeout_seconds=60)
        ca = data_dir / "keys" / "ca" / "ca.pem"
        presenter = Presenter(
            wallet.device,
            wallet.store,
            verifier_roots=[x509.load_pem_x509_certificate(ca.read_bytes())],
            clock=wallet.now,
        )
        erika = Resident()
        page = new_page(browser_factory())
        portal = f"{base}/portal/{AGS}"

        # she opens the portal (the address she was given): the start page is the login
        page.goto(portal)
        page.wait_for_selector("#status")
        link = wallet_link(page.content()).replace("flow%3Dsame-device", "flow%3Dcross-device")
        assert erika.consent("log in", lambda: presenter.respond(presenter.resolve(link))) is None
        page.wait_for_url(f"{portal}/permits", timeout=20_000)
        text = page.content()
        assert "Sie haben noch keinen Parkausweis" in text
        assert f"Kennzeichen {CAR}" in text and "Gebühr für 12 Monate: 30,00 €" in text

        erika.click(
            "Kostenpflichtig beantragen",
            page.get_by_role("button", name=f"Kostenpflichtig beantragen ({CAR})"),
        )
        page.wait_for_selector("text=Entwicklungs-Zahlungsanbieter")
        assert "30,00 €" in page.content()
        erika.click("Zahlung bestätigen", page.get_by_role("button", name="Zahlung bestätigen"))
        page.wait_for_selector("text=Zahlung eingegangen")

        offer = page.get_by_role("link", name="Angebot in der Wallet öffnen").get_attribute("href")
        assert offer is not None
        stored = erika.consent("the permit", lambda: wallet.redeem(offer, tx_code=None))
        qr = next(c.qr_text for c in stored if c.qr_text)

        printing = page.get_by_role("link", name="Für die Windschutzscheibe drucken")
        with page.expect_response(lambda r: r.url.endswith("/windscreen.pdf")) as answer:
            erika.click("Für die Windschutzscheibe drucken", printing)
        shown = answer.value
        assert shown.status == 200 and shown.headers["content-type"] == "application/pdf"
        # the bytes she saw (Chromium's viewer keeps them to itself): the same address,
        # fetched again in her browser session
        printed = page.context.request.get(shown.url)
        assert printed.status == 200
        pdf = printed.body()

        assert len(erika.actions) <= MAX_ACTIONS, erika.actions
        assert erika.actions == [
            "wallet consents: log in",
            "click Kostenpflichtig beantragen",
            "click Zahlung bestätigen",
            "wallet consents: the permit",
            "click Für die Windschutzscheibe drucken",
        ]

        # the officer: root key pinned, trust bundle synced; both QR codes valid
        handheld = tmp_path / "handheld"
        anchor = _root_anchor(tmp_path, data_dir)
        assert _verify(handheld, "trust", "add-anchor", str(anchor))[0] == 0
        assert _verify(handheld, "sync", f"{base}/trust-bundle")[0] == 0
        [paper_qr] = read_qr_texts_from_image(rasterize(pdf, tmp_path))
        for text in (qr, paper_qr):
            code, out = _verify(handheld, "check", "--json", text)
            assert code == 0 and '"valid"' in out, out
    finally:
        for client in (wallet, presenter):
            if client is not None:
                client.close()
        stop([server])
