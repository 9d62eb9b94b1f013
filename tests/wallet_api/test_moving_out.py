"""A Bürger-ID states the register's facts; when the register changes them, it ends.

Over real HTTP, on SQLite and PostgreSQL: a resident's Bürger-ID stays valid while a change
leaves its facts as they were (a secondary residence added), is revoked in its status list
when she moves within the city (the wallet's refresh then gets one with the new address) and
when she moves away (then no new one is issued)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from issuer.db.models import AuditEntry
from issuer.services.clock import FixedClock
from issuer.services.status_lists import status_of
from issuer.settings import Settings
from tests.wallet_api.harness import RESIDENCE_CONFIG, WalletEnv, wallet_env
from tests.wallet_api.support import ProofKey
from wallet_api.models import WalletCredential

VALID, INVALID = 0, 1


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def _bürger_id(env: WalletEnv, access: str, key: ProofKey) -> str:
    proof = key.proof(aud=env.base_url, nonce=env.nonce(), iat=int(env.now()))
    answer = env.credential(access, [proof], RESIDENCE_CONFIG)
    assert answer.status_code == 200, answer.text
    (credential,) = answer.json()["credentials"]
    return str(credential["credential"])


def _street(sd_jwt: str) -> str:
    """The street_address the credential discloses (its disclosures, read without a key)."""
    import base64

    for part in sd_jwt.split("~")[1:]:
        if not part:
            continue
        padded = part + "=" * (-len(part) % 4)
        disclosure = json.loads(base64.urlsafe_b64decode(padded))
        if disclosure[1] == "address":
            return str(disclosure[2]["street_address"])
        if disclosure[1] == "street_address":
            return str(disclosure[2])
    raise AssertionError("no street_address disclosed")


def _rows(env: WalletEnv) -> list[tuple[int | None, str | None]]:
    """(status, facts digest) of each Bürger-ID issued, oldest first."""
    with env.app.state.session_factory() as session:
        rows = session.scalars(select(WalletCredential).order_by(WalletCredential.issued_at)).all()
        return [
            (
                status_of(
                    session, tenant_id=env.tenant_id, list_no=row.status_list, idx=row.status_idx
                ),
                row.facts_digest,
            )
            for row in rows
            if row.configuration_id == RESIDENCE_CONFIG
        ]


def _registry(env: WalletEnv, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = env.http.request(
        method, f"/api/v1/residents/{env.resident_id}{path}", json=body, headers=env.headers
    )
    assert answer.status_code in (200, 201), answer.text
    result: dict[str, Any] = answer.json()
    return result


def _main_residence_id(resident: dict[str, Any]) -> str:
    (main,) = [r for r in resident["residences"] if r["kind"] == "main" and not r["valid_until"]]
    return str(main["id"])


def test_a_move_revokes_her_buergerid_and_the_wallet_gets_the_new_address(env: WalletEnv) -> None:
    tokens = env.tokens(env.offer(kind="residence", resident_id=str(env.resident_id)))
    key = ProofKey()
    first = _bürger_id(env, tokens["access_token"], key)
    assert _street(first) == "Ebertstraße 11"
    [(status, digest)] = _rows(env)
    assert status == VALID and digest is not None and len(digest) == 64

    # a change that leaves the stated facts as they were: nothing revoked
    today = env.clock.now().date()
    _registry(env, "POST", "/residences", {
        "kind": "secondary", "street": "Ebertstraße", "house_number": "13",
        "postcode": "45879", "valid_from": today.isoformat(),
    })  # fmt: skip
    assert _rows(env) == [(VALID, digest)]

    # she moves within the city: the old address ends, a new main residence begins
    resident = env.http.get(f"/api/v1/residents/{env.resident_id}", headers=env.headers).json()
    _registry(env, "PATCH", f"/residences/{_main_residence_id(resident)}", {
        "valid_until": today.isoformat(),
    })  # fmt: skip
    _registry(env, "POST", "/residences", {
        "kind": "main", "street": "Ebertstraße", "house_number": "20",
        "postcode": "45879", "valid_from": today.isoformat(),
    })  # fmt: skip
    assert _rows(env) == [(INVALID, digest)]
    with env.app.state.session_factory() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_id == str(env.resident_id))
        ).all()
    assert "wallet_credentials_revoked" in actions

    # her wallet refreshes and gets a Bürger-ID with the new address
    refreshed = env.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    second = _bürger_id(env, refreshed.json()["access_token"], key)
    assert _street(second) == "Ebertstraße 20"
    (_, old), (new_status, new_digest) = _rows(env)
    assert new_status == VALID and new_digest not in (None, old)


def test_moving_away_revokes_her_buergerid_and_no_new_one_is_issued(env: WalletEnv) -> None:
    tokens = env.tokens(env.offer(kind="residence", resident_id=str(env.resident_id)))
    key = ProofKey()
    _bürger_id(env, tokens["access_token"], key)
    env.clock.advance(days=1)
    resident = env.http.get(f"/api/v1/residents/{env.resident_id}", headers=env.headers).json()
    moved_on = env.clock.now().date()  # her last day: from today on, no residence here
    _registry(env, "PATCH", f"/residences/{_main_residence_id(resident)}", {
        "valid_until": moved_on.isoformat(),
    })  # fmt: skip
    [(status, _)] = _rows(env)
    assert status == INVALID
    refreshed = env.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    proof = key.proof(aud=env.base_url, nonce=env.nonce(), iat=int(env.now()))
    answer = env.credential(refreshed.json()["access_token"], [proof], RESIDENCE_CONFIG)
    assert answer.status_code == 400 and answer.json()["error"] == "credential_request_denied"


def test_a_resident_without_a_buergerid_changes_and_nothing_is_revoked(env: WalletEnv) -> None:
    """The other resident has none: her change revokes nothing."""
    answer = env.http.patch(
        f"/api/v1/residents/{env.other_resident_id}",
        json={"family_name": "Neumann"},
        headers=env.headers,
    )
    assert answer.status_code == 200, answer.text
    with env.app.state.session_factory() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_id == str(env.other_resident_id))
        ).all()
    assert "resident_updated" in actions and "wallet_credentials_revoked" not in actions
