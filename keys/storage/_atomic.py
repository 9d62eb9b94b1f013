"""Crash-safe, concurrency-safe small file writes: the one place `keys/` replaces a file.

A write goes to a fresh temporary file in the same directory (created with O_EXCL, mode
0600), is fsynced, then renamed over the target (`os.replace`) or hard-linked to it when the
target must not exist yet (`os.link` fails atomically if it does); the directory is fsynced
last. A reader therefore sees the old file or the new one, never a mixture. Read-modify-write
sequences hold an advisory `flock` on a sibling lock file so that two writers serialise.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from keys.errors import KeyFileError, KeysCode

FILE_MODE = 0o600
DIR_MODE = 0o700


def make_private_dir(path: Path) -> None:
    """Create `path` and every missing parent with mode 0700, whatever the umask (the umask
    only clears bits, so the mode is set again after creation). Existing directories keep
    their mode: an operator's choice for a directory we did not make stays theirs."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        try:
            os.mkdir(directory, DIR_MODE)
        except FileExistsError:  # made meanwhile by another process
            continue
        os.chmod(directory, DIR_MODE)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, *, overwrite: bool, mode: int = FILE_MODE) -> None:
    """Write `data` to `path` (mode 0600 unless given) atomically; `overwrite=False`: never replace.

    Raises KeyFileError `key_file_exists` when `overwrite` is false and `path` exists, and
    `key_file_io` when the file system refuses; the target is then untouched.
    """
    directory = path.parent
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise KeyFileError(
            KeysCode.KEY_FILE_IO, f"cannot create a file in {directory.name!r}"
        ) from exc
    tmp = Path(tmp_name)
    try:
        try:
            os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError as exc:
                raise KeyFileError(KeysCode.KEY_FILE_EXISTS, path.name) from exc
        _fsync_dir(directory)
    except OSError as exc:
        raise KeyFileError(KeysCode.KEY_FILE_IO, f"cannot write {path.name!r}") from exc
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on `path` (created if missing, never deleted)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError as exc:
        raise KeyFileError(KeysCode.KEY_FILE_IO, f"cannot open lock {path.name!r}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        # closing the descriptor releases the flock
        os.close(fd)


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """Read at most `max_bytes` from `path`; a longer file raises `key_file_format`.

    The read asks for the file's size plus one byte, not for the bound: a buffer of the
    bound (4 MiB for a ring's metadata) would be mapped and unmapped on every read, which
    made reading a ring's 1 KB several times dearer in a server's worker threads. A file
    that grew since its size was taken is read on, up to one byte past the bound."""
    try:
        with path.open("rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            data = fh.read(min(size, max_bytes) + 1)
            if size < len(data) <= max_bytes:
                data += fh.read(max_bytes + 1 - len(data))
    except FileNotFoundError as exc:
        raise KeyFileError(KeysCode.KEY_FILE_MISSING, path.name) from exc
    except OSError as exc:
        raise KeyFileError(KeysCode.KEY_FILE_IO, f"cannot read {path.name!r}") from exc
    if len(data) > max_bytes:
        raise KeyFileError(KeysCode.KEY_FILE_FORMAT, f"{path.name!r} exceeds {max_bytes} bytes")
    return data
