"""A PID (person identification data) as an SD-JWT VC, for development and tests only.

Real PIDs come from a PID provider of a member state. To try the Bürger-ID without a
letter on a development server, ``buergerid-wallet dev-pid`` signs one with the key of the
development PID provider that ``make run`` makes under ``var/dev-pid-provider`` (trusted
by that server only: production refuses the setting). The test suite has its own provider
with its own CA (tests/support/pid_provider.py) and uses ``pid_credential`` too.

Claims follow the PID rulebook's SD-JWT VC encoding: ``given_name``, ``family_name``,
``birthdate``, ``address`` {``street_address``, ``house_number`` (EU PID, optional),
``postal_code``, ``locality``, ``country``}, ``nationalities``, ``issuing_authority``,
``issuing_country``; every personal claim is selectively disclosable, and so is each
address member. The German PID (``urn:eudi:pid:de:1``) writes names in capitals and the
house number into ``street_address``, as the identity card does.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from verifier.formats import jws_kid, software_signer
from verifier.sdjwt import Sd, issue_sd_jwt

PID_EU = "urn:eudi:pid:1"
PID_DE = "urn:eudi:pid:de:1"
DEV_PROVIDER_URL = "https://pid-provider.dev.buergerid.invalid"


def pid_credential(
    person: Mapping[str, Any],
    *,
    sign: Callable[[bytes], bytes],
    kid: str,
    x5c: list[str],
    issuer_url: str,
    holder_jwk: Mapping[str, str],
    vct: str,
    now: int,
    exp: int,
    status: tuple[int, str] | None = None,
) -> str:
    """The issued SD-JWT VC of a PID for `person` (keys as in the module docstring)."""
    address = {Sd(k): v for k, v in dict(person.get("address", {})).items()}
    claims: dict[Any, Any] = {
        "iss": issuer_url,
        "vct": vct,
        "iat": now,
        "exp": exp,
        Sd("given_name"): person["given_name"],
        Sd("family_name"): person["family_name"],
        Sd("birthdate"): person["birthdate"],
        Sd("address"): address,
        Sd("nationalities"): list(person.get("nationalities", ["DE"])),
        "issuing_authority": person.get("issuing_authority", "DE"),
        "issuing_country": person.get("issuing_country", "DE"),
    }
    if status is not None:
        claims["status"] = {"status_list": {"idx": status[0], "uri": status[1]}}
    return issue_sd_jwt(
        claims,
        sign=sign,
        alg="ES256",
        kid=kid,
        holder_jwk=dict(holder_jwk),
        decoys=1,
        extra_header={"x5c": x5c},
    )


def erika(vct: str = PID_DE) -> dict[str, Any]:
    """The demo resident Erika Mustermann of ``make run`` as her PID shows her."""
    if vct == PID_DE:
        return {
            "given_name": "ERIKA",
            "family_name": "MUSTERMANN",
            "birthdate": "1980-02-29",
            "address": {
                "street_address": "BAHNHOFSTRASSE 13",
                "postal_code": "45879",
                "locality": "GELSENKIRCHEN",
                "country": "DE",
            },
        }
    return {
        "given_name": "Erika",
        "family_name": "Mustermann",
        "birthdate": "1980-02-29",
        "address": {
            "street_address": "Bahnhofstraße",
            "house_number": "13",
            "postal_code": "45879",
            "locality": "Gelsenkirchen",
            "country": "DE",
        },
    }


def sign_with_dev_provider(
    provider_dir: Path,
    person: Mapping[str, Any],
    *,
    holder_jwk: Mapping[str, str],
    vct: str,
    now: int,
    valid_seconds: int = 90 * 86400,
) -> str:
    """A PID signed by the development provider in `provider_dir` (issuer.pem, issuer.key)."""
    key = serialization.load_pem_private_key((provider_dir / "issuer.key").read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("the development provider key is not a P-256 key")
    leaf = x509.load_pem_x509_certificate((provider_dir / "issuer.pem").read_bytes())
    signer = software_signer(key)
    der = leaf.public_bytes(serialization.Encoding.DER)
    return pid_credential(
        person,
        sign=signer,
        kid=jws_kid(key.public_key()),
        x5c=[base64.b64encode(der).decode("ascii")],
        issuer_url=DEV_PROVIDER_URL,
        holder_jwk=holder_jwk,
        vct=vct,
        now=now,
        exp=now + valid_seconds,
    )
