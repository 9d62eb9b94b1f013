"""atheris: COSE_Sign1 parsing (permit profile)."""

from __future__ import annotations

import atheris
from _common import qr_texts, run, status_tokens

with atheris.instrument_imports(include=["verifier"]):
    from verifier import VerifierError
    from verifier.formats import b45decode, decode_sign1, sig_structure


def target(data: bytes) -> None:
    try:
        msg = decode_sign1(data)
    except VerifierError:
        return
    sig_structure(msg.protected_bytes, msg.payload)


def seeds() -> list[bytes]:
    out = []
    for text in qr_texts():
        try:
            out.append(b45decode(text[5:]))
        except VerifierError:
            continue
    return out + status_tokens()


if __name__ == "__main__":
    run(target, seeds)
