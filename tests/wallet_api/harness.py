"""A wallet test environment: the combined app over real HTTP (uvicorn on 127.0.0.1), a
tenant with keys, a resident with a residence, an active permit, and API credentials."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from issuer.db.models import Residence, Resident, Tenant
from issuer.services import clients as clients_service
from issuer.services import tenants as tenants_service
from issuer.services.clock import FixedClock
from issuer.services.permits.vocabulary import PermitState
from issuer.settings import Settings
from keys.ring import KeyRing
from keys.storage.file import KdfParams
from tests.support.db import TEST_PASSPHRASE
from tests.support.http import HTTP_TIMEOUT, live_server
from tests.support.permits import seed_permit
from wallet_api.app import create_combined_app
from wallet_api.services.policy import WalletPolicy

AGS = "05513000"
PLATE = "GE-AB 1234"
PRE_AUTHORIZED = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PERMIT_CONFIG = f"{AGS}.parking-permit"
QR_CONFIG = f"{AGS}.parking-permit-qr"
RESIDENCE_CONFIG = f"{AGS}.residence"
CHEAP_KDF = KdfParams(time_cost=1, memory_kib=8 * 1024, parallelism=1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_ring(path: Path, now: int) -> None:
    """An issuer key ring with an active ES256 key (until provisioning makes one itself)."""
    if (path / "ring.json").exists() or any(path.glob("*.json")):
        return
    ring = KeyRing.create(
        path,
        AGS,
        name="Gelsenkirchen",
        url=f"https://{AGS}.example.de",
        passphrase=TEST_PASSPHRASE,
        kdf=CHEAP_KDF,
    )
    ring.add_key(nbf=now - 3600, sign_until=now + 2 * 365 * 86400, exp=now + 3 * 365 * 86400)


@dataclass
class WalletEnv:
    """Everything a wallet test needs."""

    base_url: str
    app: FastAPI
    clock: FixedClock
    http: httpx.Client
    headers: dict[str, str]  # municipal API key with permits:issue and permits:revoke
    tenant_id: int
    resident_id: uuid.UUID
    other_resident_id: uuid.UUID
    permit_id: uuid.UUID
    settings: Settings

    def now(self) -> float:
        return self.clock.now().timestamp()

    def offer(self, **body: Any) -> dict[str, Any]:
        """POST /api/v1/offers; default: the permit."""
        payload = body or {"kind": "permit", "permit_id": str(self.permit_id)}
        response = self.http.post("/api/v1/offers", json=payload, headers=self.headers)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    # the wallet's side, as raw HTTP (the stub client is tested separately)

    def tokens(self, offer: dict[str, Any]) -> dict[str, Any]:
        """Redeem an offer at the token endpoint; the token response."""
        code = offer["credential_offer"]["grants"][PRE_AUTHORIZED]["pre-authorized_code"]
        form = {"grant_type": PRE_AUTHORIZED, "pre-authorized_code": code}
        response = self.http.post("/wallet/token", data={**form, "tx_code": offer["tx_code"]})
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def refresh(self, refresh_token: str) -> httpx.Response:
        """The refresh_token grant."""
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self.http.post("/wallet/token", data=form)

    def nonce(self) -> str:
        """A fresh c_nonce."""
        return str(self.http.post("/wallet/nonce").json()["c_nonce"])

    def credential(
        self, access: str, proofs: list[str] | None, config: str = PERMIT_CONFIG
    ) -> httpx.Response:
        """A credential request (no proofs: the QR configuration)."""
        body: dict[str, Any] = {"credential_configuration_id": config}
        if proofs is not None:
            body["proofs"] = {"jwt": proofs}
        return self.http.post(
            "/wallet/credential", json=body, headers={"Authorization": f"Bearer {access}"}
        )


def _seed(app: FastAPI, clock: FixedClock) -> tuple[int, uuid.UUID, uuid.UUID, uuid.UUID, str]:
    settings: Settings = app.state.settings
    now = clock.now()
    with app.state.session_factory() as sess, sess.begin():
        if settings.key_store == "database":
            tenants_service.provision_key_ring_for(settings, AGS, now=now)
        else:
            ring_dir = tenants_service.provision_key_ring(
                settings.keys_dir, AGS, passphrase=TEST_PASSPHRASE, now=now
            )
            ensure_ring(ring_dir, int(now.timestamp()))
        tenant: Tenant = tenants_service.create_tenant(
            sess,
            ags=AGS,
            name="Gelsenkirchen",
            issuer_url=f"https://{AGS}.example.de",
            actor="test",
            now=now,
        )
        residents = []
        for ref, given, family, born in (
            ("A", "Erika", "Mustermann", date(1980, 2, 29)),
            ("B", "Max", "Muster", date(2010, 1, 1)),
        ):
            resident = Resident(
                tenant_id=tenant.id,
                external_ref=ref,
                given_name=given,
                family_name=family,
                birth_date=born,
                created_at=now,
                updated_at=now,
            )
            sess.add(resident)
            sess.flush()
            sess.add(
                Residence(
                    tenant_id=tenant.id,
                    resident_id=resident.id,
                    kind="main",
                    street="Ebertstraße",
                    house_number="11",
                    postcode="45879",
                    valid_from=date(2015, 4, 1),
                )
            )
            residents.append(resident.id)
        permit_id = seed_permit(
            sess,
            tenant_id=tenant.id,
            number=1001,
            resident_id=residents[0],
            plate=PLATE,
            valid_from=now - timedelta(days=1),
            valid_until=now + timedelta(days=365),
            now=now,
        )
        issued = clients_service.create_client(
            sess,
            app.state.hasher,
            tenant_id=tenant.id,
            name="counter",
            scopes=("permits:issue", "permits:revoke", "registry:write"),
            actor="test",
            now=now,
        )
        return tenant.id, residents[0], residents[1], permit_id, issued.token


@contextmanager
def wallet_env(
    settings: Settings, clock: FixedClock, policy: WalletPolicy | None = None
) -> Iterator[WalletEnv]:
    """The combined app on a free port, its public base URL matching (the proofs' aud)."""
    port = free_port()
    settings = settings.model_copy(update={"public_base_url": f"http://127.0.0.1:{port}"})
    app = create_combined_app(settings, clock=clock, policy=policy)
    tenant_id, resident, other, permit, token = _seed(app, clock)
    with (
        live_server(app, port=port) as base_url,
        httpx.Client(base_url=base_url, timeout=HTTP_TIMEOUT) as http,
    ):
        yield WalletEnv(
            base_url=base_url,
            app=app,
            clock=clock,
            http=http,
            headers={"Authorization": f"Bearer {token}"},
            tenant_id=tenant_id,
            resident_id=resident,
            other_resident_id=other,
            permit_id=permit,
            settings=settings,
        )


def wallet_dir(tmp_path: Path, name: str = "phone") -> Path:
    return tmp_path / name


@contextmanager
def haip_env(
    settings: Settings,
    clock: FixedClock,
    anchors_pem: bytes,
    policy: WalletPolicy | None = None,
    **overrides: Any,
) -> Iterator[WalletEnv]:
    """`wallet_env` with the wallet provider's root as trust anchor and `overrides` (e.g.
    wallet_dpop="required") on the settings."""
    anchors = Path(settings.data_dir) / "wallet-anchors.pem"
    anchors.parent.mkdir(parents=True, exist_ok=True)
    anchors.write_bytes(anchors_pem)
    changed = settings.model_copy(update={"wallet_trust_anchors": anchors, **overrides})
    with wallet_env(changed, clock, policy) as env:
        yield env


def awaiting_permit(env: WalletEnv, *, amount_cents: int = 3000) -> uuid.UUID:
    """A permit of the other resident that awaits payment of `amount_cents`."""
    now = env.clock.now()
    with env.app.state.session_factory() as sess, sess.begin():
        return seed_permit(
            sess,
            tenant_id=env.tenant_id,
            number=1002,
            resident_id=env.other_resident_id,
            plate="GE-ZZ 99",
            valid_from=now,
            valid_until=now + timedelta(days=365),
            now=now,
            state=PermitState.AWAITING_PAYMENT,
            open_charge_cents=amount_cents,
        )
