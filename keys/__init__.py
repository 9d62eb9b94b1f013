"""buergerid keys: key lifecycle, storage (encrypted file, PKCS#11), rings and builders.

The issuer uses `KeyRing` (one directory per issuer, one for the operator's root) to get the
`Signer` of the active key for a purpose, the builders to publish the trust bundle and
plate indexes, and `IssuingCa` for the x5c certificates of issuer keys. See docs/keys.md.
"""

from __future__ import annotations

from keys.bundle import IssuerSource, build_trust_bundle, issuer_from_ring
from keys.errors import (
    BuildError,
    CertificateError,
    KeyFileError,
    KeyRingError,
    KeysCode,
    KeysError,
    Pkcs11Error,
)
from keys.issuing_ca import IssuingCa, issued_chain, x5c_header
from keys.lifecycle import (
    ISSUER_TYPES,
    PERMIT_TYPES,
    ROOT_TYPES,
    KeyState,
    KeyType,
    KeyWindow,
    PlannedKey,
    RotationPlan,
    RotationPolicy,
    key_state,
    plan_rotation,
)
from keys.plate_index import build_plate_index
from keys.relying_party import (
    RelyingPartyIdentity,
    ensure_identity,
    install_chain,
    open_identity,
)
from keys.ring import Backend, KeyInfo, KeyRing, RingKind
from keys.signer import Signer, SoftwareSigner, generate_signer, sign_cose, sign_jws
from keys.status_list import sign_status_list_cwt, sign_status_list_jwt
from keys.storage.file import DEFAULT_KDF, KdfParams
from keys.x509 import (
    access_certificate,
    ca_certificate,
    issuer_certificate,
    tls_server_certificate,
)

__all__ = [
    "DEFAULT_KDF",
    "ISSUER_TYPES",
    "PERMIT_TYPES",
    "ROOT_TYPES",
    "Backend",
    "BuildError",
    "CertificateError",
    "IssuerSource",
    "IssuingCa",
    "KdfParams",
    "KeyFileError",
    "KeyInfo",
    "KeyRing",
    "KeyRingError",
    "KeyState",
    "KeyType",
    "KeyWindow",
    "KeysCode",
    "KeysError",
    "Pkcs11Error",
    "PlannedKey",
    "RelyingPartyIdentity",
    "RingKind",
    "RotationPlan",
    "RotationPolicy",
    "Signer",
    "SoftwareSigner",
    "access_certificate",
    "build_plate_index",
    "build_trust_bundle",
    "ca_certificate",
    "ensure_identity",
    "generate_signer",
    "install_chain",
    "issued_chain",
    "issuer_certificate",
    "issuer_from_ring",
    "key_state",
    "open_identity",
    "plan_rotation",
    "sign_cose",
    "sign_jws",
    "sign_status_list_cwt",
    "sign_status_list_jwt",
    "tls_server_certificate",
    "x5c_header",
]
