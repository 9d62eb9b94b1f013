"""A handheld enrolled for plate checks, over real HTTP, on SQLite and PostgreSQL.

The operator issues a one-time code for an enforcement client covering two municipalities;
`buergerid-verify enrol` redeems it with a key the handheld generates; `sync` (no source)
fetches the trust bundle and both plate indexes with RFC 7523 private_key_jwt; a plate check
is valid, then revoked after a revocation and re-sync; a withdrawn handheld's sync is
refused; a copied enrolment without its key is useless; assertions cannot be replayed.
"""

# ruff: noqa: F811  (the tests take the imported fixtures by their names)
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.handheld import GE, PLATES, RE, HandheldWorld, verify
from tests.support.handheld_server import port, served, settings, world  # noqa: F401
from tests.support.http import HTTP_TIMEOUT
from tests.support.verifier_internals import ASSERTION_TYPE
from verifier.handheld import DeviceIdentity


def test_enrol_sync_two_cities_revoke_withdraw(
    served: Any, world: HandheldWorld, tmp_path: Path
) -> None:
    _, base = served
    handheld = tmp_path / "handheld"
    assert verify(handheld, "trust", "add-anchor", str(world.anchor))[0] == 0
    client_id = world.enforcement_client(GE, RE)  # a Zweckverband's enforcement service
    issued = world.enrolment_code(client_id, "Handheld 7")

    status, out = verify(handheld, "enrol", base, "--code", issued["code"].lower())
    assert status == 0, out
    assert f"{GE}, {RE}" in out
    key_file = handheld / "device-key.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert (handheld / "enrolment.json").stat().st_mode & 0o777 == 0o600
    # the code works once
    again = verify(tmp_path / "second", "enrol", base, "--code", issued["code"])
    assert again[0] == 2 and "code_refused" in again[1]

    status, out = verify(handheld, "sync")
    assert status == 0, out
    assert "trust bundle seq" in out and f"plate index of {GE} stored" in out
    assert f"plate index of {RE} stored" in out
    for ags in (GE, RE):
        status, verdict = verify(handheld, "plate", "--json", "--zone", f"{ags}:A3", PLATES[ags])
        assert status == 0, verdict
        assert verdict["permit"]["issuer"] == ags
        assert verdict["permit"]["number"] == world.permits[ags]["number"]

    world.revoke(GE)
    status, out = verify(handheld, "sync")
    assert status == 0, out
    status, verdict = verify(handheld, "plate", "--json", PLATES[GE])
    assert (status, verdict["reason"]) == (1, "revoked")
    status, verdict = verify(handheld, "plate", "--json", PLATES[RE])
    assert status == 0, verdict

    world.withdraw(issued["device"]["id"])
    status, out = verify(handheld, "sync")
    assert status == 2 and "device_refused" in out
    # what was synced before still answers offline
    assert verify(handheld, "plate", "--json", PLATES[RE])[0] == 0


def test_a_copied_enrolment_without_its_key_is_useless(
    served: Any, world: HandheldWorld, tmp_path: Path
) -> None:
    _, base = served
    handheld = tmp_path / "handheld"
    verify(handheld, "trust", "add-anchor", str(world.anchor))
    issued = world.enrolment_code(world.enforcement_client(GE))
    assert verify(handheld, "enrol", base, "--code", issued["code"])[0] == 0

    thief = tmp_path / "thief"
    shutil.copytree(handheld, thief)
    (thief / "device-key.pem").unlink()
    status, out = verify(thief, "sync")
    assert status == 2 and "key_missing" in out
    # another key under the copied enrolment: refused locally, and by the server if forced
    other = ec.generate_private_key(ec.SECP256R1())
    (thief / "device-key.pem").write_bytes(
        other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    status, out = verify(thief, "sync")
    assert status == 2 and "key_missing" in out
    from verifier.formats import jws_kid

    enrolment = json.loads((thief / "enrolment.json").read_text())
    enrolment["key_thumbprint"] = jws_kid(other.public_key())
    (thief / "enrolment.json").write_text(json.dumps(enrolment))
    status, out = verify(thief, "sync")
    assert status == 2 and "device_refused" in out
    # the real handheld still works
    assert verify(handheld, "sync")[0] == 0


def test_assertions_are_single_use_short_lived_and_audience_bound(
    served: Any, world: HandheldWorld, tmp_path: Path
) -> None:
    _, base = served
    handheld = tmp_path / "handheld"
    issued = world.enrolment_code(world.enforcement_client(GE))
    assert verify(handheld, "enrol", base, "--code", issued["code"])[0] == 0
    identity = DeviceIdentity(handheld)
    enrolment = identity.read_enrolment()
    key = identity.read_key(enrolment)
    now = int(time.time())

    def post(assertion: str) -> httpx.Response:
        return httpx.post(
            enrolment.token_endpoint,
            data={
                "grant_type": "client_credentials",
                "client_id": enrolment.device_id,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            },
            timeout=HTTP_TIMEOUT,
        )

    assertion = identity.client_assertion(enrolment, key, now)
    first = post(assertion)
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    assert first.json()["municipalities"] == [GE]
    replay = post(assertion)
    assert replay.status_code == 401 and replay.json()["code"] == "invalid_client"
    stale = identity.client_assertion(enrolment, key, now - 600)
    assert post(stale).status_code == 401
    elsewhere = identity.client_assertion(
        type(enrolment)(**{**_fields(enrolment), "token_endpoint": base + "/other"}), key, now
    )
    assert post(elsewhere).status_code == 401

    # the plate index: private, never cached; only for municipalities the device covers
    token = first.json()["access_token"]
    got = httpx.get(f"{base}/api/v1/enforcement/plate-index/{GE}", headers={
        "Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)  # fmt: skip
    assert got.status_code == 200
    assert got.headers["cache-control"].startswith("private, no-store")
    other = httpx.get(f"{base}/api/v1/enforcement/plate-index/{RE}", headers={
        "Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)  # fmt: skip
    assert other.status_code == 404
    anonymous = httpx.get(f"{base}/api/v1/enforcement/plate-index/{GE}", timeout=HTTP_TIMEOUT)
    assert anonymous.status_code == 401


def _fields(enrolment: Any) -> dict[str, Any]:
    return {name: getattr(enrolment, name) for name in type(enrolment).__slots__}
