"""A resident's register entry changed: her Bürger-IDs that no longer state the truth end.

A residence credential (the Bürger-ID) states what the register says about her: names, birth
date, current address (street, postcode, municipality), the kind of residence and since when.
Each issued one remembers a digest of those facts (`facts_digest`). When the register changes
her entry (she moved within the city or away, a name changed, a residence was corrected),
every live Bürger-ID whose facts differ from the register's current facts is revoked at once
in its status list, in the register change's own transaction, and audited. A change that
leaves the stated facts as they were (e.g. a secondary residence added while the main one
stays) revokes nothing.

Her wallet then gets a Bürger-ID with the new facts through its refresh token or a login
with her PID; if she has no current residence here any more, she gets none
(`credential_request_denied`). Credentials issued before digests were kept have none and are
revoked on any change of her entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from dataclasses import asdict
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet_api.errors import CredentialError
from wallet_api.models import WalletCredential
from wallet_api.services import bridge
from wallet_api.services.credential_types import RESIDENCE
from wallet_api.services.sd_jwt_vc import ResidenceFacts

log = logging.getLogger(__name__)

ACTOR = "registry"


def facts_digest(facts: ResidenceFacts) -> str:
    """SHA-256 (hex) of the facts a Bürger-ID states, in a canonical JSON form."""
    canonical = json.dumps(asdict(facts), sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _is_residence(configuration_id: str) -> bool:
    return configuration_id.rsplit(".", 1)[-1] == RESIDENCE


def on_resident_changed(
    session: Session, *, tenant_id: int, resident_id: uuid.UUID, now: datetime
) -> None:
    """Revoke her live Bürger-IDs whose facts the register no longer holds."""
    live_stmt = select(WalletCredential).where(
        WalletCredential.tenant_id == tenant_id,
        WalletCredential.resident_id == resident_id,
        WalletCredential.revoked_at.is_(None),
        WalletCredential.expires_at > now,
    )
    if session.scalar(live_stmt.with_only_columns(WalletCredential.id).limit(1)) is None:
        return  # the common case: no credential, no lock taken
    # issuance takes the same lock: none is issued with the old facts while this runs
    bridge.lock_tenant(session, tenant_id)
    live = [c for c in session.scalars(live_stmt) if _is_residence(c.configuration_id)]
    if not live:
        return
    tenant = bridge.tenant(session, tenant_id)
    try:
        current: str | None = facts_digest(
            bridge.residence_facts(
                session, tenant=tenant, resident_id=resident_id, today=now.astimezone(UTC).date()
            )
        )
    except CredentialError:
        current = None  # no current residence here: no Bürger-ID states the truth
    stale = [c for c in live if current is None or c.facts_digest != current]
    if not stale:
        return
    bridge.revoke_indices(
        session, tenant_id=tenant_id, entries=[(c.status_list, c.status_idx) for c in stale]
    )
    for credential in stale:
        credential.revoked_at = now
    bridge.audit(
        session,
        tenant_id=tenant_id,
        actor=ACTOR,
        action="wallet_credentials_revoked",
        object_type="resident",
        object_id=str(resident_id),
        reason=f"register changed: revoked {len(stale)} Bürger-ID",
        now=now,
    )
    log.info("residence_credentials_revoked", extra={"tenant_id": tenant_id, "n": len(stale)})
    session.flush()
