"""The citizen portal over real HTTP(S): the combined app on 127.0.0.1 with a tenant that
issues resident permits (zone A3 "Altstadt" around Ebertstraße, a flat fee of 30 €, payment
before the permit is active, vehicles at most 5.60 m, permits of a year with a 42-day
renewal window), Erika Mustermann (Ebertstraße 11, 45879) with her car, a camper that is too
long and a second car, a neighbour with his own car, a test PID provider on the trust list,
the deployment's issuing CA, a root key ring for the trust bundle, stub wallets, and an
officer's `buergerid-verify`.

    with portal_env(settings, clock, tmp_path) as env:
        wallet, presenter = env.wallet()
        env.give_pid(wallet)
        browser = env.browser()
        citizen = Citizen(env, browser, presenter)
        citizen.login()
"""

from __future__ import annotations

import json
import re
import ssl
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from datetime import date, timedelta
from html import unescape
from io import StringIO
from pathlib import Path
from typing import Any

import httpx
from cryptography import x509
from fastapi import FastAPI

from issuer.db.models import Tenant
from issuer.devserver import ensure_dev_tls, ensure_issuing_ca
from issuer.schemas.registry import (
    ResidenceIn,
    ResidentCreate,
    SegmentIn,
    VehicleCreate,
    ZoneCreate,
)
from issuer.services import clients as clients_service
from issuer.services import fees, registry
from issuer.services import tenants as tenants_service
from issuer.services.clock import FixedClock
from issuer.services.permits import set_rules
from issuer.settings import Settings
from issuer.vocabulary import ResidenceKind
from keys.ring import KeyRing, RingKind
from keys.storage.file import KdfParams
from mobile_sdk_stub.client import WalletClient
from mobile_sdk_stub.dev_pid import PID_DE
from mobile_sdk_stub.openid4vp import Presenter
from tests.support.db import TEST_PASSPHRASE
from tests.support.http import live_server
from tests.support.pid_provider import TestPidProvider
from verifier import cli as verify_cli
from verifier.formats import key_to_jwk
from wallet_api.app import create_combined_app

AGS = "05513000"
CHEAP_KDF = KdfParams(time_cost=1, memory_kib=8, parallelism=1)
CAR, CAMPER, SECOND = "GE-EM 1234", "GE-WO 600", "GE-EM 2000"
NEIGHBOUR_CAR = "GE-MX 1"
FEE_CENTS = 3000

_LINK = re.compile(r'href="(openid4vp://[^"]+)"')
_OFFER = re.compile(r'href="(openid-credential-offer://[^"]+)"')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_PERMIT = re.compile(r"/permits/([0-9a-f-]{36})")


def erika_pid() -> dict[str, Any]:
    """Erika as her German PID shows her (Ebertstraße 11, 45879)."""
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


def neighbour_pid() -> dict[str, Any]:
    """Max Nachbar, who lives two doors down (Ebertstraße 15)."""
    person = erika_pid()
    person.update(given_name="MAX", family_name="NACHBAR")
    person["address"] = dict(person["address"], street_address="EBERTSTR. 15")
    return person


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PortalEnv:
    """Everything a portal test needs."""

    base_url: str
    app: FastAPI
    clock: FixedClock
    settings: Settings
    verify: ssl.SSLContext | bool
    ca: x509.Certificate
    provider: TestPidProvider
    tenant_id: int
    erika: uuid.UUID
    neighbour: uuid.UUID
    vehicles: dict[str, uuid.UUID]
    headers: dict[str, str]
    tmp: Path
    _clients: list[Any] = field(default_factory=list)

    def now(self) -> int:
        return int(self.clock.now().timestamp())

    def browser(self) -> httpx.Client:
        """A browser stand-in: its own cookie jar, redirects not followed."""
        client = httpx.Client(base_url=self.base_url, verify=self.verify, timeout=30)
        self._clients.append(client)
        return client

    def wallet(self, name: str = "phone") -> tuple[WalletClient, Presenter]:
        client = WalletClient(
            self.base_url, self.tmp / name, verify=self.verify, clock=self.now, timeout_seconds=30
        )
        presenter = Presenter(
            client.device,
            client.store,
            verifier_roots=[self.ca],
            clock=self.now,
            verify=self.verify,
        )
        self._clients += [client, presenter]
        return client, presenter

    def give_pid(self, wallet: WalletClient, person: dict[str, Any] | None = None) -> None:
        # a PID lives years (the identity card's term): the journey spans a renewal
        pid = self.provider.issue(
            wallet.device.public_jwk(),
            person=person or erika_pid(),
            now=self.now(),
            vct=PID_DE,
            valid_seconds=3 * 365 * 86400,
        )
        wallet.store.add(
            kind="pid", now=self.now(), sd_jwt=pid, vct=PID_DE, issuer=self.provider.issuer_url
        )

    def buergerid_via_pid(self, wallet: WalletClient, presenter: Presenter) -> None:
        """The Bürger-ID without a letter: the PID presented at /rp/buergerid, offer redeemed."""
        browser = self.browser()
        page = browser.get(f"/rp/buergerid/{AGS}")
        assert page.status_code == 200, page.text
        redirect = presenter.respond(presenter.resolve(wallet_link(page.text)))
        assert redirect is not None
        page = browser.get(redirect)
        assert "Ihre Bürger-ID liegt bereit" in page.text, page.text
        wallet.redeem(offer_link(page.text), tx_code=None)

    def close(self) -> None:
        for client in self._clients:
            client.close()


def wallet_link(text: str) -> str:
    found = _LINK.search(text)
    assert found is not None, text
    return unescape(found.group(1))


def offer_link(text: str) -> str:
    found = _OFFER.search(text)
    assert found is not None, text
    return unescape(found.group(1))


def csrf_of(text: str) -> str:
    found = _CSRF.search(text)
    assert found is not None, text
    return found.group(1)


class Citizen:
    """A browser session of the portal driven over HTTP, with her wallet."""

    def __init__(self, env: PortalEnv, browser: httpx.Client, presenter: Presenter) -> None:
        self.env, self.http, self.presenter = env, browser, presenter
        self.base = f"/portal/{AGS}"

    def start_login(self, kind: str = "buergerid") -> str:
        """Open the login page; the wallet link on it."""
        page = self.http.get(f"{self.base}/login?with={kind}")
        assert page.status_code == 200, page.text
        return wallet_link(page.text)

    def login(self, kind: str = "buergerid") -> httpx.Response:
        """Log in on the same device; the answer of the return address (303 to permits)."""
        redirect = self.presenter.respond(self.presenter.resolve(self.start_login(kind)))
        assert redirect is not None
        return self.http.get(redirect)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(f"{self.base}{path}")

    def post(self, path: str, page: str | None = None, **fields: str) -> httpx.Response:
        """Submit a form with the CSRF token of `page` (else of the permits page)."""
        token = csrf_of(page if page is not None else self.get("/permits").text)
        target = path if path.startswith("/portal/") else f"{self.base}{path}"
        return self.http.post(target, data={"csrf": token, **fields})

    def confirm_with_wallet(
        self, response: httpx.Response, kind: str = "buergerid"
    ) -> httpx.Response:
        """A sensitive step redirected to a fresh presentation: answer it, follow back."""
        assert response.status_code == 303, response.text
        page = self.http.get(f"{response.headers['location']}&with={kind}")
        assert page.status_code == 200, page.text
        redirect = self.presenter.respond(self.presenter.resolve(wallet_link(page.text)))
        assert redirect is not None
        back = self.http.get(redirect)
        assert back.status_code == 303, back.text
        return self.http.get(back.headers["location"])

    def apply(self, plate: str) -> tuple[str, httpx.Response]:
        """Apply on "Meine Parkausweise" for her vehicle `plate` (its own button): the new
        permit's id and the answer (303 to the payment provider's page when a fee is due
        first, else to the permit with its wallet offer)."""
        page = self.get("/permits")
        assert page.status_code == 200 and plate in page.text, page.text
        applied = self.post("/apply", page.text, vehicle=str(self.env.vehicles[plate]))
        assert applied.status_code == 303, applied.text
        location = applied.headers["location"]
        if "/portal/pay/" in location:  # the provider's page links back to the permit
            location = self.http.get(location).text
        return permit_id_of(location), applied

    def confirm_payment(self, provider_page: str) -> httpx.Response:
        """ "Zahlung bestätigen" on the development provider's page; the permit page after."""
        shown = self.http.get(provider_page)
        assert "Zahlung bestätigen" in shown.text, shown.text
        done = self.http.post(provider_page, data={"csrf": csrf_of(shown.text)})
        assert done.status_code == 303, done.text
        return self.http.get(done.headers["location"])

    def pay(self, permit_id: str) -> httpx.Response:
        """Pay the open fee with the development provider; the permit page after."""
        page = self.get(f"/permits/{permit_id}")
        started = self.post(f"/permits/{permit_id}/pay", page.text)
        assert started.status_code == 303, started.text
        return self.confirm_payment(started.headers["location"])

    def into_wallet(self, wallet: WalletClient, permit_id: str) -> list[Any]:
        page = self.get(f"/permits/{permit_id}")
        offer = self.post(f"/permits/{permit_id}/wallet", page.text)
        assert offer.status_code == 200, offer.text
        return wallet.redeem(offer_link(offer.text), tx_code=None)


def permit_id_of(location: str) -> str:
    found = _PERMIT.search(location)
    assert found is not None, location
    return found.group(1)


class Officer:
    """The handheld: `buergerid-verify` with its own data dir, pinned to the root key."""

    def __init__(self, env: PortalEnv, data_dir: Path) -> None:
        self.env, self.data_dir = env, data_dir
        ring = KeyRing.open(env.settings.keys_dir / "root", passphrase=TEST_PASSPHRASE)
        anchor = data_dir.parent / "root.jwk"
        anchor.write_text(json.dumps(key_to_jwk(ring.records(env.now())[0].public_key)))
        assert self.run("trust", "add-anchor", str(anchor))[0] == 0

    def run(self, *args: str) -> tuple[int, str]:
        out = StringIO()
        with redirect_stdout(out):
            code = verify_cli.main(["--data-dir", str(self.data_dir), *args])
        return code, out.getvalue()

    def sync(self) -> None:
        code, out = self.run("sync", f"{self.env.base_url}/trust-bundle")
        assert code == 0, out

    def check(self, text: str) -> str:
        code, out = self.run("check", "--at", str(self.env.now()), "--json", text)
        verdict: dict[str, Any] = json.loads(out)
        assert code == {"valid": 0, "invalid": 1, "indeterminate": 3}[verdict["outcome"]]
        return str(verdict["outcome"])


def _seed(
    app: FastAPI, clock: FixedClock
) -> tuple[int, uuid.UUID, uuid.UUID, dict[str, uuid.UUID], str]:
    settings: Settings = app.state.settings
    now = clock.now()
    stamp = int(now.timestamp())
    root = KeyRing.create(
        settings.keys_dir / settings.root_key_ring,
        "root",
        kind=RingKind.ROOT,
        passphrase=TEST_PASSPHRASE,
        kdf=CHEAP_KDF,
    )
    root.add_key(nbf=stamp - 3600, sign_until=stamp + 2 * 365 * 86400, exp=stamp + 3 * 365 * 86400)
    with app.state.session_factory() as session, session.begin():
        ring_dir = tenants_service.provision_key_ring(
            settings.keys_dir, AGS, passphrase=TEST_PASSPHRASE, now=now
        )
        if not any(ring_dir.glob("*.json")):
            ring = KeyRing.create(
                ring_dir,
                AGS,
                name="Gelsenkirchen",
                url=f"https://{AGS}.example.de",
                passphrase=TEST_PASSPHRASE,
                kdf=CHEAP_KDF,
            )
            ring.add_key(
                nbf=stamp - 3600, sign_until=stamp + 2 * 365 * 86400, exp=stamp + 3 * 365 * 86400
            )
        tenant: Tenant = tenants_service.create_tenant(
            session,
            ags=AGS,
            name="Gelsenkirchen",
            issuer_url=f"https://{AGS}.example.de",
            actor="test",
            now=now,
        )
        registry.create_zone(
            session,
            tenant_id=tenant.id,
            actor="test",
            now=now,
            data=ZoneCreate(
                code="A3",
                name="Altstadt",
                segments=[SegmentIn(street="Ebertstraße", number_from=1, number_to=99)],
            ),
        )
        people = []
        for ref, given, family, number in (
            ("A", "Erika", "Mustermann", "11"),
            ("B", "Max", "Nachbar", "15"),
        ):
            people.append(
                registry.create_resident(
                    session,
                    tenant_id=tenant.id,
                    actor="test",
                    now=now,
                    data=ResidentCreate(
                        external_ref=ref,
                        given_name=given,
                        family_name=family,
                        birth_date=date(1980, 2, 29),
                        residences=[
                            ResidenceIn(
                                kind=ResidenceKind.MAIN,
                                street="Ebertstraße",
                                house_number=number,
                                postcode="45879",
                                valid_from=date(2015, 4, 1),
                            )
                        ],
                    ),
                ).id
            )
        vehicles = {}
        for plate, holder, length in (
            (CAR, people[0], 4300),
            (CAMPER, people[0], 7000),
            (SECOND, people[0], 4100),
            (NEIGHBOUR_CAR, people[1], 4500),
        ):
            vehicles[plate] = registry.create_vehicle(
                session,
                tenant_id=tenant.id,
                actor="test",
                now=now,
                data=VehicleCreate(plate=plate, holder_id=holder, length_mm=length, width_mm=1800),
            ).id
        set_rules(
            session,
            tenant_id=tenant.id,
            permit_type="BEW",
            actor="test",
            now=now,
            rules={
                "awaiting_payment": True,
                "max_length_mm": 5600,
                "renewal_window_days": 42,
            },
        )
        fees.create_schedule(
            session,
            tenant_id=tenant.id,
            permit_type="BEW",
            kind="flat",
            params={"amount_cents": FEE_CENTS},
            effective_from=now - timedelta(days=1),
            effective_until=None,
            actor="test",
            now=now,
        )
        issued = clients_service.create_client(
            session,
            app.state.hasher,
            tenant_id=tenant.id,
            name="office",
            scopes=("permits:issue", "permits:revoke", "registry:write", "admin"),
            actor="test",
            now=now,
        )
        return tenant.id, people[0], people[1], vehicles, issued.token


@contextmanager
def portal_env(
    settings: Settings, clock: FixedClock, tmp: Path, *, tls: bool = False
) -> Iterator[PortalEnv]:
    """The combined app served on 127.0.0.1 (https with a development certificate when `tls`)."""
    port = _free_port()
    now = int(clock.now().timestamp())
    provider = TestPidProvider.create(now=now)
    trust = provider.trust_list(tmp / "trust")
    scheme = "https" if tls else "http"
    settings = settings.model_copy(
        update={"public_base_url": f"{scheme}://127.0.0.1:{port}", "rp_pid_trust_list": trust}
    )
    ca = ensure_issuing_ca(settings, now - 86400)
    app = create_combined_app(settings, clock=clock)
    tenant_id, erika, neighbour, vehicles, token = _seed(app, clock)
    verify: ssl.SSLContext | bool = True
    tls_files: dict[str, str] = {}
    if tls:
        dev = ensure_dev_tls(settings, int(time.time()))
        verify = ssl.create_default_context(cafile=str(dev.ca))
        tls_files = {"ssl_certfile": str(dev.cert), "ssl_keyfile": str(dev.key)}
    with live_server(app, port=port, **tls_files) as base:
        env = PortalEnv(
            base_url=base,
            app=app,
            clock=clock,
            settings=settings,
            verify=verify,
            ca=ca.certificate,
            provider=provider,
            tenant_id=tenant_id,
            erika=erika,
            neighbour=neighbour,
            vehicles=vehicles,
            headers={"Authorization": f"Bearer {token}"},
            tmp=tmp,
        )
        try:
            yield env
        finally:
            env.close()
