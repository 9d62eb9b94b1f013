"""Swagger UI in a real browser (Debian's Chromium, headless, Playwright), on a machine
without internet as far as the page is concerned: every request the page makes to another
host is refused and recorded. A person opens `/`, follows the link to the documentation,
types an API key into "Authorize", tries `GET /api/v1/zones` and sees 200 with the zones.

SQLite only: the database plays no part in what the browser shows."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.support.browser import BrowserFactory, new_page, save_screenshot
from tests.support.http import HTTP_TIMEOUT, live_server
from wallet_api.app import create_combined_app

WAIT_MS = 30_000


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    path = tmp_path / "issuer.db"
    shutil.copyfile(sqlite_template, path)
    yield f"sqlite:///{path}"


def test_swagger_ui_works_offline_and_an_authorised_call_succeeds(
    settings: Settings, clock: FixedClock, api_client: Any, browser_factory: BrowserFactory
) -> None:
    app = create_combined_app(settings, clock=clock)
    creds = api_client(scopes=("registry:write",), ags="05513000")
    token = creds.headers["Authorization"].removeprefix("Bearer ")
    zone = {"code": "A3", "name": "Altstadt",
            "segments": [{"street": "Markt", "number_from": 1, "number_to": 40}]}  # fmt: skip
    try:
        with live_server(app) as base:
            import httpx

            made = httpx.post(
                f"{base}/api/v1/zones", json=zone, headers=creds.headers, timeout=HTTP_TIMEOUT
            )
            assert made.status_code == 201, made.text
            origin = urlsplit(base).netloc
            elsewhere: list[str] = []
            page = new_page(browser_factory(), viewport={"width": 1280, "height": 1000})

            def only_this_server(route: Any) -> None:
                if urlsplit(route.request.url).netloc == origin:
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            page.route("**/*", only_this_server)
            page.goto(f"{base}/")
            page.click("text=API documentation (Swagger UI)")
            page.wait_for_selector(".swagger-ui .info .title", timeout=WAIT_MS)
            assert "buergerid" in page.inner_text(".swagger-ui .info .title")

            page.click("button.authorize")
            dialog = page.locator(".auth-container").filter(has_text="apiKey")
            dialog.locator("input").fill(token)
            dialog.locator("button.authorize").click()
            page.click("button.btn-done")
            assert "locked" in (page.get_attribute("button.authorize", "class") or "")

            operation = page.locator(".opblock-get").filter(
                has=page.locator('[data-path="/api/v1/zones"]')
            )
            operation.locator(".opblock-summary").first.click()
            operation.locator("button.try-out__btn").click()
            operation.locator("button.execute").click()
            status = operation.locator(".live-responses-table tbody .response-col_status").first
            status.wait_for(timeout=WAIT_MS)
            assert status.inner_text().strip() == "200"
            body = operation.locator(".live-responses-table tbody .microlight").first.inner_text()
            assert '"code": "A3"' in body
            curl = operation.locator(".curl-command").inner_text()
            assert f"Authorization: Bearer {token}" in curl
            # the picture: the authorised call, the server's answer 200 and the zones
            operation.locator(".request-url").evaluate("e => e.scrollIntoView({block: 'start'})")
            save_screenshot(page, "swagger-ui")
            assert elsewhere == []  # nothing from a CDN, no validator
    finally:
        app.state.engine.dispose()
