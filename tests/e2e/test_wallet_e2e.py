"""The wallet story end to end over real HTTP (uvicorn, the combined app), SQLite and
PostgreSQL: offer → redeem with tx_code → QR PNG and windscreen PDF → pdftoppm → zxing-cpp
→ ``buergerid-verify check`` valid; revoke → sync → revoked; a lost phone removed → its
credentials INVALID in the status list JWT and its QR verdict revoked."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from keys.ring import KeyRing, RingKind
from mobile_sdk_stub.client import WalletClient, unverified_claims
from tests.support.db import TEST_PASSPHRASE
from tests.wallet_api.harness import CHEAP_KDF, WalletEnv, wallet_env
from verifier import cli as verify_cli
from verifier.formats import key_to_jwk
from verifier.handheld import read_qr_texts


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    now = int(clock.now().timestamp())
    root = KeyRing.create(
        settings.keys_dir / "root",
        "root",
        kind=RingKind.ROOT,
        passphrase=TEST_PASSPHRASE,
        kdf=CHEAP_KDF,
    )
    root.add_key(nbf=now - 3600, sign_until=now + 2 * 365 * 86400, exp=now + 3 * 365 * 86400)
    with wallet_env(settings, clock) as environment:
        yield environment


class Officer:
    """The handheld: `buergerid-verify` with its own data dir, pinned to the root key."""

    def __init__(self, env: WalletEnv, data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.env, self.data_dir, self.capsys = env, data_dir, capsys
        ring = KeyRing.open(env.settings.keys_dir / "root", passphrase=TEST_PASSPHRASE)
        anchor = data_dir.parent / "root.jwk"
        anchor.write_text(json.dumps(key_to_jwk(ring.records(int(env.now()))[0].public_key)))
        assert self.run("trust", "add-anchor", str(anchor))[0] == 0

    def run(self, *args: str) -> tuple[int, str]:
        self.capsys.readouterr()
        code = verify_cli.main(["--data-dir", str(self.data_dir), *args])
        return code, self.capsys.readouterr().out

    def sync(self) -> None:
        code, out = self.run("sync", f"{self.env.base_url}/trust-bundle")
        assert code == 0, out

    def check(self, text: str) -> dict[str, Any]:
        code, out = self.run("check", "--at", str(int(self.env.now())), "--json", text)
        verdict: dict[str, Any] = json.loads(out)
        assert code == {"valid": 0, "invalid": 1, "indeterminate": 3}[verdict["outcome"]]
        return verdict


def _pdf_to_png(pdf: bytes, tmp_path: Path) -> Path:
    pdftoppm = shutil.which("pdftoppm")
    assert pdftoppm, "pdftoppm (poppler-utils) is required"
    source = tmp_path / "permit.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        [pdftoppm, "-png", "-r", "200", "-singlefile", str(source), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    return tmp_path / "page.png"


def _status_bit(env: WalletEnv, uri: str, idx: int) -> int:
    response = env.http.get(uri, headers={"Accept": "application/statuslist+jwt"})
    assert response.status_code == 200
    payload = response.text.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    lst = claims["status_list"]["lst"]
    bits = zlib.decompress(base64.urlsafe_b64decode(lst + "=" * (-len(lst) % 4)))
    return (bits[idx // 4] >> ((idx % 4) * 2)) & 0b11


def test_offer_print_scan_verify_then_revoke(
    env: WalletEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    offer = env.offer()
    with WalletClient(env.base_url, tmp_path / "phone", clock=env.now) as wallet:
        (permit,) = wallet.redeem(offer["credential_offer_url"], offer["tx_code"])
        assert permit.qr_text is not None
        png = tmp_path / "qr.png"
        png.write_bytes(wallet.qr_png(permit.id))
        (tmp_path / "qr.svg").write_bytes(wallet.qr_svg(permit.id))
        assert read_qr_texts(png) == [permit.qr_text]
        page = _pdf_to_png(wallet.pdf(permit.id), tmp_path)
        (scanned,) = read_qr_texts(page)
        assert scanned == permit.qr_text

    officer = Officer(env, tmp_path / "handheld", capsys)
    officer.sync()
    verdict = officer.check(scanned)
    assert verdict["outcome"] == "valid" and verdict["reason"] is None
    assert verdict["permit"]["plates"] == ["GE-AB 1234"]

    revoked = env.http.post(
        f"/permits/{env.permit_id}/revoke", json={"reason": "moved_away"}, headers=env.headers
    )
    if revoked.status_code == 404:  # the permits router may carry the /api/v1 prefix
        revoked = env.http.post(
            f"/api/v1/permits/{env.permit_id}/revoke",
            json={"reason": "moved_away"},
            headers=env.headers,
        )
    assert revoked.status_code == 200, revoked.text
    env.clock.advance(seconds=120)
    officer.sync()
    verdict = officer.check(scanned)
    assert verdict["outcome"] == "invalid" and verdict["reason"] == "revoked"


def test_lost_phone_removed_revokes_every_credential_of_it(
    env: WalletEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with WalletClient(env.base_url, tmp_path / "lost", clock=env.now) as lost:
        offer = env.offer()
        (permit,) = lost.redeem(offer["credential_offer_url"], offer["tx_code"])
        offer = env.offer(kind="residence", resident_id=str(env.resident_id))
        (residence,) = lost.redeem(offer["credential_offer_url"], offer["tx_code"])
    assert permit.qr_text is not None
    officer = Officer(env, tmp_path / "handheld", capsys)
    officer.sync()
    assert officer.check(permit.qr_text)["outcome"] == "valid"

    # the citizen's new phone gets the permit again, then removes the lost one
    with WalletClient(env.base_url, tmp_path / "new", clock=env.now) as new:
        offer = env.offer()
        (again,) = new.redeem(offer["credential_offer_url"], offer["tx_code"])
        devices = new.devices(again.id)
        lost_device = next(d for d in devices if d["thumbprint"] != new.device.kid)
        assert new.remove_device(again.id, lost_device["id"]) == 3

    for stored in (permit, residence):
        ref = unverified_claims(stored.sd_jwt or "")["status"]["status_list"]
        assert _status_bit(env, ref["uri"], ref["idx"]) == 1
    ref = unverified_claims(again.sd_jwt or "")["status"]["status_list"]
    assert _status_bit(env, ref["uri"], ref["idx"]) == 0
    env.clock.advance(seconds=120)
    officer.sync()
    verdict = officer.check(permit.qr_text)
    assert verdict["outcome"] == "invalid" and verdict["reason"] == "revoked"
    assert again.qr_text is not None
    assert officer.check(again.qr_text)["outcome"] == "valid"
