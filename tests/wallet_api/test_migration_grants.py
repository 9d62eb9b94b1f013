"""Migration 0004 on SQLite and PostgreSQL repairs what older code let through: device keys
re-identified by their canonical thumbprint (a second spelling of a bound key is removed, an
undecodable key too), grant bindings recorded from the credentials issued, and every grant
that bound a removed device ended (a phone removed before the upgrade could still refresh)."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from issuer.db.models import Resident, Tenant
from issuer.db.session import make_engine
from issuer.migrations import downgrade, upgrade
from tests.wallet_api.support import ProofKey
from verifier.formats import decode_public_jwk
from wallet_api.models import GrantEnd, WalletCredential, WalletDevice, WalletOffer

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _old_thumbprint(jwk: dict[str, str]) -> str:
    """How the wallet named a key before: the text received, not the key."""
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, sort_keys=True, separators=(",", ":")).encode())
    return base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()


def test_0004_repairs_devices_and_ends_grants_of_removed_devices(db_url: str) -> None:
    downgrade(db_url, "0003")
    engine = make_engine(db_url)
    lost, kept = ProofKey(), ProofKey()
    padded = {**kept.jwk, "x": kept.jwk["x"] + "="}
    devices = {
        "lost": (lost.jwk, NOW),  # removed by the municipality under the old code
        "padded": (padded, None),  # the first (and only) binding of `kept`, oddly spelt
        "again": (kept.jwk, None),  # the same key again, canonically spelt, later
        "junk": ({**lost.jwk, "y": "AAAA"}, None),
    }
    try:
        with Session(engine) as session, session.begin():
            session.add(
                Tenant(id=7, ags="05513000", name="GE", issuer_url="https://ge", key_ring="r",
                       created_at=NOW)
            )  # fmt: skip
            session.flush()
            resident = Resident(tenant_id=7, external_ref="A", given_name="E", family_name="M",
                                created_at=NOW, updated_at=NOW)  # fmt: skip
            session.add(resident)
            session.flush()
            grants = sa.Table("wallet_grants", sa.MetaData(), autoload_with=session.connection())
            for n, (name, (jwk, removed_at)) in enumerate(devices.items()):
                session.add(
                    WalletOffer(id=f"offer-{name}", tenant_id=7, resident_id=resident.id,
                                configuration_ids=["x"], code_digest=f"{n:064d}", tx_code_hash="h",
                                tx_code_digits=8, failed_attempts=0, state="redeemed",
                                created_at=NOW, expires_at=NOW)
                )  # fmt: skip
                session.add(
                    WalletDevice(id=f"device-{name}", tenant_id=7, resident_id=resident.id,
                                 thumbprint=_old_thumbprint(jwk), jwk=jwk,
                                 created_at=NOW + timedelta(minutes=n), removed_at=removed_at)
                )  # fmt: skip
                session.flush()
                session.execute(
                    grants.insert().values(
                        id=f"grant-{name}", offer_id=f"offer-{name}", access_digest=f"a{n:063d}",
                        access_expires_at=NOW, refresh_digest=f"r{n:063d}",
                        refresh_expires_at=NOW + timedelta(days=90), created_at=NOW)
                )  # fmt: skip
                session.execute(  # only the columns of the time (the model has grown since)
                    sa.insert(WalletCredential).values(
                        id=f"cred-{name}", tenant_id=7, resident_id=resident.id,
                        grant_id=f"grant-{name}", device_id=f"device-{name}",
                        configuration_id="x", status_list=1, status_idx=n, notification_id="n",
                        issued_at=NOW, expires_at=NOW)
                )  # fmt: skip
        upgrade(db_url, "head")
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT id, thumbprint, removed_at FROM wallet_devices"))
            by_id = {r.id: (r.thumbprint, r.removed_at) for r in rows}
            grants_now = conn.execute(sa.text("SELECT id, revoked_reason FROM wallet_grants"))
            ended = {r.id: r.revoked_reason for r in grants_now}
            links = conn.execute(sa.text("SELECT grant_id, device_id FROM wallet_grant_devices"))
            bound = {(r.grant_id, r.device_id) for r in links}
    finally:
        engine.dispose()
    assert by_id["device-padded"] == (decode_public_jwk(kept.jwk).kid, None)
    assert by_id["device-again"][1] is not None  # a second spelling of a bound key
    assert by_id["device-junk"][1] is not None  # does not decode
    assert by_id["device-lost"][1] is not None
    assert bound == {(f"grant-{n}", f"device-{n}") for n in devices}
    assert ended == {
        "grant-lost": GrantEnd.DEVICE_REMOVED,
        "grant-padded": None,
        "grant-again": GrantEnd.DEVICE_REMOVED,
        "grant-junk": GrantEnd.DEVICE_REMOVED,
    }
