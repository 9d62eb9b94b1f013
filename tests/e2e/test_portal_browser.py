"""The citizen portal in Debian's Chromium (headless, Playwright), with the stub wallet as
the phone: the whole journey by mouse (SQLite and PostgreSQL) and by keyboard only (SQLite),
axe-core run in every page (0 serious or critical violations), a screenshot of each page
(`make screenshots` keeps them in docs/img/portal-*.png)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.support.browser import BrowserFactory, new_page, save_screenshot
from tests.support.pdf import rasterize
from tests.support.portal import (
    AGS,
    CAMPER,
    CAR,
    SECOND,
    Officer,
    PortalEnv,
    portal_env,
    wallet_link,
)
from verifier.handheld import read_qr_texts_from_image

AXE = (
    Path(__file__).resolve().parents[1]
    / "interop"
    / "node"
    / "node_modules"
    / "axe-core"
    / "axe.min.js"
)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@functools.cache
def _axe_source() -> str:
    return AXE.read_text(encoding="utf-8")


def _axe(page: Any) -> None:
    """axe-core in the page: no serious or critical violation of WCAG 2.1 A/AA."""
    if not AXE.exists():
        pytest.fail(
            "axe-core missing: cd tests/interop/node && npm ci --ignore-scripts", pytrace=False
        )
    # evaluated by the test's driver, not added as a script tag: the page's own
    # Content-Security-Policy refuses every script the page did not bring
    page.evaluate(_axe_source())
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    bad = [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], json.dumps(bad, indent=1)
    assert result["passes"], "axe checked nothing"


def _seen(page: Any, name: str) -> None:
    """What she sees now: checked by axe, kept as a screenshot."""
    _axe(page)
    save_screenshot(page, f"portal-{name}")


def _answer(env: PortalEnv, presenter: Any, page: Any, *, cross_device: bool) -> str | None:
    """Her phone answers the wallet link on the page (the QR code's link when another device)."""
    link = wallet_link(page.content())
    if cross_device:
        link = link.replace("flow%3Dsame-device", "flow%3Dcross-device")
    return presenter.respond(presenter.resolve(link))


class Journey:
    """The steps both journeys share; `act` clicks (mouse) or tabs and presses (keyboard)."""

    def __init__(self, env: PortalEnv, page: Any, presenter: Any, wallet: Any, keyboard: bool):
        self.env, self.page, self.presenter, self.wallet = env, page, presenter, wallet
        self.keyboard = keyboard
        self.base = f"{env.base_url}/portal/{AGS}"
        self.shots = not keyboard
        # what the browser's Content-Security-Policy refused, from its console
        self.refused: list[str] = []
        page.on(
            "console",
            lambda m: self.refused.append(m.text) if "Content Security Policy" in m.text else None,
        )

    def seen(self, name: str) -> None:
        if self.shots:
            _seen(self.page, name)
        else:
            _axe(self.page)

    def act(self, name: str) -> None:
        """Activate the link or button named `name`."""
        if not self.keyboard:
            self.page.get_by_role("button", name=name).or_(
                self.page.get_by_role("link", name=name)
            ).first.click()
            return
        for _ in range(80):
            self.page.keyboard.press("Tab")
            # what it says, with a visually hidden part (the plate of a vehicle's button)
            label = self.page.evaluate(
                "() => { const e = document.activeElement;"
                " return e ? (e.textContent || e.value || '').replace(/\\s+/g, ' ').trim() : '' }"
            )
            if label == name:
                self.page.keyboard.press("Enter")
                return
        raise AssertionError(f"no focusable {name!r} by Tab")

    def choose(self, plate: str) -> None:
        """Choose a vehicle in the radio group."""
        if not self.keyboard:
            self.page.get_by_label(plate).check()
            return
        for _ in range(40):
            self.page.keyboard.press("Tab")
            if self.page.evaluate("() => document.activeElement.type") == "radio":
                break
        for _ in range(10):
            self.page.keyboard.press("Space")
            label = self.page.evaluate(
                "() => document.activeElement.closest('label').innerText.trim()"
            )
            if label == plate:
                return
            self.page.keyboard.press("ArrowDown")
        raise AssertionError(f"no radio {plate!r}")

    def login(self) -> None:
        """The start page is the login: her phone scans its QR code and consents (one
        action of hers); the page polls and goes on by itself."""
        self.page.goto(self.base)
        self.page.wait_for_selector("#status")
        self.seen("start")
        assert _answer(self.env, self.presenter, self.page, cross_device=True) is None
        self.page.wait_for_url(f"{self.base}/permits", timeout=20_000)

    def apply(self, plate: str) -> None:
        """The button of her vehicle `plate` on "Meine Parkausweise"."""
        self.act(f"Kostenpflichtig beantragen ({plate})")

    def run(self, tmp_path: Path) -> None:
        env, page = self.env, self.page
        self.login()
        assert "Sie haben noch keinen Parkausweis" in page.content()
        # the page's own style and poll script ran (the login above went on by polling);
        # a script injected into the page does not run, and the browser says so
        with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
            injected = page.evaluate(
                "() => { const s = document.createElement('script');"
                " s.textContent = 'window.injected = 1'; document.body.appendChild(s);"
                " return window.injected === 1 }"
            )
        assert injected is False
        self.refused.clear()
        # the application is right here: each vehicle with its fee before she commits
        assert page.content().count("Gebühr für 12 Monate: 30,00 €") == 3
        self.seen("permits-empty")
        self.apply(CAMPER)
        page.wait_for_selector(".alert")
        assert "länger als erlaubt (5,60 m)" in page.content()
        self.seen("apply-refused")
        self.apply(CAR)
        page.wait_for_selector("text=Entwicklungs-Zahlungsanbieter")
        self.seen("pay")
        self.act("Zahlung bestätigen")
        page.wait_for_selector("text=Zahlung eingegangen")
        self.seen("permit")
        permit_url = page.url.split("?")[0]
        # her phone scans the offer's QR code on the page and takes the permit
        offer = page.get_by_role("link", name="Angebot in der Wallet öffnen").get_attribute("href")
        stored = self.wallet.redeem(offer, tx_code=None)
        qr = next(c.qr_text for c in stored if c.qr_text)
        officer = Officer(env, tmp_path / "officer")
        officer.sync()
        assert officer.check(qr) == "valid"

        # on paper: the print link of her permit, fetched in her browser session; the QR
        # printed on it, scanned back, is valid for the officer
        link = page.get_by_role("link", name="Für die Windschutzscheibe drucken")
        printed = page.context.request.get(f"{env.base_url}{link.get_attribute('href')}")
        assert printed.status == 200 and printed.headers["content-type"] == "application/pdf"
        [paper_qr] = read_qr_texts_from_image(rasterize(printed.body(), tmp_path))
        assert officer.check(paper_qr) == "valid"

        # renewal window: 330 days later, logged in again with the PID (session ended)
        env.clock.advance(days=330)
        self.shots = False  # the start page's picture is the first login's
        self.login()
        self.shots = not self.keyboard
        page.goto(permit_url)
        self.act("Verlängern")
        page.wait_for_selector("text=Verlängert bis")
        self.seen("renewed")
        self.act("Jetzt bezahlen")
        page.wait_for_selector("text=Entwicklungs-Zahlungsanbieter")
        self.act("Zahlung bestätigen")
        page.wait_for_selector("text=Zahlung eingegangen")

        # another vehicle: the old QR is revoked at once
        self.choose(SECOND)
        self.act("Fahrzeug ändern")
        page.wait_for_selector("text=GE-EM 2000")
        assert page.url != permit_url
        officer.sync()
        assert officer.check(qr) == "invalid"
        self.act("In die Wallet laden")
        page.wait_for_selector("text=Angebot in der Wallet öffnen")
        self.seen("wallet")
        offer = page.get_by_role("link", name="Angebot in der Wallet öffnen").get_attribute("href")
        new_qr = next(c.qr_text for c in self.wallet.redeem(offer, tx_code=None) if c.qr_text)
        assert officer.check(new_qr) == "valid"
        self.act("Zurück zum Parkausweis")
        page.wait_for_selector("text=Fahrzeug oder Kennzeichen ändern")

        # return: a fresh presentation first
        env.clock.advance(minutes=6)
        self.act("Parkausweis zurückgeben")
        page.wait_for_selector("#status")
        self.seen("confirm")
        self.act("Mit dem Personalausweis (PID) anmelden")
        page.wait_for_url("**with=pid**")
        assert _answer(env, self.presenter, page, cross_device=True) is None
        page.wait_for_selector("text=Endgültig zurückgeben", timeout=20_000)
        self.seen("return")
        self.act("Endgültig zurückgeben")
        page.wait_for_selector("text=zurückgegeben und ist gesperrt")
        self.seen("returned")
        officer.sync()
        assert officer.check(new_qr) == "invalid"

        self.act("Besucherausweise")
        page.wait_for_url(f"{self.base}/visitors")
        self.seen("visitors")
        self.act("Meine Geräte")
        page.wait_for_url(f"{self.base}/devices")
        assert "Gerät seit" in page.content()
        self.seen("devices")
        self.act("English")
        page.wait_for_selector("text=My devices")
        self.seen("devices-en")
        self.act("Log out")
        page.wait_for_url(f"{self.base}?lang=en")
        assert self.refused == []  # nothing of the portal's own was refused on any page


@pytest.fixture
def journey_env(settings: Settings, clock: FixedClock, tmp_path: Path) -> Any:
    with portal_env(settings, clock, tmp_path) as env:
        yield env


def _start(env: PortalEnv, browser_factory: BrowserFactory, keyboard: bool) -> Journey:
    wallet, presenter = env.wallet()
    env.give_pid(wallet)
    env.buergerid_via_pid(wallet, presenter)
    page = new_page(browser_factory())
    return Journey(env, page, presenter, wallet, keyboard)


def test_the_portal_journey_in_the_browser(
    journey_env: PortalEnv, browser_factory: BrowserFactory, tmp_path: Path
) -> None:
    _start(journey_env, browser_factory, keyboard=False).run(tmp_path)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_portal_journey_with_the_keyboard_only(
    journey_env: PortalEnv, browser_factory: BrowserFactory, tmp_path: Path
) -> None:
    _start(journey_env, browser_factory, keyboard=True).run(tmp_path)
