"""atheris: strict Base45 decoding; a decoded text re-encodes to itself."""

from __future__ import annotations

import atheris
from _common import qr_texts, run, text_of

with atheris.instrument_imports(include=["verifier"]):
    from verifier import VerifierError
    from verifier.formats import b45decode, b45encode


def target(data: bytes) -> None:
    text = text_of(data)
    try:
        raw = b45decode(text)
    except VerifierError:
        return
    assert b45encode(raw) == text, "Base45 is not canonical"


if __name__ == "__main__":
    run(target, lambda: [t[5:].encode() for t in qr_texts()])
