"""`x5c` certificate chains (RFC 7515 §4.1.6) checked against pinned trust anchors.

`validate_x5c(x5c, anchors, now)` decodes the header value (a bounded array of base64
DER certificates, end-entity first) and lets `cryptography`'s path validation build a
path from the end-entity certificate through the other elements to one of `anchors`:
signatures, validity at `now`, basicConstraints and keyUsage of every CA (RFC 5280 §6).
The end-entity certificate must not be self-signed (HAIP 1.0: an attestation's or a
credential's signing certificate is issued by a CA). What the end-entity certificate
certifies (its public key, subject and alternative names) is returned for the caller's
own checks. Time is a parameter.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509 import verification

from verifier._errors import DecodeError, Reason, TrustError
from verifier._keys import PublicKey

MAX_CHAIN = 4
MAX_CERTIFICATE_CHARS = 8 * 1024


@dataclass(frozen=True, slots=True)
class X5cChain:
    """A validated chain: the end-entity certificate and the key it certifies."""

    leaf: x509.Certificate
    public_key: PublicKey
    anchor: x509.Certificate

    def uris(self) -> tuple[str, ...]:
        """The uniformResourceIdentifier alternative names of the end-entity certificate."""
        try:
            san = self.leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        except x509.ExtensionNotFound:
            return ()
        return tuple(san.value.get_values_for_type(x509.UniformResourceIdentifier))


def _decode(value: object) -> x509.Certificate:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_CERTIFICATE_CHARS:
        raise DecodeError(Reason.BAD_CERTIFICATE, "x5c element is not a bounded string")
    try:
        der = base64.b64decode(value, validate=True)
        return x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(Reason.BAD_CERTIFICATE, "x5c element is not base64 DER") from exc


def _is_self_signed(certificate: x509.Certificate) -> bool:
    if certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def validate_x5c(
    x5c: object, anchors: Sequence[x509.Certificate], now: int, *, max_chain: int = MAX_CHAIN
) -> X5cChain:
    """Validate an `x5c` header value up to one of `anchors` at `now`; raise `VerifierError`
    (`bad_certificate` for malformed input, `untrusted_certificate` for no valid path)."""
    if not isinstance(x5c, list) or not 0 < len(x5c) <= max_chain:
        raise DecodeError(Reason.BAD_CERTIFICATE, "x5c must be a non-empty, bounded array")
    chain = [_decode(v) for v in x5c]
    leaf = chain[0]
    if _is_self_signed(leaf):
        raise TrustError(Reason.UNTRUSTED_CERTIFICATE, "the signing certificate is self-signed")
    public = leaf.public_key()
    if not isinstance(public, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey):
        raise DecodeError(Reason.BAD_CERTIFICATE, "unsupported public key type")
    if isinstance(public, ec.EllipticCurvePublicKey) and not isinstance(public.curve, ec.SECP256R1):
        raise DecodeError(Reason.BAD_CERTIFICATE, "only P-256 EC keys")
    if not anchors:
        raise TrustError(Reason.UNTRUSTED_CERTIFICATE, "no trust anchors configured")
    policy = (
        verification.PolicyBuilder()
        .store(verification.Store(list(anchors)))
        .time(datetime.fromtimestamp(now, UTC))
        .max_chain_depth(max_chain)
        .extension_policies(
            ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
            ee_policy=verification.ExtensionPolicy.permit_all(),
        )
    )
    try:
        verified = policy.build_client_verifier().verify(leaf, chain[1:])
    except verification.VerificationError as exc:
        raise TrustError(Reason.UNTRUSTED_CERTIFICATE, "no valid path to a trust anchor") from exc
    return X5cChain(leaf=leaf, public_key=public, anchor=verified.chain[-1])
