"""The officer's app in a real browser: Debian's Chromium with a fake camera showing a permit.

The issuer serves over real HTTP (SQLite; the database plays no part here); the handheld is
enrolled and synced; `buergerid-verify app` runs in process on 127.0.0.1 with a clock the
test moves. The camera is a .y4m video rendered from the permit's QR code. The screen shows
GÜLTIG, then UNGÜLTIG (widerrufen) after a revocation and "jetzt synchronisieren", then
NICHT PRÜFBAR once the network is gone and the bundle expired, and a clear message for a QR
code that is not a permit. Each verdict screen is saved to docs/img/.
"""

from __future__ import annotations

import shutil
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import segno
from fastapi import FastAPI
from PIL import Image

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.support.browser import (
    BrowserFactory,
    fake_camera_args,
    new_page,
    save_screenshot,
    write_y4m,
)
from tests.support.db import make_test_settings
from tests.support.handheld import GE, PLATES, RE, handheld_world
from tests.support.http import live_server
from verifier import DataDir
from verifier.handheld import App, AppServer, DeviceIdentity, sync_once

VERDICT = "#verdict:not([hidden])"
WAIT_MS = 30_000


def qr_frame(text: str) -> Image.Image:
    """The QR code as a camera would see it: 640x480, the code in the middle."""
    code = segno.make(text, error="q")
    symbol = Image.open(_png(code)).convert("L")
    frame = Image.new("L", (640, 480), 235)
    frame.paste(symbol, ((640 - symbol.width) // 2, (480 - symbol.height) // 2))
    return frame


def _png(code: Any) -> Any:
    import io

    buf = io.BytesIO()
    code.save(buf, kind="png", scale=4, border=4)
    buf.seek(0)
    return buf


def wait_text(page: Any, selector: str, text: str) -> None:
    """Wait until the element shows ``text`` (the app's CSP forbids evaluated scripts)."""
    page.locator(selector, has_text=text).wait_for(timeout=WAIT_MS)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "issuer.db"
    shutil.copyfile(sqlite_template, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def port() -> int:
    return _free_port()


@pytest.fixture
def settings(db_url: str, tmp_path: Path, port: int) -> Settings:
    return make_test_settings(db_url, tmp_path / "data", public_base_url=f"http://127.0.0.1:{port}")


class MovableClock:
    """The handheld's clock in this test: the wall clock plus an offset the test sets."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app_server(tmp_path: Path) -> Iterator[tuple[App, AppServer, MovableClock]]:
    clock = MovableClock(datetime.now(UTC).timestamp())
    data_dir = DataDir(tmp_path / "handheld")
    servers: list[tuple[App, AppServer]] = []

    def start() -> tuple[App, AppServer]:
        app = App(data_dir, environ={}, clock=clock)
        server = AppServer(app, 0)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append((app, server))
        return app, server

    holder: dict[str, Any] = {"start": start, "data_dir": data_dir}
    yield holder, clock  # type: ignore[misc]
    for app, server in servers:
        server.shutdown()
        server.server_close()
        app.close()


def test_camera_scan_verdicts_in_a_real_browser(
    app: FastAPI,
    clock: FixedClock,
    api_client: Any,
    port: int,
    tmp_path: Path,
    browser_factory: BrowserFactory,
    app_server: Any,
) -> None:
    holder, handheld_clock = app_server
    clock.set(datetime.now(UTC).replace(microsecond=0))
    data_dir: DataDir = holder["data_dir"]
    with live_server(app, port=port) as base:
        world = handheld_world(app, clock, api_client, tmp_path)
        data_dir.add_anchors(world.anchor.read_bytes())
        code = world.enrolment_code(world.enforcement_client(GE, RE))["code"]
        now = int(handheld_clock())
        DeviceIdentity(data_dir.root).enrol(base, code, now=now)
        first = sync_once(data_dir, now=now)
        assert first.ok, first.error

        _handheld, server = holder["start"]()
        permit_qr = world.permits[GE]["qr"]
        camera = fake_camera_args(write_y4m(tmp_path / "permit.y4m", qr_frame(permit_qr)))
        page = new_page(browser_factory(*camera))
        page.goto(server.url)
        page.wait_for_selector("#sync-state[data-state='ok']", timeout=WAIT_MS)

        # a bare zone code is ambiguous with two cities synced; AGS:CODE settles it
        page.fill("#zone", "A3")
        page.click("#set-zone")
        wait_text(page, "#zone-state", "mehrdeutig")
        page.fill("#zone", f"{GE}:A3")
        page.click("#set-zone")
        wait_text(page, "#zone-state", f"({GE})")

        page.click("#scan")
        page.wait_for_selector(VERDICT, timeout=WAIT_MS)
        assert page.get_attribute("#verdict", "data-kind") == "valid"
        assert page.inner_text("#v-headline") == "GÜLTIG"
        details = page.inner_text("#v-details")
        assert "A3 – " in details and GE in details and str(world.permits[GE]["number"]) in details
        assert PLATES[GE] in details and "Bewohner" in details
        save_screenshot(page, "handheld-valid")
        page.click("#next")
        save_screenshot(page, "handheld-start")

        # the plate of a digital-only permit, in another city's zone of the same name
        page.fill("#plate", PLATES[RE])
        page.click("#check-plate")
        page.wait_for_selector(VERDICT, timeout=WAIT_MS)
        assert page.get_attribute("#verdict", "data-reason") == "wrong_zone"
        page.click("#next")
        page.fill("#plate", "")

        # revoked at the city hall; the officer syncs; the same code is now UNGÜLTIG
        world.revoke(GE)
        with page.expect_response("**/api/sync", timeout=WAIT_MS) as synced:
            page.click("#sync")
        assert synced.value.json()["sync"]["state"] == "ok"
        page.click("#scan")
        page.wait_for_selector(VERDICT, timeout=WAIT_MS)
        assert page.get_attribute("#verdict", "data-kind") == "invalid"
        assert page.get_attribute("#verdict", "data-reason") == "revoked"
        assert "widerrufen" in page.inner_text("#v-reason")
        save_screenshot(page, "handheld-revoked")
        page.click("#next")
        wait_text(page, "#log", "widerrufen")  # the shift log, on the device only
        assert "GÜLTIG · " in page.inner_text("#log")

    # the network is gone (the server stopped) and the bundle expired meanwhile
    handheld_clock.now += 8 * 24 * 3600
    with page.expect_response("**/api/sync", timeout=WAIT_MS):
        page.click("#sync")
    page.wait_for_selector("#sync-state[data-state='failed']", timeout=WAIT_MS)
    assert "Server nicht erreichbar" in page.inner_text("#sync-state")
    page.click("#scan")
    page.wait_for_selector(VERDICT, timeout=WAIT_MS)
    assert page.get_attribute("#verdict", "data-kind") == "indeterminate"
    assert page.inner_text("#v-headline") == "NICHT PRÜFBAR"
    assert page.get_attribute("#verdict", "data-reason") == "bundle_expired"
    save_screenshot(page, "handheld-indeterminate")
    page.click("#next")

    # eight days later the checks of the old shift are gone (12 h by default); English on a tap
    wait_text(page, "#log", "NICHT PRÜFBAR")
    assert "widerrufen" not in page.inner_text("#log")
    page.click("#lang")
    wait_text(page, "#title", "Check a parking permit")
    page.click("#lang")

    # a QR code that is not a permit
    other = fake_camera_args(write_y4m(tmp_path / "other.y4m", qr_frame("https://example.org/")))
    page2 = new_page(browser_factory(*other))
    page2.goto(server.url)
    page2.click("#scan")
    page2.wait_for_selector(VERDICT, timeout=WAIT_MS)
    assert page2.get_attribute("#verdict", "data-kind") == "not_a_permit"
    assert page2.inner_text("#v-headline") == "KEIN PARKAUSWEIS"
    save_screenshot(page2, "handheld-not-a-permit")

    # end of shift: the log is gone from the device
    page2.click("#next")
    page2.click("#end-shift")
    wait_text(page2, "#log", "noch keine")
    assert not (data_dir.root / "shift-log.json").exists()
