"""atheris: what a wallet sends the token and credential endpoints: DPoP proofs
(wallet_api.services.dpop), wallet attestations with their PoP and key attestations
(wallet_api.services.attestations), authorization_details (grant_bindings) and x5c chains
(verifier.formats.validate_x5c), and uploaded logos (tenant_settings.normalized_logo).
Every refusal must be a WalletApiError or a VerifierError."""

from __future__ import annotations

import json

import atheris
from _common import NOW, run, text_of

with atheris.instrument_imports(include=["wallet_api", "verifier"]):
    from verifier import VerifierError
    from verifier.formats import validate_x5c
    from wallet_api.errors import TokenError, WalletApiError
    from wallet_api.services.attestations import verify_key_attestation, verify_wallet_attestation
    from wallet_api.services.dpop import DpopNonces, check_proof
    from wallet_api.services.grant_bindings import parse_authorization_details
    from wallet_api.services.tenant_settings import normalized_logo

NONCES = DpopNonces(b"fuzz-server-secret-of-thirty-two-bytes")
URL = "https://wallet.example/wallet/token"


def _refuse(description: str) -> TokenError:
    return TokenError("invalid_request", description)


def seeds() -> list[bytes]:
    header = {
        "typ": "dpop+jwt",
        "alg": "ES256",
        "jwk": {"kty": "EC", "crv": "P-256", "x": "A" * 43, "y": "B" * 43},
    }
    claims = {"jti": "j", "htm": "POST", "htu": URL, "iat": NOW, "nonce": NONCES.issue(NOW)}

    def b64(obj: object) -> str:
        import base64

        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    proof = f"{b64(header)}.{b64(claims)}.AAAA"
    details = json.dumps(
        [{"type": "openid_credential", "credential_configuration_id": "05513000.residence"}]
    )
    return [proof.encode(), details.encode(), b'["MIIB"]']


def target(data: bytes) -> None:
    try:
        normalized_logo(b"\x89PNG\r\n\x1a\n" + data)
    except WalletApiError:
        pass
    text = text_of(data)
    try:
        check_proof(
            [text],
            method="POST",
            url=URL,
            now=NOW,
            nonces=NONCES,
            refuse=_refuse,
            use_nonce=_refuse,
        )
    except WalletApiError:
        pass
    try:
        verify_wallet_attestation(
            [text],
            [text],
            anchors=(),
            audience="https://wallet.example",
            client_id=None,
            now=NOW,
            refuse=_refuse,
        )
    except WalletApiError:
        pass
    try:
        verify_key_attestation(text, anchors=(), accepted_storage=(), now=NOW, refuse=_refuse)
    except WalletApiError:
        pass
    try:
        parse_authorization_details(
            text, offered=["05513000.residence"], credential_issuer="https://wallet.example"
        )
    except WalletApiError:
        pass
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return
    try:
        validate_x5c(value, [], NOW)
    except VerifierError:
        pass


if __name__ == "__main__":
    run(target, seeds)
