"""The citizen portal over real HTTP, on SQLite and PostgreSQL, with the stub wallet as the
phone: PID → Bürger-ID → log in → apply (refused with a readable reason, then fixed) → pay →
permit in the wallet → `buergerid-verify check` valid → renew → change the vehicle (the old
QR revoked) → return (revoked after the officer's sync)."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from issuer.db.models import Tenant
from issuer.services import fees
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.support.pdf import pdf_text, rasterize
from tests.support.portal import (
    AGS,
    CAMPER,
    CAR,
    SECOND,
    Citizen,
    Officer,
    csrf_of,
    permit_id_of,
    portal_env,
)
from verifier.handheld import read_qr_texts_from_image


def test_a_resident_applies_pays_renews_changes_and_returns_her_permit(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with portal_env(settings, clock, tmp_path) as env:
        wallet, presenter = env.wallet()
        env.give_pid(wallet)
        env.buergerid_via_pid(wallet, presenter)
        citizen = Citizen(env, env.browser(), presenter)
        assert citizen.login().headers["location"] == f"/portal/{AGS}/permits"
        page = citizen.get("/permits")
        assert "Sie haben noch keinen Parkausweis" in page.text

        # the application is on her permits page: each of her vehicles with its fee, before
        # she commits; the camper is refused in words (no permit), the car goes to payment
        second = str(env.vehicles[SECOND])
        for plate in (CAR, CAMPER, SECOND):
            assert f"Zone A3 Altstadt, Kennzeichen {plate}" in page.text
        assert page.text.count("Gebühr für 12 Monate: 30,00 €") == 3
        assert page.text.count("Kostenpflichtig beantragen") == 3
        refused = citizen.post("/apply", page.text, vehicle=str(env.vehicles[CAMPER]))
        assert refused.status_code == 422
        assert "Das Fahrzeug ist länger als erlaubt (5,60 m)" in refused.text
        assert "vehicle_too_long" not in refused.text
        assert "Sie haben noch keinen Parkausweis" in refused.text
        permit, applied = citizen.apply(CAR)
        provider_page = applied.headers["location"]
        assert provider_page.startswith("/portal/pay/dev/")
        page = citizen.get(f"/permits/{permit}")
        assert "wartet auf Zahlung" in page.text and "Offene Gebühr: 30,00 €" in page.text
        # nothing to print before it is paid
        assert "Für die Windschutzscheibe drucken" not in page.text
        unpaid = citizen.get(f"/permits/{permit}/windscreen.pdf")
        assert unpaid.status_code == 409
        assert "Drucken lässt sich nur ein gültiger Parkausweis" in unpaid.text

        # pay: the signed callback activates the permit; the wallet's offer is on the page
        page = citizen.confirm_payment(provider_page)
        assert "Zahlung eingegangen" in page.text and "gültig" in page.text
        assert "Verlängerung ab" in page.text
        assert "openid-credential-offer://" in page.text
        assert page.text.count("Gebühr für 12 Monate") == 0  # no second application

        # into the wallet in one step, no code; the officer finds it valid
        stored = citizen.into_wallet(wallet, permit)
        qr = next(c.qr_text for c in stored if c.qr_text)
        officer = Officer(env, tmp_path / "officer")
        officer.sync()
        assert officer.check(qr) == "valid"

        # on paper for the windscreen: the printed QR, scanned back, is valid for the officer
        page = citizen.get(f"/permits/{permit}")
        link = f'href="/portal/{AGS}/permits/{permit}/windscreen.pdf"'
        assert link in page.text and "Für die Windschutzscheibe drucken" in page.text
        printed = citizen.get(f"/permits/{permit}/windscreen.pdf")
        assert printed.status_code == 200
        assert printed.headers["content-type"] == "application/pdf"
        assert printed.headers["cache-control"] == "no-store"
        [paper_qr] = read_qr_texts_from_image(rasterize(printed.content, tmp_path))
        assert officer.check(paper_qr) == "valid"
        text = pdf_text(printed.content, tmp_path)
        assert "Bewohnerparkausweis" in text and CAR in text
        assert "ERIKA" not in text.upper() and "MUSTERMANN" not in text.upper()

        # renew: too early at first, in the window 330 days later (the session ended; she
        # logs in with her PID: the Bürger-ID of last year has expired)
        early = citizen.post(f"/permits/{permit}/renew", page.text)
        assert early.status_code == 422 and "Verlängerung ab" in early.text
        clock.advance(days=330)
        assert citizen.get("/permits").status_code == 303
        assert citizen.login("pid").status_code == 303
        renewed = citizen.post(f"/permits/{permit}/renew")
        assert renewed.status_code == 200, renewed.text
        assert "Verlängert bis" in renewed.text and "Offene Gebühr der Verlängerung" in renewed.text
        assert "Zahlung eingegangen" in citizen.pay(permit).text

        # change the vehicle: a new permit, the old QR revoked at once
        changed = citizen.post(f"/permits/{permit}/vehicle", vehicle=second)
        assert changed.status_code == 303, changed.text
        new_permit = permit_id_of(changed.headers["location"])
        assert new_permit != permit
        stored = citizen.into_wallet(wallet, new_permit)
        new_qr = next(c.qr_text for c in stored if c.qr_text)
        officer.sync()
        assert officer.check(qr) == "invalid"
        assert officer.check(new_qr) == "valid"

        # return: a fresh presentation first (her login is 6 minutes old), then revoked
        clock.advance(minutes=6)
        asked = citizen.get(f"/permits/{new_permit}/return")
        form = citizen.confirm_with_wallet(asked, "pid")
        assert "Endgültig zurückgeben" in form.text
        done = citizen.post(f"/permits/{new_permit}/return", form.text)
        assert done.status_code == 200 and "zurückgegeben und ist gesperrt" in done.text
        officer.sync()
        assert officer.check(new_qr) == "invalid"
        assert "gesperrt" in citizen.get("/permits").text
        assert csrf_of(citizen.get("/permits").text)


def test_the_operators_commands_in_the_docs_brand_the_portal_and_set_fee_and_rules(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "citizen-portal.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", docs, flags=re.S)
    assert len(blocks) == 2
    with portal_env(settings, clock, tmp_path) as env:
        token = env.headers["Authorization"].split()[1]
        for block in blocks:
            script = block.replace("http://127.0.0.1:8000", env.base_url)
            done = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", f"set -x\n{script}"],
                env={"API_KEY": token, "PATH": os.environ["PATH"]},
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert done.returncode == 0, done.stderr
            assert '"code"' not in done.stdout, done.stdout
        with httpx.Client(base_url=env.base_url, headers=env.headers) as api:
            brand = api.get("/api/v1/portal/branding").json()
            assert brand["name"] == "Stadt Gelsenkirchen" and brand["colour"] == "#004b87"
            assert brand["portal_url"] == f"{env.base_url}/portal/{AGS}"
            pale = api.put("/api/v1/portal/branding", json={"colour": "#ffd54a"})
            assert (pale.status_code, pale.json()["code"]) == (422, "colour_contrast")
            rules = api.get("/api/v1/permit-rules/BEW").json()["rules"]
            assert rules["awaiting_payment"] is True and rules["max_length_mm"] == 5600
        page = httpx.get(f"{env.base_url}/portal/{AGS}")
        assert "--brand:#004b87" in page.text and "Stadt Gelsenkirchen" in page.text
        assert '<html lang="de">' in page.text


def test_unpaid_into_the_wallet_deferred_a_visitor_permit_and_a_lost_phone_removed(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with portal_env(settings, clock, tmp_path) as env:
        wallet, presenter = env.wallet()
        env.give_pid(wallet)
        citizen = Citizen(env, env.browser(), presenter)
        assert citizen.login("pid").status_code == 303
        permit, _applied = citizen.apply(CAR)

        # unpaid: the wallet takes the offer, the credentials wait (deferred) until paid
        assert citizen.into_wallet(wallet, permit) == []
        assert wallet.collect() == []
        citizen.pay(permit)
        collected = wallet.collect()
        qr = next(c.qr_text for c in collected if c.qr_text)
        officer = Officer(env, tmp_path / "officer")
        officer.sync()
        assert officer.check(qr) == "valid"

        # a visitor permit: each wrong field said next to it, then issued from the quota
        page = citizen.get("/visitors")
        assert "Dieses Jahr genutzt: 0 von 20" in page.text
        wrong = citizen.post("/visitors", page.text, plate="", start="gestern", days="99")
        assert wrong.status_code == 422
        for name in ("plate", "start", "days"):
            assert f'id="{name}-error"' in wrong.text
            assert f'aria-describedby="{name}-error"' in wrong.text or (
                f'aria-describedby="{name}-hint {name}-error"' in wrong.text
            )
        today = clock.now().date().isoformat()
        issued = citizen.post("/visitors", wrong.text, plate="GE-XY 12", start=today, days="2")
        assert issued.status_code == 303, issued.text
        visitor = citizen.http.get(issued.headers["location"])
        assert "Besucherausweis" in visitor.text and "GE-XY 12" in visitor.text
        assert "Dieses Jahr genutzt: 1 von 20" in citizen.get("/visitors").text

        # the lost phone: listed, removed after a fresh presentation, its credentials revoked
        devices = citizen.get("/devices")
        assert "Gerät seit" in devices.text and "2 Nachweise" in devices.text
        remove = re.search(r'href="(/portal/\d+/devices/[^"]+/remove)"', devices.text)
        assert remove is not None
        clock.advance(minutes=6)
        form = citizen.confirm_with_wallet(citizen.http.get(remove.group(1)), "pid")
        assert "Gerät endgültig entfernen" in form.text
        done = citizen.post(remove.group(1), form.text)
        assert done.status_code == 303
        assert (
            "Gerät entfernt: 2 Nachweise gesperrt"
            in citizen.http.get(done.headers["location"]).text
        )
        officer.sync()
        assert officer.check(qr) == "invalid"
        # the permit itself stays valid: into the wallet of her new phone
        new_phone, _ = env.wallet("new-phone")
        fresh = citizen.into_wallet(new_phone, permit)
        assert officer.check(next(c.qr_text for c in fresh if c.qr_text)) == "valid"


def test_she_is_charged_the_fee_she_saw_or_shown_the_new_one(
    settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    with portal_env(settings, clock, tmp_path) as env:
        wallet, presenter = env.wallet()
        env.give_pid(wallet)
        citizen = Citizen(env, env.browser(), presenter)
        assert citizen.login("pid").status_code == 303
        page = citizen.get("/permits")
        assert "Gebühr für 12 Monate: 30,00 €" in page.text
        assert 'name="fee" value="3000"' in page.text
        # the city raises the fee while her page is open
        with env.app.state.session_factory() as session, session.begin():
            tenant = session.scalars(select(Tenant).where(Tenant.ags == AGS)).one()
            fees.create_schedule(
                session,
                tenant_id=tenant.id,
                permit_type="BEW",
                kind="flat",
                params={"amount_cents": 4000},
                effective_from=clock.now() - timedelta(hours=1),
                effective_until=None,
                actor="test",
                now=clock.now(),
            )
        vehicle = str(env.vehicles[CAR])
        changed = citizen.post("/apply", page.text, vehicle=vehicle, fee="3000")
        assert changed.status_code == 409
        assert "Die Gebühr hat sich geändert" in changed.text
        assert "Gebühr für 12 Monate: 40,00 €" in changed.text
        assert "Sie haben noch keinen Parkausweis" in changed.text  # nothing was applied for
        for forged in ("", "-1", "3000.0", "9" * 12):
            assert citizen.post("/apply", page.text, vehicle=vehicle, fee=forged).status_code == 409
        # with the amount now shown she applies, and that amount is charged
        applied = citizen.post("/apply", changed.text, vehicle=vehicle, fee="4000")
        assert applied.status_code == 303, applied.text
        permit = permit_id_of(citizen.http.get(applied.headers["location"]).text)
        assert "Offene Gebühr: 40,00 €" in citizen.get(f"/permits/{permit}").text
