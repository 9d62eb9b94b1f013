"""``BUERGERID_SERVER_TIMING``: with it, every answer says how long the server worked on it
(``Server-Timing: app;dur=<ms>``, the measure bench/portal.py reads); without it (the
default) no answer tells a client anything about the server's time."""

from __future__ import annotations

import re

import httpx
import pytest

from issuer.settings import Settings
from tests.support.http import live_server
from wallet_api.app import create_combined_app

_TIMING = re.compile(r"^app;dur=(\d+\.\d\d)$")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_server_timing_only_when_switched_on(settings: Settings) -> None:
    timed = create_combined_app(settings.model_copy(update={"server_timing": True}))
    with live_server(timed) as base:
        for path in ("/healthz", "/portal/99999999", "/api/v1/permits"):
            answer = httpx.get(f"{base}{path}")
            found = _TIMING.match(answer.headers.get("server-timing", ""))
            assert found is not None, (path, answer.status_code, answer.headers)
            assert float(found.group(1)) >= 0
    with live_server(create_combined_app(settings)) as base:
        assert "server-timing" not in httpx.get(f"{base}/healthz").headers
