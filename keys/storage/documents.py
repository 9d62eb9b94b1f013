"""Small key directories behind a storage seam: the issuing CA and the relying party's
identity (keys/issuing_ca.py, keys/relying_party.py).

Each is a handful of named documents (metadata, certificates, an encrypted key file: the
same bytes keys/storage/file.py writes, already encrypted under the passphrase). They live
either in a directory (`DirectoryDocuments`, the development and offline layout: one file
per document, mode 0600, an flock file serialising changes) or in the shared database
(`keys.storage.sql.SqlDocuments`, tables `key_directories` and `key_directory_files`), so an
app server keeps nothing on its own disk.

Changes happen inside `writing()`: an exclusive lock over the whole directory (flock, or
the directory's row `SELECT ... FOR UPDATE` / SQLite's `BEGIN IMMEDIATE`), so the first of
two concurrent creators wins and the second reads what the first wrote.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from keys.errors import KeyFileError, KeysCode
from keys.storage._atomic import locked, make_private_dir, read_bounded, write_atomic

MAX_DOCUMENT_BYTES = 64 * 1024
MAX_DOCUMENTS = 10_000
LOCK = ".documents.lock"
_NAME = re.compile(r"^(?:[A-Za-z0-9_-]{1,64}/)?[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}$")


def check_document_name(name: str) -> None:
    """`file` or `folder/file`: letters, digits, `_`, `-`, `.` (never a leading dot)."""
    if not _NAME.match(name) or ".." in name:
        raise KeyFileError(KeysCode.BAD_INPUT, "document name")


class DocumentWriter(Protocol):
    """The documents while the exclusive lock is held."""

    def read(self, name: str) -> bytes | None: ...

    def write(self, name: str, data: bytes, *, overwrite: bool) -> None:
        """Store `data`; `key_file_exists` when `overwrite` is false and it exists."""
        ...


class Documents(Protocol):
    """One key directory (a CA, a relying party's identity)."""

    @property
    def location(self) -> str: ...

    def read(self, name: str) -> bytes | None:
        """The document's bytes (at most MAX_DOCUMENT_BYTES), None when missing."""
        ...

    def names(self, folder: str) -> list[str]:
        """The documents `folder/<name>`, as full names, sorted."""
        ...

    def version(self) -> Hashable:
        """Changes whenever a document of this directory changes (cheap to ask)."""
        ...

    def writing(self) -> AbstractContextManager[DocumentWriter]: ...


class _DirectoryWriter:
    def __init__(self, path: Path) -> None:
        self._path = path

    def read(self, name: str) -> bytes | None:
        return _read_file(self._path, name)

    def write(self, name: str, data: bytes, *, overwrite: bool) -> None:
        check_document_name(name)
        target = self._path / name
        if target.parent != self._path:
            make_private_dir(target.parent)
        write_atomic(target, data, overwrite=overwrite)


def _read_file(path: Path, name: str) -> bytes | None:
    check_document_name(name)
    target = path / name
    if not target.is_file():
        return None
    return read_bounded(target, MAX_DOCUMENT_BYTES)


class DirectoryDocuments:
    """Documents as files in a private directory (see the module docstring)."""

    def __init__(self, path: Path | str, *, lock: str = LOCK) -> None:
        self.path = Path(path)
        self._lock = lock

    def __repr__(self) -> str:
        return f"DirectoryDocuments({self.path.name!r})"

    @property
    def location(self) -> str:
        return str(self.path)

    def read(self, name: str) -> bytes | None:
        return _read_file(self.path, name)

    def names(self, folder: str) -> list[str]:
        check_document_name(folder)
        base = self.path / folder
        if not base.is_dir():
            return []
        found = sorted(p.name for p in base.iterdir() if p.is_file())[:MAX_DOCUMENTS]
        return [f"{folder}/{n}" for n in found if _NAME.match(f"{folder}/{n}")]

    def everything(self) -> dict[str, bytes]:
        """Every document (files and files of its folders; no lock files), by name."""
        out: dict[str, bytes] = {}
        if not self.path.is_dir():
            return out
        for p in sorted(self.path.iterdir()):
            if p.is_dir() and _NAME.match(p.name + "/x"):
                names = self.names(p.name)
            elif p.is_file() and _NAME.match(p.name):
                names = [p.name]
            else:
                continue
            for name in names:
                if len(out) >= MAX_DOCUMENTS:
                    raise KeyFileError(KeysCode.KEY_FILE_FORMAT, "too many documents")
                data = self.read(name)
                if data is not None:
                    out[name] = data
        return out

    def version(self) -> Hashable:
        stamps = []
        for p in sorted(self.path.glob("*")):
            if p.is_file() and not p.name.startswith("."):
                st = p.stat()
                stamps.append((p.name, st.st_mtime_ns, st.st_size, st.st_ino))
        return tuple(stamps)

    @contextmanager
    def _writing(self) -> Iterator[DocumentWriter]:
        try:
            make_private_dir(self.path)
        except OSError as exc:
            raise KeyFileError(KeysCode.KEY_FILE_IO, "cannot create the directory") from exc
        with locked(self.path / self._lock):
            yield _DirectoryWriter(self.path)

    def writing(self) -> AbstractContextManager[DocumentWriter]:
        return self._writing()


def as_documents(where: Path | str | Documents, *, lock: str = LOCK) -> Documents:
    """A path means a directory (today's layout); anything else is a store already."""
    if isinstance(where, (str, Path)):
        return DirectoryDocuments(where, lock=lock)
    return where


__all__ = [
    "MAX_DOCUMENTS",
    "MAX_DOCUMENT_BYTES",
    "DirectoryDocuments",
    "DocumentWriter",
    "Documents",
    "as_documents",
    "check_document_name",
]
