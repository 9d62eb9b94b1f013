"""A tenant to issue permits in, driven over the municipal API: `World` and `make_world`.

    world = make_world(app, client, clock, api_client)      # or the `world` fixture
    out = world.issue(months=12)                            # resident + car + permit
    claims = verify_qr(world, out["qr"])                    # the QR checked as a handheld does

The tenant gets an API client with every scope, key rings with cheap argon2 parameters (the
tenant's and the operator's root, through the app's `KeyStore`) and two zones: A3
(Hauptstraße 1–99 odd, Markt 1–40) and B1 (Ringstraße 1–200). `live_world` is the same served
by uvicorn on 127.0.0.1, so every request goes over real HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.testclient import TestClient

from issuer.db.models import Tenant
from issuer.services.clock import FixedClock
from keys.storage.file import KdfParams
from tests.support.http import live_server
from verifier.formats import PermitClaims

CHEAP_KDF = KdfParams(time_cost=1, memory_kib=8, parallelism=1)
ALL_SCOPES = ("registry:write", "permits:issue", "permits:revoke", "audit:read", "admin")
AGS = "05513000"


@dataclass
class World:
    """A tenant with keys, a zone A3 (Hauptstraße 1–99 odd), helpers to add residents/cars."""

    client: TestClient
    app: FastAPI
    clock: FixedClock
    headers: dict[str, str]
    tenant_id: int
    ags: str
    zone: str = "A3"
    made: dict[str, Any] = field(default_factory=dict)

    def post(self, path: str, body: dict[str, Any] | None = None, **kw: Any) -> Any:
        return self.client.post(path, json=body or {}, headers=self.headers, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=kw.pop("headers", self.headers), **kw)

    def resident(
        self,
        street: str = "Hauptstraße",
        number: str = "13",
        kind: str = "main",
        register_block: bool = False,
    ) -> str:
        ref = uuid.uuid4().hex[:12]
        body = {
            "external_ref": ref,
            "given_name": "Erika",
            "family_name": "Mustermann",
            "register_block": register_block,
            "residences": [
                {
                    "kind": kind,
                    "street": street,
                    "house_number": number,
                    "postcode": "45879",
                    "valid_from": "2020-01-01",
                }
            ],
        }
        r = self.post("/api/v1/residents", body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def vehicle(self, holder: str | None, plate: str | None = None, **extra: Any) -> str:
        plate = plate or f"GE-AB {len(self.made) + 100}"
        self.made[plate] = True
        body = {"plate": plate, "holder_id": holder, "length_mm": 4500, "width_mm": 1800}
        body.update(extra)
        r = self.post("/api/v1/vehicles", body)
        assert r.status_code == 201, r.text
        return str(r.json()["id"])

    def apply(self, resident: str | None, vehicles: list[str], **extra: Any) -> Any:
        body: dict[str, Any] = {
            "resident_id": resident,
            "zones": [self.zone],
            "vehicle_ids": vehicles,
        }
        body.update(extra)
        return self.post("/api/v1/permits", body)

    def issue(self, **extra: Any) -> dict[str, Any]:
        resident = self.resident()
        car = self.vehicle(resident)
        r = self.apply(resident, [car], **extra)
        assert r.status_code == 201, r.text
        out: dict[str, Any] = r.json()
        out["_resident"], out["_vehicle"] = resident, car
        return out

    def tenant(self) -> Tenant:
        """The tenant's row (detached)."""
        with self.app.state.session_factory() as session:
            tenant = session.get(Tenant, self.tenant_id)
            assert tenant is not None
            return tenant


def make_world(
    app: FastAPI, client: TestClient, clock: FixedClock, api_client: Any, ags: str = AGS
) -> World:
    """Tenant + client with every scope + key rings (cheap KDF) + zones A3 and B1."""
    creds = api_client(scopes=ALL_SCOPES, ags=ags)
    keys = app.state.keys
    now = clock.now()
    with app.state.session_factory() as session:
        tenant = session.get(Tenant, creds.tenant_id)
        assert tenant is not None
        keys.ensure_ring(tenant.key_ring, ags, root=False, now=now, kdf=CHEAP_KDF)
    keys.ensure_ring(
        app.state.settings.root_key_ring, "operator", root=True, now=now, kdf=CHEAP_KDF
    )
    world = World(client, app, clock, creds.headers, int(creds.tenant_id), ags)
    r = world.post(
        "/api/v1/zones",
        {
            "code": "A3",
            "name": "Altstadt",
            "segments": [
                {"street": "Hauptstraße", "number_from": 1, "number_to": 99, "parity": "odd"},
                {"street": "Markt", "number_from": 1, "number_to": 40, "parity": "all"},
            ],
        },
    )
    assert r.status_code == 201, r.text
    r = world.post(
        "/api/v1/zones",
        {
            "code": "B1",
            "name": "Neustadt",
            "segments": [{"street": "Ringstraße", "number_from": 1, "number_to": 200}],
        },
    )
    assert r.status_code == 201, r.text
    return world


@contextmanager
def live_world(app: FastAPI, clock: FixedClock, api_client: Any) -> Iterator[World]:
    """`make_world` served by uvicorn on 127.0.0.1: every request goes over real HTTP."""
    with live_server(app) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
        yield make_world(app, http, clock, api_client)  # type: ignore[arg-type]


def codes(response: Any) -> list[str]:
    """The codes of a problem's `errors` member (every failed rule of a refusal)."""
    return [e["code"] for e in response.json().get("errors", [])]


def verify_qr(world: World, text: str) -> PermitClaims:
    """Decode and verify a QR token with the verifier library; returns its PermitClaims."""
    from keys.permit_qr import QR_PREFIX
    from verifier.formats import (
        b45decode,
        decode_claims_map,
        decode_permit_claims,
        decode_sign1,
        verify_sign1,
    )

    assert text.startswith(QR_PREFIX)
    msg = decode_sign1(b45decode(text[len(QR_PREFIX) :]))
    ring = world.app.state.keys.tenant_ring(world.tenant())
    keys = [k for k in ring.published(int(world.clock.now().timestamp())) if k.cose_kid == msg.kid]
    assert keys
    verify_sign1(msg, keys[0].public_key)
    return decode_permit_claims(decode_claims_map(msg.payload))


def bundle_of(content: bytes) -> Any:
    """The payload of a served trust bundle, decoded (its signature is not checked here)."""
    from verifier.formats import decode_bundle_payload, decode_sign1

    return decode_bundle_payload(decode_sign1(content).payload)
