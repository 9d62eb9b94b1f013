"""The wallet API over real HTTP with the stub client: offers, redemption, refresh, devices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from mobile_sdk_stub.client import WalletClient, unverified_claims
from tests.wallet_api.harness import PLATE, WalletEnv, wallet_env
from verifier.formats import key_from_jwk
from verifier.sdjwt import verify_sd_jwt_vc


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def _client(env: WalletEnv, path: Path) -> WalletClient:
    return WalletClient(env.base_url, path, clock=env.now)


def test_permit_offer_redeemed_into_sd_jwt_vc_and_qr(env: WalletEnv, tmp_path: Path) -> None:
    offer = env.offer()
    assert len(offer["tx_code"]) >= 6
    with _client(env, tmp_path / "phone") as wallet:
        (stored,) = wallet.redeem(offer["credential_offer_url"], offer["tx_code"])
        assert stored.kind == "parking-permit"
        assert stored.qr_text is not None and stored.qr_text.startswith("BID1:")
        assert stored.sd_jwt is not None
        claims = unverified_claims(stored.sd_jwt)
        assert claims["vct"] == "https://05513000.example.de/vct/parking-permit"
        assert claims["plates"] == [PLATE] and claims["zones"] == ["A3"]
        assert claims["cnf"]["jwk"] == wallet.device.public_jwk()
        status = claims["status"]["status_list"]
        assert status["uri"].startswith(env.base_url + "/status-lists/05513000/")
        header_kid = stored.sd_jwt.split(".")[0]
        assert header_kid
        jwks = env.http.get("/.well-known/jwt-vc-issuer").json()
        assert jwks["issuer"] == "https://05513000.example.de"
        keys = {k["kid"]: k for k in jwks["jwks"]["keys"]}
        presentation = wallet.present(
            stored.id, [("holder", "family_name")], aud="https://officer.example", nonce="n-1"
        )
        import base64
        import json

        head = json.loads(base64.urlsafe_b64decode(stored.sd_jwt.split(".")[0] + "=="))
        assert head["typ"] == "dc+sd-jwt" and head["kid"] in keys
        verified = verify_sd_jwt_vc(
            presentation,
            issuer_key=key_from_jwk(
                {k: v for k, v in keys[head["kid"]].items() if k in ("kty", "crv", "x", "y")}
            ),
            now=int(env.now()),
            require_key_binding=True,
            expected_aud="https://officer.example",
            expected_nonce="n-1",
        )
        assert verified.claims["holder"] == {"family_name": "Mustermann"}
        assert verified.status is not None and verified.status.idx == status["idx"]


def test_residence_offer_and_refresh_gets_new_indices(env: WalletEnv, tmp_path: Path) -> None:
    offer = env.offer(kind="residence", resident_id=str(env.resident_id))
    with _client(env, tmp_path / "phone") as wallet:
        (stored,) = wallet.redeem(offer["credential_offer_url"], offer["tx_code"])
        assert stored.kind == "residence"
        first = unverified_claims(stored.sd_jwt or "")
        assert "given_name" not in first  # selectively disclosable only
        assert first["vct"].endswith("/vct/residence")
        env.clock.advance(days=25)  # within a week of expiry: due for refresh
        (refreshed,) = wallet.refresh()
        second = unverified_claims(refreshed.sd_jwt or "")
        assert second["exp"] > first["exp"]
        assert second["status"]["status_list"] != first["status"]["status_list"]
        assert refreshed.refresh_token != stored.refresh_token
        assert wallet.refresh() == []  # nothing due any more


def test_metadata_lists_the_tenant_configurations(env: WalletEnv) -> None:
    meta = env.http.get("/.well-known/openid-credential-issuer").json()
    assert meta["credential_issuer"] == env.base_url
    configs = meta["credential_configurations_supported"]
    assert configs["05513000.residence"]["format"] == "dc+sd-jwt"
    assert configs["05513000.parking-permit"]["proof_types_supported"]["jwt"][
        "proof_signing_alg_values_supported"
    ] == ["ES256"]
    assert configs["05513000.parking-permit-qr"]["format"] == "bid1+qr"
    oauth = env.http.get("/.well-known/oauth-authorization-server").json()
    assert oauth["token_endpoint"] == env.base_url + "/wallet/token"


def test_lost_phone_removed_by_the_municipality_revokes_its_credentials(
    env: WalletEnv, tmp_path: Path
) -> None:
    with _client(env, tmp_path / "phone") as wallet:
        offer = env.offer()
        (permit,) = wallet.redeem(offer["credential_offer_url"], offer["tx_code"])
        offer = env.offer(kind="residence", resident_id=str(env.resident_id))
        (residence,) = wallet.redeem(offer["credential_offer_url"], offer["tx_code"])
        devices = env.http.get(
            f"/api/v1/residents/{env.resident_id}/devices", headers=env.headers
        ).json()
        assert len(devices) == 1 and devices[0]["credentials"] == 3
        removed = env.http.delete(f"/api/v1/devices/{devices[0]['id']}", headers=env.headers)
        assert removed.status_code == 200
        assert removed.json()["revoked_credentials"] == 3
        from issuer.services.status_lists import status_of

        with env.app.state.session_factory() as sess:
            for stored in (permit, residence):
                ref = unverified_claims(stored.sd_jwt or "")["status"]["status_list"]
                list_no = int(ref["uri"].rsplit("/", 1)[1])
                assert (
                    status_of(sess, tenant_id=env.tenant_id, list_no=list_no, idx=ref["idx"]) == 1
                )
        # the removed key can never be bound again
        offer = env.offer()
        with pytest.raises(Exception) as info:
            wallet.redeem(offer["credential_offer_url"], offer["tx_code"])
        assert getattr(info.value, "code", None) == "invalid_proof"


def test_permit_refresh_renews_sd_jwt_and_qr_with_new_indices(
    env: WalletEnv, tmp_path: Path
) -> None:
    offer = env.offer()
    with _client(env, tmp_path / "phone") as wallet:
        (stored,) = wallet.redeem(offer["credential_offer_url"], offer["tx_code"])
        (renewed,) = wallet.refresh(force=True)
        assert renewed.id == stored.id
        assert renewed.qr_text != stored.qr_text and renewed.sd_jwt != stored.sd_jwt
        before = unverified_claims(stored.sd_jwt or "")["status"]["status_list"]["idx"]
        after = unverified_claims(renewed.sd_jwt or "")["status"]["status_list"]["idx"]
        assert before != after
    from sqlalchemy import select

    from issuer.db.models import AuditEntry

    with env.app.state.session_factory() as sess:
        actions = sess.scalars(
            select(AuditEntry.action).where(AuditEntry.tenant_id == env.tenant_id)
        ).all()
    assert actions.count("wallet_offer_created") == 1
    assert actions.count("wallet_offer_redeemed") == 1
    assert actions.count("wallet_credential_issued") == 4  # SD-JWT + QR, twice
