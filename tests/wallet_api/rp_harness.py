"""The relying party over real HTTPS: the combined app on 127.0.0.1 with a development TLS
certificate, the deployment's issuing CA (it certifies the request-signing key), a test PID
provider on the trust list, the seeded tenant of ``harness`` (Erika Mustermann, Ebertstraße
11, 45879), a browser stand-in (an httpx client with its cookie jar) and stub wallets."""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from fastapi import FastAPI

from issuer.devserver import ensure_dev_tls, ensure_issuing_ca
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from mobile_sdk_stub.client import WalletClient
from mobile_sdk_stub.dev_pid import PID_DE
from mobile_sdk_stub.openid4vp import Presenter
from tests.support.http import HTTP_TIMEOUT, live_server
from tests.support.pid_provider import TestPidProvider
from tests.wallet_api.harness import AGS, _seed, free_port
from wallet_api.app import create_combined_app

_LINK = re.compile(r'href="(openid4vp://[^"]+)"')
_OFFER = re.compile(r'href="(openid-credential-offer://[^"]+)"')
_STATUS = re.compile(r"/rp/transactions/([0-9a-f-]{36})")
_ACTION = re.compile(r'<form method="post" action="([^"]+)"')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def erika_pid(vct: str = PID_DE) -> dict[str, Any]:
    """Erika as the seeded register knows her (Ebertstraße 11, 45879), as her PID shows her."""
    if vct == PID_DE:
        return {
            "given_name": "ERIKA",
            "family_name": "MUSTERMANN",
            "birthdate": "1980-02-29",
            "address": {
                "street_address": "EBERTSTR. 11",
                "postal_code": "45879",
                "locality": "GELSENKIRCHEN",
                "country": "DE",
            },
        }
    return {
        "given_name": "Erika",
        "family_name": "Mustermann",
        "birthdate": "1980-02-29",
        "address": {
            "street_address": "Ebertstraße",
            "house_number": "11",
            "postal_code": "45879",
            "locality": "Gelsenkirchen",
            "country": "DE",
        },
    }


@dataclass
class Started:
    """A page that started a transaction, as the browser saw it."""

    transaction_id: str
    same_device: str
    cross_device: str


@dataclass
class RpEnv:
    """Everything a relying-party test needs."""

    base_url: str
    app: FastAPI
    clock: FixedClock
    settings: Settings
    ssl: ssl.SSLContext
    ca: x509.Certificate  # the deployment's issuing CA: wallets trust request objects by it
    provider: TestPidProvider
    tenant_id: int
    resident_id: Any
    headers: dict[str, str]
    tmp: Path
    _clients: list[Any] = field(default_factory=list)

    def now(self) -> int:
        return int(self.clock.now().timestamp())

    def browser(self) -> httpx.Client:
        """A new browser session (its own cookie jar)."""
        client = httpx.Client(base_url=self.base_url, verify=self.ssl, timeout=30)
        self._clients.append(client)
        return client

    def wallet(self, name: str = "phone", **options: Any) -> tuple[WalletClient, Presenter]:
        """A stub wallet: the issuance client (`options` such as ``attestation`` or
        ``use_dpop`` go to it) and the presenter over the same store."""
        client = WalletClient(
            self.base_url,
            self.tmp / name,
            verify=self.ssl,
            clock=self.now,
            timeout_seconds=30,
            **options,
        )
        presenter = Presenter(
            client.device, client.store, verifier_roots=[self.ca], clock=self.now, verify=self.ssl
        )
        self._clients += [client, presenter]
        return client, presenter

    def give_pid(self, wallet: WalletClient, *, vct: str = PID_DE, person: Any = None) -> None:
        """A PID from the test provider, bound to the wallet's device key, in its store."""
        pid = self.provider.issue(
            wallet.device.public_jwk(), person=person or erika_pid(vct), now=self.now(), vct=vct
        )
        wallet.store.add(
            kind="pid", now=self.now(), sd_jwt=pid, vct=vct, issuer=self.provider.issuer_url
        )

    def give_buergerid(self, wallet: WalletClient) -> None:
        """The Bürger-ID by the letter route (a municipal offer with a tx_code)."""
        body = {"kind": "residence", "resident_id": str(self.resident_id)}
        with httpx.Client(base_url=self.base_url, verify=self.ssl, timeout=HTTP_TIMEOUT) as http:
            offer = http.post("/api/v1/offers", json=body, headers=self.headers).json()
        wallet.redeem(offer["credential_offer_url"], tx_code=offer["tx_code"])

    def transaction(self, transaction_id: str) -> Any:
        """The stored transaction row (for asserting its outcome)."""
        from wallet_api.relying_party.models import RpTransaction

        with self.app.state.session_factory() as session:
            row = session.get(RpTransaction, transaction_id)
            assert row is not None
            session.expunge(row)
            return row

    def consent(self, browser: httpx.Client, page: httpx.Response, decision: str = "allow") -> str:
        """Submit the consent form of `page`; the Location the browser is sent to."""
        action = _ACTION.search(page.text)
        csrf = _CSRF.search(page.text)
        assert action is not None and csrf is not None, page.text
        answer = browser.post(
            unescape(action.group(1)), data={"csrf": csrf.group(1), "decision": decision}
        )
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    def open(self, browser: httpx.Client, path: str) -> Started:
        """Open a page that starts a transaction."""
        page = browser.get(path)
        assert page.status_code == 200, page.text
        links = [unescape(m) for m in _LINK.findall(page.text)]
        tx = _STATUS.search(page.text)
        assert tx is not None and links
        same = links[0]
        cross = same.replace("flow%3Dsame-device", "flow%3Dcross-device")
        return Started(tx.group(1), same, cross)

    def offer_link(self, page: httpx.Response) -> str:
        """The Bürger-ID offer link on a page."""
        found = _OFFER.search(page.text)
        assert found is not None, page.text
        return unescape(found.group(1))

    def close(self) -> None:
        for client in self._clients:
            client.close()


@contextmanager
def rp_env(
    settings: Settings, clock: FixedClock, tmp: Path, *, status: str = "ignore", **overrides: Any
) -> Iterator[RpEnv]:
    """The combined app over https with the relying party configured (see the docstring)."""
    port = free_port()
    now = int(clock.now().timestamp())
    provider = TestPidProvider.create(now=now)
    trust = provider.trust_list(tmp / "trust", status=status)
    settings = settings.model_copy(
        update={
            "public_base_url": f"https://127.0.0.1:{port}",
            "rp_pid_trust_list": trust,
            **overrides,
        }
    )
    tls = ensure_dev_tls(settings, int(time.time()))
    ca = ensure_issuing_ca(settings, now - 86400)
    app = create_combined_app(settings, clock=clock)
    tenant_id, resident, _other, _permit, token = _seed(app, clock)
    context = ssl.create_default_context(cafile=str(tls.ca))
    with live_server(app, port=port, ssl_certfile=str(tls.cert), ssl_keyfile=str(tls.key)) as base:
        env = RpEnv(
            base_url=base,
            app=app,
            clock=clock,
            settings=settings,
            ssl=context,
            ca=ca.certificate,
            provider=provider,
            tenant_id=tenant_id,
            resident_id=resident,
            headers={"Authorization": f"Bearer {token}"},
            tmp=tmp,
        )
        try:
            yield env
        finally:
            env.close()


__all__ = ["AGS", "RpEnv", "erika_pid", "rp_env"]
