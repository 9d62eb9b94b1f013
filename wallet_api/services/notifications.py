"""The notification endpoint (OpenID4VCI 1.0 §11): the wallet says what became of credentials."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet_api.errors import NotificationError
from wallet_api.models import WalletCredential, WalletGrant

EVENTS = ("credential_accepted", "credential_failure", "credential_deleted")


def record_notification(session: Session, *, grant: WalletGrant, body: Any) -> None:
    """Record the event on every credential of the notification id (of this grant only)."""
    if not isinstance(body, dict):
        raise NotificationError("invalid_notification_request", "the body must be an object")
    notification_id, event = body.get("notification_id"), body.get("event")
    if event not in EVENTS:
        raise NotificationError("invalid_notification_request", "unknown event")
    if not isinstance(notification_id, str) or len(notification_id) > 64:
        raise NotificationError("invalid_notification_id", "unknown notification_id")
    description = body.get("event_description")
    if description is not None and (not isinstance(description, str) or len(description) > 500):
        raise NotificationError("invalid_notification_request", "bad event_description")
    credentials = session.scalars(
        select(WalletCredential).where(
            WalletCredential.notification_id == notification_id,
            WalletCredential.grant_id == grant.id,
        )
    ).all()
    if not credentials:
        raise NotificationError("invalid_notification_id", "unknown notification_id")
    for credential in credentials:
        credential.wallet_event = str(event)
    session.flush()
