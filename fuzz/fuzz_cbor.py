"""atheris: bounded strict CBOR decoding."""

from __future__ import annotations

import atheris
from _common import main_store_blobs, qr_texts, run

with atheris.instrument_imports(include=["verifier"]):
    from verifier import VerifierError
    from verifier.formats import b45decode
    from verifier.formats import cbor_loads as loads


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
