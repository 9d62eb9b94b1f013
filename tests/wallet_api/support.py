"""Helpers of the wallet tests: a proof-JWT builder independent of the stub."""

from __future__ import annotations

import base64
import json
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
