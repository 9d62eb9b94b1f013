"""Trust bundle payload (docs/formats.md): what a handheld syncs, signed by an operator anchor.

The payload is a CBOR map with text keys; the COSE_Sign1 around it (content type
``TYP_TRUST_BUNDLE``) is built with :func:`encode_sign1` and checked against the pinned
anchors by the trust store. Decoding is strict and bounded: exactly the keys of the format,
every key's ``kid`` equal to its 32-byte thumbprint and its ``alg`` the key's own,
``nbf ≤ sign_until ≤ exp`` per key, ``iat ≤ fresh_until ≤ exp`` for the bundle, and counts
below the ``MAX_*`` constants. The embedded Status List Tokens are kept as bytes, unverified.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from verifier._cbor import dumps, loads
from verifier._claims import PermitType
from verifier._errors import DecodeError, Reason
from verifier._keys import Alg, PublicKey, alg_for_key, key_from_cose, key_to_cose, thumbprint
from verifier._status import MAX_STATUS_LIST_TOKEN_BYTES
from verifier._status import TYP_STATUS_LIST_CWT as TYP_STATUS_LIST_CWT

TYP_TRUST_BUNDLE = "application/vnd.buergerid.trust-bundle+cbor"
TYP_PLATE_INDEX = "application/vnd.buergerid.plate-index+cbor"

BUNDLE_VERSION = 1
MAX_BUNDLE_BYTES = 16 * 1024 * 1024
"""Largest trust bundle payload accepted."""
MAX_ISSUERS = 1024
MAX_KEYS_PER_ISSUER = 32
MAX_STATUS_LISTS_PER_ISSUER = 256
MAX_ANCHORS_NEXT = 8
MAX_TYPES = 16
MAX_TEXT_CHARS = 256
"""Longest issuer id, name and URL."""
MAX_TIME = 2**63 - 1

_TOP_REQUIRED = frozenset({"v", "seq", "iat", "fresh_until", "exp", "issuers"})
_TOP_ALLOWED = _TOP_REQUIRED | {"anchors_next"}
_ISSUER_KEYS = frozenset({"name", "url", "keys", "status"})
_KEY_KEYS = frozenset({"kid", "key", "alg", "nbf", "sign_until", "exp", "types"})


@dataclass(frozen=True, slots=True)
class BundleKey:
    """An issuer key with its window: signs tokens with ``nbf ≤ iat < sign_until``."""

    kid: bytes
    key: PublicKey
    alg: Alg
    nbf: int
    sign_until: int
    exp: int
    types: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class IssuerEntry:
    """One tenant: its keys and its Status List Tokens (list number → CWT bytes, unverified)."""

    issuer_id: str
    name: str
    url: str
    keys: tuple[BundleKey, ...]
    status: Mapping[int, bytes]


@dataclass(frozen=True, slots=True)
class TrustBundle:
    """The decoded trust bundle payload."""

    seq: int
    iat: int
    fresh_until: int
    exp: int
    issuers: Mapping[str, IssuerEntry]
    anchors_next: tuple[PublicKey, ...] = ()
    v: int = BUNDLE_VERSION


def _bad(detail: str) -> DecodeError:
    return DecodeError(Reason.BAD_BUNDLE, detail)


def _int(value: object, name: str, low: int = 0, high: int = MAX_TIME) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _bad(f"{name} is not an integer in range")
    return value


def _text(value: object, name: str) -> str:
    if type(value) is not str or not 0 < len(value) <= MAX_TEXT_CHARS:
        raise _bad(f"{name} is not a short text")
    return value


def _map(
    value: object, name: str, required: frozenset[str], allowed: frozenset[str]
) -> dict[Any, Any]:
    if type(value) is not dict:
        raise _bad(f"{name} is not a map")
    if not required.issubset(value) or not allowed.issuperset(value):
        raise _bad(f"{name} has missing or unknown keys")
    return value


def _array(value: object, name: str, max_items: int) -> list[Any]:
    if type(value) is not list or len(value) > max_items:
        raise _bad(f"{name} is not a bounded array")
    return value


def _key_entry(value: object) -> BundleKey:
    m = _map(value, "key entry", _KEY_KEYS, _KEY_KEYS)
    key = key_from_cose(m["key"], reason=Reason.BAD_BUNDLE)
    kid = m["kid"]
    if type(kid) is not bytes or kid != thumbprint(key):
        raise _bad("kid is not the key's thumbprint")
    alg = m["alg"]
    if type(alg) is not int or alg != alg_for_key(key):
        raise _bad("alg does not fit the key")
    nbf, sign_until, exp = (_int(m[k], k) for k in ("nbf", "sign_until", "exp"))
    if not nbf <= sign_until <= exp:
        raise _bad("key window is not nbf <= sign_until <= exp")
    types = _array(m["types"], "types", MAX_TYPES)
    if any(type(t) is not str or t not in PermitType.__members__ for t in types):
        raise _bad("unknown permit type")
    if len(set(types)) != len(types):
        raise _bad("repeated permit type")
    return BundleKey(kid, key, Alg(alg), nbf, sign_until, exp, tuple(types))


def _issuer(issuer_id: object, value: object) -> IssuerEntry:
    issuer_id = _text(issuer_id, "issuer id")
    m = _map(value, "issuer", _ISSUER_KEYS, _ISSUER_KEYS)
    keys = tuple(map(_key_entry, _array(m["keys"], "keys", MAX_KEYS_PER_ISSUER)))
    if len({k.kid for k in keys}) != len(keys):
        raise _bad("repeated key")
    status = m["status"]
    if type(status) is not dict or len(status) > MAX_STATUS_LISTS_PER_ISSUER:
        raise _bad("status is not a bounded map")
    for number, token in status.items():
        _int(number, "status list number", 0, 2**64 - 1)
        if type(token) is not bytes or not 0 < len(token) <= MAX_STATUS_LIST_TOKEN_BYTES:
            raise _bad("status list token is not a bounded byte string")
    return IssuerEntry(
        issuer_id=issuer_id,
        name=_text(m["name"], "name"),
        url=_text(m["url"], "url"),
        keys=keys,
        status=dict(status),
    )


def decode_bundle_payload(payload: bytes) -> TrustBundle:
    """Decode a trust bundle payload strictly and bounded; ``DecodeError(BAD_BUNDLE)``."""
    m = _map(
        loads(payload, reason=Reason.BAD_BUNDLE, max_bytes=MAX_BUNDLE_BYTES),
        "bundle",
        _TOP_REQUIRED,
        _TOP_ALLOWED,
    )
    if type(m["v"]) is not int or m["v"] != BUNDLE_VERSION:
        raise _bad("unsupported bundle version")
    seq = _int(m["seq"], "seq", 0, 2**64 - 1)
    iat, fresh_until, exp = (_int(m[k], k) for k in ("iat", "fresh_until", "exp"))
    if not iat <= fresh_until <= exp or iat == exp:
        raise _bad("times are not iat <= fresh_until <= exp, iat < exp")
    issuers = m["issuers"]
    if type(issuers) is not dict or len(issuers) > MAX_ISSUERS:
        raise _bad("issuers is not a bounded map")
    anchors_next: tuple[PublicKey, ...] = ()
    if "anchors_next" in m:
        anchors_next = tuple(
            key_from_cose(k, reason=Reason.BAD_BUNDLE)
            for k in _array(m["anchors_next"], "anchors_next", MAX_ANCHORS_NEXT)
        )
    return TrustBundle(
        seq=seq,
        iat=iat,
        fresh_until=fresh_until,
        exp=exp,
        issuers={k: _issuer(k, v) for k, v in issuers.items()},
        anchors_next=anchors_next,
        v=BUNDLE_VERSION,
    )


def encode_bundle_payload(b: TrustBundle) -> bytes:
    """Deterministic CBOR of a trust bundle payload; ``ValueError`` if it would not decode."""
    issuers: dict[str, Any] = {}
    for issuer_id, entry in b.issuers.items():
        if entry.issuer_id != issuer_id:
            raise ValueError("issuer map key differs from the entry's issuer_id")
        issuers[issuer_id] = {
            "name": entry.name,
            "url": entry.url,
            "keys": [
                {
                    "kid": k.kid,
                    "key": key_to_cose(k.key),
                    "alg": int(k.alg),
                    "nbf": k.nbf,
                    "sign_until": k.sign_until,
                    "exp": k.exp,
                    "types": [str(t) for t in k.types],
                }
                for k in entry.keys
            ],
            "status": dict(entry.status),
        }
    m: dict[str, Any] = {
        "v": b.v,
        "seq": b.seq,
        "iat": b.iat,
        "fresh_until": b.fresh_until,
        "exp": b.exp,
        "issuers": issuers,
    }
    if b.anchors_next:
        m["anchors_next"] = [key_to_cose(k) for k in b.anchors_next]
    payload = dumps(m)
    try:
        decode_bundle_payload(payload)
    except DecodeError as exc:
        raise ValueError(f"trust bundle is not valid: {exc.detail}") from None
    return payload


def bundle_key(
    key: PublicKey, *, nbf: int, sign_until: int, exp: int, types: tuple[str, ...]
) -> BundleKey:
    """A :class:`BundleKey` with ``kid`` and ``alg`` derived from ``key``."""
    return BundleKey(thumbprint(key), key, alg_for_key(key), nbf, sign_until, exp, types)
