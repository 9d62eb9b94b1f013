"""The pieces every direction of SD-JWT shares: strict JSON, SHA-256 digests, compact JWS.

JSON is read strictly (no duplicate member names, no ``NaN``/``Infinity``) and written
compactly; base64url is the strict unpadded form of ``verifier``'s key handling. Signatures
are named by their JOSE ``alg`` (``"ES256"``, ``"EdDSA"``) and checked through the one
signature wrapper of the package.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from verifier._errors import DecodeError, Reason, SignatureError
from verifier._jws import encode_jws
from verifier._keys import (
    JOSE_NAMES,
    Alg,
    PublicKey,
    Sign,
    b64url_decode,
    b64url_encode,
    verify_signature,
)

SD_ALG = "sha-256"
"""The one digest algorithm (``_sd_alg``) we issue and accept."""

ALGS_BY_NAME: dict[str, Alg] = {name: alg for alg, name in JOSE_NAMES.items()}


def json_dumps(value: Any) -> bytes:
    """Compact UTF-8 JSON; ``ValueError`` for NaN and infinities."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        raise ValueError("duplicate member name")
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError("non-finite number")


# one decoder for every call (json.loads with hooks builds a new one each time)
_JSON_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)


def json_loads(data: bytes, reason: Reason) -> Any:
    """Strict JSON from UTF-8 bytes; ``DecodeError(reason)``, ``TOO_LARGE`` when too deep."""
    try:
        return _JSON_DECODER.decode(data.decode("utf-8"))
    except RecursionError as exc:
        raise DecodeError(Reason.TOO_LARGE, "nesting too deep") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(reason, "not JSON") from exc


def digest(text: str) -> str:
    """base64url(SHA-256(ASCII of ``text``)): a Disclosure's digest and the KB-JWT's
    ``sd_hash`` (RFC 9901 §4.2.3, §4.3.1)."""
    return b64url_encode(hashlib.sha256(text.encode("ascii")).digest())


def hash_disclosure(disclosure: str) -> str:
    """RFC 9901 §4.2.3: base64url(SHA-256(ASCII of the Disclosure as received))."""
    return digest(disclosure)


def sign_jws(header: Mapping[str, Any], payload: Mapping[str, Any], sign: Sign) -> str:
    """A compact JWS over the JSON of ``payload``."""
    return encode_jws(header, json_dumps(dict(payload)), sign)


def split_jws(token: str, reason: Reason) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """A compact JWS as ``(header, payload, signing input, signature)``, not verified."""
    parts = token.split(".")
    if len(parts) != 3:
        raise DecodeError(reason, "not a compact JWS")
    header = json_loads(b64url_decode(parts[0], reason=reason), reason)
    payload = json_loads(b64url_decode(parts[1], reason=reason), reason)
    signature = b64url_decode(parts[2], reason=reason)
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise DecodeError(reason, "header and payload must be JSON objects")
    return header, payload, (parts[0] + "." + parts[1]).encode("ascii"), signature


def verify_jws_signature(
    key: PublicKey, alg: str, signing_input: bytes, signature: bytes, reason: Reason
) -> None:
    """Check a JWS signature made with JOSE ``alg`` (already pinned); ``SignatureError(reason)``."""
    try:
        verify_signature(key, ALGS_BY_NAME[alg], signing_input, signature)
    except SignatureError as exc:
        raise SignatureError(reason, "signature does not verify") from exc
