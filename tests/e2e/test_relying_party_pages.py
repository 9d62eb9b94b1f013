"""The relying party's pages in a real browser: Debian's Chromium (Playwright), the stub
wallet (``mobile_sdk_stub``) as the citizen's phone, the combined app over HTTPS on 127.0.0.1
(SQLite; the database plays no part in what the browser shows).

A desktop browser shows the login page with its QR code and learns the result by polling
once the phone answered the QR; a phone-sized browser opens the wallet on the same device
and comes back with a ``response_code``; a PID that matches nobody is sent to the
Bürgerbüro; a PID that matches gets the Bürger-ID offer page; the authorization code flow's
consent page is used with the keyboard alone. Every page passes the same accessibility
checks (language, names of links, buttons and the QR code, the heading taking focus, text
contrast, a visible keyboard focus). Screens are saved for docs/relying-party.md
(``make screenshots`` writes them to docs/img/).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from issuer.services.clock import FixedClock
from mobile_sdk_stub import authorization
from tests.support.browser import BrowserFactory, new_page, save_screenshot
from tests.support.clock import T0
from tests.support.db import make_test_settings
from tests.wallet_api.harness import RESIDENCE_CONFIG
from tests.wallet_api.rp_harness import AGS, RpEnv, erika_pid, rp_env

WAIT_MS = 30_000
DESKTOP = {"width": 1024, "height": 800}
WALLET_CALLBACK = authorization.REDIRECT_URI.split("?")[0]

# WCAG 2.2 contrast of every element's own text against the first opaque background behind
# it (1.4.3: 4.5:1), and of the keyboard focus outline against the page (1.4.11: 3:1)
_CONTRAST_JS = """
() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const ratio = (a, b) => {
    const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const r = ratio(rgb(getComputedStyle(el).color).slice(0, 3), background(el));
    if (r < 4.5) low.push(`${el.tagName} ${r.toFixed(2)} ${el.textContent.trim().slice(0, 30)}`);
  }
  const active = document.activeElement;
  const style = getComputedStyle(active);
  const focus = {
    tag: active.tagName,
    outline: style.outlineStyle,
    width: parseFloat(style.outlineWidth),
    contrast: ratio(rgb(style.outlineColor).slice(0, 3), background(active.parentElement)),
  };
  return { low, focus };
}
"""


@pytest.fixture(scope="module")
def env(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RpEnv]:
    tmp = tmp_path_factory.mktemp("rp-pages")
    shutil.copyfile(sqlite_template, tmp / "rp.db")
    settings = make_test_settings(f"sqlite:///{tmp / 'rp.db'}", tmp / "data")
    with rp_env(settings, FixedClock(T0), tmp) as running:
        yield running


def _page(browser_factory: BrowserFactory, **options: Any) -> Any:
    return new_page(browser_factory(), ignore_https_errors=True, **options)


def check_accessible(page: Any, *, lang: str = "de") -> None:
    """The basics on the page shown now: language, names, heading focus, contrast, focus ring."""
    assert page.get_attribute("html", "lang") == lang
    assert page.locator("h1").count() == 1
    assert page.evaluate("document.activeElement.id") == "title"  # the heading took focus
    for role in ("link", "button"):
        for element in page.get_by_role(role).all():
            assert element.inner_text().strip(), f"a {role} without a name"
    for svg in page.locator("svg").all():  # the QR codes: an image with a name
        assert svg.get_attribute("role") == "img"
        assert (svg.locator("title").text_content() or "").strip()
    found = page.evaluate(_CONTRAST_JS)
    assert found["low"] == [], found["low"]
    if page.get_by_role("link").count() + page.get_by_role("button").count():
        page.keyboard.press("Tab")
        found = page.evaluate(_CONTRAST_JS)
        focus = found["focus"]
        assert focus["tag"] in ("A", "BUTTON"), focus
        assert focus["outline"] != "none" and focus["width"] >= 2, focus
        assert focus["contrast"] >= 3, focus


def _same_device_link(page: Any) -> str:
    href = page.get_by_role("link", name="Wallet auf diesem Gerät öffnen").get_attribute("href")
    assert href is not None and href.startswith("openid4vp://")
    return unescape(href)


def _cross_device(link: str) -> str:
    return link.replace("flow%3Dsame-device", "flow%3Dcross-device")


def test_login_from_a_desktop_by_qr_and_on_the_phone_by_link(
    env: RpEnv, browser_factory: BrowserFactory
) -> None:
    wallet, presenter = env.wallet("login")
    env.give_buergerid(wallet)

    # cross device: the desktop shows the QR code; the page learns the result by polling
    desktop = _page(browser_factory, viewport=DESKTOP)
    desktop.goto(f"{env.base_url}/rp/login/{AGS}")
    assert desktop.get_by_role("heading", level=1).inner_text() == "Mit der Bürger-ID anmelden"
    assert desktop.get_by_role("img", name="QR-Code für die Wallet").count() == 1
    assert desktop.get_by_role("status").inner_text() == "Warte auf Ihre Wallet …"
    check_accessible(desktop)
    save_screenshot(desktop, "rp-login-desktop")
    link = _same_device_link(desktop)
    assert presenter.respond(presenter.resolve(_cross_device(link))) is None
    desktop.wait_for_url("**/rp/return/**", timeout=WAIT_MS)
    assert desktop.get_by_role("heading", level=1).inner_text() == "Sie sind angemeldet"
    assert desktop.get_by_role("status").inner_text() == "Erika Mustermann"
    check_accessible(desktop)
    save_screenshot(desktop, "rp-logged-in")

    # same device: the phone's browser opens the wallet and comes back with a response_code
    phone = _page(browser_factory)
    phone.goto(f"{env.base_url}/rp/login/{AGS}?lang=en")
    assert phone.get_attribute("html", "lang") == "en"
    phone.get_by_role("link", name="Deutsch").click()
    phone.wait_for_url("**lang=de**", timeout=WAIT_MS)
    check_accessible(phone)
    save_screenshot(phone, "rp-login-phone")
    redirect = presenter.respond(presenter.resolve(_same_device_link(phone)))
    assert redirect is not None and "response_code=" in redirect
    # the same address in another browser (session fixation) shows nothing of hers
    stranger = _page(browser_factory)
    answer = stranger.goto(redirect)
    assert answer is not None and answer.status == 403
    assert "Erika" not in stranger.content()
    check_accessible(stranger)
    answer = phone.goto(redirect)
    assert answer is not None and answer.status == 200
    assert phone.get_by_role("status").inner_text() == "Erika Mustermann"


def test_a_pid_that_matches_nobody_is_sent_to_the_buergerbuero_and_a_match_gets_the_offer(
    env: RpEnv, browser_factory: BrowserFactory
) -> None:
    stranger, stranger_presenter = env.wallet("stranger")
    env.give_pid(stranger, person={**erika_pid(), "given_name": "ERIKE"})
    page = _page(browser_factory)
    page.goto(f"{env.base_url}/rp/buergerid/{AGS}")
    assert page.get_by_role("heading", level=1).inner_text() == "Bürger-ID ohne Brief"
    check_accessible(page)
    save_screenshot(page, "rp-buergerid-start")
    redirect = stranger_presenter.respond(stranger_presenter.resolve(_same_device_link(page)))
    assert redirect is not None
    page.goto(redirect)
    assert page.get_by_role("heading", level=1).inner_text() == "Bitte im Bürgerbüro melden"
    assert "nichts ausgestellt" in page.get_by_role("alert").inner_text()
    assert "openid-credential-offer" not in page.content()
    check_accessible(page)
    save_screenshot(page, "rp-no-match")

    wallet, presenter = env.wallet("erika-pid")
    env.give_pid(wallet)
    page = _page(browser_factory)
    page.goto(f"{env.base_url}/rp/buergerid/{AGS}")
    redirect = presenter.respond(presenter.resolve(_same_device_link(page)))
    assert redirect is not None
    page.goto(redirect)
    assert page.get_by_role("heading", level=1).inner_text() == "Ihre Bürger-ID liegt bereit"
    offer = page.get_by_role("link", name="Bürger-ID in die Wallet laden").get_attribute("href")
    assert offer is not None and offer.startswith("openid-credential-offer://")
    assert page.get_by_role("img", name="QR-Code für die Wallet").count() == 1
    check_accessible(page)
    save_screenshot(page, "rp-buergerid-offer")
    stored = wallet.redeem(unescape(offer), tx_code=None)
    assert [c.kind for c in stored] == ["residence"]


def test_the_consent_page_of_the_authorization_code_flow_by_keyboard(
    env: RpEnv, browser_factory: BrowserFactory
) -> None:
    wallet, presenter = env.wallet("authorize")
    env.give_pid(wallet)
    pending = authorization.start(wallet, [RESIDENCE_CONFIG])
    page = _page(browser_factory)
    page.goto(pending.authorization_url)
    assert page.get_by_role("heading", level=1).inner_text() == "Anmelden für Ihre Wallet"
    check_accessible(page)
    redirect = presenter.respond(presenter.resolve(_same_device_link(page)))
    assert redirect is not None
    page.goto(redirect)
    assert page.get_by_role("heading", level=1).inner_text() == "Zustimmen"
    assert page.get_by_role("status").inner_text() == "Angemeldet als ERIKA MUSTERMANN"
    (item,) = page.get_by_role("listitem").all_inner_texts()
    assert item.startswith("Bürger-ID – Meldebestätigung der Gemeinde")
    check_accessible(page)  # the Tab in there moved the focus to "Zustimmen …"
    assert page.evaluate("document.activeElement.value") == "allow"
    save_screenshot(page, "rp-consent")
    # the browser is sent to the wallet's redirect_uri (an app link no browser resolves here)
    with page.expect_request(lambda r: r.url.startswith(WALLET_CALLBACK), timeout=WAIT_MS) as sent:
        page.keyboard.press("Enter")
    callback = sent.value.url
    assert parse_qs(urlsplit(callback).query)["state"] == [pending.state]
    stored = authorization.finish(wallet, pending, callback)
    assert [c.kind for c in stored] == ["residence"]
