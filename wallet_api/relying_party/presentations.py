"""Verification of one SD-JWT VC presentation for the relying party.

The steps, each refusing with a stable code (``PresentationError.code``):

1. the presentation is read once (bounded, strict; ``invalid_presentation`` when it is not
   a compact SD-JWT); its header and ``iss``/``vct``, NOT yet trusted, say who vouches
   for it;
2. issuer trust: ``iss`` is one of this deployment's tenants and ``vct`` its residence
   type (the Bürger-ID), the key one the tenant publishes under the header's ``kid``; or a
   PID provider of the trust list accepts ``vct`` and ``iss`` and vouches for the key (an
   ``x5c`` chain to its roots whose end-entity certificate names ``iss``, or a pinned
   ``kid``); else ``untrusted_issuer``;
3. RFC 9901 §7 with key binding required: issuer signature, Disclosures, ``exp``/``nbf``,
   KB-JWT (``typ kb+jwt``, ``aud`` = our client identifier, ``nonce`` = the transaction's,
   ``iat`` within 5 minutes (60 s leeway), ``sd_hash``); codes ``invalid_signature``,
   ``expired``, ``key_binding_required``, ``wrong_nonce``, ``wrong_audience``,
   ``invalid_key_binding``, ``invalid_presentation``;
4. status: our own tenants' lists are read from the database (no network); a PID
   provider's list is fetched per its policy (bounded, timed, signature by the provider);
   ``revoked``, ``suspended``, ``status_unknown``.

Steps 1 to 3 need no database once the issuing tenant's row is known
(``check_presentation``); step 4 and the tenant's row do. This is the only module of the
relying party that calls into the SD-JWT code of ``verifier``; everything else sees a
``Presented``.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.db.models import Tenant
from issuer.services.signing import KeyStore
from verifier import Reason, VerifierError
from verifier.formats import (
    MAX_STATUS_LIST_TOKEN_BYTES,
    PublicKey,
    StatusListToken,
    decode_public_jwk,
    decode_status_list_jwt,
    peek_jws_header,
    validate_x5c,
)
from verifier.sdjwt import (
    MAX_SD_JWT_CHARS,
    ParsedSdJwt,
    StatusReference,
    VerifiedSdJwt,
    parse_sd_jwt,
    verify_sd_jwt_vc,
)
from wallet_api.errors import WalletApiError
from wallet_api.models import WalletCredential
from wallet_api.relying_party.trust import PidProvider, ProviderStatusLists, TrustList
from wallet_api.services import bridge
from wallet_api.services.credential_types import RESIDENCE
from wallet_api.services.type_metadata import vct_for

log = logging.getLogger(__name__)

KIND_RESIDENCE = "residence"
KIND_PID = "pid"
KB_MAX_AGE_SECONDS = 300
LEEWAY_SECONDS = 60
MAX_STATUS_FETCH_BYTES = MAX_STATUS_LIST_TOKEN_BYTES
KEY_CACHE_SECONDS = 60
MAX_HEADER_CHARS = 4096  # base64url characters of the issuer-signed JWT's header
# claims that describe the credential, not the person: never part of a result's claims
TECHNICAL_CLAIMS = frozenset(
    {"iss", "vct", "vct#integrity", "iat", "nbf", "exp", "cnf", "status", "_sd_alg"}
)

_REASON_CODES: dict[Reason, str] = {
    Reason.BAD_SIGNATURE: "invalid_signature",
    Reason.EXPIRED: "expired",
    Reason.NOT_YET_VALID: "not_yet_valid",
    Reason.KEY_BINDING_REQUIRED: "key_binding_required",
    Reason.WRONG_NONCE: "wrong_nonce",
    Reason.WRONG_AUDIENCE: "wrong_audience",
    Reason.BAD_KB_JWT: "invalid_key_binding",
    Reason.BAD_SD_HASH: "invalid_key_binding",
    Reason.UNKNOWN_ISSUER: "untrusted_issuer",
    Reason.UNTRUSTED_CERTIFICATE: "untrusted_issuer",
    Reason.BAD_CERTIFICATE: "untrusted_issuer",
    Reason.BAD_VCT: "unsupported_credential",
}


class PresentationError(WalletApiError):
    """A presentation was refused; ``code`` says why (see the module docstring)."""


@dataclass(frozen=True, slots=True)
class Presented:
    """A verified presentation, as the relying party uses it."""

    kind: str  # "residence" (our Bürger-ID) or "pid"
    vct: str
    iss: str
    issuer_name: str
    claims: dict[str, Any]  # what the holder disclosed, without technical claims
    holder_kid: str
    tenant_id: int | None = None  # ours: the tenant that issued it
    resident_id: str | None = None  # ours: the resident the credential was issued to
    credential_id: str | None = None  # ours: the wallet_credentials row


def _b64json(part: str) -> Any:
    try:
        raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        return json.loads(raw.decode("utf-8"))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        return None


@dataclass(frozen=True, slots=True)
class Received:
    """A presentation read once, NOT verified: what it claims about its issuer."""

    sd_jwt: ParsedSdJwt
    header: dict[str, Any]
    iss: str
    vct: str


def read_presentation(presentation: Any) -> Received:
    """Step 1: the compact SD-JWT read once, with the unverified ``iss`` and ``vct``."""
    if not isinstance(presentation, str) or not 0 < len(presentation) <= MAX_SD_JWT_CHARS:
        raise PresentationError("invalid_presentation", "not a bounded SD-JWT")
    if presentation.startswith("{") or not 0 <= presentation.find(".") <= MAX_HEADER_CHARS:
        raise PresentationError("invalid_presentation", "no issuer-signed JWT")
    try:
        sd_jwt = parse_sd_jwt(presentation)
    except VerifierError as exc:
        raise PresentationError("invalid_presentation", "not a compact SD-JWT") from exc
    iss, vct = sd_jwt.payload.get("iss"), sd_jwt.payload.get("vct")
    if not isinstance(iss, str) or not isinstance(vct, str):
        raise PresentationError("invalid_presentation", "iss and vct are required")
    return Received(sd_jwt=sd_jwt, header=sd_jwt.header, iss=iss, vct=vct)


_KEYS_MEMO = "rp_tenant_keys"


def _tenant_keys(store: KeyStore, tenant: Tenant, now: datetime) -> dict[str, PublicKey]:
    """The keys the tenant publishes, by kid, decoded once and kept by the key store.

    The store forgets them when it changes a ring itself (rotation, withdrawal); a change
    made by another process (the key CLI) is seen at most ``KEY_CACHE_SECONDS`` later.
    """
    clock = time.monotonic()
    memo_key = (_KEYS_MEMO, tenant.key_ring, tenant.issuer_url)
    cached = store.artefacts.get(memo_key)
    if cached is not None and clock - cached[0] < KEY_CACHE_SECONDS:
        return cast(dict[str, PublicKey], cached[1])
    keys: dict[str, PublicKey] = {}
    for jwk in bridge.tenant_jwks(store, tenant, now)["keys"]:
        decoded = decode_public_jwk({k: jwk[k] for k in ("kty", "crv", "x", "y") if k in jwk})
        keys[str(jwk["kid"])] = decoded.key
    store.artefacts.put(memo_key, (clock, keys))
    return keys


def _names_issuer(chain: Any, iss: str) -> bool:
    from cryptography import x509

    if iss in chain.uris():
        return True
    try:
        san = chain.leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return False
    return urlsplit(iss).hostname in san.value.get_values_for_type(x509.DNSName)


def _provider_key(
    providers: tuple[PidProvider, ...], header: dict[str, Any], iss: str, now: int
) -> tuple[PidProvider, PublicKey]:
    for provider in providers:
        x5c = header.get("x5c")
        if x5c is not None and provider.roots:
            try:
                chain = validate_x5c(x5c, provider.roots, now)
            except VerifierError:
                continue
            if _names_issuer(chain, iss):
                return provider, chain.public_key
            continue
        kid = header.get("kid")
        if isinstance(kid, str) and kid in provider.keys:
            return provider, provider.keys[kid]
    raise PresentationError("untrusted_issuer", "no trusted provider vouches for the key")


def _code(exc: VerifierError) -> str:
    return _REASON_CODES.get(exc.reason, "invalid_presentation")


def _visible_claims(claims: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k not in TECHNICAL_CLAIMS}


@dataclass(frozen=True, slots=True)
class Checked:
    """Steps 1 to 3 passed: the verified presentation and who vouches for it."""

    verified: VerifiedSdJwt
    provider: PidProvider | None  # None: one of our tenants issued it
    claims: dict[str, Any]  # what the holder disclosed, without technical claims
    holder_kid: str


def check_presentation(
    received: Received,
    *,
    tenant: Tenant | None,
    keys: KeyStore,
    trust: TrustList,
    client_id: str,
    nonce: str,
    now: datetime,
) -> Checked:
    """Steps 2 and 3 (issuer trust, signatures, Disclosures, key binding), no database.

    ``tenant`` is our tenant whose issuer URL is ``received.iss``, None when there is none.
    """
    unix = int(now.timestamp())
    provider: PidProvider | None = None
    if tenant is not None:
        if received.vct != vct_for(tenant.issuer_url, RESIDENCE):
            raise PresentationError("unsupported_credential", "only the Bürger-ID of a tenant")
        kid = received.header.get("kid")
        key = _tenant_keys(keys, tenant, now).get(kid) if isinstance(kid, str) else None
        if key is None:
            raise PresentationError("untrusted_issuer", "not a key the tenant publishes")
    else:
        providers = trust.for_credential(received.vct, received.iss)
        if not providers:
            raise PresentationError("untrusted_issuer", "issuer not on the trust list")
        provider, key = _provider_key(providers, received.header, received.iss, unix)
    try:
        verified = verify_sd_jwt_vc(
            received.sd_jwt,
            issuer_key=key,
            now=unix,
            require_key_binding=True,
            expected_aud=client_id,
            expected_nonce=nonce,
            expected_iss=received.iss,
            leeway_seconds=LEEWAY_SECONDS,
            kb_max_age_seconds=KB_MAX_AGE_SECONDS,
        )
    except VerifierError as exc:
        raise PresentationError(_code(exc), "the presentation does not verify") from exc
    assert verified.holder_kid is not None  # key binding was required
    return Checked(
        verified=verified,
        provider=provider,
        claims=_visible_claims(verified.claims),
        holder_kid=verified.holder_kid,
    )


def verify_presentation(
    session: Session,
    *,
    settings: Any,
    keys: KeyStore,
    trust: TrustList,
    presentation: str,
    client_id: str,
    nonce: str,
    now: datetime,
    timeout_seconds: float,
) -> Presented:
    """Verify one presentation (the steps of the module docstring)."""
    received = read_presentation(presentation)
    iss, vct = received.iss, received.vct
    tenant = session.scalars(select(Tenant).where(Tenant.issuer_url == iss)).first()
    checked = check_presentation(
        received,
        tenant=tenant,
        keys=keys,
        trust=trust,
        client_id=client_id,
        nonce=nonce,
        now=now,
    )
    verified, claims, holder_kid = checked.verified, checked.claims, checked.holder_kid
    if tenant is not None:
        credential = _our_status(session, settings, tenant, verified.status)
        return Presented(
            kind=KIND_RESIDENCE,
            vct=vct,
            iss=iss,
            issuer_name=tenant.name,
            claims=claims,
            holder_kid=holder_kid,
            tenant_id=tenant.id,
            resident_id=str(credential.resident_id),
            credential_id=credential.id,
        )
    provider = checked.provider
    assert provider is not None
    unix = int(now.timestamp())
    _provider_status(
        provider,
        verified.status,
        now=unix,
        timeout_seconds=timeout_seconds,
        kept=trust.status_lists,
    )
    return Presented(
        kind=KIND_PID,
        vct=vct,
        iss=iss,
        issuer_name=provider.name,
        claims=claims,
        holder_kid=holder_kid,
    )


def _our_status(
    session: Session, settings: Any, tenant: Tenant, ref: StatusReference | None
) -> WalletCredential:
    """Our own credential: its status from the database, and the row it was issued as."""
    from issuer.services.status_lists import status_of

    if ref is None:
        raise PresentationError("status_unknown", "a Bürger-ID always has a status")
    prefix = bridge.status_uri(settings, tenant, 0).rsplit("/", 1)[0] + "/"
    tail = ref.uri[len(prefix) :] if ref.uri.startswith(prefix) else ""
    if not tail.isdigit() or len(tail) > 9:
        raise PresentationError("status_unknown", "not one of the tenant's status lists")
    list_no = int(tail)
    value = status_of(session, tenant_id=tenant.id, list_no=list_no, idx=ref.idx)
    if value == 1:
        raise PresentationError("revoked", "the credential was revoked")
    if value == 2:
        raise PresentationError("suspended", "the credential is suspended")
    credential = session.scalars(
        select(WalletCredential).where(
            WalletCredential.tenant_id == tenant.id,
            WalletCredential.status_list == list_no,
            WalletCredential.status_idx == ref.idx,
        )
    ).first()
    if value != 0 or credential is None or credential.revoked_at is not None:
        raise PresentationError("status_unknown", "no such credential")
    return credential


def _fetch(uri: str, timeout_seconds: float) -> str:
    """GET a status list token: https only, no redirects, bounded size and time."""
    parts = urlsplit(uri)
    if parts.scheme != "https" or not parts.hostname:
        raise PresentationError("status_unknown", "the status list is not https")
    deadline = time.monotonic() + timeout_seconds
    chunks: list[bytes] = []
    size = 0
    try:
        with httpx.Client(timeout=timeout_seconds, follow_redirects=False) as client:
            with client.stream(
                "GET", uri, headers={"Accept": "application/statuslist+jwt"}
            ) as answer:
                if answer.status_code != 200:
                    raise PresentationError("status_unknown", "the status list is unavailable")
                for chunk in answer.iter_bytes():
                    size += len(chunk)
                    if size > MAX_STATUS_FETCH_BYTES or time.monotonic() > deadline:
                        raise PresentationError("status_unknown", "the status list is too large")
                    chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise PresentationError("status_unknown", "the status list cannot be fetched") from exc
    try:
        return b"".join(chunks).decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise PresentationError("status_unknown", "the status list is not a JWT") from exc


def _provider_status(
    provider: PidProvider,
    ref: StatusReference | None,
    *,
    now: int,
    timeout_seconds: float,
    kept: ProviderStatusLists,
) -> None:
    """A PID's status under its provider's policy (see ``trust``), from a list kept for its
    ``ttl`` or fetched."""
    if provider.status == "ignore":
        return
    if ref is None:
        if provider.status == "required":
            raise PresentationError("status_unknown", "the PID carries no status reference")
        return
    decoded = kept.get(provider.name, ref.uri, now)
    if decoded is None:
        decoded = _fetch_verified(provider, ref.uri, now=now, timeout_seconds=timeout_seconds)
        kept.keep(provider.name, ref.uri, decoded, now)
    if not 0 <= ref.idx < len(decoded.status_list):
        raise PresentationError("status_unknown", "index outside the list")
    value = decoded.status_list.get(ref.idx)
    if value == 1:
        raise PresentationError("revoked", "the PID was revoked")
    if value == 2:
        raise PresentationError("suspended", "the PID is suspended")
    if value != 0:
        raise PresentationError("status_unknown", "unknown status value")


def _fetch_verified(
    provider: PidProvider, uri: str, *, now: int, timeout_seconds: float
) -> StatusListToken:
    """The provider's status list at `uri`, fetched, verified, for `uri` and not expired."""
    token = _fetch(uri, timeout_seconds)
    try:
        header = peek_jws_header(token)
        _, key = _provider_key((provider,), header, _status_issuer(token), now)
        decoded = decode_status_list_jwt(token, key)
    except (VerifierError, PresentationError) as exc:
        raise PresentationError("status_unknown", "the status list does not verify") from exc
    if decoded.sub != uri or (decoded.exp is not None and now >= decoded.exp):
        raise PresentationError("status_unknown", "the status list is not this one or stale")
    return decoded


def _status_issuer(token: str) -> str:
    payload = _b64json(token.split(".")[1]) if token.count(".") == 2 else None
    iss = payload.get("iss") if isinstance(payload, dict) else None
    return iss if isinstance(iss, str) else ""
