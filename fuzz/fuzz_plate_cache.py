"""atheris: the compact plate index form read at start (``_plate_cache.decode``)."""

from __future__ import annotations

import atheris
from _common import main_store_blobs, run, sign1_payload

with atheris.instrument_imports(include=["verifier"]):
    from tests.support.verifier_internals import plate_cache as _plate_cache
    from verifier import VerifierError
    from verifier.formats import decode_plate_index_payload


def seeds() -> list[bytes]:
    out = []
    for blob in main_store_blobs()[1:]:
        index = decode_plate_index_payload(sign1_payload(blob))
        out.append(_plate_cache.encode(index, b"\0" * 32))
    return out


def target(data: bytes) -> None:
    try:
        index = _plate_cache.decode(data, data[8:40])  # bound to whatever the input claims
    except VerifierError:
        return
    for key in list(index.entries)[:8]:
        try:
            index.entries[key]
        except VerifierError:
            continue


if __name__ == "__main__":
    run(target, seeds)
