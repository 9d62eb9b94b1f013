"""Presentation transactions: the service API of the relying party.

For a page or a portal (server-side, bound to its browser session):

- ``start``: a new transaction for a purpose and a DCQL query, bound to a secret the
  caller keeps for its browser session (the ``binding``; we store its HMAC only); returns
  the wallet link (``openid4vp://?client_id=…&request_uri=…``) for the same device, the
  one for a QR code (another device), and the transaction id;
- ``status``: what the page shows while it waits (polling, cross-device);
- ``take_result``: the verified presentations, exactly once, to the caller holding the
  binding, and, when the wallet answered from the same device, only with the
  ``response_code`` the wallet's redirect carried (OpenID4VP 1.0 §13.3: a response code
  bound to the session that started the flow defeats session fixation).

For the wallet (OpenID4VP 1.0):

- ``request_object``: the signed request object (JAR, RFC 9101, ``typ
  oauth-authz-req+jwt``, ``x5c`` of our access certificate), served once per transaction;
  the link's ``flow`` records which device fetched it;
- ``receive_response``: the response at this transaction's ``response_uri``: decrypted
  (``direct_post.jwt``: ECDH-ES to this transaction's key) or plain (``direct_post``),
  ``state`` checked, every presentation verified (``presentations``), the query answered
  (``dcql``); one response per transaction, the first that arrives decides.

Times are values; no personal data is logged. A result is deleted when taken; expired
rows are pruned when new transactions start.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from keys.signer import sign_jws
from verifier import VerifierError
from verifier.formats import JWE_ENCS, jwe_decrypt
from wallet_api.errors import WalletProblem
from wallet_api.relying_party import dcql
from wallet_api.relying_party.identity import RelyingParty
from wallet_api.relying_party.models import RpTransaction, TxStatus
from wallet_api.relying_party.presentations import (
    PresentationError,
    Presented,
    verify_presentation,
)

log = logging.getLogger(__name__)

DIRECT_POST_JWT = "direct_post.jwt"
DIRECT_POST = "direct_post"
RESPONSE_MODES = (DIRECT_POST_JWT, DIRECT_POST)
SAME_DEVICE = "same-device"
CROSS_DEVICE = "cross-device"
REQUEST_TYP = "oauth-authz-req+jwt"
WALLET_SCHEME = "openid4vp://"
SELF_ISSUED_AUD = "https://self-issued.me/v2"
REQUEST_OBJECT_TTL_SECONDS = 300
MAX_PRESENTATIONS = 8
MAX_ERROR_CHARS = 40
PRUNE_AFTER = timedelta(hours=1)


class Purpose:
    """Why a transaction asks (``RpTransaction.purpose``)."""

    LOGIN = "login"  # log in with the Bürger-ID
    BUERGERID = "buergerid"  # PID presented to receive the Bürger-ID without a letter
    AUTHORIZE = "authorize"  # authentication in OpenID4VCI's authorization code flow
    CLIENT = "client"  # another municipal application asks through this service


@dataclass(frozen=True, slots=True)
class Started:
    """A started transaction, as the page that shows it needs it."""

    id: str
    same_device_url: str  # open on this device: the wallet app takes it
    cross_device_url: str  # show as a QR code for another device
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class TxView:
    """What a waiting page may know: state, the refusal code, which device answered."""

    status: str
    error: str | None
    flow: str | None
    purpose: str


@dataclass(frozen=True, slots=True)
class Result:
    """The verified outcome of a transaction, handed out once."""

    transaction_id: str
    purpose: str
    tenant_id: int | None
    api_client_id: str | None
    authorization_id: str | None
    presentations: tuple[dict[str, Any], ...]  # one per credential query answered


def _refuse(code: str, detail: str, status: int = 400) -> WalletProblem:
    return WalletProblem(code, detail, status=status)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def prune(session: Session, *, now: datetime) -> None:
    """Delete transactions that expired more than an hour ago (results included)."""
    session.execute(delete(RpTransaction).where(RpTransaction.expires_at < now - PRUNE_AFTER))


def discard(session: Session, transaction_id: str) -> None:
    """Delete a transaction no browser can take any more (the session bound to it ended),
    now rather than an hour after it expires; a wallet answering it later is told it is
    unknown."""
    session.execute(delete(RpTransaction).where(RpTransaction.id == transaction_id))


def start(
    session: Session,
    rp: RelyingParty,
    *,
    purpose: str,
    query: dict[str, Any],
    binding: str,
    return_url: str | None,
    now: datetime,
    tenant_id: int | None = None,
    api_client_id: uuid.UUID | None = None,
    authorization_id: str | None = None,
    response_mode: str = DIRECT_POST_JWT,
) -> Started:
    """Start a transaction (see the module docstring). `return_url` is where the wallet
    sends the browser back on the same device (``response_code`` is appended; the text
    ``{transaction_id}`` in it is replaced by the transaction's id)."""
    if response_mode not in RESPONSE_MODES:
        raise ValueError("unknown response mode")
    if len(binding) < 16:
        raise ValueError("the binding must be a secret of at least 16 characters")
    prune(session, now=now)
    token = secrets.token_urlsafe(32)
    tx_id = str(uuid.uuid4())
    tx = RpTransaction(
        id=tx_id,
        purpose=purpose,
        tenant_id=tenant_id,
        api_client_id=api_client_id,
        request_digest=_digest(token),
        nonce=secrets.token_urlsafe(32),
        state=secrets.token_urlsafe(32),
        dcql=query,
        response_mode=response_mode,
        client_id=rp.client_id,
        binding_digest=rp.binding_digest(binding),
        redirect_uri=return_url.replace("{transaction_id}", tx_id) if return_url else None,
        status=TxStatus.PENDING,
        authorization_id=authorization_id,
        created_at=now,
        expires_at=now + timedelta(seconds=rp.settings.rp_transaction_ttl_seconds),
    )
    session.add(tx)
    session.flush()
    log.info("rp_transaction_started", extra={"transaction": tx.id, "purpose": purpose})
    request_uri = f"{rp.base_url}/rp/request/{token}"

    def link(flow: str) -> str:
        params = {"client_id": tx.client_id, "request_uri": f"{request_uri}?flow={flow}"}
        return WALLET_SCHEME + "?" + urlencode(params)

    return Started(
        id=tx.id,
        same_device_url=link(SAME_DEVICE),
        cross_device_url=link(CROSS_DEVICE),
        expires_at=tx.expires_at,
    )


def _by_request_token(session: Session, token: str) -> RpTransaction | None:
    if not 16 <= len(token) <= 128:
        return None
    return (
        session.query(RpTransaction)
        .filter(RpTransaction.request_digest == _digest(token))
        .with_for_update()
        .one_or_none()
    )


def request_object(
    session: Session,
    rp: RelyingParty,
    *,
    token: str,
    flow: str,
    now: datetime,
    wallet_nonce: str | None = None,
) -> str:
    """The signed request object of a transaction, once (``invalid_request_uri`` after)."""
    tx = _by_request_token(session, token)
    if tx is None or now >= tx.expires_at:
        raise _refuse("invalid_request_uri", "unknown or expired request", status=404)
    if tx.status != TxStatus.PENDING:
        raise _refuse("invalid_request_uri", "this request was already fetched", status=404)
    tx.status = TxStatus.REQUESTED
    tx.flow = SAME_DEVICE if flow == SAME_DEVICE else CROSS_DEVICE
    tx.fetched_at = now
    identity = rp.identity()
    client_metadata: dict[str, Any] = {
        "client_name": rp.settings.wallet_display_name,
        "vp_formats_supported": {
            dcql.SD_JWT_FORMAT: {"sd-jwt_alg_values": ["ES256"], "kb-jwt_alg_values": ["ES256"]}
        },
    }
    if tx.response_mode == DIRECT_POST_JWT:
        client_metadata["jwks"] = {"keys": [rp.encryption_jwk(tx.id)]}
        client_metadata["encrypted_response_enc_values_supported"] = list(JWE_ENCS)
    unix = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": tx.client_id,
        "aud": SELF_ISSUED_AUD,
        "client_id": tx.client_id,
        "response_type": "vp_token",
        "response_mode": tx.response_mode,
        "response_uri": f"{rp.base_url}/rp/response/{tx.id}",
        "nonce": tx.nonce,
        "state": tx.state,
        "dcql_query": tx.dcql,
        "client_metadata": client_metadata,
        "iat": unix,
        "exp": unix + REQUEST_OBJECT_TTL_SECONDS,
        "jti": secrets.token_urlsafe(16),
    }
    if wallet_nonce is not None:
        claims["wallet_nonce"] = wallet_nonce  # OpenID4VP 1.0 §5.10 (request_uri_method post)
    header = {"alg": "ES256", "typ": REQUEST_TYP, "x5c": identity.x5c}
    payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
    session.flush()
    return sign_jws(identity.signer, header, payload)


@dataclass(frozen=True, slots=True)
class ResponseOutcome:
    """What the response endpoint answers the wallet."""

    redirect_uri: str | None


def _decode_payload(tx: RpTransaction, rp: RelyingParty, form: dict[str, str]) -> dict[str, Any]:
    if tx.response_mode == DIRECT_POST_JWT:
        if set(form) != {"response"}:
            # HAIP 1.0: an unencrypted answer to an encrypted request is refused
            raise PresentationError("invalid_request", "an encrypted response is required")
        try:
            decrypted = jwe_decrypt(
                form["response"],
                rp.encryption_key(tx.id),
                expected_kid=rp.encryption_jwk(tx.id)["kid"],
            )
            payload = json.loads(decrypted.plaintext.decode("utf-8"))
        except VerifierError as exc:
            raise PresentationError("invalid_response", "the response does not decrypt") from exc
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise PresentationError("invalid_response", "the response is not JSON") from exc
    else:
        payload = dict(form)
        if "vp_token" in payload:
            try:
                payload["vp_token"] = json.loads(payload["vp_token"])
            except (ValueError, RecursionError) as exc:
                raise PresentationError("invalid_response", "vp_token is not JSON") from exc
    if not isinstance(payload, dict):
        raise PresentationError("invalid_response", "the response is not an object")
    return payload


def _presentations(vp_token: Any) -> dict[str, str]:
    if not isinstance(vp_token, dict) or not 0 < len(vp_token) <= MAX_PRESENTATIONS:
        raise PresentationError("invalid_response", "vp_token must be an object")
    out: dict[str, str] = {}
    for cid, value in vp_token.items():
        # OpenID4VP 1.0 §8.1: an array of presentations per credential query
        if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], str):
            raise PresentationError("invalid_response", "one presentation per credential query")
        out[str(cid)] = value[0]
    return out


def _result_entry(cid: str, item: Presented) -> dict[str, Any]:
    return {
        "credential_query": cid,
        "kind": item.kind,
        "vct": item.vct,
        "issuer": item.iss,
        "issuer_name": item.issuer_name,
        "claims": item.claims,
        "holder_kid": item.holder_kid,
        "tenant_id": item.tenant_id,
        "resident_id": item.resident_id,
        "credential_id": item.credential_id,
    }


def receive_response(
    session: Session,
    rp: RelyingParty,
    *,
    transaction_id: str,
    form: dict[str, str],
    now: datetime,
) -> ResponseOutcome:
    """Verify a wallet's response (see the module docstring); the transaction records the
    outcome either way, and a refusal raises ``PresentationError``."""
    tx = session.get(RpTransaction, transaction_id, with_for_update=True)
    if tx is None or now >= tx.expires_at:
        raise PresentationError("invalid_request", "unknown or expired transaction", status=404)
    if tx.status != TxStatus.REQUESTED:
        # one response per transaction: a replay (or a response before the request was
        # fetched) never touches the recorded outcome
        raise PresentationError("invalid_request", "this transaction takes no response")
    try:
        payload = _decode_payload(tx, rp, form)
        state = payload.get("state")
        if not isinstance(state, str) or not hmac.compare_digest(state, tx.state):
            raise PresentationError("invalid_request", "state is not this transaction's")
        if "error" in payload:
            error = payload["error"]
            code = error if isinstance(error, str) and error.isascii() else "wallet_error"
            raise PresentationError(code[:MAX_ERROR_CHARS], "the wallet declined")
        presented: dict[str, Presented] = {}
        for cid, presentation in _presentations(payload.get("vp_token")).items():
            presented[cid] = verify_presentation(
                session,
                settings=rp.settings,
                keys=rp.keys,
                trust=rp.trust,
                presentation=presentation,
                client_id=tx.client_id,
                nonce=tx.nonce,
                now=now,
                timeout_seconds=rp.settings.rp_status_fetch_timeout_seconds,
            )
        answered = dcql.answered(tx.dcql, presented)
    except PresentationError as exc:
        _finish(session, tx, now, status=TxStatus.FAILED, error=exc.code[:MAX_ERROR_CHARS])
        log.warning("rp_response_refused", extra={"transaction": tx.id, "code": exc.code})
        raise
    result = {"presentations": [_result_entry(cid, presented[cid]) for cid in answered]}
    redirect: str | None = None
    code_digest: str | None = None
    if tx.flow == SAME_DEVICE and tx.redirect_uri:
        code = secrets.token_urlsafe(32)
        code_digest = _digest(code)
        separator = "&" if "?" in tx.redirect_uri else "?"
        redirect = f"{tx.redirect_uri}{separator}{urlencode({'response_code': code})}"
    _finish(session, tx, now, status=TxStatus.VERIFIED, result=result, code_digest=code_digest)
    log.info("rp_response_verified", extra={"transaction": tx.id, "purpose": tx.purpose})
    return ResponseOutcome(redirect_uri=redirect)


def _finish(
    session: Session,
    tx: RpTransaction,
    now: datetime,
    *,
    status: str,
    error: str | None = None,
    result: dict[str, Any] | None = None,
    code_digest: str | None = None,
) -> None:
    won = session.execute(
        update(RpTransaction)
        .where(RpTransaction.id == tx.id, RpTransaction.status == TxStatus.REQUESTED)
        .values(
            status=status,
            error=error,
            result=result,
            response_code_digest=code_digest,
            responded_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise PresentationError("invalid_request", "this transaction takes no response")
    session.commit()


def _owned(session: Session, rp: RelyingParty, transaction_id: str, binding: str) -> RpTransaction:
    tx = session.get(RpTransaction, transaction_id) if len(transaction_id) <= 36 else None
    if tx is None or not hmac.compare_digest(tx.binding_digest, rp.binding_digest(binding)):
        # another session's transaction looks exactly like none at all
        raise _refuse("transaction_not_found", "no such transaction", status=404)
    return tx


def status(
    session: Session, rp: RelyingParty, *, transaction_id: str, binding: str, now: datetime
) -> TxView:
    """The state of one's own transaction (``expired`` once its time is up unanswered)."""
    tx = _owned(session, rp, transaction_id, binding)
    value = tx.status
    if value in (TxStatus.PENDING, TxStatus.REQUESTED) and now >= tx.expires_at:
        value = "expired"
    return TxView(status=value, error=tx.error, flow=tx.flow, purpose=tx.purpose)


def take_result(
    session: Session,
    rp: RelyingParty,
    *,
    transaction_id: str,
    binding: str,
    response_code: str | None,
    now: datetime,
) -> Result:
    """The verified result, once, to the session that started the transaction."""
    tx = _owned(session, rp, transaction_id, binding)
    if tx.status == TxStatus.FAILED:
        raise _refuse(tx.error or "presentation_refused", "the presentation was refused", 409)
    if tx.status == TxStatus.TAKEN:
        raise _refuse("result_taken", "the result was already taken", status=409)
    if tx.status != TxStatus.VERIFIED or tx.result is None:
        raise _refuse("result_not_ready", "no verified response yet", status=409)
    if tx.response_code_digest is not None:
        if response_code is None or not hmac.compare_digest(
            tx.response_code_digest, _digest(response_code)
        ):
            raise _refuse("response_code_mismatch", "the response code is not this one's", 403)
    elif response_code is not None:
        raise _refuse("response_code_mismatch", "the response code is not this one's", 403)
    won = session.execute(
        update(RpTransaction)
        .where(RpTransaction.id == tx.id, RpTransaction.status == TxStatus.VERIFIED)
        .values(status=TxStatus.TAKEN, result=None)
        .execution_options(synchronize_session=False)
    )
    if won.rowcount != 1:  # type: ignore[attr-defined]
        raise _refuse("result_taken", "the result was already taken", status=409)
    result = Result(
        transaction_id=tx.id,
        purpose=tx.purpose,
        tenant_id=tx.tenant_id,
        api_client_id=str(tx.api_client_id) if tx.api_client_id else None,
        authorization_id=tx.authorization_id,
        presentations=tuple(tx.result["presentations"]),
    )
    log.info("rp_result_taken", extra={"transaction": tx.id})
    return result
