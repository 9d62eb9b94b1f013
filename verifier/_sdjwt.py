"""SD-JWT (RFC 9901) and SD-JWT VC (draft-ietf-oauth-sd-jwt-vc), both directions.

Issue (`issue_sd_jwt`) and present (`present_sd_jwt`) in the compact serialization
(DESIGN §3.6); verify (`verify_sd_jwt`, `verify_sd_jwt_vc`) the compact and the JWS JSON
serialization (RFC 9901 §8, flattened and general). Digests are
SHA-256 (`_sd_alg` "sha-256"); signatures go through a `Sign` callable returning the raw
JWS signature (ES256: r||s), so issuer and holder keys may sit in an HSM.

The verifier follows RFC 9901 §7 step by step; every refusal is a `VerifierError` with a
stable `Reason`. Input is bounded (characters, Disclosures, nesting depth) before any
work that grows with it. Time is a parameter; nothing here reads a clock.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
import re
import secrets
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from verifier._errors import DecodeError, Reason, SignatureError, VerifierError
from verifier._jws import encode_jws
from verifier._keys import (
    JOSE_NAMES,
    Alg,
    PublicKey,
    Sign,
    key_from_jwk,
    verify_signature,
)

__all__ = [
    "KB_JWT_TYP",
    "SD_JWT_VC_TYP",
    "ClaimPath",
    "PublicKey",
    "SaltSource",
    "Sd",
    "Sign",
    "StatusReference",
    "VerifiedSdJwt",
    "disclosable_paths",
    "hash_disclosure",
    "issue_sd_jwt",
    "present_sd_jwt",
    "verify_sd_jwt",
    "verify_sd_jwt_vc",
]

SD_JWT_VC_TYP = "dc+sd-jwt"
KB_JWT_TYP = "kb+jwt"
SD_ALG = "sha-256"

MAX_TOKEN_CHARS = 64 * 1024
MAX_DISCLOSURES = 512
MAX_DEPTH = 32
MAX_JSON_SIGNATURES = 4
DEFAULT_LEEWAY_SECONDS = 60
DEFAULT_KB_MAX_AGE_SECONDS = 300
HOLDER_KEY_CACHE_SIZE = 256

# draft-ietf-oauth-sd-jwt-vc §3.2.2: these claims must not be selectively disclosable.
VC_NEVER_DISCLOSABLE: frozenset[str] = frozenset(
    {"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"}
)

SaltSource: TypeAlias = Callable[[], str]
"""Returns a fresh salt string; by default 128 random bits from `secrets`, base64url."""

ClaimPath: TypeAlias = tuple[str | int, ...]
"""A claim by keys and array indexes from the top: ("address", "locality"), ("nationalities", 0)."""


_ALGS_BY_NAME: dict[str, Alg] = {name: alg for alg, name in JOSE_NAMES.items()}
_OUR_ALGS: frozenset[str] = frozenset({"ES256", "EdDSA"})
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_B64URL_VALUES: dict[str, int] = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
# a final group of 2 (3) characters carries 4 (2) bits that must be zero
_B64URL_UNUSED_BITS: dict[int, int] = {2: 0x0F, 3: 0x03}
_B64URL_TO_STD = bytes.maketrans(b"-_", b"+/")


@dataclass(frozen=True, slots=True)
class Sd:
    """Marks an object key or an array element as selectively disclosable at issuance."""

    value: Any

    def __hash__(self) -> int:
        return hash(("Sd", self.value))


@dataclass(frozen=True, slots=True)
class StatusReference:
    """`status.status_list` of a credential (draft-ietf-oauth-status-list)."""

    idx: int
    uri: str


@dataclass(frozen=True, slots=True)
class VerifiedSdJwt:
    """A verified presentation: processed claims and what the holder chose to show."""

    claims: dict[str, Any]
    disclosed_paths: tuple[ClaimPath, ...]
    header: dict[str, Any]
    holder_jwk: dict[str, Any] | None
    key_bound: bool
    vct: str | None = None
    status: StatusReference | None = None


# --------------------------------------------------------------------------- encoding


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str, reason: Reason) -> bytes:
    """Strict unpadded base64url (RFC 7515 §2), as `verifier._keys.b64url_decode` accepts it.

    Canonical form is checked on the last character's unused bits instead of re-encoding
    the whole value: with the alphabet fixed and no padding, both accept the same strings.
    """
    if not _B64URL.fullmatch(text):
        raise DecodeError(reason, "not base64url")
    tail = len(text) % 4
    if tail == 1:
        raise DecodeError(reason, "not base64url")
    if tail and _B64URL_VALUES[text[-1]] & _B64URL_UNUSED_BITS[tail]:
        raise DecodeError(reason, "not canonical base64url")
    padded = text.encode("ascii").translate(_B64URL_TO_STD) + b"=" * (-len(text) % 4)
    return binascii.a2b_base64(padded)


def _json_dumps(value: Any) -> bytes:
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


def _json_loads(data: bytes, reason: Reason) -> Any:
    try:
        return _JSON_DECODER.decode(data.decode("utf-8"))
    except RecursionError as exc:
        raise DecodeError(Reason.TOO_LARGE, "nesting too deep") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(reason, "not JSON") from exc


def _digest(disclosure: str) -> str:
    return _b64e(hashlib.sha256(disclosure.encode("ascii")).digest())


def hash_disclosure(disclosure: str) -> str:
    """RFC 9901 §4.2.3: base64url(SHA-256(ASCII of the Disclosure as received))."""
    return _digest(disclosure)


def _default_salt() -> str:
    return _b64e(secrets.token_bytes(16))


def _encode_jws(header: Mapping[str, Any], payload: Mapping[str, Any], sign: Sign) -> str:
    return encode_jws(header, _json_dumps(dict(payload)), sign)


# --------------------------------------------------------------------------- issuance


class _Issuer:
    def __init__(self, salt: SaltSource, decoys: int) -> None:
        self.salt = salt
        self.decoys = decoys
        self.disclosures: list[str] = []

    def disclose(self, content: list[Any]) -> str:
        disclosure = _b64e(_json_dumps([self.salt(), *content]))
        self.disclosures.append(disclosure)
        return _digest(disclosure)

    def build(self, value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError("claims nested too deeply")
        if isinstance(value, Sd):
            raise ValueError("Sd() marks an object key or an array element, not a value")
        if isinstance(value, Mapping):
            return self.build_object(value, depth)
        if isinstance(value, list | tuple):
            return self.build_array(value, depth)
        return value

    def build_object(self, claims: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        digests: list[str] = []
        names: set[str] = set()
        for key, value in claims.items():
            name = key.value if isinstance(key, Sd) else key
            if not isinstance(name, str):
                raise ValueError("claim names are strings")
            if name in names:
                raise ValueError(f"claim name {name!r} given twice")
            names.add(name)
            if name in ("_sd", "...") or (depth == 0 and name == "_sd_alg"):
                raise ValueError(f"claim name {name!r} is reserved by RFC 9901")
            built = self.build(value, depth + 1)
            if isinstance(key, Sd):
                digests.append(self.disclose([name, built]))
            else:
                out[name] = built
        if digests:
            digests.extend(_digest(self.salt()) for _ in range(self.decoys))
            out["_sd"] = sorted(digests)
        return out

    def build_array(self, items: Sequence[Any], depth: int) -> list[Any]:
        out: list[Any] = []
        for item in items:
            if isinstance(item, Sd):
                out.append({"...": self.disclose([self.build(item.value, depth + 1)])})
            else:
                out.append(self.build(item, depth + 1))
        return out


def issue_sd_jwt(
    claims: Mapping[Any, Any],
    *,
    sign: Sign,
    alg: str = "ES256",
    kid: str | None = None,
    typ: str = SD_JWT_VC_TYP,
    holder_jwk: Mapping[str, Any] | None = None,
    decoys: int = 0,
    salt: SaltSource | None = None,
    extra_header: Mapping[str, Any] | None = None,
) -> str:
    """Issue an SD-JWT: `Sd(...)` keys/elements become Disclosures; returns `<JWT>~<D1>~...~`.

    `decoys` adds that many decoy digests to every `_sd` array; `holder_jwk` becomes
    `cnf.jwk`. For `typ` dc+sd-jwt the claims of `VC_NEVER_DISCLOSABLE` must be plain.
    """
    if alg not in _OUR_ALGS:
        raise ValueError(f"unsupported alg {alg!r}")
    if typ == SD_JWT_VC_TYP:
        marked = {k.value for k in claims if isinstance(k, Sd)}
        if marked & VC_NEVER_DISCLOSABLE:
            raise ValueError("SD-JWT VC: iss, nbf, exp, cnf, vct, status must be plain claims")
    if decoys < 0:
        raise ValueError("decoys must not be negative")
    issuer = _Issuer(salt or _default_salt, decoys)
    payload = issuer.build_object(claims, 0)
    if holder_jwk is not None:
        if "cnf" in payload or any(isinstance(k, Sd) and k.value == "cnf" for k in claims):
            raise ValueError("cnf given twice")
        if {"d", "p", "q", "dp", "dq", "qi", "oth", "k"} & set(holder_jwk):
            raise ValueError("holder_jwk must be a public key")
        payload["cnf"] = {"jwk": dict(holder_jwk)}
    payload["_sd_alg"] = SD_ALG
    header: dict[str, Any] = {"alg": alg, "typ": typ}
    if kid is not None:
        header["kid"] = kid
    if extra_header:
        header.update(extra_header)
        header["alg"] = alg
    jwt = _encode_jws(header, payload, sign)
    return "~".join([jwt, *issuer.disclosures, ""])


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class _Signed:
    header: dict[str, Any]
    signing_input: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class _Parsed:
    jwt: str
    payload: dict[str, Any]
    signatures: tuple[_Signed, ...]
    disclosures: tuple[str, ...]
    kb_jwt: str | None
    sd_hash_input: str


@dataclass(frozen=True, slots=True)
class _Disclosure:
    text: str
    salt: str
    name: str | None
    value: Any


def _split_jws(token: str, reason: Reason) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    parts = token.split(".")
    if len(parts) != 3:
        raise DecodeError(reason, "not a compact JWS")
    header = _json_loads(_b64d(parts[0], reason), reason)
    payload = _json_loads(_b64d(parts[1], reason), reason)
    signature = _b64d(parts[2], reason)
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise DecodeError(reason, "header and payload must be JSON objects")
    return header, payload, (parts[0] + "." + parts[1]).encode("ascii"), signature


def _parse(presentation: str, max_chars: int, max_disclosures: int) -> _Parsed:
    if not isinstance(presentation, str):
        raise TypeError("presentation must be str")
    if len(presentation) > max_chars:
        raise DecodeError(Reason.TOO_LARGE, "presentation too long")
    if presentation.startswith("{"):
        return _parse_json(presentation, max_disclosures)
    if not presentation.isascii():
        raise DecodeError(Reason.BAD_SD_JWT, "not ASCII")
    if presentation.count("~") > max_disclosures + 1:
        raise DecodeError(Reason.TOO_LARGE, "too many Disclosures")
    parts = presentation.split("~")
    if len(parts) < 2:
        raise DecodeError(Reason.BAD_SD_JWT, "no '~' separator")
    jwt, *disclosures, last = parts
    if any(d == "" for d in disclosures):
        raise DecodeError(Reason.BAD_SD_JWT, "empty Disclosure")
    header, payload, signing_input, signature = _split_jws(jwt, Reason.BAD_JWS)
    return _Parsed(
        jwt=jwt,
        payload=payload,
        signatures=(_Signed(header, signing_input, signature),),
        disclosures=tuple(disclosures),
        kb_jwt=last or None,
        sd_hash_input=presentation[: len(presentation) - len(last)],
    )


def _parse_json(presentation: str, max_disclosures: int) -> _Parsed:
    """RFC 9901 §8: flattened or general JWS JSON serialization.

    Disclosures and the KB-JWT ride in the unprotected header of the first signature;
    `sd_hash` covers that signature in compact form plus the Disclosures.
    """
    document = _json_loads(presentation.encode("utf-8"), Reason.BAD_SD_JWT)
    if not isinstance(document, dict) or not isinstance(document.get("payload"), str):
        raise DecodeError(Reason.BAD_SD_JWT, "not a JWS JSON serialization")
    entries = document.get("signatures", [document])
    if isinstance(entries, list) and len(entries) > MAX_JSON_SIGNATURES:
        raise DecodeError(Reason.TOO_LARGE, "too many signatures")
    if (
        not isinstance(entries, list)
        or not entries
        or ("signatures" in document and ("protected" in document or "signature" in document))
    ):
        raise DecodeError(Reason.BAD_SD_JWT, "signatures must be a non-empty array")
    payload_b64 = document["payload"]
    payload = _json_loads(_b64d(payload_b64, Reason.BAD_JWS), Reason.BAD_JWS)
    if not isinstance(payload, dict):
        raise DecodeError(Reason.BAD_JWS, "payload must be a JSON object")
    signed: list[_Signed] = []
    disclosures: list[str] = []
    kb_jwt: str | None = None
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise DecodeError(Reason.BAD_SD_JWT, "signature entry must be an object")
        protected_b64, signature_b64 = entry.get("protected"), entry.get("signature")
        unprotected = (
            dict(entry.get("header", {})) if isinstance(entry.get("header", {}), dict) else None
        )
        if (
            not isinstance(protected_b64, str)
            or not isinstance(signature_b64, str)
            or unprotected is None
        ):
            raise DecodeError(Reason.BAD_JWS, "protected, signature and header")
        found_disclosures = unprotected.pop("disclosures", None)
        found_kb = unprotected.pop("kb_jwt", None)
        if position == 0:
            if not isinstance(found_disclosures, list) or not all(
                isinstance(d, str) and d and d.isascii() and "~" not in d for d in found_disclosures
            ):
                raise DecodeError(Reason.BAD_SD_JWT, "disclosures must be an array of strings")
            if len(found_disclosures) > max_disclosures:
                raise DecodeError(Reason.TOO_LARGE, "too many Disclosures")
            if found_kb is not None and (not isinstance(found_kb, str) or not found_kb.isascii()):
                raise DecodeError(Reason.BAD_SD_JWT, "kb_jwt must be a string")
            disclosures, kb_jwt = found_disclosures, found_kb or None
        elif found_disclosures is not None or found_kb is not None:
            raise DecodeError(Reason.BAD_SD_JWT, "disclosures only in the first signature")
        protected = _json_loads(_b64d(protected_b64, Reason.BAD_JWS), Reason.BAD_JWS)
        if not isinstance(protected, dict) or set(protected) & set(unprotected):
            raise DecodeError(Reason.BAD_JWS, "protected header")
        if not protected_b64.isascii() or not payload_b64.isascii():
            raise DecodeError(Reason.BAD_JWS, "not ASCII")
        signing_input = (protected_b64 + "." + payload_b64).encode("ascii")
        signature = _b64d(signature_b64, Reason.BAD_JWS)
        signed.append(_Signed({**unprotected, **protected}, signing_input, signature))
    first = entries[0]
    jwt = first["protected"] + "." + payload_b64 + "." + first["signature"]
    return _Parsed(
        jwt=jwt,
        payload=payload,
        signatures=tuple(signed),
        disclosures=tuple(disclosures),
        kb_jwt=kb_jwt,
        sd_hash_input="~".join([jwt, *disclosures, ""]),
    )


def _decode_disclosure(text: str) -> _Disclosure:
    content = _json_loads(_b64d(text, Reason.BAD_DISCLOSURE), Reason.BAD_DISCLOSURE)
    if not isinstance(content, list) or len(content) not in (2, 3):
        raise DecodeError(Reason.BAD_DISCLOSURE, "a Disclosure is an array of 2 or 3")
    if not isinstance(content[0], str):
        raise DecodeError(Reason.BAD_DISCLOSURE, "salt must be a string")
    if len(content) == 2:
        return _Disclosure(text, content[0], None, content[1])
    if not isinstance(content[1], str):
        raise DecodeError(Reason.BAD_DISCLOSURE, "claim name must be a string")
    # RFC 9901 §7.1 step 3.3.2.2: these names are never claim names
    if content[1] in ("_sd", "..."):
        raise DecodeError(Reason.BAD_DISCLOSURE, "reserved claim name in Disclosure")
    return _Disclosure(text, content[0], content[1], content[2])


# --------------------------------------------------------------------------- signatures


def _jose_alg(name: str) -> Alg:
    return _ALGS_BY_NAME[name]


def _verify_signature(
    key: PublicKey, alg: str, signing_input: bytes, signature: bytes, reason: Reason
) -> None:
    try:
        verify_signature(key, _jose_alg(alg), signing_input, signature)
    except SignatureError as exc:
        raise SignatureError(reason, "signature does not verify") from exc


@functools.lru_cache(maxsize=HOLDER_KEY_CACHE_SIZE)
def _key_from_members(kty: str | None, crv: str | None, x: str | None, y: str | None) -> PublicKey:
    return key_from_jwk({"kty": kty, "crv": crv, "x": x, "y": y})


def _holder_key(jwk: dict[str, Any]) -> PublicKey:
    """`key_from_jwk(jwk)`, remembered for the last holders seen (a point check costs about
    as much as a signature check). Keyed by exactly the members `key_from_jwk` reads; a JWK
    it refuses is never remembered (lru_cache keeps no exceptions)."""
    members = (jwk.get("kty"), jwk.get("crv"), jwk.get("x"), jwk.get("y"))
    if "d" in jwk or not all(m is None or type(m) is str for m in members):
        return key_from_jwk(jwk)  # refused there, with its reason
    return _key_from_members(*members)


# --------------------------------------------------------------------------- processing


class _Processor:
    """RFC 9901 §7.1 step 3: replace digests by the disclosed values, bounded."""

    def __init__(self, disclosures: Iterable[_Disclosure], max_depth: int) -> None:
        self.by_digest: dict[str, _Disclosure] = {}
        for d in disclosures:
            digest = _digest(d.text)
            if digest in self.by_digest:
                raise DecodeError(Reason.DUPLICATE_DISCLOSURE, "Disclosure sent twice")
            self.by_digest[digest] = d
        self.seen: set[str] = set()
        self.used: set[str] = set()
        self.paths: list[ClaimPath] = []
        self.top_disclosed: set[str] = set()
        self.max_depth = max_depth

    def _claim(self, digest: Any) -> _Disclosure | None:
        if not isinstance(digest, str):
            raise DecodeError(Reason.BAD_SD_JWT, "digest must be a string")
        if digest in self.seen:
            raise DecodeError(Reason.DUPLICATE_DIGEST, "digest appears more than once")
        self.seen.add(digest)
        found = self.by_digest.get(digest)
        if found is not None:
            self.used.add(digest)
        return found

    def value(self, node: Any, path: ClaimPath) -> Any:
        if len(path) > self.max_depth:
            raise DecodeError(Reason.TOO_LARGE, "claims nested too deeply")
        if isinstance(node, dict):
            return self.obj(node, path)
        if isinstance(node, list):
            return self.array(node, path)
        return node

    def obj(self, node: dict[str, Any], path: ClaimPath) -> dict[str, Any]:
        digests = node.get("_sd", [])
        if not isinstance(digests, list):
            raise DecodeError(Reason.BAD_SD_JWT, "_sd must be an array")
        out: dict[str, Any] = {}
        # what `value` checks per child, once: a child's path is one longer than ours
        too_deep = len(path) >= self.max_depth
        for key, value in node.items():
            if key == "_sd" or (not path and key == "_sd_alg"):
                continue
            if too_deep:
                raise DecodeError(Reason.TOO_LARGE, "claims nested too deeply")
            if isinstance(value, dict):
                out[key] = self.obj(value, (*path, key))
            elif isinstance(value, list):
                out[key] = self.array(value, (*path, key))
            else:
                out[key] = value  # a scalar needs no walk
        for digest in digests:
            found = self._claim(digest)
            if found is None:
                continue  # decoy or not disclosed
            if found.name is None:
                raise DecodeError(Reason.BAD_DISCLOSURE, "array Disclosure behind an object digest")
            if found.name in out:
                raise DecodeError(Reason.CLAIM_COLLISION, "claim name already present")
            claim_path = (*path, found.name)
            out[found.name] = self.value(found.value, claim_path)
            self.paths.append(claim_path)
            if not path:
                self.top_disclosed.add(found.name)
        return out

    def array(self, node: list[Any], path: ClaimPath) -> list[Any]:
        out: list[Any] = []
        too_deep = len(path) >= self.max_depth
        for element in node:
            if isinstance(element, dict) and len(element) == 1 and "..." in element:
                found = self._claim(element["..."])
                if found is None:
                    continue
                if found.name is not None:
                    raise DecodeError(
                        Reason.BAD_DISCLOSURE, "object Disclosure behind an array digest"
                    )
                element_path = (*path, len(out))
                out.append(self.value(found.value, element_path))
                self.paths.append(element_path)
            elif too_deep:
                raise DecodeError(Reason.TOO_LARGE, "claims nested too deeply")
            elif isinstance(element, dict):
                out.append(self.obj(element, (*path, len(out))))
            elif isinstance(element, list):
                out.append(self.array(element, (*path, len(out))))
            else:
                out.append(element)
        return out


def _int_claim(payload: Mapping[str, Any], name: str) -> int | None:
    value = payload.get(name)
    if value is None and name not in payload:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise DecodeError(Reason.BAD_CLAIMS, f"{name} must be an integer")
    return value


def _check_times(payload: Mapping[str, Any], now: int, leeway_seconds: int) -> None:
    exp = _int_claim(payload, "exp")
    nbf = _int_claim(payload, "nbf")
    _int_claim(payload, "iat")
    # DESIGN §3: exp is exclusive, valid while now < exp
    if exp is not None and now >= exp + leeway_seconds:
        raise VerifierError(Reason.EXPIRED, "credential expired")
    if nbf is not None and now < nbf - leeway_seconds:
        raise VerifierError(Reason.NOT_YET_VALID, "credential not yet valid")


def _check_kb_jwt(
    parsed: _Parsed,
    holder_key: PublicKey,
    *,
    algorithms: Collection[str],
    now: int,
    expected_aud: str | None,
    expected_nonce: str | None,
    max_age_seconds: int,
    leeway_seconds: int,
) -> None:
    assert parsed.kb_jwt is not None
    header, payload, signing_input, signature = _split_jws(parsed.kb_jwt, Reason.BAD_KB_JWT)
    # RFC 9901 §7.3 step 5
    if header.get("typ") != KB_JWT_TYP:
        raise DecodeError(Reason.BAD_KB_JWT, "typ must be kb+jwt")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg == "none" or alg not in algorithms:
        raise DecodeError(Reason.UNSUPPORTED_ALG, "KB-JWT alg not allowed")
    if "crit" in header:
        raise DecodeError(Reason.BAD_KB_JWT, "unknown critical header")
    _verify_signature(holder_key, alg, signing_input, signature, Reason.BAD_KB_JWT)
    iat = payload.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool):
        raise DecodeError(Reason.BAD_KB_JWT, "iat must be an integer")
    if iat > now + leeway_seconds or iat < now - max_age_seconds - leeway_seconds:
        raise VerifierError(Reason.BAD_KB_JWT, "KB-JWT iat outside the window")
    if expected_nonce is not None and payload.get("nonce") != expected_nonce:
        raise VerifierError(Reason.WRONG_NONCE, "nonce")
    if expected_aud is not None and payload.get("aud") != expected_aud:
        raise VerifierError(Reason.WRONG_AUDIENCE, "aud")
    expected_hash = _b64e(hashlib.sha256(parsed.sd_hash_input.encode("ascii")).digest())
    sd_hash = payload.get("sd_hash")
    if not isinstance(sd_hash, str) or not secrets.compare_digest(sd_hash, expected_hash):
        raise VerifierError(Reason.BAD_SD_HASH, "sd_hash does not match the presentation")


def _check_issuer_signature(
    signed: _Signed, key: PublicKey, algorithms: Collection[str], expected_typ: str | None
) -> None:
    alg = signed.header.get("alg")
    if not isinstance(alg, str) or alg == "none" or alg not in algorithms:
        raise DecodeError(Reason.UNSUPPORTED_ALG, "issuer alg not allowed")
    if "crit" in signed.header:
        raise DecodeError(Reason.BAD_JWS, "unknown critical header")
    if expected_typ is not None and signed.header.get("typ") != expected_typ:
        raise DecodeError(Reason.BAD_SD_JWT, "unexpected typ")
    _verify_signature(key, alg, signed.signing_input, signed.signature, Reason.BAD_SIGNATURE)


def verify_sd_jwt(
    presentation: str,
    *,
    issuer_key: PublicKey,
    now: int,
    require_key_binding: bool,
    expected_aud: str | None = None,
    expected_nonce: str | None = None,
    algorithms: Collection[str] = ("ES256",),
    kb_algorithms: Collection[str] = ("ES256",),
    expected_typ: str | None = None,
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
    kb_max_age_seconds: int = DEFAULT_KB_MAX_AGE_SECONDS,
    max_chars: int = MAX_TOKEN_CHARS,
    max_disclosures: int = MAX_DISCLOSURES,
    max_depth: int = MAX_DEPTH,
) -> VerifiedSdJwt:
    """Verify an SD-JWT presentation (RFC 9901 §7) against one pinned issuer key.

    `require_key_binding` is the verifier's policy (RFC 9901 §7.3 step 1), never inferred
    from the input; with it, `expected_aud` and `expected_nonce` are mandatory. A KB-JWT
    that is present is always checked. `algorithms` and `kb_algorithms` pin the issuer's
    and the holder's algorithms.
    """
    if require_key_binding and (expected_aud is None or expected_nonce is None):
        raise ValueError("key binding needs expected_aud and expected_nonce")
    pinned = {*algorithms, *kb_algorithms}
    if "none" in pinned or not pinned <= _ALGS_BY_NAME.keys():
        raise ValueError("alg none is never accepted; only JOSE names of verifier._keys.Alg")
    parsed = _parse(presentation, max_chars, max_disclosures)

    # RFC 9901 §7.1 step 2: the Issuer-signed JWT; in the general JSON serialization one
    # signature made with the pinned key suffices
    failure: VerifierError | None = None
    for signed in parsed.signatures:
        try:
            _check_issuer_signature(signed, issuer_key, algorithms, expected_typ)
        except VerifierError as exc:
            failure = failure or exc
            continue
        header = signed.header
        break
    else:
        assert failure is not None
        raise failure
    payload = parsed.payload
    sd_alg = payload.get("_sd_alg", SD_ALG)
    if sd_alg != SD_ALG:
        raise DecodeError(Reason.BAD_SD_JWT, "unsupported _sd_alg")

    # RFC 9901 §7.1 steps 3-5
    processor = _Processor((_decode_disclosure(d) for d in parsed.disclosures), max_depth)
    claims = processor.obj(payload, ())
    if len(processor.used) != len(processor.by_digest):
        raise DecodeError(Reason.UNREFERENCED_DISCLOSURE, "Disclosure not referenced")

    # RFC 9901 §7.1 step 6 (exp/nbf/iat are plain claims here)
    _check_times(claims, now, leeway_seconds)

    # RFC 9901 §7.3
    holder_jwk: dict[str, Any] | None = None
    cnf = claims.get("cnf")
    if cnf is not None:
        if not isinstance(cnf, dict) or not isinstance(cnf.get("jwk"), dict):
            raise DecodeError(Reason.BAD_CLAIMS, "cnf must carry a jwk")
        holder_jwk = cnf["jwk"]
    key_bound = False
    if parsed.kb_jwt is None:
        if require_key_binding:
            raise VerifierError(Reason.KEY_BINDING_REQUIRED, "no KB-JWT")
    else:
        if holder_jwk is None:
            raise VerifierError(Reason.KEY_BINDING_REQUIRED, "KB-JWT without cnf key")
        _check_kb_jwt(
            parsed,
            _holder_key(holder_jwk),
            algorithms=kb_algorithms,
            now=now,
            expected_aud=expected_aud,
            expected_nonce=expected_nonce,
            max_age_seconds=kb_max_age_seconds,
            leeway_seconds=leeway_seconds,
        )
        key_bound = True
    vct = claims.get("vct")
    return VerifiedSdJwt(
        claims=claims,
        disclosed_paths=tuple(processor.paths),
        header=header,
        holder_jwk=holder_jwk,
        key_bound=key_bound,
        vct=vct if isinstance(vct, str) else None,
        status=None,
    )


def _status_reference(claims: Mapping[str, Any]) -> StatusReference | None:
    if "status" not in claims:
        return None
    status = claims["status"]
    ref = status.get("status_list") if isinstance(status, dict) else None
    if ref is None and isinstance(status, dict):
        return None  # another status mechanism; not ours to judge
    if not isinstance(ref, dict):
        raise DecodeError(Reason.BAD_CLAIMS, "status must be an object")
    idx, uri = ref.get("idx"), ref.get("uri")
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0 or not isinstance(uri, str):
        raise DecodeError(Reason.BAD_CLAIMS, "status_list needs idx and uri")
    return StatusReference(idx=idx, uri=uri)


def verify_sd_jwt_vc(
    presentation: str,
    *,
    issuer_key: PublicKey,
    now: int,
    require_key_binding: bool,
    expected_aud: str | None = None,
    expected_nonce: str | None = None,
    expected_vct: str | None = None,
    expected_iss: str | None = None,
    algorithms: Collection[str] = ("ES256",),
    kb_algorithms: Collection[str] = ("ES256",),
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
    kb_max_age_seconds: int = DEFAULT_KB_MAX_AGE_SECONDS,
    max_chars: int = MAX_TOKEN_CHARS,
    max_disclosures: int = MAX_DISCLOSURES,
    max_depth: int = MAX_DEPTH,
) -> VerifiedSdJwt:
    """`verify_sd_jwt` plus the SD-JWT VC rules: typ dc+sd-jwt, vct, plain claims, status.

    `expected_vct` and `expected_iss`, when given, must equal `vct` and `iss`; the
    `status.status_list` reference is returned for the caller's status check.
    """
    result = verify_sd_jwt(
        presentation,
        issuer_key=issuer_key,
        now=now,
        require_key_binding=require_key_binding,
        expected_aud=expected_aud,
        expected_nonce=expected_nonce,
        algorithms=algorithms,
        kb_algorithms=kb_algorithms,
        expected_typ=SD_JWT_VC_TYP,
        leeway_seconds=leeway_seconds,
        kb_max_age_seconds=kb_max_age_seconds,
        max_chars=max_chars,
        max_disclosures=max_disclosures,
        max_depth=max_depth,
    )
    claims = result.claims
    disclosed_top = {p[0] for p in result.disclosed_paths if len(p) == 1}
    if disclosed_top & VC_NEVER_DISCLOSABLE:
        raise DecodeError(Reason.BAD_CLAIMS, "a claim that must be plain was disclosable")
    vct = claims.get("vct")
    if not isinstance(vct, str) or not vct:
        raise DecodeError(Reason.BAD_VCT, "vct missing")
    if expected_vct is not None and vct != expected_vct:
        raise VerifierError(Reason.BAD_VCT, "unexpected vct")
    if "iss" in claims and not isinstance(claims["iss"], str):
        raise DecodeError(Reason.BAD_CLAIMS, "iss must be a string")
    if expected_iss is not None and claims.get("iss") != expected_iss:
        raise VerifierError(Reason.UNKNOWN_ISSUER, "iss is not the issuer of the pinned key")
    return VerifiedSdJwt(
        claims=claims,
        disclosed_paths=result.disclosed_paths,
        header=result.header,
        holder_jwk=result.holder_jwk,
        key_bound=result.key_bound,
        vct=vct,
        status=_status_reference(claims),
    )


# --------------------------------------------------------------------------- presentation


def _holder_index(sd_jwt: str) -> tuple[str, list[tuple[ClaimPath, tuple[str, ...]]]]:
    """Every claim path of an issued SD-JWT with the Disclosures it needs, in order."""
    parsed = _parse(sd_jwt, MAX_TOKEN_CHARS, MAX_DISCLOSURES)
    by_digest = {_digest(d): _decode_disclosure(d) for d in parsed.disclosures}
    index: list[tuple[ClaimPath, tuple[str, ...]]] = []

    def walk(node: Any, path: ClaimPath, needs: tuple[str, ...]) -> None:
        if len(path) > MAX_DEPTH:
            raise DecodeError(Reason.TOO_LARGE, "claims nested too deeply")
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "_sd" or (not path and key == "_sd_alg"):
                    continue
                index.append(((*path, key), needs))
                walk(value, (*path, key), needs)
            digests = node.get("_sd", [])
            for digest in digests if isinstance(digests, list) else []:
                found = by_digest.get(digest) if isinstance(digest, str) else None
                if found is not None and found.name is not None:
                    claim_path = (*path, found.name)
                    index.append((claim_path, (*needs, found.text)))
                    walk(found.value, claim_path, (*needs, found.text))
        elif isinstance(node, list):
            position = 0
            for element in node:
                if isinstance(element, dict) and len(element) == 1 and "..." in element:
                    digest = element["..."]
                    found = by_digest.get(digest) if isinstance(digest, str) else None
                    if found is None or found.name is not None:
                        continue  # decoy
                    element_path = (*path, position)
                    index.append((element_path, (*needs, found.text)))
                    walk(found.value, element_path, (*needs, found.text))
                else:
                    index.append(((*path, position), needs))
                    walk(element, (*path, position), needs)
                position += 1

    walk(parsed.payload, (), ())
    return parsed.jwt, index


def disclosable_paths(sd_jwt: str) -> tuple[ClaimPath, ...]:
    """The claim paths of an issued SD-JWT that the holder may show or withhold (not verified).

    For a wallet's consent screen; the issuer signature is checked when the credential is
    received (`verify_sd_jwt_vc` with `require_key_binding=False`).
    """
    _, index = _holder_index(sd_jwt)
    needs_of = dict(index)
    return tuple(path for path, needs in index if needs and needs_of.get(path[:-1], ()) != needs)


def present_sd_jwt(
    sd_jwt: str,
    disclose: Iterable[ClaimPath],
    *,
    include_subtree: bool = True,
    holder_sign: Sign | None = None,
    holder_alg: str = "ES256",
    aud: str | None = None,
    nonce: str | None = None,
    iat: int | None = None,
) -> str:
    """Present an issued SD-JWT with the chosen claims and, with `holder_sign`, a KB-JWT.

    Each path discloses the claim and every Disclosure on the way to it; with
    `include_subtree` also everything below it. Array indexes count the elements as
    issued. Paths that are not in the credential raise `ValueError`.
    """
    jwt, index = _holder_index(sd_jwt)
    chosen: set[str] = set()
    known = {path for path, _ in index}
    for wanted in disclose:
        wanted = tuple(wanted)
        if wanted not in known:
            raise ValueError(f"claim path {wanted!r} is not in the credential")
        for path, needs in index:
            if path == wanted or (include_subtree and path[: len(wanted)] == wanted):
                chosen.update(needs)
    ordered: list[str] = []
    for _, needs in index:
        for text in needs:
            if text in chosen and text not in ordered:
                ordered.append(text)
    presentation = "~".join([jwt, *ordered, ""])
    if holder_sign is None:
        return presentation
    if aud is None or nonce is None or iat is None:
        raise ValueError("a KB-JWT needs aud, nonce and iat")
    sd_hash = _b64e(hashlib.sha256(presentation.encode("ascii")).digest())
    kb_jwt = _encode_jws(
        {"alg": holder_alg, "typ": KB_JWT_TYP},
        {"iat": iat, "aud": aud, "nonce": nonce, "sd_hash": sd_hash},
        holder_sign,
    )
    return presentation + kb_jwt
