"""Compact JWS checks shared by DPoP proofs (RFC 9449), wallet attestations and their PoPs
(attestation-based client authentication) and key attestations (OpenID4VCI 1.0 App. D).

Every refusal goes through the caller's `refuse(description)` factory, so each endpoint
answers with its own error family and code. Structure first (bounded size, header as a
JSON object), then the signature with pyjwt (ES256 only: HAIP 1.0 "Crypto Suites"), then
the caller's claim checks. pyjwt's own time checks are off: time is a parameter here.

JWK decoding: `p256_jwk`, through the verifier's strict decoder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt
from jwt.exceptions import PyJWTError

from verifier import DecodeError
from verifier.formats import PublicKey, decode_public_jwk

ALG = "ES256"
Refuse = Callable[[str], Exception]
_PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def peek_header(token: object, *, max_chars: int, refuse: Refuse) -> dict[str, Any]:
    """The JOSE header of a compact JWS of at most `max_chars`; not a verification."""
    if not isinstance(token, str) or not 0 < len(token) <= max_chars or token.count(".") != 2:
        raise refuse("not a compact JWS of bounded size")
    try:
        header = jwt.get_unverified_header(token)
    except PyJWTError as exc:
        raise refuse("the JWS header is malformed") from exc
    if not isinstance(header, dict):
        raise refuse("the JWS header is not an object")
    if header.get("alg") != ALG:
        raise refuse("alg must be ES256")
    if "crit" in header:
        raise refuse("no critical header parameters are understood")
    return header


def p256_jwk(value: object, refuse: Refuse) -> tuple[dict[str, str], str]:
    """A public EC P-256 JWK (members kty, crv, x, y only kept) and its RFC 7638 thumbprint
    (base64url SHA-256, the `jkt` of RFC 9449 §6.1), decoded strictly by
    `verifier.decode_public_jwk`: one key, one thumbprint, however it was spelt."""
    if not isinstance(value, dict):
        raise refuse("the key must be a JWK object")
    if any(name in value for name in _PRIVATE_JWK_MEMBERS):
        raise refuse("the JWK must be a public key")
    if value.get("kty") != "EC" or value.get("crv") != "P-256":
        raise refuse("the JWK must be an EC P-256 key")
    try:
        public = decode_public_jwk(value)
    except DecodeError as exc:
        raise refuse("the JWK is not a canonical P-256 public key") from exc
    return public.jwk, public.kid


def verify_es256(token: str, key: dict[str, str] | PublicKey, refuse: Refuse) -> dict[str, Any]:
    """The claims of `token` once its ES256 signature verifies with `key` (JWK or key object)."""
    try:
        verifying = jwt.PyJWK(key, algorithm=ALG) if isinstance(key, dict) else key
        claims = jwt.decode(
            token,
            key=verifying,
            algorithms=[ALG],
            options={
                "verify_signature": True,
                "verify_aud": False,
                "verify_iat": False,
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iss": False,
                "verify_sub": False,
                "verify_jti": False,
            },
        )
    except (PyJWTError, ValueError, TypeError) as exc:
        raise refuse("the signature does not verify") from exc
    if not isinstance(claims, dict):
        raise refuse("the claims are not an object")
    return claims


def int_claim(claims: dict[str, Any], name: str, refuse: Refuse, *, required: bool) -> int | None:
    """An integer NumericDate claim (never a float or a boolean)."""
    value = claims.get(name)
    if value is None:
        if required:
            raise refuse(f"{name} is required")
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise refuse(f"{name} must be an integer")
    return value


def str_claim(claims: dict[str, Any], name: str, refuse: Refuse, *, max_chars: int = 255) -> str:
    """A required, bounded, non-empty string claim."""
    value = claims.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= max_chars:
        raise refuse(f"{name} must be a non-empty string")
    return value
