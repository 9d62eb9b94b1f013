"""buergerid keys: key lifecycle, storage (encrypted file, PKCS#11), rings and builders.

The issuer uses `KeyRing` (one directory per issuer, one for the operator's root) to get the
`Signer` of the active key for a purpose, and hands its data to the builders, which make
every signed artefact: the permit QR (`build_permit_qr`), SD-JWT VCs (`build_sd_jwt_vc`),
status list tokens (`build_status_list_tokens`), the trust bundle (`build_trust_bundle`) and
plate indexes (`build_plate_index`). `IssuingCa` makes the x5c certificates of issuer keys.
See docs/keys.md.
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
    Purpose,
    RotationPlan,
    RotationPolicy,
    key_state,
    key_type,
    plan_rotation,
)
from keys.permit_qr import QR_PREFIX, build_permit_qr
from keys.plate_index import build_plate_index
from keys.relying_party import (
    RelyingPartyIdentity,
    ensure_identity,
    install_chain,
    open_identity,
)
from keys.ring import Backend, KeyInfo, KeyRing, RingKind
from keys.sd_jwt_vc import build_sd_jwt_vc
from keys.signer import Signer, SoftwareSigner, generate_signer, sign_cose, sign_jws
from keys.status_list import (
    build_status_list_tokens,
    sign_status_list_cwt,
    sign_status_list_jwt,
)
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
    "QR_PREFIX",
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
    "Purpose",
    "RelyingPartyIdentity",
    "RingKind",
    "RotationPlan",
    "RotationPolicy",
    "Signer",
    "SoftwareSigner",
    "access_certificate",
    "build_permit_qr",
    "build_plate_index",
    "build_sd_jwt_vc",
    "build_status_list_tokens",
    "build_trust_bundle",
    "ca_certificate",
    "ensure_identity",
    "generate_signer",
    "install_chain",
    "issued_chain",
    "issuer_certificate",
    "issuer_from_ring",
    "key_state",
    "key_type",
    "open_identity",
    "plan_rotation",
    "sign_cose",
    "sign_jws",
    "sign_status_list_cwt",
    "sign_status_list_jwt",
    "tls_server_certificate",
    "x5c_header",
]
