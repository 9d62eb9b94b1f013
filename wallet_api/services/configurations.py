"""Credential configurations (OpenID4VCI 1.0 §12.2.4): per tenant, one id per kind.

Ids are ``<ags>.residence``, ``<ags>.parking-permit`` (both ``dc+sd-jwt``, bound to a
proven ES256 device key) and ``<ags>.parking-permit-qr`` (our ``bid1+qr`` format: the
``BID1:`` text of docs/formats.md, not key-bound, so its request carries no proof). Display
names, descriptions, colours and claim labels (German and English) come from
``credential_types.TYPES``, the logo from the tenant's logo URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wallet_api.services.credential_types import LOCALES, PARKING_PERMIT, RESIDENCE, TYPES
from wallet_api.services.type_metadata import logo_url, vct_for

SD_JWT_FORMAT = "dc+sd-jwt"
QR_FORMAT = "bid1+qr"
PERMIT_QR = "parking-permit-qr"
KINDS = (RESIDENCE, PARKING_PERMIT, PERMIT_QR)


@dataclass(frozen=True, slots=True)
class ConfigurationId:
    """A parsed configuration id."""

    ags: str
    kind: str

    def __str__(self) -> str:
        return f"{self.ags}.{self.kind}"


def parse_configuration_id(value: object) -> ConfigurationId | None:
    """``<8-digit AGS>.<kind>`` or None."""
    if not isinstance(value, str) or len(value) > 64 or "." not in value:
        return None
    ags, kind = value.split(".", 1)
    if len(ags) != 8 or not ags.isdigit() or kind not in KINDS:
        return None
    return ConfigurationId(ags, kind)


def is_key_bound(kind: str) -> bool:
    """Whether a credential of this kind needs proofs (cnf.jwk)."""
    return kind in (RESIDENCE, PARKING_PERMIT)


def _display(kind: str, tenant_name: str, logo_uri: str) -> list[dict[str, Any]]:
    spec = TYPES[kind]
    return [
        {
            "name": f"{spec.name[tag]} – {tenant_name}",
            "locale": tag,
            "description": spec.description[tag],
            "logo": {"uri": logo_uri, "alt_text": tenant_name},
            "background_color": spec.background_color,
            "text_color": spec.text_color,
        }
        for tag in LOCALES
    ]


def _claims(kind: str) -> list[dict[str, Any]]:
    return [
        {
            "path": list(claim.path),
            "mandatory": claim.mandatory,
            "display": [{"name": getattr(claim, tag), "locale": tag} for tag in LOCALES],
        }
        for claim in TYPES[kind].claims
    ]


def _proof_types(key_attestation: bool, key_storage: tuple[str, ...]) -> dict[str, Any]:
    """`jwt` proofs (optionally with `key_attestation`) and the `attestation` proof type
    (OpenID4VCI 1.0 Appendix F); `key_attestations_required` only when the tenant requires
    key attestations (§12.2.4: it MUST NOT be present otherwise)."""
    required: dict[str, Any] = {"key_storage": list(key_storage)} if key_storage else {}
    jwt: dict[str, Any] = {"proof_signing_alg_values_supported": ["ES256"]}
    attestation: dict[str, Any] = {"proof_signing_alg_values_supported": ["ES256"]}
    if key_attestation:
        jwt["key_attestations_required"] = required
        attestation["key_attestations_required"] = required
    return {"jwt": jwt, "attestation": attestation}


def configurations_for_tenant(
    ags: str,
    name: str,
    issuer_url: str,
    *,
    public_base_url: str,
    key_attestation: bool = False,
    key_storage: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The ``credential_configurations_supported`` entries of one tenant."""
    logo_uri = logo_url(public_base_url, ags)
    bound = {
        "format": SD_JWT_FORMAT,
        "cryptographic_binding_methods_supported": ["jwk"],
        "credential_signing_alg_values_supported": ["ES256"],
        "proof_types_supported": _proof_types(key_attestation, key_storage),
    }
    out: dict[str, Any] = {}
    for kind in (RESIDENCE, PARKING_PERMIT):
        out[f"{ags}.{kind}"] = {
            **bound,
            "vct": vct_for(issuer_url, kind),
            "credential_metadata": {
                "display": _display(kind, name, logo_uri),
                "claims": _claims(kind),
            },
        }
    out[f"{ags}.{PERMIT_QR}"] = {
        "format": QR_FORMAT,
        "credential_metadata": {
            "display": [
                {
                    "name": f"{label} – {name}",
                    "locale": tag,
                    "logo": {"uri": logo_uri, "alt_text": name},
                }
                for tag, label in (("de", "Parkausweis-QR"), ("en", "Parking permit QR code"))
            ]
        },
    }
    return out
