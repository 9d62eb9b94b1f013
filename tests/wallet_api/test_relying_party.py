"""The relying party end to end over real HTTPS, on SQLite and PostgreSQL: a PID becomes a
Bürger-ID without a letter, and the Bürger-ID logs the citizen in, on the same device and
from another device."""

from __future__ import annotations

from pathlib import Path

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from mobile_sdk_stub.dev_pid import PID_EU
from tests.wallet_api.rp_harness import AGS, RpEnv, rp_env


def _buergerid_via_pid(env: RpEnv, wallet, presenter, browser) -> None:  # type: ignore[no-untyped-def]
    started = env.open(browser, f"/rp/buergerid/{AGS}")
    request = presenter.resolve(started.same_device)
    assert request.client_id.startswith("x509_hash:")
    redirect = presenter.respond(request)
    assert redirect is not None and "response_code=" in redirect
    page = browser.get(redirect)
    assert page.status_code == 200, page.text
    assert "Ihre Bürger-ID liegt bereit" in page.text
    stored = wallet.redeem(env.offer_link(page), tx_code=None)
    assert [c.kind for c in stored] == ["residence"]


def test_a_pid_becomes_a_buergerid_that_logs_in_on_the_same_device(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with rp_env(settings, clock, tmp_path) as env:
        wallet, presenter = env.wallet()
        env.give_pid(wallet)
        browser = env.browser()
        _buergerid_via_pid(env, wallet, presenter, browser)
        started = env.open(browser, f"/rp/login/{AGS}")
        redirect = presenter.respond(presenter.resolve(started.same_device))
        assert redirect is not None
        page = browser.get(redirect)
        assert page.status_code == 200
        assert "Sie sind angemeldet" in page.text and "Erika Mustermann" in page.text
        # the result is handed out once
        again = browser.get(redirect)
        assert again.status_code == 400


def test_an_eu_pid_and_a_login_from_another_device(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with rp_env(settings, clock, tmp_path) as env:
        wallet, presenter = env.wallet()
        env.give_pid(wallet, vct=PID_EU)
        desktop = env.browser()
        # the login page runs its own poll script only, and is never framed
        shown = desktop.get(f"/rp/buergerid/{AGS}?lang=en")
        policy = shown.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
        assert "script-src 'sha256-" in policy and "'unsafe-inline'" not in policy
        assert shown.headers["x-frame-options"] == "DENY"
        started = env.open(desktop, f"/rp/buergerid/{AGS}?lang=en")
        assert presenter.respond(presenter.resolve(started.cross_device)) is None
        status = desktop.get(f"/rp/transactions/{started.transaction_id}").json()
        assert status == {"status": "verified", "error": None, "flow": "cross-device"}
        page = desktop.get(f"/rp/return/{started.transaction_id}?lang=en")
        assert "Your Bürger-ID is ready" in page.text
        wallet.redeem(env.offer_link(page), tx_code=None)
        started = env.open(desktop, f"/rp/login/{AGS}")
        assert presenter.respond(presenter.resolve(started.cross_device)) is None
        page = desktop.get(f"/rp/return/{started.transaction_id}")
        assert "Erika Mustermann" in page.text
