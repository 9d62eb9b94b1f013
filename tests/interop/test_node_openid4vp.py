"""An independently written OpenID4VP wallet (@openid4vc/openid4vp with dcql and jose, run by
Node.js) presents our Bürger-ID to our relying party, over real HTTPS, on SQLite and
PostgreSQL: it resolves the signed request object by reference, checks its x5c chain to the
deployment's issuing CA and the ``x509_hash`` client identifier, matches the DCQL query,
presents the SD-JWT VC with a KB-JWT, encrypts the response (``direct_post.jwt``) and posts
it; the browser that started the login follows the returned ``redirect_uri`` and is logged
in. Without Node.js the test is skipped, unless BUERGERID_REQUIRE_NODE=1 (CI) makes that a
failure; with Node.js the modules must be installed (`cd tests/interop/node && npm ci
--ignore-scripts`), or the test fails and says so."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from issuer.devserver import ensure_dev_tls
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.wallet_api.rp_harness import RpEnv, rp_env

NODE_DIR = Path(__file__).resolve().parent / "node"


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> Iterator[RpEnv]:
    # the library checks the request object's times against the real clock
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    with rp_env(settings, clock, tmp_path) as running:
        yield running


MODULES = ("@openid4vc/openid4vp", "dcql", "jose", "@sd-jwt/sd-jwt-vc")


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("BUERGERID_REQUIRE_NODE") == "1":
            pytest.fail("BUERGERID_REQUIRE_NODE=1 but node is not on PATH", pytrace=False)
        pytest.skip("node not on PATH (Debian package nodejs)")
    missing = [m for m in MODULES if not (NODE_DIR / "node_modules" / m).is_dir()]
    if missing:
        pytest.fail(
            f"npm modules missing ({', '.join(missing)}): "
            "cd tests/interop/node && npm ci --ignore-scripts",
            pytrace=False,
        )
    return node


def _present(env: RpEnv, node: str, uri: str, credential: str, holder_pem: bytes) -> Any:
    tls = ensure_dev_tls(env.settings, env.now())
    request = {
        "uri": uri,
        "credential": credential,
        "holder_private_pem": holder_pem.decode("ascii"),
        "root_pem": env.ca.public_bytes(Encoding.PEM).decode("ascii"),
    }
    proc = subprocess.run(
        [node, "interop.mjs", "present-vp"],
        input=json.dumps(request) + "\n",
        cwd=NODE_DIR,
        env={**os.environ, "NODE_EXTRA_CA_CERTS": str(tls.ca)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = proc.stdout.strip().splitlines()
    assert lines, proc.stderr[-2000:]
    return json.loads(lines[-1])


def test_the_openid4vp_library_logs_in_with_our_buergerid(env: RpEnv) -> None:
    node = _node()
    wallet, _presenter = env.wallet()
    env.give_buergerid(wallet)
    [buergerid] = wallet.store.list_credentials("residence")
    browser = env.browser()
    started = env.open(browser, "/rp/login/05513000")
    answer = _present(env, node, started.same_device, buergerid.sd_jwt, wallet.device.private_pem())
    assert answer["ok"], answer
    assert answer["client_prefix"] == "x509_hash"
    assert answer["version"] == 100  # OpenID4VP 1.0 final, by the library's reckoning
    assert answer["response_mode"] == "direct_post.jwt"
    assert answer["status"] == 200
    redirect = answer["body"]["redirect_uri"]
    assert "response_code=" in redirect
    page = browser.get(redirect)
    assert page.status_code == 200
    assert "Erika Mustermann" in page.text
    assert env.transaction(started.transaction_id).status == "taken"  # result fetched once


def test_a_replayed_library_response_is_refused(env: RpEnv) -> None:
    node = _node()
    wallet, _presenter = env.wallet()
    env.give_buergerid(wallet)
    [buergerid] = wallet.store.list_credentials("residence")
    browser = env.browser()
    first = env.open(browser, "/rp/login/05513000")
    answer = _present(env, node, first.same_device, buergerid.sd_jwt, wallet.device.private_pem())
    assert answer["ok"] and answer["status"] == 200, answer
    # the request object is handed out once: the library cannot fetch it a second time
    again = _present(env, node, first.same_device, buergerid.sd_jwt, wallet.device.private_pem())
    assert not again["ok"]
    assert "404" in again["error"] and again["detail"]["error"] == "invalid_request_uri"
    # the library's encrypted response, posted again, is refused
    replay = browser.post(answer["response_uri"], data={"response": answer["response_jwt"]})
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_request"
