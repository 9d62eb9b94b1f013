"""Errors of the protocol library: one family, every instance carries a stable reason code.

    VerifierError            input was rejected (never raised for our own bugs)
    ├── DecodeError          bytes or text are not a well-formed token / structure
    ├── SignatureError       a signature does not verify
    ├── TrustError           trust store, bundle, anchor or sync refused
    └── ZoneError            the officer's zone is no zone, or a bare code nothing settles

`Reason` values are the contract of the offline check (verdict reasons and warnings, listed
in docs/verifier.md) plus the codes for the other formats (status lists, bundles, plate
indexes, SD-JWT). The string is what scripts and other vendors see; never rename a value.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Stable reason codes. The first block are the verdict reasons, in step order."""

    # verdict reasons (docs/verifier.md, "Outcomes and reason codes")
    UNSUPPORTED_FORMAT = "unsupported_format"
    BAD_BASE45 = "bad_base45"
    BAD_COSE = "bad_cose"
    UNSUPPORTED_ALG = "unsupported_alg"
    NO_BUNDLE = "no_bundle"
    CLOCK_BEHIND = "clock_behind"
    BUNDLE_EXPIRED = "bundle_expired"
    BAD_CLAIMS = "bad_claims"
    UNKNOWN_ISSUER = "unknown_issuer"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    KEY_NOT_VALID = "key_not_valid"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    STATUS_UNKNOWN = "status_unknown"
    REVOKED = "revoked"
    SUSPENDED = "suspended"
    OUTSIDE_HOURS = "outside_hours"
    WRONG_ZONE = "wrong_zone"
    WRONG_PLATE = "wrong_plate"
    NO_PERMIT = "no_permit"
    NO_PLATE_INDEX = "no_plate_index"

    # other formats and the trust store
    BAD_CBOR = "bad_cbor"  # CBOR outside a token (bundle, key, list); inside a QR it is bad_cose
    TOO_LARGE = "too_large"
    BAD_KEY = "bad_key"
    BAD_STATUS_LIST = "bad_status_list"
    BAD_BUNDLE = "bad_bundle"
    UNTRUSTED_BUNDLE = "untrusted_bundle"
    BUNDLE_ROLLBACK = "bundle_rollback"
    BAD_PLATE_INDEX = "bad_plate_index"
    UNTRUSTED_PLATE_INDEX = "untrusted_plate_index"
    BAD_PLATE = "bad_plate"
    BAD_JWS = "bad_jws"
    BAD_ZONE = "bad_zone"  # the officer's zone is not AGS:CODE or a zone code
    AMBIGUOUS_ZONE = "ambiguous_zone"  # a bare zone code no municipality settles

    # SD-JWT / SD-JWT VC (RFC 9901, draft-ietf-oauth-sd-jwt-vc)
    BAD_SD_JWT = "bad_sd_jwt"
    BAD_DISCLOSURE = "bad_disclosure"
    DUPLICATE_DISCLOSURE = "duplicate_disclosure"
    UNREFERENCED_DISCLOSURE = "unreferenced_disclosure"
    DUPLICATE_DIGEST = "duplicate_digest"
    CLAIM_COLLISION = "claim_collision"
    KEY_BINDING_REQUIRED = "key_binding_required"
    BAD_KB_JWT = "bad_kb_jwt"
    BAD_SD_HASH = "bad_sd_hash"
    WRONG_NONCE = "wrong_nonce"
    WRONG_AUDIENCE = "wrong_audience"
    BAD_VCT = "bad_vct"

    # X.509 chains of x5c headers (verifier/_x509.py)
    BAD_CERTIFICATE = "bad_certificate"
    UNTRUSTED_CERTIFICATE = "untrusted_certificate"

    # encrypted responses (verifier/_jwe.py)
    BAD_JWE = "bad_jwe"


class Notice(StrEnum):
    """Warnings that ride along with any outcome."""

    BUNDLE_STALE = "bundle_stale"
    STATUS_STALE = "status_stale"
    PLATE_NOT_CHECKED = "plate_not_checked"


class VerifierError(Exception):
    """Input was rejected; never raised for our own bugs."""

    def __init__(self, reason: Reason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


class DecodeError(VerifierError):
    """Bytes or text are not a well-formed token or structure."""


class SignatureError(VerifierError):
    """A signature does not verify with the key given."""


class TrustError(VerifierError):
    """The trust store refused an anchor, a bundle or a plate index."""
