"""Key binding (RFC 9901 §4.3 and §7.3): the holder's KB-JWT, made and checked.

The KB-JWT proves that whoever presents the SD-JWT holds the key in its ``cnf.jwk``: it is
signed with that key over ``iat``, ``aud``, ``nonce`` and ``sd_hash``, the digest of the
presentation up to the KB-JWT exactly as sent.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Collection
from typing import Any

from verifier._errors import DecodeError, Reason, VerifierError
from verifier._keys import PublicJwk, PublicKey, Sign, decode_public_jwk
from verifier.sdjwt._encoding import digest, sign_jws, split_jws, verify_jws_signature
from verifier.sdjwt._parsing import ParsedSdJwt

KB_JWT_TYP = "kb+jwt"
DEFAULT_KB_MAX_AGE_SECONDS = 300
HOLDER_KEY_CACHE_SIZE = 256
_MEMBER_TYPES = frozenset({str, type(None)})  # what a remembered JWK's members may be


def kb_jwt(presentation: str, *, sign: Sign, alg: str, aud: str, nonce: str, iat: int) -> str:
    """The KB-JWT that ends ``presentation`` (which ends with ``~``)."""
    return sign_jws(
        {"alg": alg, "typ": KB_JWT_TYP},
        {"iat": iat, "aud": aud, "nonce": nonce, "sd_hash": digest(presentation)},
        sign,
    )


@functools.lru_cache(maxsize=HOLDER_KEY_CACHE_SIZE)
def _jwk_from_members(kty: str | None, crv: str | None, x: str | None, y: str | None) -> PublicJwk:
    return decode_public_jwk({"kty": kty, "crv": crv, "x": x, "y": y})


def holder_public_jwk(jwk: dict[str, Any]) -> PublicJwk:
    """`decode_public_jwk(jwk)` (the key and its RFC 7638 kid), remembered for the last
    holders seen (a point check costs about as much as a signature check). Keyed by exactly
    the members `key_from_jwk` reads, so a key is its value, never a name that could be
    rebound; a JWK it refuses is never remembered (lru_cache keeps no exceptions)."""
    kty, crv, x, y = jwk.get("kty"), jwk.get("crv"), jwk.get("x"), jwk.get("y")
    if "d" in jwk or not {type(kty), type(crv), type(x), type(y)} <= _MEMBER_TYPES:
        return decode_public_jwk(jwk)  # refused there, with its reason
    return _jwk_from_members(kty, crv, x, y)


def holder_key(jwk: dict[str, Any]) -> PublicKey:
    """The key of `holder_public_jwk(jwk)`."""
    return holder_public_jwk(jwk).key


def check_kb_jwt(
    parsed: ParsedSdJwt,
    holder: PublicKey,
    *,
    algorithms: Collection[str],
    now: int,
    expected_aud: str | None,
    expected_nonce: str | None,
    max_age_seconds: int,
    leeway_seconds: int,
) -> None:
    """RFC 9901 §7.3 step 5 for the KB-JWT of ``parsed``, signed by ``holder``."""
    assert parsed.kb_jwt is not None
    header, payload, signing_input, signature = split_jws(parsed.kb_jwt, Reason.BAD_KB_JWT)
    if header.get("typ") != KB_JWT_TYP:
        raise DecodeError(Reason.BAD_KB_JWT, "typ must be kb+jwt")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg == "none" or alg not in algorithms:
        raise DecodeError(Reason.UNSUPPORTED_ALG, "KB-JWT alg not allowed")
    if "crit" in header:
        raise DecodeError(Reason.BAD_KB_JWT, "unknown critical header")
    verify_jws_signature(holder, alg, signing_input, signature, Reason.BAD_KB_JWT)
    iat = payload.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise DecodeError(Reason.BAD_KB_JWT, "iat must be an integer")
    if iat > now + leeway_seconds or iat < now - max_age_seconds - leeway_seconds:
        raise VerifierError(Reason.BAD_KB_JWT, "KB-JWT iat outside the window")
    if expected_nonce is not None and payload.get("nonce") != expected_nonce:
        raise VerifierError(Reason.WRONG_NONCE, "nonce")
    if expected_aud is not None and payload.get("aud") != expected_aud:
        raise VerifierError(Reason.WRONG_AUDIENCE, "aud")
    sd_hash = payload.get("sd_hash")
    expected_hash = digest(parsed.sd_hash_input)
    if not isinstance(sd_hash, str) or not secrets.compare_digest(sd_hash, expected_hash):
        raise VerifierError(Reason.BAD_SD_HASH, "sd_hash does not match the presentation")
