"""The parsers of wallet requests under random input (hypothesis) and their fixed points:
DPoP proofs and nonces, wallet and key attestations, authorization_details, x5c chains,
status list content negotiation. A refusal is always the endpoint's typed error."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from issuer.routes.publication import status_list_form
from tests.wallet_api.support import ProofKey, dpop_proof
from verifier import VerifierError
from verifier.formats import validate_x5c
from wallet_api.errors import OAuthError, TokenError
from wallet_api.services.attestations import verify_key_attestation, verify_wallet_attestation
from wallet_api.services.dpop import DpopNonces, check_proof, normalized_url
from wallet_api.services.grant_bindings import parse_authorization_details
from wallet_api.services.signed_jwts import p256_jwk

NOW = 1_800_000_000
URL = "https://wallet.example/wallet/token"
NONCES = DpopNonces(b"s" * 32)
SETTINGS = settings(max_examples=150, deadline=None)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _refuse(description: str) -> TokenError:
    return TokenError("invalid_dpop_proof", description)


def _nonce(description: str) -> TokenError:
    return TokenError("use_dpop_nonce", description)


@SETTINGS
@given(st.text(max_size=300))
def test_random_dpop_headers_are_refused(text: str) -> None:
    with pytest.raises(OAuthError):
        check_proof(
            [text], method="POST", url=URL, now=NOW, nonces=NONCES, refuse=_refuse, use_nonce=_nonce
        )


@SETTINGS
@given(JSON, JSON)
def test_random_dpop_claims_are_refused_or_pass_all_checks(header: Any, claims: Any) -> None:
    import base64

    def b64(value: Any) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    token = f"{b64(header)}.{b64(claims)}.{b64('sig')}"
    with pytest.raises(OAuthError):
        check_proof(
            [token],
            method="POST",
            url=URL,
            now=NOW,
            nonces=NONCES,
            refuse=_refuse,
            use_nonce=_nonce,
        )


def test_a_valid_proof_passes_and_names_its_key() -> None:
    key = ProofKey()
    proof = dpop_proof(key, method="POST", url=URL, iat=NOW, nonce=NONCES.issue(NOW))
    checked = check_proof(
        [proof], method="POST", url=URL, now=NOW, nonces=NONCES, refuse=_refuse, use_nonce=_nonce
    )
    assert checked.jkt == p256_jwk(key.jwk, _refuse)[1]
    # two DPoP headers are refused (RFC 9449 §4.3 step 1)
    with pytest.raises(OAuthError) as twice:
        check_proof(
            [proof, proof],
            method="POST",
            url=URL,
            now=NOW,
            nonces=NONCES,
            refuse=_refuse,
            use_nonce=_nonce,
        )
    assert twice.value.code == "invalid_dpop_proof"


def test_server_nonces_expire_and_cannot_be_forged() -> None:
    nonce = NONCES.issue(NOW)
    assert NONCES.is_valid(nonce, NOW + 299)
    assert not NONCES.is_valid(nonce, NOW + 300)
    assert not DpopNonces(b"t" * 32).is_valid(nonce, NOW)
    tampered = nonce[:-1] + ("A" if nonce[-1] != "A" else "B")
    assert not NONCES.is_valid(tampered, NOW)
    assert not NONCES.is_valid(nonce + "=", NOW)


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("https://Wallet.Example/x", "https://wallet.example/x", True),
        ("https://wallet.example:443/x", "https://wallet.example/x", True),
        ("https://wallet.example/x?q=1#f", "https://wallet.example/x", True),
        ("https://wallet.example/x", "https://wallet.example/X", False),
        ("http://wallet.example/x", "https://wallet.example/x", False),
        ("https://wallet.example:8443/x", "https://wallet.example/x", False),
    ],
)
def test_htu_comparison_follows_rfc_3986_normalisation(a: str, b: str, same: bool) -> None:
    assert (normalized_url(a) == normalized_url(b)) is same


@SETTINGS
@given(st.text(max_size=300), st.text(max_size=300))
def test_random_wallet_attestations_are_refused(attestation: str, pop: str) -> None:
    with pytest.raises(OAuthError):
        verify_wallet_attestation(
            [attestation], [pop], anchors=(), audience=URL, client_id=None, now=NOW, refuse=_refuse
        )


@SETTINGS
@given(st.text(max_size=300))
def test_random_key_attestations_are_refused(text: str) -> None:
    with pytest.raises(OAuthError):
        verify_key_attestation(text, anchors=(), accepted_storage=(), now=NOW, refuse=_refuse)


@SETTINGS
@given(st.text(max_size=600) | JSON.map(json.dumps))
def test_authorization_details_parse_or_refuse(text: str) -> None:
    try:
        wanted = parse_authorization_details(
            text, offered=["05513000.residence"], credential_issuer="https://wallet.example"
        )
    except TokenError as exc:
        assert exc.code == "invalid_authorization_details"
    else:
        assert wanted == ["05513000.residence"]


@SETTINGS
@given(JSON)
def test_random_x5c_values_are_refused(value: Any) -> None:
    with pytest.raises(VerifierError):
        validate_x5c(value, [], NOW)


@SETTINGS
@given(JSON)
def test_random_jwks_are_refused_or_p256(value: Any) -> None:
    try:
        jwk, jkt = p256_jwk(value, _refuse)
    except OAuthError:
        return
    assert set(jwk) == {"kty", "crv", "x", "y"} and len(jkt) == 43


@SETTINGS
@given(st.text(max_size=400))
def test_status_list_negotiation_always_answers_a_form(accept: str) -> None:
    assert status_list_form(accept) in ("jwt", "cwt")


@SETTINGS
@given(st.binary(max_size=2048))
def test_random_logo_uploads_are_refused(data: bytes) -> None:
    from wallet_api.errors import WalletProblem
    from wallet_api.services.tenant_settings import normalized_logo

    with pytest.raises(WalletProblem) as refused:
        normalized_logo(b"\x89PNG\r\n\x1a\n" + data)
    assert refused.value.code == "invalid_logo"


def test_a_key_off_the_curve_is_refused_not_a_crash() -> None:
    from wallet_api.errors import CredentialError
    from wallet_api.services.proofs import validate_proof

    off_curve = {"kty": "EC", "crv": "P-256", "x": "A" * 43, "y": "B" * 43}
    with pytest.raises(OAuthError) as refused:
        p256_jwk(off_curve, _refuse)
    assert refused.value.code == "invalid_dpop_proof"
    proof = ProofKey().proof(aud=URL, nonce="n", iat=NOW, jwk=off_curve)
    with pytest.raises(CredentialError) as proof_refused:
        validate_proof(proof, audience=URL, now=NOW)
    assert proof_refused.value.code == "invalid_proof"
