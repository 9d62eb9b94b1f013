"""A year in a citizen's wallet, over real HTTP on SQLite and PostgreSQL, with a movable
clock: apply for a 12-month permit, redeem it into the wallet, open the wallet every month,
renew in the renewal window (month 11), let the wallet refresh on its own schedule, and
present the renewed credential after the first year ended; the presentation verifies,
key-bound and not revoked by the signed status list."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from keys.ring import KeyRing
from mobile_sdk_stub.client import WalletClient, unverified_claims
from tests.support.db import TEST_PASSPHRASE
from tests.wallet_api.harness import AGS, CHEAP_KDF, WalletEnv, wallet_env
from verifier import Reason, VerifierError
from verifier.formats import decode_status_list_jwt, key_from_jwk, peek_jws_header
from verifier.sdjwt import verify_sd_jwt_vc
from wallet_api.models import WalletGrant

OFFICER = "https://handheld.example"
DAY = 86400


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    body: dict[str, Any] = response.json()
    return body


def _apply(env: WalletEnv) -> dict[str, Any]:
    """The municipality's side: zone, vehicle, a 12-month permit (the seeded one returned)."""
    http, h = env.http, env.headers
    _ok(
        http.post(f"/api/v1/permits/{env.permit_id}/revoke", json={"reason": "returned"}, headers=h)
    )
    zone = {
        "code": "B7",
        "name": "Neustadt",
        "segments": [{"street": "Ebertstraße", "number_from": 1, "number_to": 49}],
    }
    _ok(http.post("/api/v1/zones", json=zone, headers=h))
    car = _ok(
        http.post(
            "/api/v1/vehicles",
            json={"plate": "GE-YR 2026", "holder_id": str(env.resident_id), "length_mm": 4300},
            headers=h,
        )
    )
    body = {"resident_id": str(env.resident_id), "zones": ["B7"], "vehicle_ids": [car["id"]]}
    permit = _ok(http.post("/api/v1/permits", json={**body, "months": 12}, headers=h))
    assert permit["state"] == "active"
    return permit


def _rotate_signing_key(env: WalletEnv) -> None:
    """The operator's yearly key rotation (``buergerid-keys rotate``): the first key signs
    for a year, its successor takes over before that year ends."""
    ring = KeyRing.open(env.settings.keys_dir / AGS, passphrase=TEST_PASSPHRASE, kdf=CHEAP_KDF)
    at = int(env.now())
    ring.add_key(nbf=at, sign_until=at + 365 * DAY, exp=at + 800 * DAY)


def _keys(env: WalletEnv) -> dict[str, Any]:
    jwks = env.http.get("/.well-known/jwt-vc-issuer").json()["jwks"]["keys"]
    return {k["kid"]: key_from_jwk(k) for k in jwks}


def _present_and_verify(env: WalletEnv, wallet: WalletClient, credential_id: str) -> Any:
    """What the officer's handheld does with a presentation: signature, key binding, expiry,
    then the status list (signed by the issuer, fetched as JWT)."""
    stored = wallet.store.get(credential_id)
    assert stored.sd_jwt is not None
    keys = _keys(env)
    presentation = wallet.present(credential_id, [("plates",)], aud=OFFICER, nonce="n-2027")
    verified = verify_sd_jwt_vc(
        presentation,
        issuer_key=keys[peek_jws_header(stored.sd_jwt)["kid"]],
        now=int(env.now()),
        require_key_binding=True,
        expected_aud=OFFICER,
        expected_nonce="n-2027",
    )
    assert verified.status is not None
    served = env.http.get(verified.status.uri, headers={"Accept": "application/statuslist+jwt"})
    token = decode_status_list_jwt(served.text, keys[peek_jws_header(served.text)["kid"]])
    assert token.status_list.get(verified.status.idx) == 0  # VALID
    return verified


def test_a_permit_renewed_in_month_eleven_reaches_the_phone(env: WalletEnv, tmp_path: Path) -> None:
    permit = _apply(env)
    first_until = datetime.fromisoformat(permit["valid_until"])
    offer = env.offer(kind="permit", permit_id=permit["id"])
    with WalletClient(env.base_url, tmp_path / "phone", clock=env.now) as wallet:
        (stored,) = wallet.redeem(offer["credential_offer_url"], offer["tx_code"])
        first_sd_jwt = stored.sd_jwt or ""
        assert unverified_claims(first_sd_jwt)["exp"] == int(first_until.timestamp())

        # the citizen opens the wallet every month; nothing is due, nothing is minted
        for _ in range(10):
            env.clock.advance(days=30)
            assert wallet.refresh() == []

        # month 11: the permit is renewed inside the renewal window
        env.clock.set(first_until - timedelta(days=40))
        renewed = _ok(
            env.http.post(f"/api/v1/permits/{permit['id']}/renew", json={}, headers=env.headers)
        )
        second_until = datetime.fromisoformat(renewed["valid_until"])
        assert second_until - first_until >= timedelta(days=365)
        _rotate_signing_key(env)
        env.clock.set(first_until - timedelta(days=31))
        assert wallet.refresh() == []  # not yet in the credential's last month

        # in the last month the wallet refreshes on its own: the renewal reaches the phone
        env.clock.set(first_until - timedelta(days=29))
        (refreshed,) = wallet.refresh()
        assert refreshed.id == stored.id
        assert refreshed.expires_at == int(second_until.timestamp())
        assert refreshed.qr_text is not None and refreshed.qr_text != stored.qr_text
        assert wallet.refresh() == []  # due again only in the new credential's last month

        # after the first year: the renewed credential is shown and verifies
        env.clock.set(first_until + timedelta(days=1))
        verified = _present_and_verify(env, wallet, stored.id)
        assert verified.claims["plates"] == ["GE-YR 2026"]
        assert verified.claims["exp"] == int(second_until.timestamp())
        # the credential of the first year would not have
        old = wallet.store.replace(stored.id, sd_jwt=first_sd_jwt)
        with pytest.raises(VerifierError) as info:
            _present_and_verify(env, wallet, old.id)
        assert info.value.reason is Reason.EXPIRED

    with env.app.state.session_factory() as session:
        (grant,) = session.scalars(select(WalletGrant)).all()
        assert grant.revoked_at is None
        # the refresh token outlives the credential it serves
        assert grant.refresh_expires_at > second_until
