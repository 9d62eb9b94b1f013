"""atheris: zones as the officer types them (``resolve_zone``)."""

from __future__ import annotations

import atheris
from _common import run

with atheris.instrument_imports(include=["verifier"]):
    from verifier import VerifierError, resolve_zone

ISSUERS = {"05513000": object(), "05562032": object()}


def target(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    for municipality in (None, "05513000"):
        try:
            zone = resolve_zone(text, municipality=municipality, issuers=ISSUERS)
        except VerifierError:
            continue
        assert len(zone.municipality) == 8 and zone.code == zone.code.strip().upper()


if __name__ == "__main__":
    run(target, lambda: [b"A3", b"05513000:a3", b" 05562032 : B1 ", b"x:y:z"])
