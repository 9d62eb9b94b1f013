"""atheris: permit claims (CWT claims set with the permit map) decoding."""

from __future__ import annotations

import atheris
from _common import qr_texts, run, sign1_payload

with atheris.instrument_imports(include=["verifier"]):
    from verifier import VerifierError
    from verifier.formats import b45decode, decode_claims_map, decode_permit_claims, peek_issuer


def target(data: bytes) -> None:
    try:
        claims = decode_claims_map(data)
        peek_issuer(claims)
        decode_permit_claims(claims)
    except VerifierError:
        return


def seeds() -> list[bytes]:
    out = []
    for text in qr_texts():
        try:
            out.append(sign1_payload(b45decode(text[5:])))
        except Exception:  # seeds only: a malformed vector simply gives no seed
            continue
    return out


if __name__ == "__main__":
    run(target, seeds)
