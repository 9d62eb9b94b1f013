"""Interop with the `sd-jwt` reference package (test-only): both directions."""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from verifier.formats import key_to_jwk, software_signer
from verifier.sdjwt import Sd, issue_sd_jwt, present_sd_jwt, verify_sd_jwt_vc

ISSUER = ec.generate_private_key(ec.SECP256R1())
HOLDER = ec.generate_private_key(ec.SECP256R1())
ISSUER_URL = "https://buergerid.example/05513000"
VCT = ISSUER_URL + "/vct/residence"
AUD = "https://verifier.example.org"
NONCE = "n-0S6_WzA2Mj"
NOW = 1_780_000_000


def _jwcrypto(key: ec.EllipticCurvePrivateKey) -> JWK:
    d = key.private_numbers().private_value.to_bytes(32, "big")
    from base64 import urlsafe_b64encode

    jwk = {**key_to_jwk(key.public_key()), "d": urlsafe_b64encode(d).rstrip(b"=").decode()}
    return JWK.from_json(json.dumps(jwk))


def _kb_iat(presentation: str) -> int:
    from base64 import urlsafe_b64decode

    payload = presentation.rsplit("~", 1)[1].split(".")[1]
    iat: int = json.loads(urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["iat"]
    return iat


def test_our_presentation_verifies_in_the_reference_verifier() -> None:
    sd_jwt = issue_sd_jwt(
        {
            "iss": ISSUER_URL,
            "iat": NOW,
            "exp": NOW + 86400,
            "vct": VCT,
            Sd("given_name"): "Jürgen",
            Sd("address"): {Sd("locality"): "Gelsenkirchen", "country": "DE"},
            Sd("nationalities"): [Sd("DE"), Sd("PL")],
            "age_over_18": True,
        },
        sign=software_signer(ISSUER),
        kid="issuer-1",
        holder_jwk=key_to_jwk(HOLDER.public_key()),
        decoys=2,
    )
    presentation = present_sd_jwt(
        sd_jwt,
        [("address", "locality"), ("nationalities", 1)],
        holder_sign=software_signer(HOLDER),
        aud=AUD,
        nonce=NONCE,
        iat=NOW,
    )
    issuer_jwk = JWK.from_json(json.dumps(key_to_jwk(ISSUER.public_key())))
    reference = SDJWTVerifier(
        presentation, lambda iss, header: issuer_jwk, expected_aud=AUD, expected_nonce=NONCE
    )
    claims = reference.get_verified_payload()
    assert claims["address"] == {"locality": "Gelsenkirchen", "country": "DE"}
    assert claims["nationalities"] == ["PL"]
    assert "given_name" not in claims
    ours = verify_sd_jwt_vc(
        presentation,
        issuer_key=ISSUER.public_key(),
        now=NOW,
        require_key_binding=True,
        expected_aud=AUD,
        expected_nonce=NONCE,
    )
    assert ours.claims == claims


def test_reference_presentation_verifies_here() -> None:
    # the reference holder stamps the KB-JWT with the wall clock: exp far out
    user_claims: dict[Any, Any] = {
        "iss": ISSUER_URL,
        "iat": NOW,
        "exp": 4_000_000_000,
        "vct": VCT,
        SDObj("family_name"): "Müller",
        SDObj("birthdate"): "1980-02-29",
        SDObj("address"): {SDObj("street_address"): "Hauptstraße 1", "locality": "Essen"},
        "zones": [SDObj("A3"), "B1"],
    }
    issuer = SDJWTIssuer(
        user_claims,
        _jwcrypto(ISSUER),
        _jwcrypto(HOLDER),
        add_decoy_claims=True,
        extra_header_parameters={"typ": "dc+sd-jwt", "kid": "issuer-1"},
    )
    holder = SDJWTHolder(issuer.sd_jwt_issuance)
    holder.create_presentation(
        {"family_name": True, "address": {"street_address": True}, "zones": [True]},
        nonce=NONCE,
        aud=AUD,
        holder_key=_jwcrypto(HOLDER),
    )
    presentation = holder.sd_jwt_presentation
    result = verify_sd_jwt_vc(
        presentation,
        issuer_key=ISSUER.public_key(),
        now=_kb_iat(presentation),
        require_key_binding=True,
        expected_aud=AUD,
        expected_nonce=NONCE,
        expected_vct=VCT,
    )
    assert result.key_bound
    assert result.claims["family_name"] == "Müller"
    assert result.claims["address"] == {"street_address": "Hauptstraße 1", "locality": "Essen"}
    assert result.claims["zones"] == ["A3", "B1"]
    assert "birthdate" not in result.claims
    assert set(result.disclosed_paths) == {
        ("family_name",),
        ("address",),
        ("address", "street_address"),
        ("zones", 0),
    }
