"""buergerid verifier: the protocol library (wire formats and offline checks).

Every public name is re-exported here; the modules themselves are private.
"""

from __future__ import annotations

from verifier._base45 import b45decode, b45encode
from verifier._cbor import MAX_DEPTH
from verifier._cbor import dumps as cbor_dumps
from verifier._cbor import loads as cbor_loads
from verifier._errors import (
    DecodeError,
    Notice,
    Reason,
    SignatureError,
    TrustError,
    VerifierError,
)
from verifier._sdjwt import (
    KB_JWT_TYP,
    SD_JWT_VC_TYP,
    ClaimPath,
    Sd,
    StatusReference,
    VerifiedSdJwt,
    hash_disclosure,
    issue_sd_jwt,
    present_sd_jwt,
    verify_sd_jwt,
    verify_sd_jwt_vc,
)

__all__ = [
    "KB_JWT_TYP",
    "MAX_DEPTH",
    "SD_JWT_VC_TYP",
    "ClaimPath",
    "DecodeError",
    "Notice",
    "Reason",
    "Sd",
    "SignatureError",
    "StatusReference",
    "TrustError",
    "VerifiedSdJwt",
    "VerifierError",
    "b45decode",
    "b45encode",
    "cbor_dumps",
    "cbor_loads",
    "hash_disclosure",
    "issue_sd_jwt",
    "present_sd_jwt",
    "verify_sd_jwt",
    "verify_sd_jwt_vc",
]
