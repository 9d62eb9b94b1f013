"""The two SD-JWT VCs of DESIGN §3.6, built from plain facts; pure (time is a parameter).

- residence (``<issuer url>/vct/residence``): given and family names, birth date, address,
  main or secondary residence, resident since and ``age_over_18``, each selectively
  disclosable;
- parking permit (``<issuer url>/vct/parking-permit``): type, zones, plates, number and
  valid until in the clear (an officer needs them), the holder's name selectively
  disclosable.

Both carry ``cnf.jwk`` (the wallet's proven device key) and ``status.status_list {idx,
uri}`` pointing at the JWT form of the tenant's status list; the header is ``typ:
dc+sd-jwt``, ``alg: ES256`` and ``kid`` = base64url(thumbprint) (DESIGN §3.1).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from verifier._sdjwt import Sd, issue_sd_jwt

RESIDENCE = "residence"
PARKING_PERMIT = "parking-permit"
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
    """What signing needs: the JWS kid and a raw-signature callable (ES256 r||s)."""

    kid: str
    sign: Callable[[bytes], bytes]


def vct_for(issuer_url: str, kind: str) -> str:
    """The ``vct`` of a credential kind at a tenant (DESIGN §3.6)."""
    return f"{issuer_url.rstrip('/')}/vct/{kind}"


def is_adult(birth_date: date, today: date) -> bool:
    """True from the 18th birthday on (a 29 February birthday counts from 1 March)."""
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return years >= 18


def _common(
    *, issuer_url: str, kind: str, now: int, exp: int, status_idx: int, status_uri: str
) -> dict[Any, Any]:
    return {
        "iss": issuer_url,
        "vct": vct_for(issuer_url, kind),
        "iat": now,
        "nbf": now,
        "exp": exp,
        "status": {"status_list": {"idx": status_idx, "uri": status_uri}},
    }


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
) -> str:
    """The residence SD-JWT VC (issued form: ``<JWT>~<disclosures>~``)."""
    claims = _common(
        issuer_url=issuer_url,
        kind=RESIDENCE,
        now=now,
        exp=exp,
        status_idx=status_idx,
        status_uri=status_uri,
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
    return issue_sd_jwt(
        claims, sign=key.sign, alg="ES256", kid=key.kid, holder_jwk=holder_jwk, decoys=DECOYS
    )


def permit_credential(
    facts: PermitFacts,
    *,
    issuer_url: str,
    key: IssuerKey,
    holder_jwk: dict[str, str],
    now: int,
    status_idx: int,
    status_uri: str,
) -> str:
    """The parking-permit SD-JWT VC; it expires with the permit."""
    claims = _common(
        issuer_url=issuer_url,
        kind=PARKING_PERMIT,
        now=now,
        exp=facts.valid_until,
        status_idx=status_idx,
        status_uri=status_uri,
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
    return issue_sd_jwt(
        claims, sign=key.sign, alg="ES256", kid=key.kid, holder_jwk=holder_jwk, decoys=DECOYS
    )
