"""Idempotency records keep no live secrets: the answer sealed, the key only as an HMAC."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select, text, update

from issuer.db.models import IdempotencyRecord
from issuer.services.clock import FixedClock
from issuer.settings import Settings, resolve_server_secret
from tests.wallet_api.harness import WalletEnv, wallet_env
from wallet_api.models import WalletOffer

IDEMPOTENCY_KEY = "offer-7f3a9c1e-retry-safe"


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def _post_offer(env: WalletEnv, key: str = IDEMPOTENCY_KEY) -> Any:
    payload = {"kind": "permit", "permit_id": str(env.permit_id)}
    headers = {**env.headers, "Idempotency-Key": key}
    return env.http.post("/api/v1/offers", json=payload, headers=headers)


def _dump(env: WalletEnv) -> bytes:
    """Every column of every idempotency row, as a database dump would show it."""
    out = b""
    with env.app.state.session_factory() as s:
        for row in s.execute(text("SELECT * FROM idempotency_records")):
            for value in row:
                out += (
                    bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
                )
                out += b"\n"
    return out


def _offer_count(env: WalletEnv) -> int:
    with env.app.state.session_factory() as s:
        return int(s.scalar(select(func.count()).select_from(WalletOffer)) or 0)


def test_dump_holds_neither_codes_nor_the_key_and_retry_is_byte_identical(env: WalletEnv) -> None:
    first = _post_offer(env)
    assert first.status_code == 201
    offer = first.json()
    code = offer["credential_offer"]["grants"][
        "urn:ietf:params:oauth:grant-type:pre-authorized_code"
    ]["pre-authorized_code"]
    tx_code = offer["tx_code"]

    dump = _dump(env)
    assert dump  # the row is there
    for secret in (code, tx_code, IDEMPOTENCY_KEY, offer["offer_id"]):
        assert secret.encode() not in dump
    assert first.content not in dump

    second = _post_offer(env)
    assert second.status_code == 201
    assert second.content == first.content
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["content-type"] == first.headers["content-type"]
    assert _offer_count(env) == 1


def _tamper(env: WalletEnv, **values: Any) -> None:
    with env.app.state.session_factory() as s, s.begin():
        record = s.scalars(select(IdempotencyRecord)).one()
        if "flip" in values:
            body = bytearray(record.response_body or b"")
            body[values.pop("flip")] ^= 0x01
            values["response_body"] = bytes(body)
        s.execute(update(IdempotencyRecord).values(**values))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"flip": -1}, id="tag"),
        pytest.param({"flip": 20}, id="ciphertext"),
        pytest.param({"flip": 3}, id="nonce"),
        pytest.param({"flip": 0}, id="version"),
        pytest.param({"response_body": b""}, id="emptied"),
        pytest.param({"status_code": 200}, id="status"),
        pytest.param({"content_type": "text/html"}, id="content-type"),
    ],
)
def test_tampered_record_fails_closed(env: WalletEnv, change: dict[str, Any]) -> None:
    assert _post_offer(env).status_code == 201
    _tamper(env, **dict(change))
    retry = _post_offer(env)
    assert retry.status_code == 409
    assert retry.headers["content-type"] == "application/problem+json"
    assert retry.json()["code"] == "idempotency_record_unreadable"
    assert _offer_count(env) == 1  # never a second offer


def test_production_needs_a_server_secret() -> None:
    with pytest.raises(ValidationError):
        Settings(environment="production", key_passphrase="x" * 20)
    with pytest.raises(ValidationError):
        Settings(server_secret="too-short")


def test_dev_server_secret_is_generated_once_with_0600(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    first = resolve_server_secret(s)
    assert resolve_server_secret(s) == first and len(first) >= 32
    path = tmp_path / "d" / "dev-server-secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    configured = Settings(data_dir=tmp_path / "e", server_secret="c" * 40)
    assert resolve_server_secret(configured) == b"c" * 40
    assert not (tmp_path / "e" / "dev-server-secret").exists()
