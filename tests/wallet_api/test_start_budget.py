"""The budget of anonymous login starts per client address, over real HTTP on SQLite and
PostgreSQL: the portal's start and login pages, the relying party's login and Bürger-ID pages
and the authorization endpoint spend from one budget; beyond it 429 with ``Retry-After`` and
nothing stored; another address still starts; the next window starts again; two instances on
one database share the budget. Client addresses come through ``X-Forwarded-For`` from a
trusted proxy (the tests' 127.0.0.1)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from issuer.services import clients as clients_service
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from mobile_sdk_stub import authorization
from mobile_sdk_stub.client import WalletError
from tests.support.http import live_server
from tests.support.portal import AGS, PortalEnv, portal_env
from tests.wallet_api.harness import RESIDENCE_CONFIG
from tests.wallet_api.rp_harness import RpEnv, rp_env
from wallet_api.app import create_combined_app
from wallet_api.portal.models import PortalSession
from wallet_api.relying_party.models import RpTransaction, WalletAuthorization
from wallet_api.services.credential_types import RESIDENCE
from wallet_api.services.type_metadata import vct_for

BUDGET = 3
WINDOW = 60
PROXY = ("127.0.0.1/32",)
_RETURN = re.compile(r"/login/return/([0-9a-f-]{36})")


def _limited(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "rp_starts_per_address": BUDGET,
            "rp_start_window_seconds": WINDOW,
            "rp_client_starts_per_window": BUDGET,
            "trusted_proxies": PROXY,
        }
    )


def _rows(env: PortalEnv | RpEnv) -> tuple[int, int]:
    """Stored transactions and portal sessions."""
    with env.app.state.session_factory() as session:
        transactions = session.scalar(select(func.count()).select_from(RpTransaction))
        portal = session.scalar(select(func.count()).select_from(PortalSession))
    return int(transactions or 0), int(portal or 0)


def _from(env: PortalEnv | RpEnv, address: str) -> httpx.Client:
    """A new browser (no cookie) behind `address`."""
    browser = env.browser()
    browser.headers["X-Forwarded-For"] = address
    return browser


def _login_of(page: httpx.Response) -> str:
    """The login transaction a portal page started."""
    assert page.status_code == 200, page.text
    found = _RETURN.search(page.text)
    assert found is not None
    return found.group(1)


def _until_window_ends(clock: FixedClock) -> int:
    unix = int(clock.now().timestamp())
    return WINDOW - unix % WINDOW


def test_the_portal_refuses_the_start_beyond_the_budget_and_stores_nothing(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with portal_env(_limited(settings), clock, tmp_path) as env:
        home = f"/portal/{AGS}"
        assert _rows(env) == (0, 0)
        # a new browser each time: no cookie, so every visit is a new session and login;
        # the start page and the login page spend from the same budget
        paths = (home, f"{home}/login", f"{home}/login?with=pid")
        for path in paths:
            assert _from(env, "198.51.100.7").get(path).status_code == 200
        assert _rows(env) == (BUDGET, BUDGET)

        refused = _from(env, "198.51.100.7").get(home)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) == _until_window_ends(clock)
        assert "Bitte warten Sie eine Minute" in refused.text
        assert "sehr viele Anmeldungen begonnen" in refused.text
        assert "openid4vp://" not in refused.text and "Traceback" not in refused.text
        assert refused.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]
        assert refused.headers["cache-control"] == "no-store"
        assert "set-cookie" not in refused.headers
        english = _from(env, "198.51.100.7").get(f"{home}/login", params={"lang": "en"})
        assert english.status_code == 429
        assert "Please wait a minute" in english.text and "retry-after" in english.headers
        assert _rows(env) == (BUDGET, BUDGET)

        # a reload ends her session and its login (nobody can finish that any more): a
        # browser that keeps its cookie holds one session and one login, however often it
        # reloads; a refused start leaves both as they were
        browser = _from(env, "198.51.100.9")
        earlier = [_login_of(browser.get(home)) for _ in range(BUDGET)]
        assert len(set(earlier)) == BUDGET
        assert _rows(env) == (BUDGET + 1, BUDGET + 1)
        with env.app.state.session_factory() as session:
            gone = [session.get(RpTransaction, t) is None for t in earlier]
        assert gone == [True] * (BUDGET - 1) + [False]
        assert browser.get(home).status_code == 429
        assert _rows(env) == (BUDGET + 1, BUDGET + 1)
        assert browser.get(f"{home}/login/status").status_code == 200  # still her session

        # another address still starts; the next window starts again
        assert _from(env, "203.0.113.5").get(home).status_code == 200
        clock.advance(seconds=_until_window_ends(clock))
        assert _from(env, "198.51.100.7").get(home).status_code == 200
        assert _rows(env) == (BUDGET + 3, BUDGET + 3)


def test_the_relying_party_pages_share_the_budget_and_ask_her_to_wait(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with rp_env(_limited(settings), clock, tmp_path) as env:
        paths = (f"/rp/login/{AGS}", f"/rp/buergerid/{AGS}", f"/rp/login/{AGS}")
        for path in paths:
            assert _from(env, "198.51.100.7").get(path).status_code == 200
        before = _rows(env)
        for path in paths[:2]:
            refused = _from(env, "198.51.100.7").get(path)
            assert refused.status_code == 429
            # a person in a browser reads a page in her language, not problem+json
            assert refused.headers["content-type"].startswith("text/html")
            assert "sehr viele Anmeldungen begonnen" in refused.text
            assert f'href="{path}"' in refused.text  # starting again is one click
            assert int(refused.headers["retry-after"]) == _until_window_ends(clock)
            assert "frame-ancestors 'none'" in refused.headers["content-security-policy"]
        english = _from(env, "198.51.100.7").get(f"{paths[0]}?lang=en")
        assert english.status_code == 429 and 'lang="en"' in english.text
        assert "Very many logins were started" in english.text
        assert f'href="{paths[0]}?lang=en"' in english.text
        assert _rows(env) == before

        # an IPv6 client counts as its /64: another host of that network shares its budget
        for host in range(1, BUDGET + 1):
            page = _from(env, f"2001:db8:7:1::{host}").get(paths[0])
            assert page.status_code == 200
        assert _from(env, "2001:db8:7:1:ffff::9").get(paths[0]).status_code == 429
        assert _from(env, "2001:db8:7:2::1").get(paths[0]).status_code == 200

        clock.advance(seconds=_until_window_ends(clock))
        assert _from(env, "198.51.100.7").get(paths[1]).status_code == 200


def test_a_refused_authorization_start_leaves_the_request_uri_usable(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with rp_env(_limited(settings), clock, tmp_path) as env:
        # half a window in: the pushed request (60 s) outlives the window's end
        clock.advance(seconds=(WINDOW // 2 - int(clock.now().timestamp()) % WINDOW) % WINDOW)
        for _ in range(BUDGET):
            assert env.browser().get(f"/rp/login/{AGS}").status_code == 200
        wallet, _presenter = env.wallet()
        pending = authorization.start(wallet, [RESIDENCE_CONFIG])
        before = _rows(env)
        refused = env.browser().get(pending.authorization_url)
        assert refused.status_code == 429 and "sehr viele Anmeldungen" in refused.text
        assert int(refused.headers["retry-after"]) == _until_window_ends(clock)
        assert _rows(env) == before
        with env.app.state.session_factory() as session:
            statuses = session.scalars(select(WalletAuthorization.status)).all()
        assert statuses == ["pushed"]

        clock.advance(seconds=_until_window_ends(clock))
        page = env.browser().get(pending.authorization_url)
        assert page.status_code == 200 and "openid4vp://" in page.text
        assert _rows(env)[0] == before[0] + 1


def test_pushed_authorization_requests_have_a_budget_of_their_own(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with rp_env(_limited(settings), clock, tmp_path) as env:
        wallet, _presenter = env.wallet()
        authorization.start(wallet, [RESIDENCE_CONFIG])  # its PAR and the DPoP nonce retry
        with env.app.state.session_factory() as session:
            assert session.scalar(select(func.count()).select_from(WalletAuthorization)) == 1
        # the rest of the budget spent by a bare request from the same address (refused, 400)
        spent = env.browser().post("/wallet/par", data={"client_id": "w"})
        assert spent.status_code == 400 and spent.json()["error"] == "unsupported_response_type"
        # beyond it: refused before anything is read or stored
        refused = env.browser().post("/wallet/par", data={"client_id": "w"})
        assert refused.status_code == 429
        assert refused.json()["error"] == "slow_down"
        assert int(refused.headers["retry-after"]) == _until_window_ends(clock)
        with pytest.raises(WalletError) as info:
            authorization.start(wallet, [RESIDENCE_CONFIG])
        assert info.value.code == "slow_down"
        with env.app.state.session_factory() as session:
            assert session.scalar(select(func.count()).select_from(WalletAuthorization)) == 1
        # a count of its own: the browser's login pages still start; another address pushes
        assert env.browser().get(f"/rp/login/{AGS}").status_code == 200
        other = _from(env, "198.51.100.9").post("/wallet/par", data={"client_id": "w"})
        assert other.status_code == 400 and other.json()["error"] == "unsupported_response_type"
        # the next window
        clock.advance(seconds=_until_window_ends(clock))
        authorization.start(wallet, [RESIDENCE_CONFIG])
        with env.app.state.session_factory() as session:
            assert session.scalar(select(func.count()).select_from(WalletAuthorization)) == 2


def test_two_instances_on_one_database_share_the_budget(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with portal_env(_limited(settings), clock, tmp_path) as env:
        other = create_combined_app(env.settings, clock=clock)
        try:
            with live_server(other) as other_base:
                home = f"/portal/{AGS}"
                headers = {"X-Forwarded-For": "198.51.100.7"}
                first = [_from(env, "198.51.100.7").get(home) for _ in range(BUDGET - 1)]
                assert [r.status_code for r in first] == [200] * (BUDGET - 1)
                with httpx.Client(base_url=other_base, headers=headers, timeout=30) as http:
                    assert http.get(home).status_code == 200
                    before = _rows(env)
                    assert http.get(home).status_code == 429
                assert _from(env, "198.51.100.7").get(home).status_code == 429
                assert _rows(env) == before
        finally:
            other.state.engine.dispose()


def test_the_documented_settings_are_the_settings_and_their_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text.split("### Anonymous login starts")[1].split("\n#")[0]
    rows = re.findall(r"^\| `([A-Z_]+)` \| (\d+)", section, flags=re.MULTILINE)
    assert [name for name, _ in rows] == [
        "RP_STARTS_PER_ADDRESS",
        "RP_START_WINDOW_SECONDS",
        "RP_CLIENT_STARTS_PER_WINDOW",
    ]
    for name, default in rows:
        assert Settings.model_fields[name.lower()].default == int(default), name
        monkeypatch.setenv(f"BUERGERID_{name}", "7")
        assert getattr(Settings(), name.lower()) == 7


def _application(env: RpEnv, http: httpx.Client, name: str) -> dict[str, str]:
    """A municipal application of the tenant, allowed to ask for names: its Authorization."""
    with env.app.state.session_factory() as session, session.begin():
        now = env.clock.now()
        admin, app = (
            clients_service.create_client(
                session,
                env.app.state.hasher,
                tenant_id=env.tenant_id,
                name=f"{name}-{scope}",
                scopes=[scope],
                actor="test",
                now=now,
            )
            for scope in ("admin", "residents:identify")
        )
    policy = {"allowed_claims": {"residence": ["given_name", "family_name"]}}
    answer = http.put(
        f"/api/v1/rp-clients/{app.client.id}/policy",
        json=policy,
        headers={"Authorization": f"Bearer {admin.token}"},
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {app.token}"}


def test_a_municipal_application_has_a_budget_of_its_own(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with rp_env(_limited(settings), clock, tmp_path) as env:
        # mid-window, so that the whole budget is spent in one window
        clock.advance(seconds=(WINDOW // 2 - int(clock.now().timestamp()) % WINDOW) % WINDOW)
        http = env.browser()
        dogs, bins = _application(env, http, "dogs"), _application(env, http, "bins")
        query = {
            "credentials": [
                {
                    "id": "bid",
                    "format": "dc+sd-jwt",
                    "meta": {"vct_values": [vct_for("https://05513000.example.de", RESIDENCE)]},
                    "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}],
                }
            ]
        }
        body = {"dcql_query": query}
        for _ in range(BUDGET):
            assert http.post("/api/v1/presentations", json=body, headers=dogs).status_code == 201
        before = _rows(env)
        refused = http.post("/api/v1/presentations", json=body, headers=dogs)
        assert refused.status_code == 429 and refused.json()["code"] == "slow_down"
        assert int(refused.headers["retry-after"]) == _until_window_ends(clock)
        assert _rows(env) == before  # nothing stored
        # anonymous visitors and other applications do not share its budget
        assert http.post("/api/v1/presentations", json=body, headers=bins).status_code == 201
        assert env.browser().get(f"/rp/login/{AGS}").status_code == 200

        clock.advance(seconds=_until_window_ends(clock))
        assert http.post("/api/v1/presentations", json=body, headers=dogs).status_code == 201
