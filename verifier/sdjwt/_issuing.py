"""Issuing an SD-JWT (RFC 9901 §4 and §5) in the compact serialization.

Object keys and array elements marked ``Sd(...)`` become Disclosures (salted, digested into
``_sd`` arrays or ``{"...": digest}`` elements), recursively; ``decoys`` adds decoy digests
to every ``_sd`` array. The JWT is signed through a ``Sign`` callable that returns the raw
JWS signature (ES256: ``r‖s``), so the issuer key may sit in an HSM.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from verifier._jws import JOSE_ALGORITHMS
from verifier._keys import Sign, b64url_encode
from verifier.sdjwt._encoding import SD_ALG, digest, json_dumps, sign_jws
from verifier.sdjwt._parsing import MAX_DEPTH
from verifier.sdjwt._vc import SD_JWT_VC_TYP, VC_NEVER_DISCLOSABLE

SaltSource: TypeAlias = Callable[[], str]
"""Returns a fresh salt string; by default 128 random bits from `secrets`, base64url."""


@dataclass(frozen=True, slots=True)
class Sd:
    """Marks an object key or an array element as selectively disclosable at issuance."""

    value: Any

    def __hash__(self) -> int:
        return hash(("Sd", self.value))


def _default_salt() -> str:
    return b64url_encode(secrets.token_bytes(16))


class _Builder:
    """The issuer-signed payload under construction and the Disclosures made for it."""

    def __init__(self, salt: SaltSource, decoys: int) -> None:
        self.salt = salt
        self.decoys = decoys
        self.disclosures: list[str] = []

    def disclose(self, content: list[Any]) -> str:
        disclosure = b64url_encode(json_dumps([self.salt(), *content]))
        self.disclosures.append(disclosure)
        return digest(disclosure)

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
            digests.extend(digest(self.salt()) for _ in range(self.decoys))
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
    if alg not in JOSE_ALGORITHMS:
        raise ValueError(f"unsupported alg {alg!r}")
    if typ == SD_JWT_VC_TYP:
        marked = {k.value for k in claims if isinstance(k, Sd)}
        if marked & VC_NEVER_DISCLOSABLE:
            raise ValueError("SD-JWT VC: iss, nbf, exp, cnf, vct, status must be plain claims")
    if decoys < 0:
        raise ValueError("decoys must not be negative")
    builder = _Builder(salt or _default_salt, decoys)
    payload = builder.build_object(claims, 0)
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
    jwt = sign_jws(header, payload, sign)
    return "~".join([jwt, *builder.disclosures, ""])
