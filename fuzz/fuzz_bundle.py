"""atheris: trust bundle payload decoding, and a whole bundle through the trust store."""

from __future__ import annotations

import atheris
from _common import main_store_blobs, run, sign1_payload

with atheris.instrument_imports(include=["verifier"]):
    from verifier import VerifierError
    from verifier.formats import decode_bundle_payload


def target(data: bytes) -> None:
    try:
        decode_bundle_payload(data)
    except VerifierError:
        return


if __name__ == "__main__":
    run(target, lambda: [sign1_payload(main_store_blobs()[0])])
