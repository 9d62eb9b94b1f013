"""Attacks on the relying party, each its own test, over real HTTPS on SQLite and
PostgreSQL. Every refusal is asserted by its stable code, in the wallet's answer and in
the transaction's recorded outcome; no refused response ever yields a result."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from mobile_sdk_stub.openid4vp import PresentationRefused
from tests.support.pid_provider import TestPidProvider
from tests.wallet_api.rp_harness import AGS, RpEnv, erika_pid, rp_env
from wallet_api.models import WalletCredential, WalletOffer


@pytest.fixture
def env(settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[RpEnv]:
    with rp_env(settings, clock, tmp_path) as running:
        yield running


def _refused(call: Any) -> str:
    with pytest.raises(PresentationRefused) as info:
        call()
    return info.value.code


def _login(env: RpEnv) -> tuple[Any, Any, Any]:
    wallet, presenter = env.wallet()
    env.give_buergerid(wallet)
    browser = env.browser()
    return wallet, presenter, browser


def test_a_replayed_vp_token_is_refused(env: RpEnv) -> None:
    _wallet, presenter, browser = _login(env)
    first = env.open(browser, f"/rp/login/{AGS}")
    request = presenter.resolve(first.cross_device)
    captured: dict[str, Any] = {}
    presenter.respond(request, tamper=lambda payload: captured.update(payload))
    # the same response again at the same transaction
    assert _refused(lambda: presenter.post(request, dict(captured))) == "invalid_request"
    # the same vp_token in a new transaction (its state, so only the nonce is stale)
    second = env.open(env.browser(), f"/rp/login/{AGS}")
    fresh = presenter.resolve(second.cross_device)
    replay = {"vp_token": captured["vp_token"], "state": fresh.claims["state"]}
    assert _refused(lambda: presenter.post(fresh, replay)) == "wrong_nonce"
    assert env.transaction(second.transaction_id).error == "wrong_nonce"
    assert env.transaction(first.transaction_id).status == "verified"


def test_a_response_posted_for_another_transaction_is_refused(env: RpEnv) -> None:
    _wallet, presenter, browser = _login(env)
    mine = presenter.resolve(env.open(browser, f"/rp/login/{AGS}").cross_device)
    other_tx = env.open(env.browser(), f"/rp/login/{AGS}")
    other = presenter.resolve(other_tx.cross_device)
    captured: dict[str, Any] = {}

    def keep(payload: dict[str, Any]) -> None:
        captured.update(payload)
        raise RuntimeError("stop before sending")

    with pytest.raises(RuntimeError):
        presenter.respond(mine, tamper=keep)
    # encrypted to my transaction's key, posted to the other's response_uri
    wrong_target = type(mine)(
        client_id=mine.client_id,
        claims={**mine.claims, "response_uri": other.claims["response_uri"]},
        client_name=None,
    )
    assert _refused(lambda: presenter.post(wrong_target, captured)) == "invalid_response"
    assert env.transaction(other_tx.transaction_id).error == "invalid_response"


@pytest.mark.parametrize("change", ["nonce", "aud"])
def test_a_wrong_nonce_or_audience_is_refused(env: RpEnv, change: str) -> None:
    _wallet, presenter, browser = _login(env)
    started = env.open(browser, f"/rp/login/{AGS}")
    request = presenter.resolve(started.cross_device)
    if change == "nonce":
        code = _refused(lambda: presenter.respond(request, nonce="not-the-nonce"))
        assert code == "wrong_nonce"
    else:
        other = "x509_san_dns:another-verifier.example"
        assert _refused(lambda: presenter.respond(request, aud=other)) == "wrong_audience"
    page = browser.get(f"/rp/return/{started.transaction_id}")
    assert page.status_code == 400 and "nicht geklappt" in page.text


def test_a_presentation_without_key_binding_is_refused(env: RpEnv) -> None:
    _wallet, presenter, browser = _login(env)
    request = presenter.resolve(env.open(browser, f"/rp/login/{AGS}").cross_device)

    def strip(payload: dict[str, Any]) -> None:
        for cid, values in payload["vp_token"].items():
            payload["vp_token"][cid] = [v[: v.rindex("~") + 1] for v in values]

    assert _refused(lambda: presenter.respond(request, tamper=strip)) == "key_binding_required"


def test_a_revoked_buergerid_cannot_log_in(env: RpEnv) -> None:
    from issuer.services.status_lists import revoke_tokens

    _wallet, presenter, browser = _login(env)
    with env.app.state.session_factory() as session, session.begin():
        rows = session.execute(
            select(WalletCredential.status_list, WalletCredential.status_idx)
        ).all()
        revoke_tokens(session, tenant_id=env.tenant_id, tokens=[(r[0], r[1]) for r in rows])
        session.execute(update(WalletCredential).values(revoked_at=env.clock.now()))
    request = presenter.resolve(env.open(browser, f"/rp/login/{AGS}").cross_device)
    assert _refused(lambda: presenter.respond(request)) == "revoked"


def test_a_pid_from_an_issuer_not_on_the_trust_list_is_refused(env: RpEnv) -> None:
    wallet, presenter = env.wallet()
    stranger = TestPidProvider.create(now=env.now())  # same issuer URL, another CA
    pid = stranger.issue(wallet.device.public_jwk(), person=erika_pid(), now=env.now())
    wallet.store.add(kind="pid", now=env.now(), sd_jwt=pid, vct="urn:eudi:pid:de:1")
    browser = env.browser()
    started = env.open(browser, f"/rp/buergerid/{AGS}")
    request = presenter.resolve(started.cross_device)
    assert _refused(lambda: presenter.respond(request)) == "untrusted_issuer"
    page = browser.get(f"/rp/return/{started.transaction_id}")
    assert page.status_code == 400
    with env.app.state.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(WalletOffer)) == 0


def test_fewer_claims_disclosed_than_asked_are_refused(env: RpEnv) -> None:
    _wallet, presenter, browser = _login(env)
    request = presenter.resolve(env.open(browser, f"/rp/login/{AGS}").cross_device)
    chosen = presenter.choose(request)
    stored, paths = chosen["buergerid"]
    fewer = {"buergerid": (stored, [p for p in paths if p[0] != "address"])}
    assert _refused(lambda: presenter.respond(request, chosen=fewer)) == "claims_missing"


def test_a_response_code_used_from_another_browser_session_is_refused(env: RpEnv) -> None:
    _wallet, presenter, browser = _login(env)
    started = env.open(browser, f"/rp/login/{AGS}")
    redirect = presenter.respond(presenter.resolve(started.same_device))
    assert redirect is not None
    attacker = env.browser()
    attacker.cookies.set("bid_rp", "A" * 43)
    stolen = attacker.get(redirect)
    assert stolen.status_code == 403 and "anderen Browser" in stolen.text
    assert env.browser().get(redirect).status_code == 403  # no session at all
    # the code without the session is nothing; with it, the result is there
    assert "Erika Mustermann" in browser.get(redirect).text
    # and a same-device result is never handed to the session without the code
    started = env.open(browser, f"/rp/login/{AGS}")
    presenter.respond(presenter.resolve(started.same_device))
    assert browser.get(f"/rp/return/{started.transaction_id}").status_code == 400


def test_an_unencrypted_answer_to_an_encrypted_request_is_refused(env: RpEnv) -> None:
    _wallet, presenter, browser = _login(env)
    request = presenter.resolve(env.open(browser, f"/rp/login/{AGS}").cross_device)
    plain = type(request)(
        client_id=request.client_id,
        claims={**request.claims, "response_mode": "direct_post"},
        client_name=None,
    )
    payload = {"vp_token": {"buergerid": ["x~"]}, "state": request.claims["state"]}
    assert _refused(lambda: presenter.post(plain, payload)) == "invalid_request"


def test_a_request_object_is_served_once(env: RpEnv) -> None:
    _wallet, presenter, browser = _login(env)
    started = env.open(browser, f"/rp/login/{AGS}")
    presenter.resolve(started.cross_device)
    assert _refused(lambda: presenter.resolve(started.cross_device)) == "bad_request_object"


def test_a_pid_that_matches_nobody_gets_no_offer(env: RpEnv) -> None:
    wallet, presenter = env.wallet()
    someone = erika_pid()
    someone["birthdate"] = "1981-02-28"
    env.give_pid(wallet, person=someone)
    browser = env.browser()
    redirect = presenter.respond(
        presenter.resolve(env.open(browser, f"/rp/buergerid/{AGS}").same_device)
    )
    page = browser.get(str(redirect))
    assert page.status_code == 200 and "Bitte im Bürgerbüro melden" in page.text
    assert "openid-credential-offer" not in page.text
    with env.app.state.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(WalletOffer)) == 0


def test_the_request_object_names_us_and_asks_for_an_encrypted_answer(env: RpEnv) -> None:
    _wallet, presenter, browser = _login(env)
    request = presenter.resolve(env.open(browser, f"/rp/login/{AGS}").cross_device)
    claims = request.claims
    assert claims["response_mode"] == "direct_post.jwt"
    assert claims["aud"] == "https://self-issued.me/v2"
    assert claims["client_metadata"]["encrypted_response_enc_values_supported"] == [
        "A128GCM",
        "A256GCM",
    ]
    jwk = claims["client_metadata"]["jwks"]["keys"][0]
    assert jwk["use"] == "enc" and jwk["alg"] == "ECDH-ES" and "d" not in jwk
    assert json.dumps(claims["dcql_query"]).count('"path"') == 6
