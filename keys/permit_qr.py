"""The permit QR builder (docs/formats.md): `BID1:` + Base45(COSE_Sign1 over the CWT claims).

The issuer supplies the claims (`verifier.PermitClaims`: issuer, times, type, zones, plates,
number, status reference, ...) and chooses the key: `ring.signer_for(now, claims.type)`, a
key allowed to sign that permit type. The claims are checked against the verifier's strict
decoder while they are encoded, so a token the handheld would refuse is never signed.
"""

from __future__ import annotations

from keys.signer import Signer, sign_cose
from verifier.formats import QR_PREFIX, PermitClaims, b45encode, encode_permit_payload

__all__ = ["QR_PREFIX", "build_permit_qr"]


def build_permit_qr(signer: Signer, claims: PermitClaims) -> str:
    """The QR text of one permit token, signed by `signer` (alg and kid from the signer)."""
    return QR_PREFIX + b45encode(sign_cose(signer, encode_permit_payload(claims)))
