"""Wallet attestations (OAuth 2.0 Attestation-Based Client Authentication, the draft -07
that OpenID4VCI 1.0 cites; OpenID4VCI 1.0 Appendix E) and key attestations (Appendix D),
both checked against the configured wallet-provider trust anchors.

Wallet attestation, at the token endpoint (headers `OAuth-Client-Attestation` and
`OAuth-Client-Attestation-PoP`, draft -07 §6 "Verification and Processing"):

1. exactly one of each header, each one compact JWS;
2. the attestation: `typ` oauth-client-attestation+jwt, ES256, an `x5c` chain (HAIP 1.0
   §4.3.1) that validates to a trust anchor at `now` with a leaf that is not
   self-signed; the leaf's key verifies the signature; `iss`, `sub` (the client_id),
   `exp` (refused from `exp` on), `nbf`/`iat` not in the future, `cnf.jwk` a public key;
3. the PoP: `typ` oauth-client-attestation-pop+jwt, ES256, signed by `cnf.jwk`;
   `iss` = the attestation's `sub`; `aud` = our issuer identifier; `jti`; `iat` inside
   the window; its `jti` is single use per instance key (replay store);
4. a `client_id` form parameter, when sent, equals `sub` (draft -07 §6 step 13).

Key attestation (`key_attestation` header of a `jwt` proof, or the `attestation` proof
type): `typ` key-attestation+jwt, ES256, `x5c` to a trust anchor, `iat` not in the
future, `exp` required and in the future, `attested_keys` a bounded array of public P-256
JWKs, `key_storage` one of the accepted levels when levels are configured, `nonce` = the
request's c_nonce.

Time is a parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlalchemy.orm import Session, sessionmaker

from verifier import VerifierError
from verifier.formats import validate_x5c
from wallet_api.errors import OAuthError
from wallet_api.services.replay import remember_once, replay_digest
from wallet_api.services.signed_jwts import (
    int_claim,
    p256_jwk,
    peek_header,
    str_claim,
    verify_es256,
)

ATTESTATION_HEADER = "oauth-client-attestation"
POP_HEADER = "oauth-client-attestation-pop"
ATTESTATION_TYP = "oauth-client-attestation+jwt"
POP_TYP = "oauth-client-attestation-pop+jwt"
KEY_ATTESTATION_TYP = "key-attestation+jwt"
MAX_ATTESTATION_CHARS = 8192
MAX_POP_CHARS = 2048
MAX_ANCHORS_BYTES = 256 * 1024
MAX_ATTESTED_KEYS = 10
POP_MAX_AGE_SECONDS = 300
SKEW_SECONDS = 60

Refuse = Callable[[str], OAuthError]


def load_trust_anchors(path: Path | None) -> tuple[x509.Certificate, ...]:
    """The wallet providers' root certificates from a PEM file (bounded); none: empty."""
    if path is None:
        return ()
    data = Path(path).read_bytes()
    if len(data) > MAX_ANCHORS_BYTES:
        raise ValueError("wallet_trust_anchors is larger than 256 KiB")
    anchors = tuple(x509.load_pem_x509_certificates(data))
    if not anchors:
        raise ValueError("wallet_trust_anchors holds no certificate")
    return anchors


def _chain_key(
    header: dict[str, Any], anchors: Sequence[x509.Certificate], now: int, refuse: Refuse
) -> tuple[Any, str]:
    if "x5c" not in header:
        raise refuse("the attestation must carry its certificate chain (x5c)")
    try:
        chain = validate_x5c(header["x5c"], anchors, now)
    except VerifierError as exc:
        raise refuse(f"x5c: {exc.reason}") from exc
    return chain.public_key, chain.leaf.subject.rfc4514_string()


def _check_not_before(claims: dict[str, Any], now: int, refuse: Refuse) -> None:
    for name in ("nbf", "iat"):
        value = int_claim(claims, name, refuse, required=False)
        if value is not None and value > now + SKEW_SECONDS:
            raise refuse(f"{name} is in the future")


@dataclass(frozen=True, slots=True)
class WalletAttestation:
    """A verified wallet attestation: who attested it, the client id, the instance key."""

    provider: str  # iss of the attestation
    client_id: str  # sub of the attestation = iss of the PoP
    instance_jwk: dict[str, str]
    instance_jkt: str
    wallet_name: str | None


def verify_wallet_attestation(
    attestations: list[str],
    pops: list[str],
    *,
    anchors: Sequence[x509.Certificate],
    audience: str,
    client_id: str | None,
    now: int,
    refuse: Refuse,
) -> tuple[WalletAttestation, str, int]:
    """Steps 1-4 of the module docstring; returns the attestation and the PoP's jti and iat
    (the caller records the jti with `remember_pop`)."""
    if len(attestations) != 1 or len(pops) != 1:
        raise refuse("exactly one attestation and one PoP header are required")
    attestation, pop = attestations[0].strip(), pops[0].strip()
    header = peek_header(attestation, max_chars=MAX_ATTESTATION_CHARS, refuse=refuse)
    if header.get("typ") != ATTESTATION_TYP:
        raise refuse("the attestation's typ must be oauth-client-attestation+jwt")
    key, _subject = _chain_key(header, anchors, now, refuse)
    claims = verify_es256(attestation, key, refuse)
    provider = str_claim(claims, "iss", refuse)
    subject = str_claim(claims, "sub", refuse)
    exp = int_claim(claims, "exp", refuse, required=True)
    assert exp is not None
    if now >= exp:
        raise refuse("the attestation has expired")
    _check_not_before(claims, now, refuse)
    cnf = claims.get("cnf")
    instance_jwk, instance_jkt = p256_jwk(  # JWK decoding (signed_jwts.p256_jwk)
        cnf.get("jwk") if isinstance(cnf, dict) else None, refuse
    )
    pop_header = peek_header(pop, max_chars=MAX_POP_CHARS, refuse=refuse)
    if pop_header.get("typ") != POP_TYP:
        raise refuse("the PoP's typ must be oauth-client-attestation-pop+jwt")
    pop_claims = verify_es256(pop, instance_jwk, refuse)
    if pop_claims.get("iss") != subject:
        raise refuse("the PoP is for another client")
    aud = pop_claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and audience in aud)):
        raise refuse("the PoP is for another authorization server")
    jti = str_claim(pop_claims, "jti", refuse)
    iat = int_claim(pop_claims, "iat", refuse, required=True)
    assert iat is not None
    if not now - POP_MAX_AGE_SECONDS <= iat <= now + SKEW_SECONDS:
        raise refuse("the PoP's iat is outside the accepted window")
    pop_exp = int_claim(pop_claims, "exp", refuse, required=False)
    if pop_exp is not None and now >= pop_exp:
        raise refuse("the PoP has expired")
    if client_id is not None and client_id != subject:
        raise refuse("client_id is not the attested client")
    name = claims.get("wallet_name")
    return (
        WalletAttestation(
            provider=provider,
            client_id=subject,
            instance_jwk=instance_jwk,
            instance_jkt=instance_jkt,
            wallet_name=name if isinstance(name, str) else None,
        ),
        jti,
        iat,
    )


def remember_pop(
    sessions: sessionmaker[Session],
    attestation: WalletAttestation,
    jti: str,
    iat: int,
    *,
    now: datetime,
    refuse: Refuse,
) -> None:
    """Refuse a PoP whose jti this instance key used before (draft -07 §12.1)."""
    digest = replay_digest("attestation-pop", attestation.instance_jkt, jti)
    until = datetime.fromtimestamp(iat + POP_MAX_AGE_SECONDS + SKEW_SECONDS, now.tzinfo)
    if not remember_once(
        sessions, digest, expires_at=max(until, now + timedelta(seconds=1)), now=now
    ):
        raise refuse("the PoP was used before")


@dataclass(frozen=True, slots=True)
class KeyAttestation:
    """A verified key attestation: the attested keys (thumbprint -> JWK) and their storage."""

    keys: dict[str, dict[str, str]]
    key_storage: tuple[str, ...]
    user_authentication: tuple[str, ...]
    nonce: str | None


def _levels(claims: dict[str, Any], name: str, refuse: Refuse) -> tuple[str, ...]:
    value = claims.get(name)
    if value is None:
        return ()
    if (
        not isinstance(value, list)
        or not value
        or len(value) > 8
        or not all(isinstance(v, str) and 0 < len(v) <= 200 for v in value)
    ):
        raise refuse(f"{name} must be a non-empty array of strings")
    return tuple(value)


def verify_key_attestation(
    token: object,
    *,
    anchors: Sequence[x509.Certificate],
    accepted_storage: Sequence[str],
    now: int,
    refuse: Refuse,
) -> KeyAttestation:
    """The checks of the module docstring, except the nonce (the caller compares it)."""
    header = peek_header(token, max_chars=MAX_ATTESTATION_CHARS, refuse=refuse)
    assert isinstance(token, str)
    if header.get("typ") != KEY_ATTESTATION_TYP:
        raise refuse("the key attestation's typ must be key-attestation+jwt")
    key, _subject = _chain_key(header, anchors, now, refuse)
    claims = verify_es256(token, key, refuse)
    iat = int_claim(claims, "iat", refuse, required=True)
    assert iat is not None
    if iat > now + SKEW_SECONDS:
        raise refuse("the key attestation's iat is in the future")
    exp = int_claim(claims, "exp", refuse, required=True)
    assert exp is not None
    if now >= exp:
        raise refuse("the key attestation has expired")
    listed = claims.get("attested_keys")
    if not isinstance(listed, list) or not 0 < len(listed) <= MAX_ATTESTED_KEYS:
        raise refuse("attested_keys must be a non-empty, bounded array")
    keys: dict[str, dict[str, str]] = {}
    for item in listed:
        jwk, jkt = p256_jwk(item, refuse)  # JWK decoding (signed_jwts.p256_jwk)
        keys[jkt] = jwk
    storage = _levels(claims, "key_storage", refuse)
    if accepted_storage and not set(storage) & set(accepted_storage):
        raise refuse("the key storage is not one of the accepted levels")
    nonce = claims.get("nonce")
    return KeyAttestation(
        keys=keys,
        key_storage=storage,
        user_authentication=_levels(claims, "user_authentication", refuse),
        nonce=nonce if isinstance(nonce, str) else None,
    )
