"""atheris: bounded strict CBOR decoding."""

from __future__ import annotations

import atheris
from _common import main_store_blobs, qr_texts, run

with atheris.instrument_imports(include=["verifier"]):
    from verifier._base45 import b45decode
    from verifier._cbor import loads
    from verifier._errors import VerifierError


def target(data: bytes) -> None:
    try:
        loads(data)
    except VerifierError:
        return


def seeds() -> list[bytes]:
    out = []
    for text in qr_texts():
        try:
            out.append(b45decode(text[5:]))
        except VerifierError:
            continue
    return out + [blob[:2000] for blob in main_store_blobs()]


if __name__ == "__main__":
    run(target, seeds)
