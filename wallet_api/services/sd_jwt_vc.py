"""The two SD-JWT VCs (docs/wallet.md, "Credentials and their metadata"), built from plain
facts; pure (time is a parameter).

- residence (``<issuer url>/vct/residence``): given and family names, birth date, address,
  main or secondary residence, resident since and ``age_over_18``, each selectively
  disclosable;
- parking permit (``<issuer url>/vct/parking-permit``): type, zones, plates, number and
  valid until in the clear (an officer needs them), the holder's name selectively
  disclosable.

Both carry ``cnf.jwk`` (the wallet's proven device key), ``status.status_list {idx,
uri}`` pointing at the JWT form of the tenant's status list and, when given,
``vct#integrity`` (the digest of the type's metadata document); the header is ``typ:
dc+sd-jwt``, ``alg: ES256``, ``kid`` = base64url(thumbprint) (docs/formats.md, "Key
identifiers") and, when the key has a certificate from the issuing CA, its ``x5c`` chain
(HAIP 1.0). Which claims are selectively disclosable is fixed in ``credential_types.TYPES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from keys.sd_jwt_vc import build_sd_jwt_vc
from keys.signer import Signer
from verifier.sdjwt import Sd
from wallet_api.services.credential_types import PARKING_PERMIT, RESIDENCE
from wallet_api.services.type_metadata import vct_for

__all__ = [
    "PARKING_PERMIT",
    "RESIDENCE",
    "IssuerKey",
    "PermitFacts",
    "ResidenceFacts",
    "permit_credential",
    "residence_credential",
    "vct_for",
]
# Decoy digests per _sd array (RFC 9901 §4.2.5) hide how many claims an object has.
DECOYS = 2


@dataclass(frozen=True, slots=True)
class ResidenceFacts:
    """What the register says about a resident, for the residence credential."""

    given_name: str
    family_name: str
    birth_date: date
    street_address: str
    postal_code: str
    locality: str
    residence_kind: str  # "main" | "secondary"
    resident_since: date


@dataclass(frozen=True, slots=True)
class PermitFacts:
    """A permit as the parking-permit credential shows it."""

    permit_type: str
    zones: tuple[str, ...]
    plates: tuple[str, ...]
    number: int
    valid_from: int
    valid_until: int  # exclusive, NumericDate
    holder_given_name: str
    holder_family_name: str
    fleet: str | None = None
    issuer_name: str = ""


@dataclass(frozen=True, slots=True)
class IssuerKey:
    """The key that signs: the tenant's credential signer and its certificate chain for
    ``x5c`` (None: no certificate)."""

    signer: Signer
    x5c: tuple[str, ...] | None = None


def is_adult(birth_date: date, today: date) -> bool:
    """True from the 18th birthday on (a 29 February birthday counts from 1 March)."""
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years >= 18


def _common(
    *,
    issuer_url: str,
    kind: str,
    now: int,
    exp: int,
    status_idx: int,
    status_uri: str,
    vct_integrity: str | None,
) -> dict[Any, Any]:
    claims: dict[Any, Any] = {
        "iss": issuer_url,
        "vct": vct_for(issuer_url, kind),
    }
    if vct_integrity is not None:
        claims["vct#integrity"] = vct_integrity
    claims.update(
        {
            "iat": now,
            "nbf": now,
            "exp": exp,
            "status": {"status_list": {"idx": status_idx, "uri": status_uri}},
        }
    )
    return claims


def _sign(claims: dict[Any, Any], key: IssuerKey, holder_jwk: dict[str, str]) -> str:
    return build_sd_jwt_vc(key.signer, claims, holder_jwk=holder_jwk, decoys=DECOYS, x5c=key.x5c)


def residence_credential(
    facts: ResidenceFacts,
    *,
    issuer_url: str,
    key: IssuerKey,
    holder_jwk: dict[str, str],
    now: int,
    today: date,
    exp: int,
    status_idx: int,
    status_uri: str,
    vct_integrity: str | None = None,
) -> str:
    """The residence SD-JWT VC (issued form: ``<JWT>~<disclosures>~``)."""
    claims = _common(
        issuer_url=issuer_url,
        kind=RESIDENCE,
        now=now,
        exp=exp,
        status_idx=status_idx,
        status_uri=status_uri,
        vct_integrity=vct_integrity,
    )
    claims.update(
        {
            Sd("given_name"): facts.given_name,
            Sd("family_name"): facts.family_name,
            Sd("birthdate"): facts.birth_date.isoformat(),
            Sd("address"): {
                Sd("street_address"): facts.street_address,
                Sd("postal_code"): facts.postal_code,
                Sd("locality"): facts.locality,
                "country": "DE",
            },
            Sd("residence_kind"): facts.residence_kind,
            Sd("resident_since"): facts.resident_since.isoformat(),
            Sd("age_over_18"): is_adult(facts.birth_date, today),
        }
    )
    return _sign(claims, key, holder_jwk)


def permit_credential(
    facts: PermitFacts,
    *,
    issuer_url: str,
    key: IssuerKey,
    holder_jwk: dict[str, str],
    now: int,
    status_idx: int,
    status_uri: str,
    vct_integrity: str | None = None,
) -> str:
    """The parking-permit SD-JWT VC; it expires with the permit."""
    claims = _common(
        issuer_url=issuer_url,
        kind=PARKING_PERMIT,
        now=now,
        exp=facts.valid_until,
        status_idx=status_idx,
        status_uri=status_uri,
        vct_integrity=vct_integrity,
    )
    claims.update(
        {
            "permit_type": facts.permit_type,
            "zones": list(facts.zones),
            "plates": list(facts.plates),
            "permit_number": facts.number,
            "issuing_authority": facts.issuer_name,
            "valid_from": facts.valid_from,
            "valid_until": facts.valid_until,
            Sd("holder"): {
                Sd("given_name"): facts.holder_given_name,
                Sd("family_name"): facts.holder_family_name,
            },
        }
    )
    if facts.fleet is not None:
        claims["fleet"] = facts.fleet
    return _sign(claims, key, holder_jwk)
