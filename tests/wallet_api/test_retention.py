"""Retention with wallets (over real HTTP, SQLite and PostgreSQL): a departed resident who had
a wallet, devices and credentials is erased with everything that named them, and a permit
pseudonymised while its resident stays is linked to nobody any more."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, inspect, select, text

from issuer.db.models import AuditEntry, IdempotencyRecord, Resident, Vehicle
from issuer.db.permit_models import Permit, PermitToken
from issuer.services import retention
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.support.permits import seed_permit
from tests.wallet_api.harness import AGS, PLATE, WalletEnv, wallet_env
from tests.wallet_api.support import ProofKey
from wallet_api.models import WalletCredential, WalletDevice, WalletGrant, WalletOffer

PRE = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
OTHER_PLATE = "GE-XY 9"


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def _wallet(env: WalletEnv, offer_body: dict[str, Any], keys: list[ProofKey]) -> str:
    """Offer (with an Idempotency-Key, so a sealed answer is stored), token, one credential
    per key; returns the access token."""
    offer = env.http.post(
        "/api/v1/offers",
        json=offer_body,
        headers={**env.headers, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert offer.status_code == 201, offer.text
    body = offer.json()
    code = body["credential_offer"]["grants"][PRE]["pre-authorized_code"]
    token = env.http.post(
        "/wallet/token",
        data={"grant_type": PRE, "pre-authorized_code": code, "tx_code": body["tx_code"]},
    )
    assert token.status_code == 200, token.text
    access = str(token.json()["access_token"])
    config = body["credential_offer"]["credential_configuration_ids"][0]
    nonce = env.http.post("/wallet/nonce").json()["c_nonce"]
    proofs = [key.proof(aud=env.base_url, nonce=nonce, iat=int(env.now())) for key in keys]
    response = env.http.post(
        "/wallet/credential",
        json={"credential_configuration_id": config, "proofs": {"jwt": proofs}},
        headers={"Authorization": f"Bearer {access}"},
    )
    assert response.status_code == 200, response.text
    return access


def _other_permit(env: WalletEnv) -> uuid.UUID:
    """The other resident's active permit (as the harness seeds the first one)."""
    now = env.clock.now()
    with env.app.state.session_factory() as session, session.begin():
        return seed_permit(
            session, tenant_id=env.tenant_id, number=1002, resident_id=env.other_resident_id,
            plate=OTHER_PLATE, valid_from=now - timedelta(days=1),
            valid_until=now + timedelta(days=365), now=now,
        )  # fmt: skip


def _count(env: WalletEnv, model: Any, *where: Any) -> int:
    with env.app.state.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _every_value(env: WalletEnv) -> str:
    """Every row of every table, as text: what a database dump would show."""
    out = []
    with env.app.state.session_factory() as session:
        for name in inspect(session.connection()).get_table_names():
            for row in session.execute(text(f'SELECT * FROM "{name}"')):
                out.append(" ".join(str(v) for v in row))
    return "\n".join(out)


def test_retention_leaves_nothing_personal_linked(env: WalletEnv) -> None:
    erased, stays = env.resident_id, env.other_resident_id
    vehicle = env.http.post(
        "/api/v1/vehicles", json={"plate": PLATE, "holder_id": str(erased)}, headers=env.headers
    )
    assert vehicle.status_code == 201, vehicle.text
    # the departing resident: two phones with permit credentials, a residence credential on
    # the first, a third device registered by proof
    phone1, phone2, tablet = ProofKey(), ProofKey(), ProofKey()
    _wallet(env, {"kind": "permit", "permit_id": str(env.permit_id)}, [phone1, phone2])
    access = _wallet(env, {"kind": "residence", "resident_id": str(erased)}, [phone1])
    nonce = env.http.post("/wallet/nonce").json()["c_nonce"]
    proof = tablet.proof(aud=env.base_url, nonce=nonce, iat=int(env.now()))
    device = env.http.post(
        "/wallet/devices", json={"proof": proof}, headers={"Authorization": f"Bearer {access}"}
    )
    assert device.status_code == 201, device.text
    # the resident who stays: a permit with a credential, returned later
    other_permit = _other_permit(env)
    _wallet(env, {"kind": "permit", "permit_id": str(other_permit)}, [ProofKey()])
    returned = env.http.post(
        f"/api/v1/permits/{other_permit}/revoke", json={"reason": "returned"}, headers=env.headers
    )
    assert returned.status_code == 200, returned.text
    assert _count(env, WalletDevice, WalletDevice.resident_id == erased) == 3
    assert _count(env, WalletCredential, WalletCredential.resident_id == erased) == 3
    assert _count(env, IdempotencyRecord, IdempotencyRecord.tenant_id == env.tenant_id) == 3
    with env.app.state.session_factory() as session:
        offers = list(
            session.scalars(select(WalletOffer.id).where(WalletOffer.resident_id == erased))
        )
    # the resident moves away: the registry says so, the permit is revoked (moved_out)
    resident = env.http.get(f"/api/v1/residents/{erased}", headers=env.headers).json()
    residence = resident["residences"][0]["id"]
    moved = env.http.patch(
        f"/api/v1/residents/{erased}/residences/{residence}",
        json={"valid_until": env.clock.now().date().isoformat()},
        headers=env.headers,
    )
    assert moved.status_code == 200, moved.text
    assert "Mustermann" in _every_value(env) and "GE-AB 1234" in _every_value(env)

    later = env.clock.now() + timedelta(days=400)
    with env.app.state.session_factory() as session, session.begin():
        (report,) = retention.run(session, now=later, tenant_id=env.tenant_id)
    assert (report.residents_deleted, report.residents_pseudonymised) == ([erased], [])
    assert sorted(report.permits_pseudonymised) == sorted([env.permit_id, other_permit])
    assert len(report.vehicles_deleted) == 1 and report.idempotency_answers_deleted == 3

    # nothing of the erased resident is left anywhere, and nothing links to them
    dump = _every_value(env)
    for personal in ("Mustermann", "Erika", "1980-02-29", "GE-AB 1234", "GE-AB1234", OTHER_PLATE):
        assert personal not in dump, personal  # ids stay in the audit log, as designed
    assert _count(env, Vehicle) == 0
    for model in (WalletOffer, WalletDevice, WalletCredential):
        assert _count(env, model, model.resident_id == erased) == 0
    assert _count(env, WalletGrant, WalletGrant.offer_id.in_(offers)) == 0
    assert _count(env, IdempotencyRecord, IdempotencyRecord.tenant_id == env.tenant_id) == 0
    with env.app.state.session_factory() as session:
        for permit_id in (env.permit_id, other_permit):
            permit = session.get(Permit, permit_id)
            assert permit is not None and permit.resident_id is None
            assert [p.plate for p in permit.plates] == ["-"]
            assert permit.number in (1001, 1002)  # kept, for accounting
        texts = session.scalars(select(PermitToken.text).where(PermitToken.text.is_not(None)))
        assert list(texts) == []
        # the resident who stays keeps their wallet, but no record names the old permit
        kept = session.scalars(
            select(WalletCredential.permit_id).where(WalletCredential.resident_id == stays)
        ).all()
        assert kept and set(kept) == {None}
        offered = session.scalars(
            select(WalletOffer.permit_id).where(WalletOffer.resident_id == stays)
        ).all()
        assert offered and set(offered) == {None}
        assert session.get(Resident, stays) is not None
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "retention.run")
        ).one()
        assert entry.reason is not None and f"r:{erased}" in entry.reason
    assert AGS in dump  # the tenant itself stays
