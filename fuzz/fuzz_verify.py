"""atheris: verify() and verify_plate() on arbitrary text: a typed verdict, never an exception."""

from __future__ import annotations

import atheris
from _common import NOW, load_main_store, plates, qr_texts, run, text_of

with atheris.instrument_imports(include=["verifier"]):
    from verifier import Context, Verdict, verify, verify_plate

STORE = load_main_store()
CONTEXT = Context(zone="05513000:A3", plate="GE-AB 1234")


def target(data: bytes) -> None:
    text = text_of(data)
    now = NOW + (data[0] - 128) * 3600 if data else NOW
    for verdict in (
        verify(text, STORE, now),
        verify(text, STORE, now, CONTEXT),
        verify_plate(text, STORE, now, zone="05513000:A3"),
    ):
        assert isinstance(verdict, Verdict)
        assert (verdict.reason is None) == (verdict.outcome == "valid")


if __name__ == "__main__":
    run(target, lambda: [t.encode() for t in qr_texts() + plates()])
