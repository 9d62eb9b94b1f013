"""Helpers of the wallet tests: a proof-JWT builder independent of the stub."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class ProofKey:
    """A P-256 key that signs openid4vci-proof+jwt."""

    def __init__(self) -> None:
        self.private = ec.generate_private_key(ec.SECP256R1())
        numbers = self.private.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64(numbers.x.to_bytes(32, "big")),
            "y": b64(numbers.y.to_bytes(32, "big")),
        }

    def sign(self, data: bytes) -> bytes:
        r, s = decode_dss_signature(self.private.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def proof(
        self,
        *,
        aud: Any,
        nonce: Any,
        iat: Any,
        typ: str = "openid4vci-proof+jwt",
        alg: str = "ES256",
        header_extra: dict[str, Any] | None = None,
        jwk: dict[str, Any] | None = None,
    ) -> str:
        header: dict[str, Any] = {"typ": typ, "alg": alg, "jwk": jwk or self.jwk}
        header.update(header_extra or {})
        claims: dict[str, Any] = {"aud": aud, "iat": iat}
        if nonce is not None:
            claims["nonce"] = nonce
        signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
        return signing_input + "." + b64(self.sign(signing_input.encode()))


def jws(header: dict[str, Any], claims: dict[str, Any], key: ProofKey) -> str:
    """A compact ES256 JWS of `claims` signed by `key`."""
    signing_input = b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())
    return signing_input + "." + b64(key.sign(signing_input.encode()))


def ath(access_token: str) -> str:
    """RFC 9449 §4.2: base64url SHA-256 of the access token."""
    return b64(hashlib.sha256(access_token.encode("ascii")).digest())


def dpop_proof(
    key: ProofKey,
    *,
    method: str,
    url: str,
    iat: int,
    nonce: str | None = None,
    access_token: str | None = None,
    jti: str | None = None,
) -> str:
    """A DPoP proof (RFC 9449 §4.2) built independently of the stub wallet."""
    claims: dict[str, Any] = {
        "jti": jti or secrets.token_urlsafe(12),
        "htm": method,
        "htu": url,
        "iat": iat,
    }
    if nonce is not None:
        claims["nonce"] = nonce
    if access_token is not None:
        claims["ath"] = ath(access_token)
    return jws({"typ": "dpop+jwt", "alg": "ES256", "jwk": key.jwk}, claims, key)


class Provider:
    """A wallet provider: its own CA, an attestation key certified by it, and the JWTs it
    signs (wallet attestations and key attestations, each with its x5c chain)."""

    def __init__(self, name: str = "Wallet Provider", *, now: int | None = None) -> None:
        from keys.signer import generate_signer
        from keys.x509 import ca_certificate, issuer_certificate, x5c_value

        at = int(T0.timestamp()) if now is None else now
        self.ca_signer = generate_signer()
        self.root = ca_certificate(
            self.ca_signer,
            common_name=f"{name} Root",
            organization=name,
            not_before=at - 86400,
            not_after=at + 10 * 365 * 86400,
        )
        self.key = ProofKey()
        leaf = issuer_certificate(
            self.ca_signer,
            self.root,
            self.key.private.public_key(),
            common_name=f"{name} Attestation",
            issuer_url="https://wallet-provider.example",
            not_before=at - 86400,
            not_after=at + 365 * 86400,
        )
        self.x5c = [x5c_value(leaf)]
        self.issuer = "https://wallet-provider.example"

    def anchors_pem(self) -> bytes:
        from keys.x509 import to_pem

        return to_pem([self.root])

    def wallet_attestation(
        self, *, client_id: str, instance: ProofKey, iat: int, exp: int, **extra: Any
    ) -> str:
        claims = {
            "iss": self.issuer,
            "sub": client_id,
            "iat": iat,
            "exp": exp,
            "cnf": {"jwk": instance.jwk},
            "wallet_name": "Testwallet",
            **extra,
        }
        header = {"typ": "oauth-client-attestation+jwt", "alg": "ES256", "x5c": self.x5c}
        return jws(header, claims, self.key)

    def key_attestation(
        self,
        keys: list[ProofKey],
        *,
        iat: int,
        exp: int,
        nonce: str | None,
        key_storage: list[str] | None = None,
    ) -> str:
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "iat": iat,
            "exp": exp,
            "attested_keys": [k.jwk for k in keys],
            "key_storage": key_storage or ["iso_18045_moderate"],
            "user_authentication": ["iso_18045_moderate"],
        }
        if nonce is not None:
            claims["nonce"] = nonce
        header = {"typ": "key-attestation+jwt", "alg": "ES256", "x5c": self.x5c}
        return jws(header, claims, self.key)


def attestation_pop(
    instance: ProofKey, *, client_id: str, aud: str, iat: int, jti: str | None = None
) -> str:
    """The client attestation PoP (attestation-based client authentication draft -07 §5.2)."""
    claims = {"iss": client_id, "aud": aud, "jti": jti or secrets.token_urlsafe(12), "iat": iat}
    return jws({"typ": "oauth-client-attestation-pop+jwt", "alg": "ES256"}, claims, instance)
