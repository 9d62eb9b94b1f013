"""Find key material in a directory tree: what a data directory must not hold when keys
live in the database (and, with HSM keys, in the token)."""

from __future__ import annotations

from pathlib import Path

from keys.storage.file import MAGIC

MARKERS = (b"PRIVATE KEY-----", b"CERTIFICATE-----")


def key_material(directory: Path, *, skip: tuple[str, ...] = ()) -> list[str]:
    """Paths (relative, sorted) under `directory` holding key material: an encrypted key
    file, a PEM private key or certificate, a ring.json, a `*.key` file, or a `keys`
    directory. Top-level entries named in `skip` are not looked at."""
    found = []
    for path in sorted(directory.rglob("*")):
        rel = path.relative_to(directory)
        if rel.parts[0] in skip:
            continue
        if path.is_dir():
            if path.name == "keys":
                found.append(str(rel))
            continue
        data = path.read_bytes()
        if (
            data.startswith(MAGIC)
            or any(m in data for m in MARKERS)
            or path.name == "ring.json"
            or path.suffix == ".key"
        ):
            found.append(str(rel))
    return found
