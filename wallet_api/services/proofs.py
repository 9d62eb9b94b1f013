"""Validation of OpenID4VCI key proofs (OpenID4VCI 1.0 Appendix F.1, proof type ``jwt``).

A proof is a compact JWS the wallet signs with the key it wants the credential bound to:
header ``typ: openid4vci-proof+jwt``, ``alg: ES256`` (the only algorithm we accept), the
public key as ``jwk`` (no ``kid``, ``x5c`` or ``trust_chain`` alongside it, no private
parameters); claims ``aud`` = the credential issuer identifier, ``iat`` within a window
around now, ``nonce`` = a ``c_nonce`` from the nonce endpoint. The checks run structure
first, then the signature, then the claims; the nonce's single use is enforced by the
caller against the database. Time is a parameter.

The key is decoded strictly and identified by ``verifier.decode_public_jwk`` (canonical
base64url, exact coordinate length, point on the curve): one key has one thumbprint, however
its JWK was spelt, and a key that does not decode is ``invalid_proof``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jwt
from jwt.exceptions import InvalidTokenError

from verifier import DecodeError
from verifier.formats import PublicJwk, decode_public_jwk
from wallet_api.errors import CredentialError
from wallet_api.services.signed_jwts import verify_es256

PROOF_TYP = "openid4vci-proof+jwt"
MAX_PROOF_CHARS = 12 * 1024  # room for a key attestation with its x5c in the header
# How far in the past a proof's iat may be, and how far in the future (clock skew).
IAT_MAX_AGE_SECONDS = 300
IAT_MAX_SKEW_SECONDS = 60
_FORBIDDEN_KEY_HEADERS = ("kid", "x5c", "x5u", "trust_chain", "jku")
_PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "k")


@dataclass(frozen=True, slots=True)
class ProvenKey:
    """A public key whose possession a proof demonstrated, with the proof's nonce."""

    jwk: dict[str, str]
    # base64url(SHA-256 RFC 7638 thumbprint), 43 characters (docs/formats.md, "Key identifiers")
    thumbprint: str
    nonce: str
    iat: int
    key_attestation: str | None = None  # the proof's `key_attestation` header, unchecked
    issuer: str | None = None  # the proof's `iss` (the client_id, when not anonymous)


def _refuse(description: str) -> CredentialError:
    return CredentialError("invalid_proof", description)


def _public_p256_jwk(header: dict[str, Any]) -> PublicJwk:
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise _refuse("the proof header must carry the key as jwk")
    if any(name in header for name in _FORBIDDEN_KEY_HEADERS):
        raise _refuse("jwk must be the only key parameter")
    if any(name in jwk for name in _PRIVATE_JWK_MEMBERS):
        raise _refuse("jwk must be a public key")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise _refuse("jwk must be an EC P-256 key")
    try:
        return decode_public_jwk(jwk)
    except DecodeError as exc:
        raise _refuse("jwk is not a canonical P-256 public key") from exc


def validate_proof(proof: object, *, audience: str, now: int) -> ProvenKey:
    """Check one ``proofs.jwt`` element; raise ``CredentialError`` (``invalid_proof``).

    The nonce is returned, not checked: the caller consumes it exactly once.
    """
    if not isinstance(proof, str) or not 0 < len(proof) <= MAX_PROOF_CHARS:
        raise _refuse("a proof must be a compact JWS string")
    try:
        header = jwt.get_unverified_header(proof)
    except InvalidTokenError as exc:
        raise _refuse("the proof is not a JWS") from exc
    if header.get("typ") != PROOF_TYP:
        raise _refuse("typ must be openid4vci-proof+jwt")
    if header.get("alg") != "ES256":
        raise _refuse("alg must be ES256")
    if "crit" in header:
        raise _refuse("no critical header parameters are understood")
    public = _public_p256_jwk(header)
    claims = verify_es256(
        proof, public.key, lambda _: _refuse("the proof signature does not verify")
    )
    aud = claims.get("aud")
    if not (aud == audience or (isinstance(aud, list) and aud == [audience])):
        raise _refuse("aud must be the credential issuer identifier")
    iat = claims.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise _refuse("iat must be an integer")
    if iat < now - IAT_MAX_AGE_SECONDS or iat > now + IAT_MAX_SKEW_SECONDS:
        raise _refuse("iat is outside the accepted window")
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not nonce:
        # OpenID4VCI 1.0 §8.3.1.2: a missing or wrong c_nonce is invalid_nonce.
        raise CredentialError("invalid_nonce", "the proof carries no nonce")
    attestation = header.get("key_attestation")
    if attestation is not None and not isinstance(attestation, str):
        raise _refuse("key_attestation must be a compact JWS")
    issuer = claims.get("iss")
    if issuer is not None and (not isinstance(issuer, str) or len(issuer) > 255):
        raise _refuse("iss must be a string")
    return ProvenKey(
        jwk=public.jwk,
        thumbprint=public.kid,
        nonce=nonce,
        iat=iat,
        key_attestation=attestation,
        issuer=issuer,
    )
