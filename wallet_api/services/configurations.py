"""Credential configurations (OpenID4VCI 1.0 §11.2.3): per tenant, one id per kind.

Ids are ``<ags>.residence``, ``<ags>.parking-permit`` (both ``dc+sd-jwt``, bound to a
proven ES256 device key) and ``<ags>.parking-permit-qr`` (our ``bid1+qr`` format: the
``BID1:`` text of DESIGN §3.2, not key-bound, so its request carries no proof).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wallet_api.services.sd_jwt_vc import PARKING_PERMIT, RESIDENCE, vct_for

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


def _display(name: str) -> list[dict[str, str]]:
    return [{"name": name, "locale": "de-DE"}]


def _claims(kind: str) -> list[dict[str, Any]]:
    if kind == RESIDENCE:
        paths: list[list[str]] = [
            ["given_name"],
            ["family_name"],
            ["birthdate"],
            ["address", "street_address"],
            ["address", "postal_code"],
            ["address", "locality"],
            ["residence_kind"],
            ["resident_since"],
            ["age_over_18"],
        ]
    else:
        paths = [
            ["permit_type"],
            ["zones"],
            ["plates"],
            ["permit_number"],
            ["valid_until"],
            ["holder", "given_name"],
            ["holder", "family_name"],
        ]
    return [{"path": path} for path in paths]


def configurations_for_tenant(ags: str, name: str, issuer_url: str) -> dict[str, Any]:
    """The ``credential_configurations_supported`` entries of one tenant."""
    bound = {
        "format": SD_JWT_FORMAT,
        "cryptographic_binding_methods_supported": ["jwk"],
        "credential_signing_alg_values_supported": ["ES256"],
        "proof_types_supported": {"jwt": {"proof_signing_alg_values_supported": ["ES256"]}},
    }
    return {
        f"{ags}.{RESIDENCE}": {
            **bound,
            "vct": vct_for(issuer_url, RESIDENCE),
            "credential_metadata": {
                "display": _display(f"Bürger-ID {name}"),
                "claims": _claims(RESIDENCE),
            },
        },
        f"{ags}.{PARKING_PERMIT}": {
            **bound,
            "vct": vct_for(issuer_url, PARKING_PERMIT),
            "credential_metadata": {
                "display": _display(f"Bewohnerparkausweis {name}"),
                "claims": _claims(PARKING_PERMIT),
            },
        },
        f"{ags}.{PERMIT_QR}": {
            "format": QR_FORMAT,
            "credential_metadata": {"display": _display(f"Parkausweis-QR {name}")},
        },
    }
