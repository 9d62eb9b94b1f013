"""atheris: Status List Token (CWT) parsing and bounded inflation."""

from __future__ import annotations

import atheris
from _common import run, status_tokens

with atheris.instrument_imports(include=["verifier"]):
    from verifier import VerifierError
    from verifier.formats import decode_status_list_cwt


def target(data: bytes) -> None:
    try:
        _, token = decode_status_list_cwt(data)
    except VerifierError:
        return
    size = token.status_list.size
    token.status_list.get(size - 1)


if __name__ == "__main__":
    run(target, status_tokens)
