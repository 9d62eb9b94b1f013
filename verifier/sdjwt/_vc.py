"""The SD-JWT VC profile (draft-ietf-oauth-sd-jwt-vc) on top of RFC 9901 verification.

``typ`` ``dc+sd-jwt``, a ``vct``, the claims that must stay plain (§3.2.2), ``iss`` as
expected, and the ``status.status_list`` reference returned for the caller's status check.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from verifier._errors import DecodeError, Reason, VerifierError
from verifier._keys import PublicKey
from verifier.sdjwt._key_binding import DEFAULT_KB_MAX_AGE_SECONDS
from verifier.sdjwt._parsing import MAX_DEPTH, MAX_DISCLOSURES, MAX_TOKEN_CHARS, ParsedSdJwt
from verifier.sdjwt._verifying import (
    DEFAULT_ALGORITHMS,
    DEFAULT_LEEWAY_SECONDS,
    StatusReference,
    VerifiedSdJwt,
    check_sd_jwt,
)

SD_JWT_VC_TYP = "dc+sd-jwt"

VC_NEVER_DISCLOSABLE: frozenset[str] = frozenset(
    {"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"}
)
"""draft-ietf-oauth-sd-jwt-vc §3.2.2: these claims must not be selectively disclosable."""


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
    presentation: str | ParsedSdJwt,
    *,
    issuer_key: PublicKey,
    now: int,
    require_key_binding: bool,
    expected_aud: str | None = None,
    expected_nonce: str | None = None,
    expected_vct: str | None = None,
    expected_iss: str | None = None,
    algorithms: Collection[str] = DEFAULT_ALGORITHMS,
    kb_algorithms: Collection[str] = DEFAULT_ALGORITHMS,
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
    checked = check_sd_jwt(
        presentation,
        issuer_key,
        now,
        require_key_binding,
        expected_aud,
        expected_nonce,
        algorithms,
        kb_algorithms,
        SD_JWT_VC_TYP,
        leeway_seconds,
        kb_max_age_seconds,
        max_chars,
        max_disclosures,
        max_depth,
    )
    claims = checked.claims
    disclosed_top = {p[0] for p in checked.disclosed_paths if len(p) == 1}
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
        disclosed_paths=checked.disclosed_paths,
        header=checked.header,
        holder_jwk=checked.holder_jwk,
        key_bound=checked.key_bound,
        vct=vct,
        status=_status_reference(claims),
        holder_kid=checked.holder_kid,
    )
