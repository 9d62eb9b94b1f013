"""buergerid verifier: the protocol library (wire formats and offline checks).

Every public name is re-exported here; the modules themselves are private.
"""

from __future__ import annotations

from verifier._base45 import b45decode, b45encode
from verifier._cbor import MAX_DEPTH
from verifier._cbor import dumps as cbor_dumps
from verifier._cbor import loads as cbor_loads
from verifier._cose import (
    CONFORMANCE_PROFILE,
    MAX_COSE_BYTES,
    PERMIT_PROFILE,
    CoseProfile,
    Sign1,
    decode_sign1,
    encode_sign1,
    sig_structure,
    verify_sign1,
)
from verifier._errors import (
    DecodeError,
    Notice,
    Reason,
    SignatureError,
    TrustError,
    VerifierError,
)
from verifier._jws import (
    JOSE_ALGORITHMS,
    MAX_JWS_CHARS,
    decode_jws,
    encode_jws,
    peek_jws_header,
)
from verifier._keys import (
    JOSE_NAMES,
    PERMIT_ALGS,
    Alg,
    AnyPublicKey,
    PublicKey,
    Sign,
    alg_for_key,
    cose_kid,
    is_permit_key,
    jws_kid,
    key_from_cose,
    key_from_jwk,
    key_to_cose,
    key_to_jwk,
    software_signer,
    thumbprint,
    verify_signature,
)
from verifier._plates import canonical_plate, canonical_zone
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
    "CONFORMANCE_PROFILE",
    "JOSE_ALGORITHMS",
    "JOSE_NAMES",
    "KB_JWT_TYP",
    "MAX_COSE_BYTES",
    "MAX_DEPTH",
    "MAX_JWS_CHARS",
    "PERMIT_ALGS",
    "PERMIT_PROFILE",
    "SD_JWT_VC_TYP",
    "Alg",
    "AnyPublicKey",
    "ClaimPath",
    "CoseProfile",
    "DecodeError",
    "Notice",
    "PublicKey",
    "Reason",
    "Sd",
    "Sign",
    "Sign1",
    "SignatureError",
    "StatusReference",
    "TrustError",
    "VerifiedSdJwt",
    "VerifierError",
    "alg_for_key",
    "b45decode",
    "b45encode",
    "canonical_plate",
    "canonical_zone",
    "cbor_dumps",
    "cbor_loads",
    "cose_kid",
    "decode_jws",
    "decode_sign1",
    "encode_jws",
    "encode_sign1",
    "hash_disclosure",
    "is_permit_key",
    "issue_sd_jwt",
    "jws_kid",
    "key_from_cose",
    "key_from_jwk",
    "key_to_cose",
    "key_to_jwk",
    "peek_jws_header",
    "present_sd_jwt",
    "sig_structure",
    "software_signer",
    "thumbprint",
    "verify_sd_jwt",
    "verify_sd_jwt_vc",
    "verify_sign1",
    "verify_signature",
]
