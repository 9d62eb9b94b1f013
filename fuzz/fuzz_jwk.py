"""atheris: strict JWK decoding (`decode_public_jwk`): one accepted spelling per key."""

from __future__ import annotations

import json

import atheris
from _common import run

with atheris.instrument_imports(include=["verifier"]):
    from verifier import VerifierError
    from verifier.formats import decode_public_jwk, jws_kid

SEEDS = [
    {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
     "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
    {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
    {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU=",
     "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a1"},
]  # fmt: skip


def seeds() -> list[bytes]:
    return [json.dumps(s).encode() for s in SEEDS]


KTYS = ["EC", "OKP", "RSA", ""]
CRVS = ["P-256", "Ed25519", "P-384", "X25519"]


def _structured(data: bytes) -> dict[str, object]:
    """Not JSON: build a JWK of the known members from the bytes (reaches the decoders)."""
    fdp = atheris.FuzzedDataProvider(data)
    jwk: dict[str, object] = {
        "kty": KTYS[fdp.ConsumeIntInRange(0, len(KTYS) - 1)],
        "crv": CRVS[fdp.ConsumeIntInRange(0, len(CRVS) - 1)],
    }
    for name in ("x", "y"):
        if fdp.ConsumeBool():
            jwk[name] = fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 60))
    return jwk


def target(data: bytes) -> None:
    try:
        jwk = json.loads(data)
    except (ValueError, RecursionError):
        jwk = _structured(data)
    try:
        decoded = decode_public_jwk(jwk)
    except VerifierError:
        return
    # whatever decodes was the key's one canonical spelling, and is named by it
    members = {k: jwk.get(k) for k in decoded.jwk}
    if decoded.jwk != members or decoded.kid != jws_kid(decoded.key):
        raise AssertionError("a non-canonical JWK was accepted")


if __name__ == "__main__":
    run(target, seeds)
