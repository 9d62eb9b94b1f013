"""Other municipal applications ask through this service: "who is this resident, does she
live here" (docs/relying-party.md, "For municipal services").

A municipal application (a dog-registration form, a waste-container order) is an API client
of the municipality. The municipality's administrator gives it an allow-list per credential:
which claims of the Bürger-ID (``residence``) and of the PID (``pid``: the EU or the German
PID from a provider on the trust list) it may ask for, and to which ``redirect_uri`` the
wallet may send the citizen's browser back. Without an allow-list a client asks for nothing.

The application then sends a DCQL query; every credential query must name this
municipality's Bürger-ID or the PID (``credential_not_allowed`` otherwise) and only claims
the allow-list of that credential names (``claims_not_allowed``); nothing is started
otherwise. The answer is the pair of wallet links (same device, other device as QR). When
the citizen has presented, the application fetches the result once (with the
``response_code`` its return page received, on the same device): the claims it asked for
and no other, ``lives_here`` and a pairwise ``subject`` (HMAC of the server secret, the
client and the resident: stable for one application whichever credential she showed,
unlinkable between two). ``lives_here`` is true for this municipality's valid Bürger-ID,
and for a PID that the register matching (``matching``) finds exactly one resident for;
that needs names, birth date and address among the claims asked, else it is false.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.orm import Session

from issuer.db.models import ApiClient, Tenant
from wallet_api.errors import WalletProblem
from wallet_api.relying_party import dcql
from wallet_api.relying_party import transactions as tx
from wallet_api.relying_party.identity import RelyingParty
from wallet_api.relying_party.matching import MatchOutcome, match_resident
from wallet_api.relying_party.models import RpClientPolicy, RpTransaction
from wallet_api.relying_party.presentations import PresentationError
from wallet_api.services.credential_types import RESIDENCE
from wallet_api.services.type_metadata import vct_for

log = logging.getLogger(__name__)

KIND = "residence"
KIND_PID = "pid"
# the claims a municipality may allow, per credential (top level, or "parent.member";
# "address" allows every member of the address)
RESIDENCE_CLAIMS = frozenset(
    {
        "given_name",
        "family_name",
        "birthdate",
        "address.street_address",
        "address.postal_code",
        "address.locality",
        "address",
    }
)
PID_CLAIMS = frozenset(
    {
        "given_name",
        "family_name",
        "birthdate",
        "birth_family_name",
        "nationalities",
        "address",
        "address.street_address",
        "address.house_number",
        "address.postal_code",
        "address.locality",
        "address.country",
        *(f"age_equal_or_over.{age}" for age in (12, 14, 16, 18, 21, 65)),
    }
)
CLAIMS_BY_KIND: dict[str, frozenset[str]] = {KIND: RESIDENCE_CLAIMS, KIND_PID: PID_CLAIMS}
PID_VCTS = frozenset({dcql.PID_EU, dcql.PID_DE})
MAX_REDIRECT_URIS = 8
MAX_REDIRECT_URI_CHARS = 500


def _problem(code: str, detail: str, status: int = 400) -> WalletProblem:
    return WalletProblem(code, detail, status=status)


def _client_of(session: Session, tenant: Tenant, client_id: str) -> ApiClient:
    try:
        key = uuid.UUID(client_id)
    except ValueError:
        key = None
    client = session.get(ApiClient, key) if key is not None else None
    if client is None or client.tenant_id != tenant.id or client.revoked_at is not None:
        raise _problem("client_not_found", "no such client of this municipality", 404)
    return client


def _redirect_uris(values: list[str]) -> list[str]:
    if len(values) > MAX_REDIRECT_URIS:
        raise _problem("invalid_policy", "at most 8 redirect URIs")
    for value in values:
        parts = urlsplit(value)
        if (
            len(value) > MAX_REDIRECT_URI_CHARS
            or parts.scheme != "https"
            or not parts.hostname
            or parts.fragment
        ):
            raise _problem("invalid_policy", "redirect URIs are https URLs without fragment")
    return list(dict.fromkeys(values))


@dataclass(frozen=True, slots=True)
class Policy:
    """A client's allow-list."""

    client_id: str
    allowed_claims: dict[str, list[str]]
    redirect_uris: list[str]


def _policy(row: RpClientPolicy) -> Policy:
    return Policy(str(row.api_client_id), dict(row.allowed_claims), list(row.redirect_uris))


def set_policy(
    session: Session,
    *,
    tenant: Tenant,
    client_id: str,
    allowed_claims: dict[str, Any],
    redirect_uris: list[str],
    now: datetime,
) -> Policy:
    """Create or replace a client's allow-list."""
    client = _client_of(session, tenant, client_id)
    if not allowed_claims or set(allowed_claims) - set(CLAIMS_BY_KIND):
        raise _problem("invalid_policy", "allowed claims of residence (Bürger-ID) and/or pid")
    allowed: dict[str, list[str]] = {}
    for kind, names in allowed_claims.items():
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise _problem("invalid_policy", "allowed claims are a list of names")
        known = CLAIMS_BY_KIND[kind]
        claims = sorted(set(names))
        if not claims or any(c not in known for c in claims):
            raise _problem("invalid_policy", f"allowed {kind} claims: " + ", ".join(sorted(known)))
        allowed[kind] = claims
    uris = _redirect_uris(redirect_uris)
    row = session.get(RpClientPolicy, client.id)
    if row is None:
        row = RpClientPolicy(api_client_id=client.id, tenant_id=tenant.id)
        session.add(row)
    row.allowed_claims = allowed
    row.redirect_uris = uris
    row.updated_at = now
    session.flush()
    return _policy(row)


def _policy_row(session: Session, tenant: Tenant, client_id: str) -> RpClientPolicy:
    client = _client_of(session, tenant, client_id)
    row = session.get(RpClientPolicy, client.id)
    if row is None:
        raise _problem("policy_not_found", "this client has no allow-list", 404)
    return row


def get_policy(session: Session, *, tenant: Tenant, client_id: str) -> Policy:
    """A client's allow-list (404 when it has none)."""
    return _policy(_policy_row(session, tenant, client_id))


def delete_policy(session: Session, *, tenant: Tenant, client_id: str) -> None:
    """Remove a client's allow-list: it asks for nothing from now on."""
    session.delete(_policy_row(session, tenant, client_id))
    session.flush()


def _claim_name(path: tuple[Any, ...]) -> str:
    if not all(isinstance(p, str) for p in path):
        return "?"
    return ".".join(str(p) for p in path)


def _allowed(name: str, allowed: set[str]) -> bool:
    return name in allowed or (name.startswith("address.") and "address" in allowed)


def _kind_asked(vcts: list[str], ours: str) -> str | None:
    """Which credential of the allow-list a credential query names (None: neither)."""
    if vcts == [ours]:
        return KIND
    if set(vcts) <= PID_VCTS:
        return KIND_PID
    return None


def _binding(client_id: uuid.UUID) -> str:
    # the result goes to the API client that started the transaction (authenticated)
    return f"api-client:{client_id}"


def start(
    session: Session,
    rp: RelyingParty,
    *,
    tenant: Tenant,
    client_id: uuid.UUID,
    query_doc: Any,
    redirect_uri: str | None,
    now: datetime,
) -> tx.Started:
    """Start a presentation for a municipal application, within its allow-list."""
    row = session.get(RpClientPolicy, client_id)
    if row is None or row.tenant_id != tenant.id:
        raise _problem("client_not_allowed", "this client has no allow-list", 403)
    try:
        query = dcql.parse_query(query_doc)
    except PresentationError as exc:
        raise _problem(exc.code, str(exc)) from exc
    ours = vct_for(tenant.issuer_url, RESIDENCE)
    for credential in query["credentials"]:
        kind = _kind_asked(credential["meta"]["vct_values"], ours)
        if kind is None or kind not in row.allowed_claims:
            raise _problem("credential_not_allowed", "a credential outside the allow-list", 403)
        allowed = set(row.allowed_claims[kind])
        for claim in credential["claims"]:
            if not _allowed(_claim_name(tuple(claim["path"])), allowed):
                raise _problem("claims_not_allowed", "a claim outside the allow-list", 403)
    if redirect_uri is not None and redirect_uri not in row.redirect_uris:
        raise _problem("redirect_uri_not_allowed", "redirect_uri is not registered", 403)
    return tx.start(
        session,
        rp,
        purpose=tx.Purpose.CLIENT,
        query=query,
        binding=_binding(client_id),
        return_url=redirect_uri,
        now=now,
        tenant_id=tenant.id,
        api_client_id=client_id,
    )


def status(
    session: Session, rp: RelyingParty, *, client_id: uuid.UUID, transaction_id: str, now: datetime
) -> tx.TxView:
    """The state of one of the client's transactions."""
    return tx.status(
        session, rp, transaction_id=transaction_id, binding=_binding(client_id), now=now
    )


def _filtered(claims: dict[str, Any], paths: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Only the claims asked for (a wallet may have disclosed more)."""
    out: dict[str, Any] = {}
    for path in paths:
        source: Any = claims
        target = out
        for i, part in enumerate(path):
            if not isinstance(part, str) or not isinstance(source, dict) or part not in source:
                break
            if i == len(path) - 1:
                target[part] = source[part]
            else:
                source = source[part]
                target = target.setdefault(part, {})
    return out


def subject_for(rp: RelyingParty, client_id: uuid.UUID, resident_id: str) -> str:
    """The pairwise subject of a resident for one client."""
    message = f"subject:{client_id}:{resident_id}".encode()
    return hmac.new(rp.server_secret, message, hashlib.sha256).hexdigest()[:32]


def take_result(
    session: Session,
    rp: RelyingParty,
    *,
    tenant: Tenant,
    client_id: uuid.UUID,
    transaction_id: str,
    response_code: str | None,
    now: datetime,
) -> dict[str, Any]:
    """The verified answer, once, with only the claims asked."""
    row = session.get(RpTransaction, transaction_id) if len(transaction_id) <= 36 else None
    asked = dcql.requested_claims(row.dcql) if row is not None else {}
    result = tx.take_result(
        session,
        rp,
        transaction_id=transaction_id,
        binding=_binding(client_id),
        response_code=response_code,
        now=now,
    )
    presentation = result.presentations[0]
    resident = presentation.get("resident_id")
    lives_here = presentation.get("tenant_id") == tenant.id and resident is not None
    if presentation["kind"] == KIND_PID:
        match = match_resident(
            session, tenant_id=tenant.id, claims=presentation["claims"], today=now.date()
        )
        log.info("rp_client_pid_matched", extra={"outcome": match.outcome})
        lives_here = match.outcome == MatchOutcome.MATCHED
        resident = str(match.resident_id) if lives_here else None
    return {
        "transaction_id": result.transaction_id,
        "credential": presentation["kind"],
        "issuer": presentation["issuer"],
        "lives_here": lives_here,
        "subject": subject_for(rp, client_id, resident) if lives_here and resident else None,
        "claims": _filtered(
            presentation["claims"], asked.get(presentation["credential_query"], [])
        ),
    }
