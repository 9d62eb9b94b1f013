"""Verifying an SD-JWT presentation against one pinned issuer key (RFC 9901 §7).

The steps run in the order of RFC 9901 §7.1 and §7.3: the issuer-signed JWT (algorithm
pinned by the caller, ``none`` never), ``_sd_alg``, the Disclosures, the times, then key
binding as the caller's policy demands. Every refusal is a ``VerifierError`` with a stable
``Reason``; time is a parameter.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from verifier._errors import DecodeError, Reason, VerifierError
from verifier._keys import PublicKey
from verifier.sdjwt._encoding import ALGS_BY_NAME, SD_ALG, verify_jws_signature
from verifier.sdjwt._key_binding import (
    DEFAULT_KB_MAX_AGE_SECONDS,
    check_kb_jwt,
    holder_public_jwk,
)
from verifier.sdjwt._parsing import (
    MAX_DEPTH,
    MAX_DISCLOSURES,
    MAX_TOKEN_CHARS,
    ParsedSdJwt,
    Signed,
    parse,
)
from verifier.sdjwt._processing import ClaimPath, Processor

DEFAULT_LEEWAY_SECONDS = 60
DEFAULT_ALGORITHMS: tuple[str, ...] = ("ES256",)
"""The issuer's and the holder's algorithm unless the caller pins others."""


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
    holder_kid: str | None = None  # the RFC 7638 kid of the key that signed the KB-JWT


def _int_claim(payload: Mapping[str, Any], name: str) -> int | None:
    value = payload.get(name)
    if value is None and name not in payload:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise DecodeError(Reason.BAD_CLAIMS, f"{name} must be an integer")
    return value


def _check_times(payload: Mapping[str, Any], now: int, leeway_seconds: int) -> None:
    exp, nbf, iat = payload.get("exp"), payload.get("nbf"), payload.get("iat")
    if not (type(exp) is int and type(nbf) is int and type(iat) is int):  # else each alone
        exp = _int_claim(payload, "exp")
        nbf = _int_claim(payload, "nbf")
        _int_claim(payload, "iat")
    # RFC 7519 §4.1.4: on or after exp it is expired (exp is exclusive)
    if exp is not None and now >= exp + leeway_seconds:
        raise VerifierError(Reason.EXPIRED, "credential expired")
    if nbf is not None and now < nbf - leeway_seconds:
        raise VerifierError(Reason.NOT_YET_VALID, "credential not yet valid")


def _check_issuer_signature(
    signed: Signed, key: PublicKey, algorithms: Collection[str], expected_typ: str | None
) -> None:
    alg = signed.header.get("alg")
    if not isinstance(alg, str) or alg == "none" or alg not in algorithms:
        raise DecodeError(Reason.UNSUPPORTED_ALG, "issuer alg not allowed")
    if "crit" in signed.header:
        raise DecodeError(Reason.BAD_JWS, "unknown critical header")
    if expected_typ is not None and signed.header.get("typ") != expected_typ:
        raise DecodeError(Reason.BAD_SD_JWT, "unexpected typ")
    verify_jws_signature(key, alg, signed.signing_input, signed.signature, Reason.BAD_SIGNATURE)


def verify_sd_jwt(
    presentation: str | ParsedSdJwt,
    *,
    issuer_key: PublicKey,
    now: int,
    require_key_binding: bool,
    expected_aud: str | None = None,
    expected_nonce: str | None = None,
    algorithms: Collection[str] = DEFAULT_ALGORITHMS,
    kb_algorithms: Collection[str] = DEFAULT_ALGORITHMS,
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
    and the holder's algorithms. `presentation` is the text as received or what
    `parse_sd_jwt` made of it (its size bounds were applied there).
    """
    checked = check_sd_jwt(
        presentation,
        issuer_key,
        now,
        require_key_binding,
        expected_aud,
        expected_nonce,
        algorithms,
        kb_algorithms,
        expected_typ,
        leeway_seconds,
        kb_max_age_seconds,
        max_chars,
        max_disclosures,
        max_depth,
    )
    vct = checked.claims.get("vct")
    return VerifiedSdJwt(
        claims=checked.claims,
        disclosed_paths=checked.disclosed_paths,
        header=checked.header,
        holder_jwk=checked.holder_jwk,
        key_bound=checked.key_bound,
        vct=vct if isinstance(vct, str) else None,
        status=None,
        holder_kid=checked.holder_kid,
    )


class CheckedSdJwt(NamedTuple):
    """What `check_sd_jwt` found, for `verify_sd_jwt` and the SD-JWT VC profile to return."""

    claims: dict[str, Any]
    disclosed_paths: tuple[ClaimPath, ...]
    header: dict[str, Any]
    holder_jwk: dict[str, Any] | None
    key_bound: bool
    holder_kid: str | None


def check_sd_jwt(
    presentation: str | ParsedSdJwt,
    issuer_key: PublicKey,
    now: int,
    require_key_binding: bool,
    expected_aud: str | None,
    expected_nonce: str | None,
    algorithms: Collection[str],
    kb_algorithms: Collection[str],
    expected_typ: str | None,
    leeway_seconds: int,
    kb_max_age_seconds: int,
    max_chars: int,
    max_disclosures: int,
    max_depth: int,
) -> CheckedSdJwt:
    """The steps of `verify_sd_jwt` (see there), its parameters in their order."""
    if require_key_binding and (expected_aud is None or expected_nonce is None):
        raise ValueError("key binding needs expected_aud and expected_nonce")
    if algorithms is not DEFAULT_ALGORITHMS or kb_algorithms is not DEFAULT_ALGORITHMS:
        pinned = {*algorithms, *kb_algorithms}
        if "none" in pinned or not pinned <= ALGS_BY_NAME.keys():
            raise ValueError("alg none is never accepted; only the JOSE names of Alg")
    if isinstance(presentation, ParsedSdJwt):
        parsed = presentation
    else:
        parsed = parse(presentation, max_chars, max_disclosures)

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
    processor = Processor(parsed.disclosures, max_depth)
    claims = processor.obj(payload, ())
    if processor.used != len(processor.by_digest):
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
    holder_kid: str | None = None
    if parsed.kb_jwt is None:
        if require_key_binding:
            raise VerifierError(Reason.KEY_BINDING_REQUIRED, "no KB-JWT")
    else:
        if holder_jwk is None:
            raise VerifierError(Reason.KEY_BINDING_REQUIRED, "KB-JWT without cnf key")
        holder = holder_public_jwk(holder_jwk)
        check_kb_jwt(
            parsed,
            holder.key,
            algorithms=kb_algorithms,
            now=now,
            expected_aud=expected_aud,
            expected_nonce=expected_nonce,
            max_age_seconds=kb_max_age_seconds,
            leeway_seconds=leeway_seconds,
        )
        key_bound = True
        holder_kid = holder.kid
    return CheckedSdJwt(claims, tuple(processor.paths), header, holder_jwk, key_bound, holder_kid)
