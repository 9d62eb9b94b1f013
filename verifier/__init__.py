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

__all__ = [
    "MAX_DEPTH",
    "DecodeError",
    "Notice",
    "Reason",
    "SignatureError",
    "TrustError",
    "VerifierError",
    "b45decode",
    "b45encode",
    "cbor_dumps",
    "cbor_loads",
]
