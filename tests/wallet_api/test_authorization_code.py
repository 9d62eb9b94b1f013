"""OpenID4VCI's authorization code flow over real HTTPS, on SQLite and PostgreSQL: a wallet
starts from the metadata, the citizen authenticates with her PID in the browser, consents,
and the wallet gets her Bürger-ID with PKCE and DPoP; then the attacks on codes, PAR
request URIs and PKCE."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from mobile_sdk_stub import authorization
from mobile_sdk_stub.client import ClientAttestation, WalletError
from mobile_sdk_stub.device import DeviceKey
from tests.wallet_api.harness import RESIDENCE_CONFIG
from tests.wallet_api.rp_harness import RpEnv, rp_env
from tests.wallet_api.support import Provider

PUSHED = {
    "response_type": "code",
    "client_id": "w",
    "redirect_uri": "https://wallet.example/cb",
    "code_challenge": "A" * 43,
    "code_challenge_method": "S256",
    "scope": RESIDENCE_CONFIG,
}


@pytest.fixture
def env(settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[RpEnv]:
    with rp_env(settings, clock, tmp_path) as running:
        yield running


def _authorize(env: RpEnv, wallet: Any, presenter: Any) -> tuple[Any, str]:
    """PAR, the browser's presentation and consent; the pending flow and the callback URL."""
    pending = authorization.start(wallet, [RESIDENCE_CONFIG])
    browser = env.browser()
    started = env.open(browser, pending.authorization_url)
    redirect = presenter.respond(presenter.resolve(started.same_device))
    page = browser.get(str(redirect))
    assert "Zustimmen" in page.text and "ERIKA MUSTERMANN" in page.text
    return pending, env.consent(browser, page)


def test_a_wallet_gets_its_buergerid_through_the_authorization_code_flow(env: RpEnv) -> None:
    metadata = env.browser().get("/.well-known/oauth-authorization-server").json()
    assert metadata["require_pushed_authorization_requests"] is True
    assert metadata["code_challenge_methods_supported"] == ["S256"]
    assert "authorization_code" in metadata["grant_types_supported"]
    issuer = env.browser().get("/.well-known/openid-credential-issuer").json()
    assert (
        issuer["credential_configurations_supported"][RESIDENCE_CONFIG]["scope"] == RESIDENCE_CONFIG
    )
    wallet, presenter = env.wallet()
    env.give_pid(wallet)
    pending, callback = _authorize(env, wallet, presenter)
    assert callback.startswith(authorization.REDIRECT_URI + "?code=")
    stored = authorization.finish(wallet, pending, callback)
    assert [c.kind for c in stored] == ["residence"]
    # the new Bürger-ID logs in at once
    browser = env.browser()
    started = env.open(browser, "/rp/login/05513000")
    page = browser.get(str(presenter.respond(presenter.resolve(started.same_device))))
    assert "Erika Mustermann" in page.text


def test_a_replayed_authorization_code_is_refused_and_ends_its_grant(env: RpEnv) -> None:
    wallet, presenter = env.wallet()
    env.give_pid(wallet)
    pending, callback = _authorize(env, wallet, presenter)
    stored = authorization.finish(wallet, pending, callback)
    with pytest.raises(WalletError) as info:
        authorization.finish(wallet, pending, callback)
    assert info.value.code == "invalid_grant"
    # the grant of the first exchange is gone: its refresh token no longer works
    refresh = stored[0].refresh_token
    assert refresh is not None
    with pytest.raises(WalletError) as info:
        wallet.token({"grant_type": "refresh_token", "refresh_token": refresh})
    assert info.value.code == "invalid_grant"


def test_a_par_request_uri_is_used_once(env: RpEnv) -> None:
    wallet, _presenter = env.wallet()
    pending = authorization.start(wallet, [RESIDENCE_CONFIG])
    browser = env.browser()
    assert browser.get(pending.authorization_url).status_code == 200
    again = browser.get(pending.authorization_url)
    assert again.status_code == 400
    assert "openid4vp://" not in again.text
    # another client_id with a valid request_uri is refused too
    other = pending.authorization_url.replace("buergerid-wallet-stub", "another-wallet")
    assert env.browser().get(other).status_code == 400


def test_a_pkce_verifier_that_does_not_match_is_refused(env: RpEnv) -> None:
    wallet, presenter = env.wallet()
    env.give_pid(wallet)
    pending, callback = _authorize(env, wallet, presenter)
    with pytest.raises(WalletError) as info:
        authorization.finish(wallet, pending, callback, code_verifier="x" * 64)
    assert info.value.code == "invalid_grant"
    # the code is spent: the right verifier comes too late
    with pytest.raises(WalletError) as info:
        authorization.finish(wallet, pending, callback)
    assert info.value.code == "invalid_grant"


def test_a_code_bound_to_a_dpop_key_is_refused_for_another_key(env: RpEnv) -> None:
    wallet, presenter = env.wallet()
    env.give_pid(wallet)
    pending, callback = _authorize(env, wallet, presenter)
    thief, _ = env.wallet("thief")
    with pytest.raises(WalletError) as info:
        authorization.finish(thief, pending, callback)
    assert info.value.code == "invalid_dpop_proof"


def test_plain_pkce_and_foreign_redirects_are_refused_at_par(env: RpEnv) -> None:
    http = env.browser()
    base = dict(PUSHED)
    assert http.post("/wallet/par", data=base).status_code == 201
    for change in (
        {"code_challenge_method": "plain"},
        {"redirect_uri": "javascript:alert(1)"},
        {"redirect_uri": "http://wallet.example/cb"},
        {"scope": "05513000.parking-permit"},
        {"response_type": "token"},
    ):
        answer = http.post("/wallet/par", data={**base, **change})
        assert answer.status_code == 400, change
        assert answer.json()["error"] in (
            "invalid_request",
            "invalid_scope",
            "unsupported_response_type",
        )


def test_an_issuer_initiated_offer_carries_issuer_state_into_the_flow(env: RpEnv) -> None:
    wallet, presenter = env.wallet()
    env.give_pid(wallet)
    offer = f"openid-credential-offer://?credential_offer_uri={env.base_url}/wallet/authorize/offer/05513000"
    pending = authorization.start_from_offer(wallet, offer)
    assert pending.configuration_ids == (RESIDENCE_CONFIG,)
    browser = env.browser()
    started = env.open(browser, pending.authorization_url)
    page = browser.get(str(presenter.respond(presenter.resolve(started.same_device))))
    stored = authorization.finish(wallet, pending, env.consent(browser, page))
    assert [c.kind for c in stored] == ["residence"]


def test_a_forged_or_foreign_issuer_state_is_refused_at_par(env: RpEnv) -> None:
    http = env.browser()
    good = http.get("/wallet/authorize/offer/05513000").json()
    issuer_state = good["grants"]["authorization_code"]["issuer_state"]
    base = dict(PUSHED)
    assert http.post("/wallet/par", data={**base, "issuer_state": issuer_state}).status_code == 201
    body, _, mac = issuer_state.partition(".")
    # another MAC (its first character carries six whole bits, so the bytes differ), and the
    # same MAC on a body that asks for a longer life
    other_mac = ("B" if mac[0] != "B" else "C") + mac[1:]
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    longer = json.dumps({**claims, "exp": claims["exp"] + 86400}).encode()
    longer_body = base64.urlsafe_b64encode(longer).rstrip(b"=").decode()
    for forged in (f"{body}.{other_mac}", f"{longer_body}.{mac}", "x" * 300, "no-dot"):
        answer = http.post("/wallet/par", data={**base, "issuer_state": forged})
        assert answer.status_code == 400, forged
        assert answer.json()["error"] == "invalid_request"
    assert http.get("/wallet/authorize/offer/99999999").status_code == 404


def _attested_wallet(env: RpEnv, provider: Provider, name: str) -> tuple[Any, Any]:
    """A stub wallet whose provider attests it (its instance key signs the PoPs); without
    DPoP, so that only the attestation tells two wallets apart."""
    instance = DeviceKey.load_or_create(env.tmp / f"{name}-instance")
    now = env.now()
    attestation = provider.wallet_attestation(
        client_id=authorization.CLIENT_ID,
        instance=SimpleNamespace(jwk=instance.public_jwk()),  # type: ignore[arg-type]
        iat=now - 60,
        exp=now + 3600,
    )
    return env.wallet(
        name,
        use_dpop=False,
        attestation=ClientAttestation(attestation, instance, authorization.CLIENT_ID),
    )


def test_where_wallet_attestation_is_required_a_par_without_a_valid_one_is_refused(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    provider = Provider(now=int(clock.now().timestamp()))
    anchors = tmp_path / "wallet-anchors.pem"
    anchors.write_bytes(provider.anchors_pem())
    with rp_env(
        settings, clock, tmp_path, wallet_trust_anchors=anchors, wallet_attestation="required"
    ) as env:
        # no attestation at all; one from a provider we do not trust
        plain, _ = env.wallet("plain")
        stranger, _ = _attested_wallet(env, Provider("Other Provider", now=env.now()), "other")
        for wallet in (plain, stranger):
            with pytest.raises(WalletError) as info:
                authorization.start(wallet, [RESIDENCE_CONFIG])
            assert info.value.code == "invalid_client", info.value
        # a PAR with parameters but no client authentication, straight over HTTP
        answer = env.browser().post("/wallet/par", data=PUSHED)
        assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"

        # an attested wallet pushes, authenticates, consents; the code is for it alone
        wallet, presenter = _attested_wallet(env, provider, "erika")
        env.give_pid(wallet)
        pending, callback = _authorize(env, wallet, presenter)
        thief, _ = _attested_wallet(env, provider, "thief")
        with pytest.raises(WalletError) as info:
            authorization.finish(thief, pending, callback)
        assert info.value.code == "invalid_client"
        authorization.start(thief, [RESIDENCE_CONFIG])  # its attestation itself is valid
        stored = authorization.finish(wallet, pending, callback)
        assert [c.kind for c in stored] == ["residence"]
