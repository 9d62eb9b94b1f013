"""The pieces every direction of SD-JWT shares: strict JSON, SHA-256 digests, compact JWS.

JSON is read strictly (no duplicate member names, no ``NaN``/``Infinity``) and written
compactly; base64url is the strict unpadded form of ``verifier``'s key handling. Signatures
are named by their JOSE ``alg`` (``"ES256"``, ``"EdDSA"``) and checked through the one
signature wrapper of the package.
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from verifier._errors import DecodeError, Reason, SignatureError
from verifier._jws import encode_jws
from verifier._keys import (
    JOSE_NAMES,
    Alg,
    PublicKey,
    Sign,
    b64url_decode,
    verify_signature,
)

SD_ALG = "sha-256"
"""The one digest algorithm (``_sd_alg``) we issue and accept."""
HEADER_MEMO_SIZE = 64
MAX_MEMO_HEADER_CHARS = 4096
"""JWS headers up to this many base64url characters are decoded once (``jws_header``)."""

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
# the decoder's own scanner (set in JSONDecoder.__init__; typeshed does not declare it)
_SCAN_JSON: Callable[[str, int], tuple[Any, int]]
_SCAN_JSON = _JSON_DECODER.scan_once  # type: ignore[attr-defined]


def json_loads(data: bytes, reason: Reason) -> Any:
    """Strict JSON from UTF-8 bytes; ``DecodeError(reason)``, ``TOO_LARGE`` when too deep."""
    try:
        text = data.decode("utf-8")
        # the decoder's scanner reads one value from the first character; a text it does
        # not read to its end (surrounding whitespace, extra data, no JSON at all) goes the
        # decoder's whole way, so both accept and refuse the same texts
        try:
            value, end = _SCAN_JSON(text, 0)
        except StopIteration:
            end = -1
        if end != len(text):
            value = _JSON_DECODER.decode(text)
        return value
    except RecursionError as exc:
        raise DecodeError(Reason.TOO_LARGE, "nesting too deep") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(reason, "not JSON") from exc


_STD_TO_B64URL = bytes.maketrans(b"+/", b"-_")


def digest(text: str) -> str:
    """base64url(SHA-256(ASCII of ``text``)): a Disclosure's digest and the KB-JWT's
    ``sd_hash`` (RFC 9901 §4.2.3, §4.3.1)."""
    # ``b64url_encode`` written out for the 32 bytes: 44 characters, the last one "="
    encoded = binascii.b2a_base64(hashlib.sha256(text.encode("ascii")).digest(), newline=False)
    return encoded[:43].translate(_STD_TO_B64URL).decode("ascii")


def hash_disclosure(disclosure: str) -> str:
    """RFC 9901 §4.2.3: base64url(SHA-256(ASCII of the Disclosure as received))."""
    return digest(disclosure)


def sign_jws(header: Mapping[str, Any], payload: Mapping[str, Any], sign: Sign) -> str:
    """A compact JWS over the JSON of ``payload``."""
    return encode_jws(header, json_dumps(dict(payload)), sign)


def json_copy(value: Any) -> Any:
    """A copy of decoded JSON that shares no object or array with ``value``."""
    if type(value) is dict:
        return {name: json_copy(member) for name, member in value.items()}
    if type(value) is list:
        return [json_copy(element) for element in value]
    return value  # str, int, float, bool, None: immutable


@functools.lru_cache(maxsize=HEADER_MEMO_SIZE)
def _decoded_header(text: str, reason: Reason) -> tuple[Any, tuple[str, ...]]:
    """The JSON of a base64url header and the names of its members that are containers.
    lru_cache keeps no exceptions: a header refused here is decoded again next time."""
    header = json_loads(b64url_decode(text, reason=reason), reason)
    if not isinstance(header, dict):
        return header, ()
    return header, tuple(name for name, value in header.items() if type(value) in (dict, list))


def jws_header(text: str, reason: Reason) -> Any:
    """The decoded JSON of a JWS header in base64url (a dict when it is a JSON object).

    Headers repeat: the issuer's is the same for every credential of one key, the KB-JWT's
    for every wallet. Up to ``HEADER_MEMO_SIZE`` short ones are decoded once and kept;
    every call gets its own copy, so no caller can change what the next one reads. Only
    the header is kept, never a payload or a signature.
    """
    if len(text) > MAX_MEMO_HEADER_CHARS:
        return json_loads(b64url_decode(text, reason=reason), reason)
    header, containers = _decoded_header(text, reason)
    if type(header) is not dict:
        return json_copy(header)
    fresh = header.copy()
    for name in containers:
        fresh[name] = json_copy(header[name])
    return fresh


def split_jws(token: str, reason: Reason) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """A compact JWS as ``(header, payload, signing input, signature)``, not verified."""
    # the two dots found rather than the token split: str.find runs at memchr's speed
    first = token.find(".")
    second = token.find(".", first + 1)
    if first < 0 or second < 0 or token.find(".", second + 1) >= 0:
        raise DecodeError(reason, "not a compact JWS")
    header = jws_header(token[:first], reason)
    payload = json_loads(b64url_decode(token[first + 1 : second], reason=reason), reason)
    signature = b64url_decode(token[second + 1 :], reason=reason)
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise DecodeError(reason, "header and payload must be JSON objects")
    return header, payload, token[:second].encode("ascii"), signature


def verify_jws_signature(
    key: PublicKey, alg: str, signing_input: bytes, signature: bytes, reason: Reason
) -> None:
    """Check a JWS signature made with JOSE ``alg`` (already pinned); ``SignatureError(reason)``."""
    try:
        verify_signature(key, ALGS_BY_NAME[alg], signing_input, signature)
    except SignatureError as exc:
        raise SignatureError(reason, "signature does not verify") from exc
