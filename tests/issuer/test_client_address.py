"""`X-Forwarded-For` is believed only from configured proxies (default: none): a caller cannot
choose the address its failures are counted under. Unit cases of the resolution, hypothesis
on the header parser, and the limits over real HTTP (SQLite and PostgreSQL)."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from issuer.app import create_app
from issuer.client_address import MAX_HOPS, resolve_client_address, trusted_networks
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.support.http import HTTP_TIMEOUT, live_server

PROXIES = trusted_networks(("10.0.0.0/8", "127.0.0.1/32"))


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        ("203.0.113.9", ["198.51.100.1"], "203.0.113.9"),  # not a proxy: header ignored
        ("127.0.0.1", [], "127.0.0.1"),
        ("127.0.0.1", ["198.51.100.1"], "198.51.100.1"),
        ("127.0.0.1", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # leftmost is the caller's
        ("127.0.0.1", ["198.51.100.1, 10.1.2.3"], "198.51.100.1"),  # a chain of our proxies
        ("127.0.0.1", ["198.51.100.1", "10.1.2.3"], "198.51.100.1"),  # header given twice
        ("127.0.0.1", ["10.9.9.9, 10.1.2.3"], "10.9.9.9"),  # only proxies: the farthest one
        ("127.0.0.1", ["garbage, 10.1.2.3"], "10.1.2.3"),  # stop at what no proxy wrote
        ("127.0.0.1", ["not-an-address"], "127.0.0.1"),
        ("127.0.0.1", ["2001:db8::1"], "2001:db8::1"),
        ("::ffff:127.0.0.1", ["198.51.100.1"], "198.51.100.1"),  # v4-mapped peer
        ("testclient", ["198.51.100.1"], "testclient"),
        (None, ["198.51.100.1"], "unknown"),
    ],
)
def test_resolution(peer: str | None, header: list[str], client: str) -> None:
    assert resolve_client_address(peer, header, PROXIES) == client


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    assert resolve_client_address("127.0.0.1", ["198.51.100.1"], ()) == "127.0.0.1"


def test_settings_refuse_what_is_not_an_address() -> None:
    with pytest.raises(ValueError):
        Settings(trusted_proxies="10.0.0.0/8,proxy.example")  # type: ignore[arg-type]
    assert Settings(trusted_proxies="10.0.0.1, ::1").trusted_proxies == (  # type: ignore[arg-type]
        "10.0.0.1/32",
        "::1/128",
    )


def _normal(text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


@given(st.lists(st.text(max_size=80), max_size=4), st.sampled_from(["127.0.0.1", "192.0.2.1"]))
def test_any_header_gives_the_peer_or_an_address_in_it(header: list[str], peer: str) -> None:
    client = resolve_client_address(peer, header, PROXIES)
    if peer == "192.0.2.1":  # not a proxy: the header is not read
        assert client == peer
        return
    hops = {_normal(h) for value in header for h in value.split(",")}
    assert client == peer or client in hops  # an address, never the header's raw text


@given(st.lists(st.from_regex(r"\A(\d{1,3}\.){3}\d{1,3}\Z"), min_size=1, max_size=40))
def test_the_rightmost_untrusted_hop_is_the_client(hops: list[str]) -> None:
    client = resolve_client_address("127.0.0.1", [", ".join(hops)], PROXIES)
    read = hops[-MAX_HOPS:]  # nothing beyond is read
    valid = [h for h in read if _normal(h) is not None]
    untrusted = [h for h in valid if not any(ipaddress.ip_address(h) in n for n in PROXIES)]
    if len(valid) == len(read) and untrusted:
        assert client == str(ipaddress.ip_address(untrusted[-1]))


def bogus() -> dict[str, str]:
    return {"Authorization": f"Bearer bid_{secrets.token_hex(8)}.{secrets.token_urlsafe(32)}"}


@contextmanager
def served(settings: Settings, clock: FixedClock, **changes: Any) -> Iterator[httpx.Client]:
    app = create_app(
        settings.model_copy(
            update={"auth_failures_per_address": 3, "auth_refusal_delay_seconds": 0, **changes}
        ),
        clock=clock,
    )
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as http:
            yield http
    finally:
        app.state.engine.dispose()


def test_a_forged_header_does_not_escape_the_address_limit(
    settings: Settings, clock: FixedClock
) -> None:
    with served(settings, clock) as http:
        answers = [
            http.get("/api/v1/zones", headers={**bogus(), "X-Forwarded-For": f"198.51.100.{i}"})
            for i in range(4)
        ]
        assert [r.status_code for r in answers] == [401, 401, 401, 429]


def test_behind_a_configured_proxy_each_client_has_its_own_budget(
    settings: Settings, clock: FixedClock
) -> None:
    with served(settings, clock, trusted_proxies=("127.0.0.1/32",)) as http:
        spread = [
            http.get("/api/v1/zones", headers={**bogus(), "X-Forwarded-For": f"198.51.100.{i}"})
            for i in range(5)
        ]
        assert [r.status_code for r in spread] == [401] * 5
        same = [
            http.get(
                "/api/v1/zones", headers={**bogus(), "X-Forwarded-For": "6.6.6.6, 198.51.100.77"}
            )
            for _ in range(4)
        ]
        assert [r.status_code for r in same] == [401, 401, 401, 429]


def test_a_forged_header_does_not_escape_the_token_endpoint_limit(
    settings: Settings, clock: FixedClock
) -> None:
    from wallet_api.app import create_wallet_app
    from wallet_api.services.policy import WalletPolicy

    app = create_wallet_app(settings, clock=clock, policy=WalletPolicy(token_requests_per_window=2))
    form = {"grant_type": "refresh_token", "refresh_token": "not-a-token"}
    try:
        with live_server(app) as base, httpx.Client(base_url=base, timeout=HTTP_TIMEOUT) as http:
            answers = [
                http.post(
                    "/wallet/token", data=form, headers={"X-Forwarded-For": f"198.51.100.{i}"}
                )
                for i in range(3)
            ]
        assert [r.status_code for r in answers] == [400, 400, 429]
    finally:
        app.state.engine.dispose()
