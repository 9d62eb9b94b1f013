"""Minting has bounds, over real HTTP on SQLite and PostgreSQL: credentials per grant and per
resident in a period, devices per resident; a full status list rolls over to a new one.
The counts are taken under the tenant's lock, so concurrent requests share them."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from issuer.db.permit_models import StatusEntry, StatusList
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.support.db import make_test_settings
from tests.wallet_api.harness import AGS, QR_CONFIG, RESIDENCE_CONFIG, WalletEnv, wallet_env
from tests.wallet_api.support import ProofKey
from wallet_api.models import WalletCredential, WalletDevice


@pytest.fixture
def limited(db_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[WalletEnv]:
    """Small bounds and status lists of 16 entries (a list takes 8 before the next opens)."""
    settings = make_test_settings(
        db_url,
        tmp_path / "data",
        wallet_max_credentials_per_grant=4,
        wallet_max_credentials_per_resident=7,
        wallet_max_devices_per_resident=5,
        wallet_credential_period_days=30,
        status_list_size=16,
    )
    with wallet_env(settings, clock) as environment:
        yield environment


def _proofs(env: WalletEnv, count: int, keys: list[ProofKey] | None = None) -> list[str]:
    nonce = env.nonce()
    keys = keys or [ProofKey() for _ in range(count)]
    return [k.proof(aud=env.base_url, nonce=nonce, iat=int(env.now())) for k in keys]


def _denied(response: httpx.Response) -> bool:
    return response.status_code == 400 and response.json()["error"] == "credential_request_denied"


def _count(env: WalletEnv, model: Any) -> int:
    with env.app.state.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_credentials_per_grant_are_bounded_per_period(limited: WalletEnv) -> None:
    env = limited
    tokens = env.tokens(env.offer())
    access = tokens["access_token"]
    key = ProofKey()
    assert env.credential(access, _proofs(env, 1, [key])).status_code == 200
    assert env.credential(access, None, QR_CONFIG).status_code == 200
    # two more are allowed (4 a period); a batch of three is refused whole
    assert _denied(env.credential(access, _proofs(env, 3)))
    assert _count(env, WalletCredential) == 2
    assert env.credential(access, _proofs(env, 1, [key])).status_code == 200
    assert env.credential(access, None, QR_CONFIG).status_code == 200
    assert _denied(env.credential(access, _proofs(env, 1, [key])))
    assert _denied(env.credential(access, None, QR_CONFIG))
    env.clock.advance(days=31)  # a new period for the same grant; the permit is still active
    refreshed = env.refresh(tokens["refresh_token"]).json()["access_token"]
    assert env.credential(refreshed, _proofs(env, 1, [key])).status_code == 200


def test_credentials_per_resident_are_bounded_across_grants(limited: WalletEnv) -> None:
    env = limited
    key = ProofKey()
    for _ in range(3):
        access = env.tokens(env.offer())["access_token"]
        assert env.credential(access, _proofs(env, 1, [key])).status_code == 200
        assert env.credential(access, None, QR_CONFIG).status_code == 200
    access = env.tokens(env.offer(kind="residence", resident_id=str(env.resident_id)))
    # six so far, seven allowed: one more, then none for this resident
    answer = env.credential(access["access_token"], _proofs(env, 1, [key]), RESIDENCE_CONFIG)
    assert answer.status_code == 200, answer.text
    assert _denied(env.credential(access["access_token"], _proofs(env, 1, [key]), RESIDENCE_CONFIG))
    # another resident is not affected
    other = env.tokens(env.offer(kind="residence", resident_id=str(env.other_resident_id)))
    answer = env.credential(other["access_token"], _proofs(env, 1), RESIDENCE_CONFIG)
    assert answer.status_code == 200, answer.text


def test_devices_per_resident_are_bounded(limited: WalletEnv) -> None:
    env = limited
    access = env.tokens(env.offer(kind="residence", resident_id=str(env.resident_id)))
    token = access["access_token"]
    assert env.credential(token, _proofs(env, 4), RESIDENCE_CONFIG).status_code == 200
    assert _denied(env.credential(token, _proofs(env, 2), RESIDENCE_CONFIG))
    assert _count(env, WalletDevice) == 4
    key = ProofKey()
    register = env.http.post(
        "/wallet/devices",
        json={"proof": _proofs(env, 1, [key])[0]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert register.status_code == 201, register.text
    again = env.http.post(
        "/wallet/devices",
        json={"proof": _proofs(env, 1)[0]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert _denied(again)
    assert _count(env, WalletDevice) == 5


def test_concurrent_batches_never_pass_the_grant_bound(limited: WalletEnv) -> None:
    env = limited
    access = env.tokens(env.offer(kind="residence", resident_id=str(env.resident_id)))
    batches = [_proofs(env, 2) for _ in range(4)]
    start = threading.Barrier(len(batches))
    codes: list[int] = []

    def post(proofs: list[str]) -> None:
        with httpx.Client(base_url=env.base_url, timeout=30) as http:
            start.wait()
            response = http.post(
                "/wallet/credential",
                json={"credential_configuration_id": RESIDENCE_CONFIG, "proofs": {"jwt": proofs}},
                headers={"Authorization": f"Bearer {access['access_token']}"},
            )
            codes.append(response.status_code)

    threads = [threading.Thread(target=post, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200, 200, 400, 400]
    assert _count(env, WalletCredential) == 4


def test_a_full_status_list_rolls_over_and_indices_stay_unique(limited: WalletEnv) -> None:
    env = limited
    key = ProofKey()
    issued = 0
    while issued < 20:  # across grants (4 each); SD-JWT VCs and the issuer's QR tokens
        access = env.tokens(env.offer())["access_token"]
        assert env.credential(access, _proofs(env, 1, [key])).status_code == 200
        assert env.credential(access, None, QR_CONFIG).status_code == 200
        issued += 2
        if issued % 6 == 0:
            env.clock.advance(days=31)  # keep the resident's bound out of the way
    with env.app.state.session_factory() as session:
        lists = session.execute(select(StatusList.list_no, StatusList.size, StatusList.allocated))
        rows = sorted(tuple(r) for r in lists)
        entries = session.execute(select(StatusEntry.list_no, StatusEntry.idx)).all()
    # 20 wallet credentials, each QR also recorded by the issuer: 20 entries, 8 per list
    assert len(entries) == 20 == len(set(entries))
    assert rows == [(1, 16, 8), (2, 16, 8), (3, 16, 4)]
    for list_no, _, _ in rows:
        served = env.http.get(
            f"/status-lists/{AGS}/{list_no}",
            headers={"Accept": "application/statuslist+jwt"},
        )
        assert served.status_code == 200


def test_the_documented_variables_are_the_settings_and_their_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text.split("## Wallet quotas and status lists")[1].split("\n## ")[0]
    rows = re.findall(r"^\| `BUERGERID_([A-Z_]+)` \| (\d+)", section, flags=re.MULTILINE)
    assert len(rows) == 5
    for name, default in rows:
        assert Settings.model_fields[name.lower()].default == int(default), name
        monkeypatch.setenv(f"BUERGERID_{name}", "64")
        assert getattr(Settings(), name.lower()) == 64
    # BUERGERID_STATUS_LIST_SIZE is 64 now: production refuses a list that small
    with pytest.raises(ValueError, match="herd privacy"):
        Settings(
            environment="production",
            key_passphrase="p" * 32,
            server_secret="s" * 32,
            public_base_url="https://buergerid.example",
        )
