"""OpenID4VCI's authorization code flow (HAIP 1.0): a wallet starts from our metadata, not
from a letter, and the citizen authenticates by presenting her PID or her Bürger-ID.

1. ``push``: the pushed authorization request (RFC 9126): ``client_id``,
   ``response_type=code``, ``redirect_uri``, PKCE ``code_challenge`` with method S256 (RFC
   7636; plain is refused), ``authorization_details`` (``openid_credential``) or ``scope``
   naming the tenant's residence configuration, optionally ``issuer_state`` (from an offer
   a municipality made, naming the tenant) and ``state``; a DPoP proof binds the code to
   the wallet's key (RFC 9449 §10). Answer: a single-use ``request_uri`` for 60 s.
2. ``open_authorization``: the authorization endpoint, opened in the citizen's browser with
   ``client_id`` and ``request_uri``; the request_uri is spent here, a second use is refused.
   The browser gets a presentation request (``transactions``, purpose ``authorize``) for
   the tenant's Bürger-ID or a PID.
3. ``after_authentication``: who presented: our Bürger-ID names its resident (its status
   entry is the credential we issued), a PID is matched to the register (``matching``; no
   match, no code). The page asks for consent.
4. ``decide``: consent (a CSRF token bound to the browser session) issues the code (60 s,
   single use) and redirects to ``redirect_uri`` with ``code``, ``state`` and ``iss`` (RFC
   9207); refusal redirects with ``error=access_denied``.
5. ``exchange``: the token endpoint's ``authorization_code`` grant: code, ``redirect_uri``
   and ``client_id`` as pushed, ``code_verifier`` whose S256 is the challenge, the DPoP key
   of the push; a wrong verifier spends the code, a replayed code ends the grant it made
   (RFC 6749 §4.1.2). The grant is the pre-authorized flow's: an offer for the resident,
   redeemed at once, so credential, refresh and device endpoints work unchanged.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from issuer.db.models import Tenant
from issuer.settings import Settings
from wallet_api.errors import TokenError, WalletProblem
from wallet_api.models import GrantEnd, WalletGrant
from wallet_api.relying_party.matching import MatchOutcome, match_resident
from wallet_api.relying_party.models import AuthorizationState, WalletAuthorization
from wallet_api.services import bridge, tenant_settings
from wallet_api.services.configurations import parse_configuration_id
from wallet_api.services.credential_types import RESIDENCE
from wallet_api.services.grant_bindings import (
    ClientBinding,
    create_binding,
    parse_authorization_details,
    token_response_details,
)
from wallet_api.services.offers import create_offer, redeem_offer
from wallet_api.services.policy import WalletPolicy
from wallet_api.services.token_grants import TokenResult

log = logging.getLogger(__name__)

AUTHORIZATION_CODE_GRANT = "authorization_code"
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
PAR_TTL_SECONDS = 60
FLOW_TTL_SECONDS = 600  # from the authorization endpoint to the code
CODE_TTL_SECONDS = 60
MAX_CLIENT_ID_CHARS = 255
MAX_REDIRECT_URI_CHARS = 1000
MAX_STATE_CHARS = 500
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
_FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "file", "vbscript", "about", "blob"})
ISSUER_STATE_TTL_SECONDS = 72 * 3600


def _invalid(description: str, code: str = "invalid_request") -> TokenError:
    return TokenError(code, description)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------- issuer_state


def issuer_state_for(secret: bytes, *, ags: str, now: int) -> str:
    """An ``issuer_state`` for an offer with the authorization code grant: it names the
    tenant and expires; HMAC-SHA256 under the server secret (nothing stored)."""
    body = _b64(json.dumps({"ags": ags, "exp": now + ISSUER_STATE_TTL_SECONDS}).encode())
    mac = _b64(hmac.new(secret, b"issuer_state:" + body.encode(), hashlib.sha256).digest())
    return f"{body}.{mac}"


def _issuer_state_ags(secret: bytes, value: str, now: int) -> str:
    body, _, mac = value.partition(".")
    expected = _b64(hmac.new(secret, b"issuer_state:" + body.encode(), hashlib.sha256).digest())
    if len(value) > 256 or not hmac.compare_digest(mac, expected):
        raise _invalid("issuer_state is not ours")
    doc = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if not isinstance(doc, dict) or not isinstance(doc.get("exp"), int) or now >= doc["exp"]:
        raise _invalid("issuer_state has expired")
    return str(doc["ags"])


# --------------------------------------------------------------------------------- push


def _redirect_uri(value: str | None) -> str:
    if not value or len(value) > MAX_REDIRECT_URI_CHARS:
        raise _invalid("redirect_uri is required")
    parts = urlsplit(value)
    if not parts.scheme or parts.fragment or parts.scheme.lower() in _FORBIDDEN_SCHEMES:
        raise _invalid("redirect_uri must be an absolute URI without fragment")
    if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise _invalid("an http redirect_uri is for loopback only (RFC 8252 §7.3)")
    return value


def _configurations(
    form: dict[str, str], credential_issuer: str, tenants: dict[str, Tenant]
) -> tuple[list[str], bool]:
    """The configuration ids asked for, and whether they came as authorization_details."""
    offered = [f"{ags}.{RESIDENCE}" for ags in tenants]
    details = form.get("authorization_details")
    if details is not None:
        wanted = parse_authorization_details(
            details, offered=offered, credential_issuer=credential_issuer
        )
        assert wanted is not None
        return wanted, True
    scope = form.get("scope", "")
    wanted = [s for s in scope.split(" ") if s]
    if not wanted or len(wanted) > 4 or not all(s in offered for s in wanted):
        raise _invalid(
            "scope or authorization_details must name a residence configuration", "invalid_scope"
        )
    return wanted, False


@dataclass(frozen=True, slots=True)
class Pushed:
    """The PAR response."""

    request_uri: str
    expires_in: int


def push(
    session: Session,
    *,
    form: dict[str, str],
    credential_issuer: str,
    secret: bytes,
    client: ClientBinding,
    settings: Settings,
    now: datetime,
) -> Pushed:
    """Store a pushed authorization request (step 1 of the module docstring).

    `client` is what the request proved (DPoP key, wallet attestation); a municipality that
    requires wallet attestations refuses a push without one (``invalid_client``), and the
    code is then for the attested instance alone."""
    if form.get("response_type") != "code":
        raise _invalid("response_type must be code", "unsupported_response_type")
    client_id = form.get("client_id")
    if not client_id or len(client_id) > MAX_CLIENT_ID_CHARS:
        raise _invalid("client_id is required")
    if "request_uri" in form or "request" in form:
        raise _invalid("a pushed request carries its parameters itself")
    if form.get("code_challenge_method") != "S256":
        raise _invalid("PKCE with S256 is required")
    challenge = form.get("code_challenge", "")
    if not _CHALLENGE.match(challenge):
        raise _invalid("code_challenge must be base64url of a SHA-256")
    redirect_uri = _redirect_uri(form.get("redirect_uri"))
    state = form.get("state")
    if state is not None and len(state) > MAX_STATE_CHARS:
        raise _invalid("state is too long")
    dpop_jkt = client.dpop_jkt
    jkt = form.get("dpop_jkt")
    if jkt is not None and dpop_jkt is not None and jkt != dpop_jkt:
        raise _invalid("dpop_jkt and the DPoP proof name different keys", "invalid_dpop_proof")
    tenants = {t.ags: t for t in bridge.all_tenants(session)}
    wanted, _ = _configurations(form, credential_issuer, tenants)
    agss = {parse_configuration_id(c).ags for c in wanted}  # type: ignore[union-attr]
    if len(agss) != 1:
        raise _invalid("one municipality per authorization", "invalid_scope")
    ags = agss.pop()
    needs = tenant_settings.requirements(session, settings, tenants[ags].id)
    if needs.wallet_attestation and client.attestation_jkt is None:
        raise TokenError("invalid_client", "a wallet attestation is required", status=401)
    issuer_state = form.get("issuer_state")
    if (
        issuer_state is not None
        and _issuer_state_ags(secret, issuer_state, int(now.timestamp())) != ags
    ):
        raise _invalid("issuer_state names another municipality")
    token = secrets.token_urlsafe(32)
    session.add(
        WalletAuthorization(
            id=str(uuid.uuid4()),
            request_uri_digest=_digest(token),
            tenant_id=tenants[ags].id,
            client_id=client_id,
            redirect_uri=redirect_uri,
            code_challenge=challenge,
            configuration_ids=wanted,
            client_state=state,
            dpop_jkt=dpop_jkt or jkt,
            attestation_jkt=client.attestation_jkt,
            status=AuthorizationState.PUSHED,
            created_at=now,
            expires_at=now + timedelta(seconds=PAR_TTL_SECONDS),
        )
    )
    session.flush()
    return Pushed(request_uri=REQUEST_URI_PREFIX + token, expires_in=PAR_TTL_SECONDS)


def _page_error(code: str, detail: str, status: int = 400) -> WalletProblem:
    return WalletProblem(code, detail, status=status)


def open_authorization(
    session: Session, *, client_id: str, request_uri: str, binding_digest: str, now: datetime
) -> WalletAuthorization:
    """The authorization endpoint: spend the request_uri, bind the flow to the browser."""
    token = (
        request_uri[len(REQUEST_URI_PREFIX) :] if request_uri.startswith(REQUEST_URI_PREFIX) else ""
    )
    authz = (
        session.scalars(
            select(WalletAuthorization)
            .where(WalletAuthorization.request_uri_digest == _digest(token))
            .with_for_update()
        ).one_or_none()
        if 16 <= len(token) <= 128
        else None
    )
    if authz is None or authz.client_id != client_id:
        raise _page_error("invalid_request_uri", "unknown request_uri")
    if authz.status != AuthorizationState.PUSHED:
        # RFC 9126 §4: a request_uri is used once; a second use ends the whole flow
        authz.status = AuthorizationState.DENIED
        session.commit()
        raise _page_error("invalid_request_uri", "the request_uri was already used")
    if now >= authz.expires_at:
        raise _page_error("invalid_request_uri", "the request_uri has expired")
    authz.status = AuthorizationState.STARTED
    authz.binding_digest = binding_digest
    authz.expires_at = now + timedelta(seconds=FLOW_TTL_SECONDS)
    session.flush()
    return authz


def authenticated(
    session: Session,
    *,
    authz: WalletAuthorization,
    presentation: dict[str, Any],
    binding_digest: str,
    now: datetime,
) -> bool:
    """Record who presented (step 3); False when nobody of the register is named."""
    if authz.status != AuthorizationState.STARTED or now >= authz.expires_at:
        return False
    if authz.binding_digest is None or not hmac.compare_digest(
        authz.binding_digest, binding_digest
    ):
        return False
    resident: uuid.UUID | None = None
    if presentation["kind"] == "residence":
        if presentation.get("tenant_id") == authz.tenant_id and presentation.get("resident_id"):
            resident = uuid.UUID(presentation["resident_id"])
    else:
        match = match_resident(
            session, tenant_id=authz.tenant_id, claims=presentation["claims"], today=now.date()
        )
        log.info("rp_pid_matched", extra={"authorization": authz.id, "outcome": match.outcome})
        if match.outcome == MatchOutcome.MATCHED:
            resident = match.resident_id
    if resident is None:
        authz.status = AuthorizationState.DENIED
        return False
    authz.resident_id = resident
    authz.status = AuthorizationState.AUTHENTICATED
    return True


def consent_token(secret: bytes, authz_id: str, binding_digest: str) -> str:
    """The CSRF token of the consent form (HMAC of the flow and the browser session)."""
    mac = hmac.new(secret, f"consent:{authz_id}:{binding_digest}".encode(), hashlib.sha256)
    return _b64(mac.digest())


def decide(
    session: Session,
    *,
    authz_id: str,
    allow: bool,
    csrf: str,
    binding_digest: str,
    secret: bytes,
    credential_issuer: str,
    now: datetime,
) -> str:
    """Consent or refusal (step 4); the URL the browser is sent to."""
    authz = (
        session.get(WalletAuthorization, authz_id, with_for_update=True)
        if len(authz_id) <= 36
        else None
    )
    if (
        authz is None
        or authz.binding_digest is None
        or not hmac.compare_digest(authz.binding_digest, binding_digest)
    ):
        raise _page_error("authorization_not_found", "no such authorization", 404)
    if not hmac.compare_digest(csrf, consent_token(secret, authz.id, binding_digest)):
        raise _page_error("invalid_request", "the form is not this session's", 403)
    if authz.status != AuthorizationState.AUTHENTICATED or now >= authz.expires_at:
        raise _page_error("invalid_request", "this authorization is no longer open", 409)
    params: dict[str, str] = {}
    if allow:
        code = secrets.token_urlsafe(32)
        authz.code_digest = _digest(code)
        authz.status = AuthorizationState.CODE_ISSUED
        authz.expires_at = now + timedelta(seconds=CODE_TTL_SECONDS)
        params["code"] = code
    else:
        authz.status = AuthorizationState.DENIED
        params["error"] = "access_denied"
    if authz.client_state is not None:
        params["state"] = authz.client_state
    params["iss"] = credential_issuer  # RFC 9207
    separator = "&" if "?" in authz.redirect_uri else "?"
    session.flush()
    return f"{authz.redirect_uri}{separator}{urlencode(params)}"


# ------------------------------------------------------------------------------ exchange


def _pkce_ok(verifier: str | None, challenge: str) -> bool:
    if verifier is None or not _VERIFIER.match(verifier):
        return False
    computed = _b64(hashlib.sha256(verifier.encode("ascii")).digest())
    return hmac.compare_digest(computed, challenge)


def exchange(
    session: Session,
    *,
    form: dict[str, str],
    client: ClientBinding,
    credential_issuer: str,
    settings: Settings,
    policy: WalletPolicy,
    now: datetime,
) -> TokenResult:
    """The authorization_code grant (step 5)."""
    code = form.get("code")
    if not code or len(code) > 256:
        raise _invalid("code is required")
    authz = session.scalars(
        select(WalletAuthorization)
        .where(WalletAuthorization.code_digest == _digest(code))
        .with_for_update()
    ).one_or_none()
    if authz is None:
        raise _invalid("unknown authorization code", "invalid_grant")
    if authz.status == AuthorizationState.REDEEMED:
        # a replayed code: refuse, and end the grant the first exchange produced
        if authz.offer_id is not None:
            session.execute(
                update(WalletGrant)
                .where(WalletGrant.offer_id == authz.offer_id, WalletGrant.revoked_at.is_(None))
                .values(revoked_at=now, revoked_reason=GrantEnd.CODE_REPLAYED)
            )
        authz.status = AuthorizationState.DENIED
        session.commit()
        log.warning("wallet_authorization_code_replayed", extra={"authorization": authz.id})
        raise _invalid("the code was already used", "invalid_grant")
    if authz.status != AuthorizationState.CODE_ISSUED or now >= authz.expires_at:
        raise _invalid("the code is no longer valid", "invalid_grant")
    if form.get("client_id") != authz.client_id or form.get("redirect_uri") != authz.redirect_uri:
        raise _invalid("client_id or redirect_uri differ from the authorization", "invalid_grant")
    if not _pkce_ok(form.get("code_verifier"), authz.code_challenge):
        authz.status = AuthorizationState.DENIED  # the code is spent: no second guess
        session.commit()
        raise _invalid("the code_verifier does not match (PKCE)", "invalid_grant")
    if authz.dpop_jkt is not None and client.dpop_jkt != authz.dpop_jkt:
        raise TokenError("invalid_dpop_proof", "the code is bound to another DPoP key")
    if authz.attestation_jkt is not None and client.attestation_jkt != authz.attestation_jkt:
        raise TokenError(
            "invalid_client", "the code was pushed by another wallet instance", status=401
        )
    needs = tenant_settings.requirements(session, settings, authz.tenant_id)
    if needs.wallet_attestation and client.attestation_jkt is None:
        raise TokenError("invalid_client", "a wallet attestation is required", status=401)
    if needs.dpop and client.dpop_jkt is None:
        raise TokenError("invalid_dpop_proof", "a DPoP proof is required")
    assert authz.resident_id is not None
    created = create_offer(
        session,
        tenant_id=authz.tenant_id,
        resident_id=authz.resident_id,
        permit_id=None,
        configuration_ids=list(authz.configuration_ids),
        credential_issuer=credential_issuer,
        now=now,
        policy=policy,
        ttl_seconds=CODE_TTL_SECONDS,
        with_tx_code=False,
    )
    grant_code = created.credential_offer["grants"][
        "urn:ietf:params:oauth:grant-type:pre-authorized_code"
    ]["pre-authorized_code"]
    tokens = redeem_offer(
        session, pre_authorized_code=grant_code, tx_code=None, now=now, policy=policy
    )
    authz.status = AuthorizationState.REDEEMED
    authz.offer_id = created.offer_id
    requested = list(authz.configuration_ids)
    binding = create_binding(
        session,
        grant_id=tokens.grant_id,
        offered=tokens.configuration_ids,
        requested=requested,
        client=client,
        now=now,
    )
    log.info("wallet_authorization_redeemed", extra={"authorization": authz.id})
    return TokenResult(
        tokens=tokens,
        token_type="DPoP" if binding.dpop_jkt else "Bearer",
        authorization_details=token_response_details(binding),
    )
