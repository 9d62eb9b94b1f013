"""Deferred issuance (OpenID4VCI 1.0 §8.3, §9) for a permit awaiting payment, over real HTTP
on SQLite and PostgreSQL: 202 with a transaction_id, 202 again while unpaid, the
credentials once paid, the transaction_id spent after; a transaction_id is useless with
another grant's token, and a permit revoked meanwhile is denied."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.wallet_api.flows import (
    PERMIT_CONFIG,
    QR_CONFIG,
    credential,
    error,
    proofs,
    token,
    token_form,
)
from tests.wallet_api.harness import WalletEnv, awaiting_permit, wallet_env
from tests.wallet_api.support import ProofKey

DEFERRED = "/wallet/deferred_credential"


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def _deferred(env: WalletEnv) -> tuple[str, str, dict[str, Any]]:
    """(access token, transaction_id, offer) of a permit awaiting payment."""
    permit = awaiting_permit(env)
    offer = env.offer(kind="permit", permit_id=str(permit))
    access = token(env, token_form(offer)).json()["access_token"]
    body = {"credential_configuration_id": PERMIT_CONFIG, "proofs": proofs(env, ProofKey())}
    response = credential(env, access, body)
    assert response.status_code == 202, response.text
    answer = response.json()
    assert set(answer) == {"transaction_id", "interval"} and answer["interval"] > 0
    return access, str(answer["transaction_id"]), {"permit_id": str(permit), **offer}


def _pay(env: WalletEnv, permit_id: str) -> None:
    paid = env.http.post(
        f"/api/v1/permits/{permit_id}/payment",
        json={"amount_cents": 3000, "payment_ref": "EPAY-7"},
        headers=env.headers,
    )
    assert paid.status_code == 200, paid.text


def test_a_permit_awaiting_payment_is_delivered_once_paid(env: WalletEnv) -> None:
    access, transaction_id, offer = _deferred(env)
    pending = credential(env, access, {"transaction_id": transaction_id}, path=DEFERRED)
    assert pending.status_code == 202
    assert pending.json()["transaction_id"] == transaction_id
    # the QR token of the same offer waits as well, recorded against the same device
    qr = credential(env, access, {"credential_configuration_id": QR_CONFIG})
    assert qr.status_code == 202, qr.text
    qr_transaction = qr.json()["transaction_id"]
    _pay(env, offer["permit_id"])
    delivered = credential(env, access, {"transaction_id": transaction_id}, path=DEFERRED)
    assert delivered.status_code == 200, delivered.text
    (issued,) = delivered.json()["credentials"]
    assert issued["credential"].count("~") >= 2 and delivered.json()["notification_id"]
    qr_delivered = credential(env, access, {"transaction_id": qr_transaction}, path=DEFERRED)
    assert qr_delivered.json()["credentials"][0]["credential"].startswith("BID1:")
    # §9.1: the transaction_id is spent once the credential was obtained
    again = credential(env, access, {"transaction_id": transaction_id}, path=DEFERRED)
    assert again.status_code == 400 and error(again) == "invalid_transaction_id"


def test_a_transaction_id_of_another_grant_is_refused(env: WalletEnv) -> None:
    _access, transaction_id, _offer = _deferred(env)
    other = token(env, token_form(env.offer())).json()["access_token"]
    response = credential(env, other, {"transaction_id": transaction_id}, path=DEFERRED)
    assert response.status_code == 400 and error(response) == "invalid_transaction_id"


def test_a_permit_revoked_while_awaiting_payment_is_denied(env: WalletEnv) -> None:
    access, transaction_id, offer = _deferred(env)
    revoked = env.http.post(
        f"/api/v1/permits/{offer['permit_id']}/revoke",
        json={"reason": "withdrawn"},
        headers=env.headers,
    )
    assert revoked.status_code == 200, revoked.text
    denied = credential(env, access, {"transaction_id": transaction_id}, path=DEFERRED)
    assert denied.status_code == 400 and error(denied) == "credential_request_denied"
    closed = credential(env, access, {"transaction_id": transaction_id}, path=DEFERRED)
    assert error(closed) == "invalid_transaction_id"


def test_malformed_deferred_requests_are_refused(env: WalletEnv) -> None:
    access = token(env, token_form(env.offer())).json()["access_token"]
    for body in ({}, {"transaction_id": 7}, {"transaction_id": "x" * 65}):
        response = credential(env, access, body, path=DEFERRED)
        assert response.status_code == 400 and error(response) == "invalid_credential_request"
    unknown = credential(env, access, {"transaction_id": "unknown"}, path=DEFERRED)
    assert error(unknown) == "invalid_transaction_id"


def test_the_stub_wallet_collects_a_deferred_permit(env: WalletEnv, tmp_path: Any) -> None:
    from mobile_sdk_stub.client import WalletClient

    permit = awaiting_permit(env)
    offer = env.offer(kind="permit", permit_id=str(permit))
    with WalletClient(env.base_url, tmp_path / "phone", clock=env.now) as wallet:
        assert wallet.redeem(offer["credential_offer_url"], offer["tx_code"]) == []
        assert len(wallet.pending.entries()) == 2
        assert wallet.collect() == []  # still unpaid
        _pay(env, str(permit))
        (stored,) = wallet.collect()
        assert stored.kind == "parking-permit" and stored.qr_text is not None
        assert wallet.pending.entries() == []


def test_the_wallet_cli_tells_what_is_pending_and_collects_it(
    env: WalletEnv, tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    from mobile_sdk_stub import cli

    monkeypatch.setattr("time.time", env.now)  # the server runs on the FixedClock
    permit = awaiting_permit(env)
    offer = env.offer(kind="permit", permit_id=str(permit), delivery="reference")
    wallet = ["--wallet-dir", str(tmp_path / "w")]
    assert (
        cli.main([*wallet, "redeem", offer["credential_offer_url"], "--tx-code", offer["tx_code"]])
        == 0
    )
    assert "pending parking-permit" in capsys.readouterr().out
    _pay(env, str(permit))
    assert cli.main([*wallet, "--server", env.base_url, "collect"]) == 0
    out = capsys.readouterr().out
    assert "stored parking-permit" in out and out.rstrip().endswith("0 still pending")
