"""Compact JWS (RFC 7515): signing through a :data:`Sign` callable, verification by PyJWT.

Signing never touches a private key (it may live in an HSM): the signer returns the raw
signature, which for ES256 is already the JWS form ``r‖s`` (RFC 7518 §3.4). Verification goes
through PyJWT with the algorithm list pinned by the caller (``none`` can never be pinned).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import jwt
from jwt.exceptions import InvalidKeyError, InvalidSignatureError, PyJWTError

from verifier._errors import DecodeError, Reason, SignatureError
from verifier._keys import Alg, PublicKey, Sign, alg_for_key, b64url_decode, b64url_encode

MAX_JWS_CHARS = 2 * 1024 * 1024
"""Longest compact JWS accepted (a status list JWT of 2^20 entries at 8 bits fits)."""
MAX_JWS_HEADER_CHARS = 4096
"""Longest base64url header :func:`peek_jws_header` decodes."""
JOSE_ALGORITHMS = ("ES256", "EdDSA")
"""The JOSE algorithms of our formats."""

_PYJWS = jwt.PyJWS()
_JOSE_ALGS = {"ES256": Alg.ES256, "EdDSA": Alg.EDDSA}


def encode_jws(header: Mapping[str, Any], payload: bytes, sign: Sign) -> str:
    """``base64url(header).base64url(payload).base64url(sign(signing input))``; header needs alg."""
    if header.get("alg") not in JOSE_ALGORITHMS:
        raise ValueError("header alg must be ES256 or EdDSA")
    encoded_header = b64url_encode(json.dumps(dict(header), separators=(",", ":")).encode("utf-8"))
    signing_input = f"{encoded_header}.{b64url_encode(payload)}"
    return f"{signing_input}.{b64url_encode(sign(signing_input.encode('ascii')))}"


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def peek_jws_header(token: str) -> dict[str, Any]:
    """The header of a compact JWS, NOT verified (to pick the key); ``DecodeError(BAD_JWS)``."""
    if not isinstance(token, str) or len(token) > MAX_JWS_CHARS or token.count(".") != 2:
        raise DecodeError(Reason.BAD_JWS, "not a compact JWS")
    encoded = token[: token.index(".")]
    if len(encoded) > MAX_JWS_HEADER_CHARS:
        raise DecodeError(Reason.BAD_JWS, "header too long")
    raw = b64url_decode(encoded, reason=Reason.BAD_JWS)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        raise DecodeError(Reason.BAD_JWS, "header is not JSON") from None
    if not isinstance(header, dict):
        raise DecodeError(Reason.BAD_JWS, "header is not an object")
    return header


def decode_jws(
    token: str,
    key: PublicKey,
    *,
    algorithms: Sequence[str] = JOSE_ALGORITHMS,
) -> tuple[dict[str, Any], bytes]:
    """Verify a compact JWS; ``(header, payload)``. ``BAD_JWS`` or ``BAD_SIGNATURE``."""
    if "none" in algorithms:
        raise ValueError("alg none can never be accepted")
    header = peek_jws_header(token)  # bounds, strict base64url, no duplicate members
    _, encoded_payload, encoded_signature = token.split(".")
    b64url_decode(encoded_payload, reason=Reason.BAD_JWS)  # strict: one spelling per token
    b64url_decode(encoded_signature, reason=Reason.BAD_JWS)
    if header.get("alg") not in algorithms:
        raise DecodeError(Reason.BAD_JWS, "algorithm not allowed")
    if _JOSE_ALGS.get(header["alg"]) is not alg_for_key(key):
        raise SignatureError(Reason.BAD_SIGNATURE, "key does not fit the algorithm")
    try:
        decoded = _PYJWS.decode_complete(token, key=key, algorithms=list(algorithms))
    except (InvalidSignatureError, InvalidKeyError):
        raise SignatureError(Reason.BAD_SIGNATURE) from None
    except (PyJWTError, ValueError, TypeError):
        raise DecodeError(Reason.BAD_JWS, "malformed JWS") from None
    payload = decoded["payload"]
    if not isinstance(payload, bytes):
        raise DecodeError(Reason.BAD_JWS, "payload is not bytes")
    return header, payload
