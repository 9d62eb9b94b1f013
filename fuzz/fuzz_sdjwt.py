"""atheris: SD-JWT / SD-JWT VC presentation verification (verifier.sdjwt)."""

from __future__ import annotations

import hashlib

import atheris
from _common import NOW, run, text_of

with atheris.instrument_imports(include=["verifier"]):
    from cryptography.hazmat.primitives.asymmetric import ec

    from verifier import VerifierError
    from verifier.formats import software_signer
    from verifier.sdjwt import Sd, issue_sd_jwt, verify_sd_jwt

_PRIV = ec.derive_private_key(
    int.from_bytes(hashlib.sha256(b"fuzz-sdjwt-issuer").digest(), "big"), ec.SECP256R1()
)
KEY = _PRIV.public_key()


def seeds() -> list[bytes]:
    token = issue_sd_jwt(
        {
            "iss": "https://gelsenkirchen.example",
            "iat": NOW - 60,
            "exp": NOW + 3600,
            "vct": "https://gelsenkirchen.example/vct/residence",
            Sd("given_name"): "Erika",
            "address": {Sd("street"): "Hauptstr. 1", "locality": "Gelsenkirchen"},
            "nationalities": [Sd("DE"), "FR"],
        },
        sign=software_signer(_PRIV),
        salt=lambda: "c2FsdA",
    )
    return [token.encode()]


def target(data: bytes) -> None:
    text = text_of(data)
    try:
        verify_sd_jwt(text, issuer_key=KEY, now=NOW, require_key_binding=False)
    except VerifierError:
        pass
    try:
        verify_sd_jwt(
            text,
            issuer_key=KEY,
            now=NOW,
            require_key_binding=True,
            expected_aud="https://verifier.example",
            expected_nonce="n-0S6_WzA2Mj",
        )
    except VerifierError:
        pass


if __name__ == "__main__":
    run(target, seeds)
