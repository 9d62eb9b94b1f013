"""Attacks on the citizen portal over real HTTP, on SQLite and PostgreSQL: another
resident's permit, forms without the session's CSRF token, forged, replayed and wrong-amount
payment callbacks, session fixation, and a login response bound to another session."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx

from issuer.db.models import Tenant
from issuer.services import permits
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.support.portal import (
    AGS,
    CAR,
    FEE_CENTS,
    NEIGHBOUR_CAR,
    SECOND,
    Citizen,
    PortalEnv,
    csrf_of,
    neighbour_pid,
    portal_env,
)
from verifier import PermitType
from wallet_api.portal import payments
from wallet_api.portal.models import PortalPayment, PortalSession

BASE = f"/portal/{AGS}"


def _neighbour_permit(env: PortalEnv) -> str:
    with env.app.state.session_factory() as session:
        tenant = session.get(Tenant, env.tenant_id)
        issued = permits.apply(
            session,
            env.app.state.keys,
            tenant=tenant,
            request=permits.PermitRequest(
                permit_type=PermitType.BEW,
                resident_id=env.neighbour,
                zone_codes=("A3",),
                vehicle_ids=(env.vehicles[NEIGHBOUR_CAR],),
            ),
            actor="test",
            now=env.clock.now(),
        )
        session.commit()
        return str(issued.permit.id)


def _logged_in(env: PortalEnv) -> Citizen:
    wallet, presenter = env.wallet()
    env.give_pid(wallet)
    citizen = Citizen(env, env.browser(), presenter)
    assert citizen.login("pid").status_code == 303
    return citizen


def _apply(citizen: Citizen, plate: str) -> str:
    permit, _applied = citizen.apply(plate)
    return permit


def test_another_residents_permit_is_not_found_and_forms_need_the_sessions_token(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with portal_env(settings, clock, tmp_path) as env:
        theirs = _neighbour_permit(env)
        citizen = _logged_in(env)
        mine = _apply(citizen, CAR)
        token = csrf_of(citizen.get("/permits").text)
        assert citizen.get(f"/permits/{theirs}").status_code == 404
        assert citizen.get(f"/permits/{theirs}/return").status_code == 404
        assert citizen.get(f"/permits/{theirs}/windscreen.pdf").status_code == 404
        # no page may be framed (clickjacking), none runs a script it did not bring
        page = citizen.get("/permits")
        policy = page.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'none'" in policy
        assert "default-src 'none'" in policy and "'unsafe-inline'" not in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
        for action in ("pay", "wallet", "renew", "vehicle", "return"):
            answer = citizen.http.post(f"{BASE}/permits/{theirs}/{action}", data={"csrf": token})
            assert answer.status_code == 404, (action, answer.text)
            assert "Nicht gefunden" in answer.text
        with env.app.state.session_factory() as session:
            assert (
                permits.get_permit(
                    session, tenant_id=env.tenant_id, permit_id=uuid.UUID(theirs)
                ).state
                == "awaiting_payment"
            )

        # every form refuses a missing token and another session's token
        phone, presenter = env.wallet("neighbour")
        env.give_pid(phone, neighbour_pid())
        stranger = Citizen(env, env.browser(), presenter)
        assert stranger.login("pid").status_code == 303
        foreign = csrf_of(stranger.get("/permits").text)
        assert foreign != token
        vehicle = str(env.vehicles[SECOND])
        forms = [
            f"{BASE}/logout",
            f"{BASE}/permits/{mine}/pay",
            f"{BASE}/permits/{mine}/wallet",
            f"{BASE}/permits/{mine}/renew",
            f"{BASE}/permits/{mine}/vehicle",
            f"{BASE}/permits/{mine}/return",
            f"{BASE}/apply",
            f"{BASE}/visitors",
        ]
        for path in forms:
            for fields in ({}, {"csrf": foreign}, {"csrf": ""}):
                answer = citizen.http.post(path, data={**fields, "vehicle": vehicle})
                assert answer.status_code == 403, (path, fields, answer.text)
                assert "Das Formular ist abgelaufen" in answer.text
        started = citizen.post(f"/permits/{mine}/pay")
        assert started.status_code == 303
        dev_page = started.headers["location"]
        assert citizen.http.post(dev_page, data={"csrf": foreign}).status_code == 403
        # nothing happened: still unpaid, still her session
        page = citizen.get(f"/permits/{mine}")
        assert "wartet auf Zahlung" in page.text and "Abmelden" in page.text
        # the neighbour's session cannot open her payment page either
        assert stranger.http.get(dev_page).status_code == 404


def _open_payment(env: PortalEnv) -> tuple[Citizen, PortalPayment]:
    citizen = _logged_in(env)
    _apply(citizen, CAR)  # a fee is due first: the payment is started with the application
    with env.app.state.session_factory() as session:
        payment = session.query(PortalPayment).one()
        session.expunge(payment)
    return citizen, payment


def test_payment_callbacks_forged_replayed_or_for_another_amount_are_refused(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with portal_env(settings, clock, tmp_path) as env:
        citizen, payment = _open_payment(env)
        secret = payments.callback_secret(env.settings)
        url = f"{env.base_url}/portal/payments/development/callback"

        def send(body: bytes, signature: str | None) -> httpx.Response:
            headers = {"Content-Type": "application/json"}
            if signature is not None:
                headers[payments.SIGNATURE_HEADER] = signature
            return httpx.post(url, content=body, headers=headers, timeout=30)

        good = payments.callback_body(payment, provider_ref="ref-1")
        assert send(good, None).json()["code"] == "invalid_signature"
        assert send(good, payments.sign(b"not the provider's secret", good)).status_code == 401
        tampered = good.replace(b'"ref-1"', b'"ref-2"')
        assert send(tampered, payments.sign(secret, good)).status_code == 401
        cheap = json.loads(good)
        cheap["amount_cents"] = 1
        cheap_body = json.dumps(cheap).encode()
        answer = send(cheap_body, payments.sign(secret, cheap_body))
        assert (answer.status_code, answer.json()["code"]) == (422, "payment_mismatch")
        other = dict(cheap, amount_cents=FEE_CENTS, permit_id=str(uuid.uuid4()))
        other_body = json.dumps(other).encode()
        assert send(other_body, payments.sign(secret, other_body)).status_code == 404
        assert "wartet auf Zahlung" in citizen.get(f"/permits/{payment.permit_id}").text

        ok = send(good, payments.sign(secret, good))
        assert ok.status_code == 200, ok.text
        assert "Status</dt><dd>gültig" in citizen.get(f"/permits/{payment.permit_id}").text
        replay = send(good, payments.sign(secret, good))
        assert (replay.status_code, replay.json()["code"]) == (409, "payment_replayed")
        malformed = b'{"payment_id": [1]}'
        assert send(malformed, payments.sign(secret, malformed)).status_code == 400


def test_a_planted_session_is_worthless_and_a_login_answer_belongs_to_its_browser(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with portal_env(settings, clock, tmp_path, tls=True) as env:
        wallet, presenter = env.wallet()
        env.give_pid(wallet)
        # fixation: the attacker's session value planted into her browser
        attacker = env.browser()
        page = attacker.get(f"{BASE}/login?with=pid")
        cookie = page.headers["set-cookie"]
        assert cookie.startswith("__Host-bid_portal=")
        for attribute in ("Secure", "HttpOnly", "SameSite=lax", "Path=/"):
            assert attribute.lower() in cookie.lower(), cookie
        planted = attacker.cookies["__Host-bid_portal"]
        victim = Citizen(env, env.browser(), presenter)
        victim.http.cookies.set("__Host-bid_portal", planted, domain="127.0.0.1")
        assert victim.login("pid").status_code == 303
        after = victim.http.cookies["__Host-bid_portal"]
        assert after != planted
        assert victim.get("/permits").status_code == 200
        assert attacker.get(f"{BASE}/permits").status_code == 303
        with env.app.state.session_factory() as session:
            from wallet_api.portal.sessions import digest

            assert session.get(PortalSession, digest(planted)) is None

        # a login started in the attacker's browser, answered by her wallet: her browser
        # gets nothing from it, the attacker's browser neither (no response code)
        attacker = Citizen(env, env.browser(), presenter)
        link = attacker.start_login("pid")
        redirect = presenter.respond(presenter.resolve(link))
        assert redirect is not None
        hers = victim.http.get(redirect)
        assert hers.status_code == 403 and "anderen Browser" in hers.text
        transaction = redirect.split("/login/return/")[1].split("?")[0]
        theirs = attacker.http.get(f"{BASE}/login/return/{transaction}")
        assert theirs.status_code == 400
        assert attacker.get("/permits").status_code == 303
