"""The windscreen permit a clerk prints (`GET /api/v1/permits/{id}/windscreen.pdf`), over real
HTTP on SQLite and PostgreSQL: fetched with the command docs/issuer.md shows, printed back
to an image with pdftoppm, its QR read by the verifier's own reader and checked by the
verifier as a handheld would (valid), its QR at least 35 mm wide in the PDF's geometry, its
text naming city, zone and zone name, plate, first and last day, number and office, and no
personal data in the logs."""

from __future__ import annotations

import io
import json
import re
import shlex
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI

from issuer.db.models import Tenant
from issuer.services.clock import FixedClock
from keys.windscreen import MIN_QR_WIDTH_MM
from tests.support.pdf import MM_PER_PT, keep_picture, pdf_image_placements, pdf_text, rasterize
from tests.support.processes import run_script
from tests.support.world import CHEAP_KDF, World, live_world, make_world
from verifier import DataDir, Outcome, verify
from verifier.formats import key_to_jwk
from verifier.handheld import read_qr_texts_from_image

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "issuer.md"
SECTION = "## Printing a permit: the windscreen PDF"
PATH = "/api/v1/permits/{}/windscreen.pdf"
BERLIN = ZoneInfo("Europe/Berlin")


def doc_commands() -> list[str]:
    """The `$ ` lines of the section's console block."""
    text = DOC.read_text(encoding="utf-8").split(SECTION, 1)[1]
    block = re.search(r"```console\n(.*?)```", text, flags=re.S)
    assert block is not None
    return [line[2:] for line in block.group(1).splitlines() if line.startswith("$ ")]


def _handheld_verdict(world: World, tmp_path: Path, text: str) -> Any:
    """The verdict of a handheld that pinned the operator's root and synced the bundle."""
    now = world.clock.now()
    root = world.app.state.keys.ensure_ring(
        world.app.state.settings.root_key_ring, "operator", root=True, now=now, kdf=CHEAP_KDF
    )
    data_dir = DataDir(tmp_path / "handheld")
    data_dir.add_anchors(
        json.dumps(key_to_jwk(root.records(int(now.timestamp()))[0].public_key)).encode()
    )
    data_dir.sync_bytes(world.client.get("/trust-bundle").content)
    return verify(text, data_dir.load(), int(now.timestamp()))


def _day(iso: str, *, end: bool = False) -> str:
    instant = datetime.fromisoformat(iso) - (timedelta(seconds=1) if end else timedelta(0))
    return instant.astimezone(BERLIN).strftime("%d.%m.%Y")


def test_a_clerk_prints_the_permit_and_the_handheld_reads_it_off_paper(
    app: FastAPI,
    clock: FixedClock,
    api_client: Any,
    tmp_path: Path,
    log_stream: io.StringIO,
) -> None:
    with live_world(app, clock, api_client) as world:
        with app.state.session_factory() as session, session.begin():
            tenant = session.get(Tenant, world.tenant_id)
            assert tenant is not None
            tenant.name = "Stadt Gelsenkirchen"  # as the tenant names itself, printed as is
        out = world.issue()
        # the command docs/issuer.md shows, as written
        script = [
            f"export BUERGERID_URL={shlex.quote(str(world.client.base_url).rstrip('/'))}",
            "export BUERGERID_API_KEY="
            + shlex.quote(world.headers["Authorization"].removeprefix("Bearer ")),
            f"export PERMIT_ID={out['id']}",
            f"cd {shlex.quote(str(tmp_path))}",
            *doc_commands(),
        ]
        run_script(script, home=tmp_path)
        pdf = (tmp_path / "parkausweis.pdf").read_bytes()
        answer = world.get(PATH.format(out["id"]))
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/pdf"
        assert answer.headers["cache-control"] == "no-store"
        assert answer.content == pdf  # the same token, the same page

        # printed and scanned back: the verifier's QR reader, then the verifier: valid
        image = rasterize(pdf, tmp_path)
        keep_picture(image, "windscreen-permit")
        [text] = read_qr_texts_from_image(image)
        assert text == out["qr"]
        verdict = _handheld_verdict(world, tmp_path, text)
        assert verdict.outcome == Outcome.VALID, verdict
        assert verdict.permit.number == out["number"]

        # the QR's printed size, from the PDF's geometry: one square image, >= 35 mm
        [(width, height, _x, _y)] = pdf_image_placements(pdf)
        assert width == pytest.approx(height)
        assert width * MM_PER_PT >= MIN_QR_WIDTH_MM

        printed = pdf_text(pdf, tmp_path)
        for line in (
            "Stadt Gelsenkirchen",
            "Bewohnerparkausweis",
            "Zone A3",
            "Altstadt",
            out["plates"][0],
            "gültig ab " + _day(out["valid_from"]),
            "gültig bis " + _day(out["valid_until"], end=True),
            f"Ausweis-Nr. {out['number']}",
            "Ausgestellt von Stadt Gelsenkirchen",
        ):
            assert line in printed, (line, printed)
        for private in ("Erika", "Mustermann", "Hauptstraße", "45879"):
            assert private not in printed
        assert "Auslegen nicht erforderlich" not in printed

    logs = log_stream.getvalue()
    routes = [json.loads(line).get("route") for line in logs.splitlines()]
    assert "/api/v1/permits/{permit_id}/windscreen.pdf" in routes
    for private in (out["plates"][0], "Mustermann", "Erika", out["qr"][:20]):
        assert private not in logs


def test_only_the_tenants_active_permits_print_for_a_permit_issuer(
    app: FastAPI, clock: FixedClock, api_client: Any, tmp_path: Path
) -> None:
    with live_world(app, clock, api_client) as world:
        digital = world.issue(display_required=False)
        r = world.get(PATH.format(digital["id"]), params={"page": "A5"})
        assert r.status_code == 200, r.text
        printed = pdf_text(r.content, tmp_path)
        assert "Auslegen nicht erforderlich" in printed and digital["plates"][0] in printed

        # another tenant's permit is not found, and nothing of it shows
        other = make_world(app, world.client, clock, api_client, ags="05562032")  # type: ignore[arg-type]
        theirs = other.issue()
        r = world.get(PATH.format(theirs["id"]))
        assert (r.status_code, r.json()["code"]) == (404, "permit_not_found")
        assert theirs["plates"][0] not in r.text and "%PDF" not in r.text

        # a reading scope without permits:issue is refused; so is an unknown page size
        auditor = api_client(scopes=("audit:read",), ags=world.ags)
        r = world.get(PATH.format(digital["id"]), headers=auditor.headers)
        assert r.status_code == 403
        r = world.get(PATH.format(digital["id"]), params={"page": "A4"})
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/")
        assert "Traceback" not in r.text

        # a revoked permit has no valid QR to print
        revoked = world.post(f"/api/v1/permits/{digital['id']}/revoke", {"reason": "returned"})
        assert revoked.status_code == 200, revoked.text
        r = world.get(PATH.format(digital["id"]))
        assert (r.status_code, r.json()["code"]) == (409, "illegal_transition")

    operation = app.openapi()["paths"]["/api/v1/permits/{permit_id}/windscreen.pdf"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"application/pdf"}
    assert {"404", "409"} <= set(operation["responses"])
    assert [p["name"] for p in operation["parameters"] if p["in"] == "query"] == ["page"]
