"""The permit lifecycle: apply, pay, suspend, resume, revoke, renew, replace, finalise,
expire, extend — one job per module:

    vocabulary   the words: states and the actions each allows, events, reasons, flags,
                 legal bases, token kinds (permit types are `verifier.PermitType`)
    rules        a tenant's rules per type, and the periods, windows and plates they judge
    facts        the facts an application is judged on, one loader per kind of fact
    changes      the one change protocol: row → token statuses → audit → publication
    issuance     apply, renew, replace, finalise: judge, charge, write, sign a new QR token
    lifecycle    payment, suspension, resumption, revocation, extension of validity
    tokens       QR tokens and tokens issued elsewhere, each with its own status index
    jobs         expiry and automatic renewal, in batches
    queries      finding permits

The names below are the services' public face; routes, the registry, retention and the
wallet use these. States and changes are drawn in `vocabulary` and docs/permits.md. Services
take a Session and `now` (those that sign also the app's `KeyStore`) and raise IssuerError.
"""

from __future__ import annotations

from issuer.services.permits.changes import (
    Change,
    expire,
    flagged,
    revoked,
    write_change,
    write_changes,
)
from issuer.services.permits.issuance import (
    Issued,
    PermitRequest,
    apply,
    finalise,
    renew,
    renew_many,
    replace,
    request_of,
)
from issuer.services.permits.jobs import auto_renew, expire_due
from issuer.services.permits.lifecycle import (
    extend_validity,
    record_payment,
    resume,
    revoke,
    revoke_locked,
    suspend,
)
from issuer.services.permits.queries import get_permit, list_permits, lock_for_change
from issuer.services.permits.rules import parse_permit_type, rules_for, set_rules, tenant_rules
from issuer.services.permits.tokens import (
    current_qr,
    issue_qr_token,
    issue_qr_tokens,
    record_token,
    render_png,
    render_svg,
    tokens_of,
)
from issuer.services.permits.vocabulary import (
    END_STATES,
    INDEXED_STATES,
    LIVE_STATES,
    Event,
    Flag,
    LegalBasis,
    PermitState,
    RevocationReason,
    SuspensionReason,
    TokenKind,
)

__all__ = [
    "END_STATES",
    "INDEXED_STATES",
    "LIVE_STATES",
    "Change",
    "Event",
    "Flag",
    "Issued",
    "LegalBasis",
    "PermitRequest",
    "PermitState",
    "RevocationReason",
    "SuspensionReason",
    "TokenKind",
    "apply",
    "auto_renew",
    "current_qr",
    "expire",
    "expire_due",
    "extend_validity",
    "finalise",
    "flagged",
    "get_permit",
    "issue_qr_token",
    "issue_qr_tokens",
    "list_permits",
    "lock_for_change",
    "parse_permit_type",
    "record_payment",
    "record_token",
    "render_png",
    "render_svg",
    "renew",
    "renew_many",
    "replace",
    "request_of",
    "resume",
    "revoke",
    "revoke_locked",
    "revoked",
    "rules_for",
    "set_rules",
    "suspend",
    "tenant_rules",
    "tokens_of",
    "write_change",
    "write_changes",
]
