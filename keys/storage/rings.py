"""Where a key ring's bytes live: the storage seam under `KeyRing` (keys/ring.py).

A ring is two kinds of bytes: its metadata (the ring.json document: records, windows, public
keys, token handles, bundle seq; no secret) and the encrypted key files of its file keys
(keys/storage/file.py format, already encrypted under the passphrase). HSM keys stay in
their token; the metadata holds only their handles.

    RingStore        many rings by name: `DirectoryRingStore` (keys_dir/<name>/) or
                     `keys.storage.sql.SqlRingStore` (two database tables)
    RingStorage      one ring of a store: read the metadata when its version moved, create
                     it, change it under an exclusive lock (read-modify-write), read a key blob

`mutate(change)` holds the ring's exclusive lock while it reads the current metadata, asks
`change` for the new metadata and the key blobs to add, and writes both; another process's
mutation waits, so none is lost. The version is opaque: equal versions mean equal metadata.

The directory store is the layout of docs/keys.md: `ring.json`, `keys/<kid>.key` (0600) and
`.ring.lock` (an advisory `flock`); its version is the file's content, re-read on every
check, as before the seam existed.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from pathlib import Path
from typing import Protocol

from keys.errors import KeyRingError, KeysCode, KeysError
from keys.storage._atomic import locked, make_private_dir, read_bounded, write_atomic
from keys.storage.file import MAX_FILE_BYTES, write_key_blob

METADATA = "ring.json"
KEYS_DIR = "keys"
LOCK = ".ring.lock"
MAX_METADATA_BYTES = 4 * 1024 * 1024

Change = Callable[[bytes], "tuple[bytes, dict[str, bytes]] | None"]
"""Given the current metadata: None (nothing to write), or the new metadata and the key
blobs (name -> encrypted bytes) to add with it."""


def check_blob_name(name: str) -> None:
    """A key blob's name is a plain file name (`<kid>.key`): no path, no dot file."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or len(name) > 200:
        raise KeyRingError(KeysCode.RING_FORMAT, "key file name")


class RingStorage(Protocol):
    """One ring's bytes. See the module docstring."""

    @property
    def location(self) -> str:
        """Where the ring is, for people and for caches (a directory, or database:<name>)."""
        ...

    def exists(self) -> bool:
        """Whether the ring has metadata."""
        ...

    def read_if_changed(self, known: Hashable | None) -> tuple[bytes, Hashable] | None:
        """The metadata and its version, or None when the version is still `known`.
        `ring_not_found` when there is no ring."""
        ...

    def create(self, issuer_id: str, metadata: bytes) -> None:
        """Store a new ring's metadata; `ring_exists` when there is one."""
        ...

    def mutate(self, change: Change) -> tuple[bytes, Hashable]:
        """Read-modify-write under the ring's exclusive lock; the metadata and version after."""
        ...

    def read_key(self, name: str) -> bytes:
        """An encrypted key blob (at most `MAX_FILE_BYTES`); `key_file_missing` if absent."""
        ...


class RingStore(Protocol):
    """Rings by name. See the module docstring."""

    def ring(self, name: str) -> RingStorage:
        """The ring called `name` (it need not exist yet)."""
        ...

    def names(self) -> list[str]:
        """Every stored ring's name, sorted."""
        ...

    def remove(self, name: str) -> None:
        """Delete the ring and its key blobs (a refused tenant's new ring); absent: nothing."""
        ...


class DirectoryRing:
    """A ring in one directory (the layout of docs/keys.md)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"DirectoryRing({self.path.name!r})"

    @property
    def location(self) -> str:
        return str(self.path)

    def exists(self) -> bool:
        return (self.path / METADATA).is_file()

    def read_if_changed(self, known: Hashable | None) -> tuple[bytes, Hashable] | None:
        try:
            raw = read_bounded(self.path / METADATA, MAX_METADATA_BYTES)
        except KeysError as exc:
            if exc.code is KeysCode.KEY_FILE_MISSING:
                raise KeyRingError(KeysCode.RING_NOT_FOUND, "no ring.json") from exc
            raise
        return None if raw == known else (raw, raw)

    def create(self, issuer_id: str, metadata: bytes) -> None:
        try:
            make_private_dir(self.path / KEYS_DIR)  # the ring and its parents too: 0700
        except OSError as exc:
            raise KeyRingError(KeysCode.RING_NOT_FOUND, "cannot create the ring directory") from exc
        try:
            with locked(self.path / LOCK):
                write_atomic(self.path / METADATA, metadata, overwrite=False)
        except KeysError as exc:
            if exc.code is KeysCode.KEY_FILE_EXISTS:
                raise KeyRingError(KeysCode.RING_EXISTS, "a ring exists there") from exc
            raise

    def mutate(self, change: Change) -> tuple[bytes, Hashable]:
        with locked(self.path / LOCK):
            raw = read_bounded(self.path / METADATA, MAX_METADATA_BYTES)
            result = change(raw)
            if result is None:
                return raw, raw
            new, blobs = result
            for name, blob in blobs.items():  # keys first: metadata never names a missing file
                check_blob_name(name)
                write_key_blob(self.path / KEYS_DIR / name, blob)
            write_atomic(self.path / METADATA, new, overwrite=True)
        return new, new

    def read_key(self, name: str) -> bytes:
        check_blob_name(name)
        return read_bounded(self.path / KEYS_DIR / name, MAX_FILE_BYTES)


class DirectoryRingStore:
    """Rings as directories under `keys_dir` (offline use, the CLI, development)."""

    def __init__(self, keys_dir: Path | str) -> None:
        self.keys_dir = Path(keys_dir)

    def __repr__(self) -> str:
        return f"DirectoryRingStore({str(self.keys_dir)!r})"

    def ring(self, name: str) -> DirectoryRing:
        return DirectoryRing(self.keys_dir / name)

    def names(self) -> list[str]:
        return sorted(_ring_dirs(self.keys_dir, self.keys_dir))

    def remove(self, name: str) -> None:
        import shutil

        shutil.rmtree(self.keys_dir / name, ignore_errors=True)


def _ring_dirs(top: Path, base: Path, depth: int = 0) -> Iterator[str]:
    """Names (relative to `base`) of the ring directories under `top`, two levels deep at most."""
    try:
        children = sorted(p for p in top.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return
    for child in children:
        if (child / METADATA).is_file():
            yield str(child.relative_to(base))
        elif depth < 1:
            yield from _ring_dirs(child, base, depth + 1)
