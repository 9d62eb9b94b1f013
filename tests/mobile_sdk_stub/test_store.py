"""The credential store: round trip, validation, atomic replacement, permissions."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mobile_sdk_stub import store as store_module
from mobile_sdk_stub.store import STORE_FILE, CredentialStore, StoreError
from tests.mobile_sdk_stub.conftest import BID1_TEXT

SD_JWT = "eyJhbGciOiJFUzI1NiJ9.e30.c2ln~WyJzYWx0IiwgImEiLCAxXQ~"
NOW = 1_780_000_000


def test_round_trip(wallet_dir: Path) -> None:
    store = CredentialStore(wallet_dir)
    assert store.list_credentials() == []
    permit = store.add(
        kind="parking-permit",
        now=NOW,
        sd_jwt=SD_JWT,
        qr_text=BID1_TEXT,
        vct="https://gemeinde.example/vct/parking-permit",
        issuer="https://gemeinde.example",
        expires_at=NOW + 86400,
        refresh_token="refresh-placeholder",
    )
    residence = store.add(kind="residence", now=NOW + 1, sd_jwt=SD_JWT)
    reopened = CredentialStore(wallet_dir)
    assert reopened.list_credentials() == [permit, residence]
    assert reopened.get(permit.id) == permit
    assert reopened.get(permit.id).qr_text == BID1_TEXT
    assert reopened.list_credentials("residence") == [residence]
    assert permit.id != residence.id
    assert stat.S_IMODE((wallet_dir / STORE_FILE).stat().st_mode) == 0o600


def test_tokens_stay_out_of_repr(wallet_dir: Path) -> None:
    permit = CredentialStore(wallet_dir).add(
        kind="parking-permit", now=NOW, qr_text=BID1_TEXT, refresh_token="secret-rt"
    )
    text = repr(permit)
    assert "BID1:" not in text and "secret-rt" not in text and permit.id in text


def test_replace_and_remove(wallet_dir: Path) -> None:
    store = CredentialStore(wallet_dir)
    permit = store.add(kind="parking-permit", now=NOW, qr_text=BID1_TEXT, expires_at=NOW + 10)
    assert permit.is_expired(NOW + 10) and not permit.is_expired(NOW + 9)
    refreshed = store.replace(permit.id, qr_text=BID1_TEXT + "A", expires_at=NOW + 100)
    assert store.get(permit.id) == refreshed and refreshed.expires_at == NOW + 100
    store.remove(permit.id)
    assert store.list_credentials() == []
    with pytest.raises(KeyError):
        store.remove(permit.id)
    with pytest.raises(KeyError):
        store.get(permit.id)
    with pytest.raises(KeyError):
        store.replace(permit.id, expires_at=1)


@pytest.mark.parametrize(
    "entry",
    [
        {"kind": "driving-licence", "sd_jwt": SD_JWT},
        {"kind": "residence"},
        {"kind": "residence", "sd_jwt": "no tilde"},
        {"kind": "parking-permit", "qr_text": "HC1:ABC"},
        {"kind": "parking-permit", "qr_text": "BID1:abc"},
        {"kind": "parking-permit", "qr_text": BID1_TEXT, "expires_at": "tomorrow"},
    ],
)
def test_refuses_bad_entries(wallet_dir: Path, entry: dict[str, str]) -> None:
    store = CredentialStore(wallet_dir)
    with pytest.raises(StoreError) as caught:
        store.add(now=NOW, **entry)  # type: ignore[arg-type]
    assert caught.value.code == "bad_entry"
    assert not (wallet_dir / STORE_FILE).exists()


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b"[]",
        b'{"version": 2, "credentials": []}',
        b'{"version": 1, "credentials": [{"id": "x"}]}',
        b'{"version": 1, "credentials": [{"unknown": 1}]}',
    ],
)
def test_corrupt_store_is_reported(wallet_dir: Path, content: bytes) -> None:
    wallet_dir.mkdir()
    (wallet_dir / STORE_FILE).write_bytes(content)
    with pytest.raises(StoreError) as caught:
        CredentialStore(wallet_dir).list_credentials()
    assert caught.value.code in ("corrupt_store", "bad_entry")


def test_a_failed_write_keeps_the_old_store(
    wallet_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CredentialStore(wallet_dir)
    kept = store.add(kind="parking-permit", now=NOW, qr_text=BID1_TEXT)
    before = (wallet_dir / STORE_FILE).read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(store_module.os, "replace", crash)
    with pytest.raises(OSError):
        store.add(kind="residence", now=NOW, sd_jwt=SD_JWT)
    monkeypatch.undo()
    assert (wallet_dir / STORE_FILE).read_bytes() == before
    assert sorted(p.name for p in wallet_dir.iterdir()) == [STORE_FILE]
    assert CredentialStore(wallet_dir).list_credentials() == [kept]


def test_the_file_is_replaced_not_rewritten(wallet_dir: Path) -> None:
    store = CredentialStore(wallet_dir)
    store.add(kind="parking-permit", now=NOW, qr_text=BID1_TEXT)
    inode = os.stat(wallet_dir / STORE_FILE).st_ino
    store.add(kind="residence", now=NOW, sd_jwt=SD_JWT)
    assert os.stat(wallet_dir / STORE_FILE).st_ino != inode
    document = json.loads((wallet_dir / STORE_FILE).read_text(encoding="utf-8"))
    assert document["version"] == 1 and len(document["credentials"]) == 2
