"""atheris: a signed trust bundle or plate index as ``sync`` receives it (store building)."""

from __future__ import annotations

import atheris
from _common import load_main_store, main_store_blobs, run

with atheris.instrument_imports(include=["verifier"]):
    from verifier import TrustStore, VerifierError

STORE = load_main_store()


def target(data: bytes) -> None:
    try:
        TrustStore.from_bundle(data, STORE.anchors)
    except VerifierError:
        pass
    try:
        STORE.add_plate_index(data)
    except VerifierError:
        pass


if __name__ == "__main__":
    run(target, main_store_blobs)
