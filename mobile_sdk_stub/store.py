"""The wallet's credential store: one JSON file in the wallet directory, written atomically.

Holds the SD-JWT VCs, the `BID1:` QR token of a permit and metadata (kind, expiry, a
refresh token placeholder). Every write goes to a temporary file in the same directory,
is flushed to disk and renamed over the old file (`os.replace`), so a crash leaves either
the old or the new store, never half of one. Files are mode 0600, the directory 0700.
One process at a time: the stub is a single-user command-line wallet.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

STORE_FILE = "credentials.json"
STORE_VERSION = 1
MAX_STORE_BYTES = 16 * 1024 * 1024
KINDS = ("residence", "parking-permit", "pid")

_BID1 = re.compile(r"BID1:[0-9A-Z $%*+\-./:]+")


class StoreError(Exception):
    """The store on disk is unreadable, or an entry is refused; `code` is stable."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


def write_private_file(path: Path, data: bytes) -> None:
    """Atomically replace `path` with `data`, mode 0600 (temp file, fsync, rename)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # the rename itself is durable only once the directory entry is on disk (POSIX)
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """One credential in the wallet. Token fields stay out of `repr` (and so out of logs)."""

    id: str
    kind: str
    added_at: int
    sd_jwt: str | None = field(default=None, repr=False)
    qr_text: str | None = field(default=None, repr=False)
    vct: str | None = None
    issuer: str | None = None
    expires_at: int | None = None
    refresh_token: str | None = field(default=None, repr=False)
    issued_at: int | None = None  # the credential's iat: with expires_at, its lifetime

    def is_expired(self, now: int) -> bool:
        """True once `now` reaches `expires_at` (exclusive, as everywhere in docs/formats.md)."""
        return self.expires_at is not None and now >= self.expires_at

    @classmethod
    def from_json(cls, data: Any) -> StoredCredential:
        """An entry of the store file; `StoreError("corrupt_store")` if it is malformed."""
        if not isinstance(data, dict) or set(data) - set(cls.__dataclass_fields__):
            raise StoreError("corrupt_store", "entry is not an object of known fields")
        try:
            credential = cls(**data)
        except TypeError as exc:
            raise StoreError("corrupt_store", "entry misses fields") from exc
        _validate(credential)
        return credential


def _validate(credential: StoredCredential) -> None:
    if not isinstance(credential.id, str) or not re.fullmatch(r"[0-9a-f]{32}", credential.id):
        raise StoreError("bad_entry", "id")
    if credential.kind not in KINDS:
        raise StoreError("bad_entry", "kind")
    if credential.sd_jwt is None and credential.qr_text is None:
        raise StoreError("bad_entry", "an entry holds an SD-JWT VC, a QR token or both")
    if credential.sd_jwt is not None and (
        not isinstance(credential.sd_jwt, str) or "~" not in credential.sd_jwt
    ):
        raise StoreError("bad_entry", "sd_jwt is not an SD-JWT")
    if credential.qr_text is not None and (
        not isinstance(credential.qr_text, str) or not _BID1.fullmatch(credential.qr_text)
    ):
        raise StoreError("bad_entry", "qr_text is not a BID1: token")
    for name in ("added_at", "expires_at", "issued_at"):
        value = getattr(credential, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise StoreError("bad_entry", name)
    for name in ("vct", "issuer", "refresh_token"):
        if getattr(credential, name) is not None and not isinstance(getattr(credential, name), str):
            raise StoreError("bad_entry", name)


class CredentialStore:
    """The credentials of one wallet directory (`<wallet_dir>/credentials.json`)."""

    def __init__(self, wallet_dir: Path) -> None:
        self.path = Path(wallet_dir) / STORE_FILE

    def _load(self) -> list[StoredCredential]:
        try:
            with self.path.open("rb") as fh:
                raw = fh.read(MAX_STORE_BYTES + 1)
        except FileNotFoundError:
            return []
        if len(raw) > MAX_STORE_BYTES:
            raise StoreError("store_too_large")
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise StoreError("corrupt_store", "not JSON") from exc
        if (
            not isinstance(document, dict)
            or document.get("version") != STORE_VERSION
            or not isinstance(document.get("credentials"), list)
        ):
            raise StoreError("corrupt_store", "unknown layout")
        return [StoredCredential.from_json(entry) for entry in document["credentials"]]

    def _save(self, credentials: list[StoredCredential]) -> None:
        document = {
            "version": STORE_VERSION,
            "credentials": [asdict(credential) for credential in credentials],
        }
        text = json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True)
        write_private_file(self.path, text.encode("utf-8"))

    def add(
        self,
        *,
        kind: str,
        now: int,
        sd_jwt: str | None = None,
        qr_text: str | None = None,
        vct: str | None = None,
        issuer: str | None = None,
        expires_at: int | None = None,
        refresh_token: str | None = None,
        issued_at: int | None = None,
    ) -> StoredCredential:
        """Store a new credential; returns it with its fresh random `id`."""
        credential = StoredCredential(
            id=secrets.token_hex(16),
            kind=kind,
            added_at=now,
            sd_jwt=sd_jwt,
            qr_text=qr_text,
            vct=vct,
            issuer=issuer,
            expires_at=expires_at,
            refresh_token=refresh_token,
            issued_at=issued_at,
        )
        _validate(credential)
        self._save([*self._load(), credential])
        return credential

    def replace(self, credential_id: str, **changes: Any) -> StoredCredential:
        """Update fields of a stored credential (a refresh); `KeyError` if it is unknown."""
        if "id" in changes:
            raise ValueError("the id of a credential never changes")
        credentials = self._load()
        for position, credential in enumerate(credentials):
            if credential.id == credential_id:
                updated = replace(credential, **changes)
                _validate(updated)
                credentials[position] = updated
                self._save(credentials)
                return updated
        raise KeyError(credential_id)

    def get(self, credential_id: str) -> StoredCredential:
        """One credential by id; `KeyError` if it is unknown."""
        for credential in self._load():
            if credential.id == credential_id:
                return credential
        raise KeyError(credential_id)

    def list_credentials(self, kind: str | None = None) -> list[StoredCredential]:
        """All credentials in the order they were added, optionally of one kind."""
        return [c for c in self._load() if kind is None or c.kind == kind]

    def remove(self, credential_id: str) -> None:
        """Delete one credential; `KeyError` if it is unknown."""
        credentials = self._load()
        kept = [c for c in credentials if c.id != credential_id]
        if len(kept) == len(credentials):
            raise KeyError(credential_id)
        self._save(kept)
