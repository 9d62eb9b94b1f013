"""Presentations built by the wallet verify with key binding required."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from mobile_sdk_stub.device import DeviceKey
from mobile_sdk_stub.presentation import build_presentation, choosable_claims
from mobile_sdk_stub.store import CredentialStore
from verifier import Reason, VerifierError
from verifier.formats import software_signer
from verifier.sdjwt import Sd, issue_sd_jwt, verify_sd_jwt_vc

ISSUER = ec.generate_private_key(ec.SECP256R1())
ISS = "https://buergerid.example/05513000"
VCT = ISS + "/vct/residence"
AUD = "https://stadtwerke.example"
NONCE = "bm9uY2UtMTIz"
NOW = 1_780_000_000


def _residence(device: DeviceKey) -> str:
    return issue_sd_jwt(
        {
            "iss": ISS,
            "iat": NOW - 60,
            "exp": NOW + 86400,
            "vct": VCT,
            "status": {"status_list": {"idx": 77, "uri": ISS + "/status/1"}},
            Sd("given_name"): "Jürgen",
            Sd("family_name"): "Weiß",
            Sd("birthdate"): "1970-01-01",
            Sd("address"): {Sd("street_address"): "Hauptstraße 1", Sd("locality"): "Essen"},
            Sd("age_over_18"): True,
        },
        sign=software_signer(ISSUER),
        kid="k1",
        holder_jwk=device.public_jwk(),
    )


def _verify(presentation: str, **kwargs: object) -> object:
    options: dict[str, object] = {
        "issuer_key": ISSUER.public_key(),
        "now": NOW,
        "require_key_binding": True,
        "expected_aud": AUD,
        "expected_nonce": NONCE,
        "expected_vct": VCT,
    }
    options.update(kwargs)
    return verify_sd_jwt_vc(presentation, **options)  # type: ignore[arg-type]


def test_stored_credential_presents_and_verifies(tmp_path: Path) -> None:
    device = DeviceKey.load_or_create(tmp_path)
    store = CredentialStore(tmp_path)
    stored = store.add(kind="residence", now=NOW, sd_jwt=_residence(device), vct=VCT)
    sd_jwt = store.get(stored.id).sd_jwt
    assert sd_jwt is not None
    presentation = build_presentation(
        sd_jwt,
        [("age_over_18",), ("address", "locality")],
        device=DeviceKey.load(tmp_path),
        aud=AUD,
        nonce=NONCE,
        iat=NOW,
    )
    result = _verify(presentation)
    assert result.key_bound  # type: ignore[attr-defined]
    assert result.claims["age_over_18"] is True  # type: ignore[attr-defined]
    assert result.claims["address"] == {"locality": "Essen"}  # type: ignore[attr-defined]
    assert "birthdate" not in result.claims  # type: ignore[attr-defined]
    assert "given_name" not in result.claims  # type: ignore[attr-defined]
    assert result.status.idx == 77  # type: ignore[attr-defined]


def test_choosable_claims() -> None:
    sd_jwt = _residence(DeviceKey.generate())
    assert set(choosable_claims(sd_jwt)) == {
        ("given_name",),
        ("family_name",),
        ("birthdate",),
        ("address",),
        ("address", "street_address"),
        ("address", "locality"),
        ("age_over_18",),
    }


def test_presentation_from_another_device_is_refused() -> None:
    sd_jwt = _residence(DeviceKey.generate())
    thief = DeviceKey.generate()
    presentation = build_presentation(
        sd_jwt, [("age_over_18",)], device=thief, aud=AUD, nonce=NONCE, iat=NOW
    )
    with pytest.raises(VerifierError) as caught:
        _verify(presentation)
    assert caught.value.reason is Reason.BAD_KB_JWT


def test_replayed_to_another_verifier_is_refused() -> None:
    device = DeviceKey.generate()
    presentation = build_presentation(
        _residence(device), [], device=device, aud=AUD, nonce=NONCE, iat=NOW
    )
    with pytest.raises(VerifierError) as caught:
        _verify(presentation, expected_aud="https://other.example")
    assert caught.value.reason is Reason.WRONG_AUDIENCE
    with pytest.raises(VerifierError) as caught:
        _verify(presentation, expected_nonce="fresh-nonce")
    assert caught.value.reason is Reason.WRONG_NONCE


def test_needs_aud_and_nonce() -> None:
    device = DeviceKey.generate()
    with pytest.raises(ValueError):
        build_presentation(_residence(device), [], device=device, aud="", nonce=NONCE, iat=NOW)
