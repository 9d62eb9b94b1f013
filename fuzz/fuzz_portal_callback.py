"""atheris: what a payment provider sends the portal's callback endpoint
(wallet_api.portal.payments.parse_callback) and the signature check in front of it. Every
refusal must be a WalletApiError."""

from __future__ import annotations

import json

import atheris
from _common import run

with atheris.instrument_imports(include=["wallet_api"]):
    from wallet_api.errors import WalletApiError
    from wallet_api.portal.payments import parse_callback, sign

SECRET = b"fuzz-provider-secret"


def seeds() -> list[bytes]:
    body = {
        "payment_id": "6d609a04-e36c-43ef-bfa3-0f3cc978039d",
        "permit_id": "0e0f7a43-52c2-4d0c-9e0b-8d7f0a4a9f11",
        "amount_cents": 3000,
        "currency": "EUR",
        "status": "paid",
        "provider_ref": "ref-1",
    }
    return [json.dumps(body).encode(), b"{}", b"[]", b'{"amount_cents": 1e999}']


def target(data: bytes) -> None:
    assert sign(SECRET, data).startswith("sha256=")
    try:
        parsed = parse_callback(data)
    except WalletApiError:
        return
    assert isinstance(parsed["amount_cents"], int)


if __name__ == "__main__":
    run(target, seeds)
