"""SD-JWT (RFC 9901) and SD-JWT VC (draft-ietf-oauth-sd-jwt-vc): issue, present, verify.

For wallets, relying parties and issuers of SD-JWT VCs. Issue (``issue_sd_jwt``) and present
(``present_sd_jwt``) in the compact serialization; verify (``verify_sd_jwt``,
``verify_sd_jwt_vc``) the compact and the JWS JSON serialization (RFC 9901 §8, flattened and
general). Digests are SHA-256; signatures go through a ``Sign`` callable returning the raw
JWS signature (ES256: ``r‖s``), so issuer and holder keys may sit in an HSM.

Verification follows RFC 9901 §7 step by step; every refusal is a ``VerifierError`` with a
stable ``Reason``. Input is bounded (characters, Disclosures, nesting depth) before any work
that grows with it. Time is a parameter; nothing here reads a clock. See docs/sd-jwt.md.
"""

from __future__ import annotations

from verifier.sdjwt._encoding import hash_disclosure
from verifier.sdjwt._issuing import SaltSource, Sd, issue_sd_jwt
from verifier.sdjwt._key_binding import KB_JWT_TYP
from verifier.sdjwt._parsing import MAX_TOKEN_CHARS as MAX_SD_JWT_CHARS
from verifier.sdjwt._parsing import ParsedSdJwt, parse_sd_jwt
from verifier.sdjwt._presenting import disclosable_paths, present_sd_jwt
from verifier.sdjwt._processing import ClaimPath
from verifier.sdjwt._vc import SD_JWT_VC_TYP, verify_sd_jwt_vc
from verifier.sdjwt._verifying import StatusReference, VerifiedSdJwt, verify_sd_jwt

__all__ = [
    "KB_JWT_TYP",
    "MAX_SD_JWT_CHARS",
    "SD_JWT_VC_TYP",
    "ClaimPath",
    "ParsedSdJwt",
    "SaltSource",
    "Sd",
    "StatusReference",
    "VerifiedSdJwt",
    "disclosable_paths",
    "hash_disclosure",
    "issue_sd_jwt",
    "parse_sd_jwt",
    "present_sd_jwt",
    "verify_sd_jwt",
    "verify_sd_jwt_vc",
]
