"""One-time values seen by the wallet API: `jti` of DPoP proofs (RFC 9449 §11.1) and of
client attestation PoPs, kept in the shared database until the proof could no longer pass
its freshness window, so every worker and instance refuses a replay.

`remember_once` writes in its own short transaction, committed at once: a request that
fails later must not make its proof usable again, and on SQLite the request's own session
(BEGIN IMMEDIATE) must not be open yet, so callers run it before touching that session.
Expired entries are swept on the way (bounded per call).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from wallet_api.protocol_models import WalletReplay

SWEEP_BATCH = 500


def replay_digest(kind: str, *parts: str) -> str:
    """SHA-256 over a kind and the parts that make a value unique (e.g. key thumbprint, jti)."""
    hasher = hashlib.sha256(kind.encode("ascii"))
    for part in parts:
        data = part.encode("utf-8")
        hasher.update(len(data).to_bytes(4, "big") + data)
    return hasher.hexdigest()


def remember_once(
    sessions: sessionmaker[Session], digest: str, *, expires_at: datetime, now: datetime
) -> bool:
    """Record `digest` until `expires_at`; False when it is already recorded (a replay)."""
    with sessions() as session:
        try:
            with session.begin():
                stale = select(WalletReplay.digest).where(WalletReplay.expires_at <= now)
                old = list(session.scalars(stale.limit(SWEEP_BATCH)))
                if old:
                    session.execute(delete(WalletReplay).where(WalletReplay.digest.in_(old)))
                session.add(WalletReplay(digest=digest, expires_at=expires_at))
        except IntegrityError:
            return False
    return True
