"""The wire formats, encoded and strictly decoded: what an issuer or another vendor's tool
needs to write or read what a handheld checks.

Every decoder is bounded and strict and raises a ``VerifierError`` subclass (``DecodeError``,
``SignatureError``, ``TrustError``) with a stable ``Reason``; every encoder refuses values
its decoder would refuse (``ValueError``). Signing goes through a ``Sign`` callable that
returns the raw signature (ES256: ``r‖s``), so keys may sit in an HSM. The formats
themselves, with examples and limits, are in docs/formats.md; the names below are listed
in docs/dev/verifier-api.md.
"""

from __future__ import annotations

from verifier._base45 import b45decode, b45encode
from verifier._bundle import (
    TYP_PLATE_INDEX,
    TYP_TRUST_BUNDLE,
    BundleKey,
    IssuerEntry,
    TrustBundle,
    bundle_key,
    decode_bundle_payload,
    encode_bundle_payload,
)
from verifier._cbor import dumps as cbor_dumps
from verifier._cbor import loads as cbor_loads
from verifier._claims import (
    PermitClaims,
    Window,
    decode_claims_map,
    decode_permit_claims,
    encode_permit_payload,
    peek_issuer,
    permit_claims_map,
)
from verifier._cose import (
    CONFORMANCE_PROFILE,
    PERMIT_PROFILE,
    CoseProfile,
    Sign1,
    decode_sign1,
    encode_sign1,
    sig_structure,
    verify_sign1,
)
from verifier._jws import decode_jws, encode_jws, peek_jws_header
from verifier._keys import (
    JOSE_NAMES,
    PERMIT_ALGS,
    Alg,
    AnyPublicKey,
    PublicJwk,
    PublicKey,
    Sign,
    alg_for_key,
    b64url_decode,
    cose_kid,
    decode_public_jwk,
    jws_kid,
    key_from_cose,
    key_from_jwk,
    key_to_cose,
    key_to_jwk,
    software_signer,
    thumbprint,
    verify_signature,
)
from verifier._plate_index import (
    MAX_ENTRIES_PER_PLATE,
    SALT_BYTES,
    PlateEntry,
    PlateIndex,
    decode_plate_index_payload,
    encode_plate_index_payload,
    plate_key,
    plate_keyer,
)
from verifier._plates import is_canonical_plate, is_canonical_zone
from verifier._status import (
    TYP_STATUS_LIST_CWT,
    TYP_STATUS_LIST_JWT,
    StatusList,
    StatusListToken,
    StatusValue,
    decode_status_list_cwt,
    decode_status_list_jwt,
    encode_status_list_cwt,
    encode_status_list_jwt,
    status_list_claims,
)
from verifier._verify import PREFIX as QR_PREFIX
from verifier._x509 import X5cChain, validate_x5c

__all__ = [
    "CONFORMANCE_PROFILE",
    "JOSE_NAMES",
    "MAX_ENTRIES_PER_PLATE",
    "PERMIT_ALGS",
    "PERMIT_PROFILE",
    "QR_PREFIX",
    "SALT_BYTES",
    "TYP_PLATE_INDEX",
    "TYP_STATUS_LIST_CWT",
    "TYP_STATUS_LIST_JWT",
    "TYP_TRUST_BUNDLE",
    "Alg",
    "AnyPublicKey",
    "BundleKey",
    "CoseProfile",
    "IssuerEntry",
    "PermitClaims",
    "PlateEntry",
    "PlateIndex",
    "PublicJwk",
    "PublicKey",
    "Sign",
    "Sign1",
    "StatusList",
    "StatusListToken",
    "StatusValue",
    "TrustBundle",
    "Window",
    "X5cChain",
    "alg_for_key",
    "b45decode",
    "b45encode",
    "b64url_decode",
    "bundle_key",
    "cbor_dumps",
    "cbor_loads",
    "cose_kid",
    "decode_bundle_payload",
    "decode_claims_map",
    "decode_jws",
    "decode_permit_claims",
    "decode_plate_index_payload",
    "decode_public_jwk",
    "decode_sign1",
    "decode_status_list_cwt",
    "decode_status_list_jwt",
    "encode_bundle_payload",
    "encode_jws",
    "encode_permit_payload",
    "encode_plate_index_payload",
    "encode_sign1",
    "encode_status_list_cwt",
    "encode_status_list_jwt",
    "is_canonical_plate",
    "is_canonical_zone",
    "jws_kid",
    "key_from_cose",
    "key_from_jwk",
    "key_to_cose",
    "key_to_jwk",
    "peek_issuer",
    "peek_jws_header",
    "permit_claims_map",
    "plate_key",
    "plate_keyer",
    "sig_structure",
    "software_signer",
    "status_list_claims",
    "thumbprint",
    "validate_x5c",
    "verify_sign1",
    "verify_signature",
]
