"""Payments: a provider interface with signed callbacks, and the development provider.

A provider takes the citizen's browser to its own page (``begin``) and later tells us the
outcome by a **callback**: a JSON body signed with HMAC-SHA256 under a secret shared with
the provider, sent as ``X-Payment-Signature: sha256=<hex>``. ``receive_callback`` checks
the signature over the exact bytes, then that the payment exists, is still open, names the
same permit and the same amount; only then is the permit's fee recorded as paid (the
permit becomes active and gets its QR token). A replayed callback finds the payment paid
and is refused; a forged one fails the signature.

``DevelopmentProvider`` needs no network: its page ("Zahlung bestätigen") is served by this
service, and confirming it makes and signs the same callback a real provider would send,
through the same ``receive_callback``. An ePayBL adapter implements ``begin`` (create the
payment at the ePayBL server, return its page's address) and has its notification endpoint
call ``receive_callback`` with the body it received (docs/citizen-portal.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session

from issuer.errors import IssuerError
from issuer.services import permits
from issuer.services.signing import KeyStore
from issuer.settings import Settings, resolve_server_secret
from wallet_api.errors import WalletProblem
from wallet_api.portal.models import PaymentStatus, PortalPayment

log = logging.getLogger(__name__)

CURRENCY = "EUR"
SIGNATURE_HEADER = "X-Payment-Signature"
MAX_CALLBACK_BYTES = 4 * 1024
_REF = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_FIELDS = {"payment_id", "permit_id", "amount_cents", "currency", "status", "provider_ref"}


class PaymentProvider(Protocol):
    """What the portal needs of a payment provider."""

    @property
    def name(self) -> str:
        """The provider's name in its callback address (``/portal/payments/{name}/callback``)."""

    def begin(self, payment: PortalPayment, *, purpose: str, return_url: str) -> str:
        """The address the citizen's browser goes to for paying `payment`."""


@dataclass(frozen=True, slots=True)
class DevelopmentProvider:
    """A local page that confirms a payment; no money moves, no network is used."""

    name: str = "development"

    def begin(self, payment: PortalPayment, *, purpose: str, return_url: str) -> str:
        return f"/portal/pay/dev/{payment.id}"


def callback_secret(settings: Settings) -> bytes:
    """The secret shared with the provider (derived from the server secret in development)."""
    configured = settings.portal_payment_secret
    if configured is not None:
        return configured.get_secret_value().encode("utf-8")
    server = resolve_server_secret(settings)
    return hmac.new(server, b"buergerid portal payment callback", hashlib.sha256).digest()


def sign(secret: bytes, body: bytes) -> str:
    """The signature header value of a callback body."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def callback_body(payment: PortalPayment, provider_ref: str) -> bytes:
    """The body a provider sends when `payment` was paid."""
    return json.dumps(
        {
            "payment_id": payment.id,
            "permit_id": str(payment.permit_id),
            "amount_cents": payment.amount_cents,
            "currency": payment.currency,
            "status": "paid",
            "provider_ref": provider_ref,
        },
        separators=(",", ":"),
    ).encode("utf-8")


def open_amount(permit: Any) -> int | None:
    """The permit's unpaid fee (its newest open charge), or None."""
    open_charges = [c for c in permit.charges if c.paid_at is None and c.amount_cents > 0]
    return open_charges[-1].amount_cents if open_charges else None


def start(
    session: Session, *, permit: Any, resident_id: uuid.UUID, provider: str, now: datetime
) -> PortalPayment:
    """A new open payment of the permit's unpaid fee."""
    amount = open_amount(permit)
    if amount is None:
        raise WalletProblem("nothing_to_pay", "no open fee", status=409)
    payment = PortalPayment(
        id=str(uuid.uuid4()),
        tenant_id=permit.tenant_id,
        resident_id=resident_id,
        permit_id=permit.id,
        provider=provider,
        amount_cents=amount,
        currency=CURRENCY,
        status=PaymentStatus.OPEN,
        created_at=now,
    )
    session.add(payment)
    session.flush()
    return payment


def _refuse(code: str, detail: str, status: int) -> WalletProblem:
    log.warning("portal_payment_callback_refused", extra={"code": code})
    return WalletProblem(code, detail, status=status)


def parse_callback(body: bytes) -> dict[str, Any]:
    """The members of a callback body, each checked (400 `invalid_callback` otherwise)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise _refuse("invalid_callback", "the body is not JSON", 400) from exc
    if not isinstance(data, dict) or set(data) != _FIELDS:
        raise _refuse("invalid_callback", "unexpected members", 400)
    amount = data["amount_cents"]
    if (
        not isinstance(data["payment_id"], str)
        or len(data["payment_id"]) > 36
        or not isinstance(data["permit_id"], str)
        or not isinstance(amount, int)
        or isinstance(amount, bool)
        or not isinstance(data["provider_ref"], str)
        or not _REF.match(data["provider_ref"])
        or data["status"] != "paid"
        or data["currency"] != CURRENCY
    ):
        raise _refuse("invalid_callback", "a member is malformed", 400)
    return data


def receive_callback(
    session: Session,
    keys: KeyStore,
    *,
    secret: bytes,
    body: bytes,
    signature: str | None,
    now: datetime,
) -> PortalPayment:
    """Check and apply a provider's callback (see the module docstring); commits."""
    if len(body) > MAX_CALLBACK_BYTES:
        raise _refuse("invalid_callback", "body too large", 413)
    if not signature or not hmac.compare_digest(sign(secret, body), signature):
        raise _refuse("invalid_signature", "the signature does not match", 401)
    data = parse_callback(body)
    payment = session.get(PortalPayment, data["payment_id"], with_for_update=True)
    if payment is None or str(payment.permit_id) != data["permit_id"]:
        raise _refuse("unknown_payment", "no such payment for this permit", 404)
    if payment.status != PaymentStatus.OPEN:
        raise _refuse("payment_replayed", "this payment was already recorded", 409)
    if payment.amount_cents != data["amount_cents"]:
        raise _refuse("payment_mismatch", "the amount is not the amount asked", 422)
    won = session.execute(
        update(PortalPayment)
        .where(PortalPayment.id == payment.id, PortalPayment.status == PaymentStatus.OPEN)
        .values(status=PaymentStatus.PAID, provider_ref=data["provider_ref"], paid_at=now)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise _refuse("payment_replayed", "this payment was already recorded", 409)
    try:
        permits.record_payment(
            session,
            keys,
            tenant_id=payment.tenant_id,
            permit_id=payment.permit_id,
            amount_cents=payment.amount_cents,
            payment_ref=data["provider_ref"],
            actor=f"payment:{payment.provider}",
            now=now,
        )
    except IssuerError as exc:
        session.rollback()
        raise _refuse(str(exc.code), "the permit takes no payment", exc.status) from exc
    session.commit()
    log.info("portal_payment_recorded", extra={"payment": payment.id})
    return payment
