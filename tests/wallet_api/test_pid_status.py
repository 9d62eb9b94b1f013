"""A PID provider's status list, over real HTTPS on SQLite and PostgreSQL: the relying party
fetches the list a PID names (trust-list policy ``required``), verifies it with the
provider's certificate chain, refuses a revoked PID and a PID without a status reference,
and keeps a list that verified for its ``ttl`` (never beyond ``MAX_KEEP_SECONDS`` or its
``exp``): within it no second fetch, after it the provider's change is seen."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from issuer.devserver import ensure_dev_tls
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from keys.status_list import sign_status_list_jwt
from keys.x509 import x5c_value
from mobile_sdk_stub.dev_pid import PID_DE
from mobile_sdk_stub.openid4vp import PresentationRefused
from tests.support.http import live_server
from tests.support.pid_provider import TestPidProvider
from tests.support.processes import free_port
from tests.wallet_api.rp_harness import AGS, RpEnv, erika_pid, rp_env
from verifier.formats import StatusList, StatusListToken
from wallet_api.relying_party.trust import MAX_KEEP_SECONDS

IDX = 5
TTL = 120
SIZE = 16  # bytes: 128 one-bit entries


@dataclass
class StatusServer:
    """The provider's status list endpoint: serves whatever list it holds, counts fetches."""

    token: str = ""
    fetches: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def serve(self, request: Request) -> Response:
        with self.lock:
            self.fetches += 1
            token = self.token
        return PlainTextResponse(token, media_type="application/statuslist+jwt")


def _list(env: RpEnv, uri: str, *, revoked: bool, ttl: int | None, exp: int) -> str:
    data = bytearray(SIZE)
    if revoked:
        data[IDX // 8] |= 1 << (IDX % 8)
    status_list = StatusList(1, bytes(data))
    assert status_list.get(IDX) == (1 if revoked else 0)
    token = StatusListToken(
        sub=uri,
        iat=env.now(),
        exp=exp,
        ttl=ttl,
        status_list=status_list,
        iss=env.provider.issuer_url,
    )
    return sign_status_list_jwt(env.provider.signer, token, x5c=[x5c_value(env.provider.leaf)])


@pytest.fixture
def world(
    settings: Settings, clock: FixedClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RpEnv, StatusServer, str]]:
    server = StatusServer()
    app = Starlette(routes=[Route("/pid-status/1", server.serve)])
    with rp_env(settings, clock, tmp_path, status="required") as env:
        tls = ensure_dev_tls(env.settings, int(time.time()))
        # the relying party fetches over https and trusts the test CA for it
        monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca))
        port = free_port()
        with live_server(
            app, port=port, ssl_certfile=str(tls.cert), ssl_keyfile=str(tls.key)
        ) as base:
            yield env, server, f"{base}/pid-status/1"


def _login_with_pid(env: RpEnv, status: tuple[int, str] | None) -> Any:
    """A fresh wallet holding a PID with `status`, presenting it to the Bürger-ID page;
    returns the presenter's answer (None: accepted across devices)."""
    wallet, presenter = env.wallet(f"phone-{time.monotonic_ns()}")
    pid = env.provider.issue(
        wallet.device.public_jwk(), person=erika_pid(), now=env.now(), status=status
    )
    wallet.store.add(
        kind="pid", now=env.now(), sd_jwt=pid, vct=PID_DE, issuer=env.provider.issuer_url
    )
    started = env.open(env.browser(), f"/rp/buergerid/{AGS}")
    return presenter.respond(presenter.resolve(started.cross_device))


def _refused(env: RpEnv, status: tuple[int, str] | None) -> str:
    with pytest.raises(PresentationRefused) as info:
        _login_with_pid(env, status)
    return info.value.code


def test_a_pid_status_list_is_fetched_verified_and_kept_for_its_ttl(
    world: tuple[RpEnv, StatusServer, str],
) -> None:
    env, server, uri = world
    server.token = _list(env, uri, revoked=False, ttl=TTL, exp=env.now() + 3600)
    assert _login_with_pid(env, (IDX, uri)) is None
    assert server.fetches == 1
    # the provider revokes; within the ttl the kept list answers, nothing is fetched
    server.token = _list(env, uri, revoked=True, ttl=TTL, exp=env.now() + 3600)
    env.clock.advance(seconds=TTL - 1)
    assert _login_with_pid(env, (IDX, uri)) is None
    assert server.fetches == 1
    # at the ttl's end the list is fetched again and the revoked PID is refused
    env.clock.advance(seconds=1)
    assert _refused(env, (IDX, uri)) == "revoked"
    assert server.fetches == 2
    # a PID without a status reference, under the policy "required"
    assert _refused(env, None) == "status_unknown"


def test_a_list_without_ttl_is_fetched_every_time_and_a_long_ttl_is_capped(
    world: tuple[RpEnv, StatusServer, str],
) -> None:
    env, server, uri = world
    server.token = _list(env, uri, revoked=False, ttl=None, exp=env.now() + 3600)
    assert _login_with_pid(env, (IDX, uri)) is None
    assert _login_with_pid(env, (IDX, uri)) is None
    assert server.fetches == 2
    # a day's ttl is kept MAX_KEEP_SECONDS only
    env.clock.advance(seconds=1)
    server.token = _list(env, uri, revoked=False, ttl=86400, exp=env.now() + 86400)
    assert _login_with_pid(env, (IDX, uri)) is None
    assert server.fetches == 3
    server.token = _list(env, uri, revoked=True, ttl=86400, exp=env.now() + 86400)
    env.clock.advance(seconds=MAX_KEEP_SECONDS)
    assert _refused(env, (IDX, uri)) == "revoked"
    assert server.fetches == 4


def test_a_status_list_signed_by_someone_else_or_for_another_uri_is_refused(
    world: tuple[RpEnv, StatusServer, str],
) -> None:
    env, server, uri = world
    stranger = TestPidProvider.create(now=env.now())
    token = StatusListToken(
        sub=uri,
        iat=env.now(),
        exp=env.now() + 3600,
        ttl=TTL,
        status_list=StatusList(1, bytes(SIZE)),
        iss=env.provider.issuer_url,
    )
    server.token = sign_status_list_jwt(stranger.signer, token, x5c=[x5c_value(stranger.leaf)])
    assert _refused(env, (IDX, uri)) == "status_unknown"
    # a list that verifies but is another list's (its sub): refused, and not kept
    server.token = _list(env, f"{uri}/other", revoked=False, ttl=TTL, exp=env.now() + 3600)
    assert _refused(env, (IDX, uri)) == "status_unknown"
    server.token = _list(env, uri, revoked=False, ttl=TTL, exp=env.now() + 3600)
    assert _login_with_pid(env, (IDX, uri)) is None
    assert server.fetches == 3
