"""On a fresh `make run` (``python -m wallet_api``, a real process on SQLite), a resident
with a PID in her wallet gets her Bürger-ID with no letter and no code and logs in with it,
all through the ``buergerid-wallet`` command line: ``dev-pid`` (the development PID
provider, trusted by a development server only), ``answer`` (OpenID4VP link), ``redeem``
(the offer shown after the PID was matched), ``authorize`` / ``authorize-finish`` (the
authorization code flow), and a browser stand-in for the pages."""

from __future__ import annotations

import io
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from issuer.devserver import ensure_dev_pid_provider
from issuer.settings import Settings
from mobile_sdk_stub.cli import run

AGS = "05513000"
_LINK = re.compile(r'href="(openid4vp://[^"]+)"')
_OFFER = re.compile(r'href="(openid-credential-offer://[^"]+)"')
_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Dev:
    base: str
    data_dir: Path
    wallet_dir: Path

    def wallet(self, *args: str) -> str:
        """Run ``buergerid-wallet`` in-process; its output (exit status 0 asserted)."""
        out = io.StringIO()
        with redirect_stdout(out):
            status = run(["--wallet-dir", str(self.wallet_dir), "--server", self.base, *args])
        assert status == 0, out.getvalue()
        return out.getvalue()

    def answer(self, link: str) -> str:
        root = self.data_dir / "keys" / "ca" / "ca.pem"
        said = self.wallet("answer", link, "--verifier-root", str(root), "--yes")
        found = re.search(r"sent; open (\S+)", said)
        assert found is not None, said
        return found.group(1)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dev]:
    root = tmp_path_factory.mktemp("make-run")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERID_")} | {
        "BUERGERID_DATA_DIR": str(root / "var"),
        "BUERGERID_PORT": str(port),
        "BUERGERID_ARGON2_TIME_COST": "1",
        "BUERGERID_ARGON2_MEMORY_KIB": "8",
        "BUERGERID_KEY_KDF_TIME_COST": "1",
        "BUERGERID_KEY_KDF_MEMORY_KIB": "8",
        "BUERGERID_KEY_KDF_PARALLELISM": "1",
    }
    log = (root / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wallet_api"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    pause = threading.Event()
    try:
        for _ in range(1200):
            assert proc.poll() is None, (root / "server.log").read_text()[-2000:]
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            pause.wait(0.05)
        yield Dev(base, root / "var", root / "wallet")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _link(page: httpx.Response) -> str:
    found = _LINK.search(page.text)
    assert page.status_code == 200 and found is not None, page.text
    return unescape(found.group(1))


def test_a_resident_with_a_pid_gets_her_buergerid_without_a_letter_and_logs_in(dev: Dev) -> None:
    assert "stored pid" in dev.wallet(
        "dev-pid", "--provider-dir", str(dev.data_dir / "dev-pid-provider")
    )
    with httpx.Client(base_url=dev.base, timeout=30) as browser:
        back = dev.answer(_link(browser.get(f"/rp/buergerid/{AGS}")))
        offer = _OFFER.search(browser.get(back).text)
        assert offer is not None
    assert "stored residence" in dev.wallet("redeem", unescape(offer.group(1)))
    with httpx.Client(base_url=dev.base, timeout=30) as browser:
        back = dev.answer(_link(browser.get(f"/rp/login/{AGS}")))
        page = browser.get(back)
        assert page.status_code == 200 and "Erika Mustermann" in page.text


def test_the_wallet_command_runs_the_authorization_code_flow(dev: Dev) -> None:
    if "pid" not in dev.wallet("list"):
        dev.wallet("dev-pid", "--provider-dir", str(dev.data_dir / "dev-pid-provider"))
    said = dev.wallet("authorize", f"{AGS}.residence")
    url = re.search(r"open in a browser: (\S+)", said)
    assert url is not None, said
    with httpx.Client(timeout=30) as browser:
        back = dev.answer(_link(browser.get(url.group(1))))
        consent = browser.get(back)
        action, csrf = _ACTION.search(consent.text), _CSRF.search(consent.text)
        assert action is not None and csrf is not None, consent.text
        answer = browser.post(
            dev.base + unescape(action.group(1)), data={"csrf": csrf.group(1), "decision": "allow"}
        )
        assert answer.status_code == 303
    assert "stored residence" in dev.wallet("authorize-finish", answer.headers["location"])
    assert not (dev.wallet_dir / "authorization.json").exists()


def test_the_development_pid_provider_never_runs_in_production(tmp_path: Path) -> None:
    production = {
        "environment": "production",
        "database_url": "postgresql+psycopg://buergerid@127.0.0.1/buergerid",
        "key_passphrase": "x" * 20,
        "server_secret": "s" * 32,
        "public_base_url": "https://wallet.example",
        "data_dir": tmp_path,
    }
    with pytest.raises(ValidationError, match="rp_dev_pid_provider"):
        Settings(**production, rp_dev_pid_provider=True)
    with pytest.raises(ValueError, match="development only"):
        ensure_dev_pid_provider(Settings(**production), 0)
    assert not (tmp_path / "dev-pid-provider").exists()
