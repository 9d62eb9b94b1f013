"""The encrypted key file: one private key under a passphrase (format in docs/keys.md).

Fixed parameters of format version 1 (every value in the 48-byte header is covered by the
AES-GCM tag as associated data):

- KDF: argon2id (RFC 9106, argon2 version 0x13), 32-byte output, 16-byte random salt; time
  cost, memory (KiB) and parallelism are stored in the file. Defaults follow RFC 9106 §4's
  second recommendation (t=3, 64 MiB, p=4); reading refuses parameters outside the bounds
  below, so a crafted file cannot make the reader allocate gigabytes.
- AEAD: AES-256-GCM, 12-byte random nonce, 16-byte tag; associated data = the header.
- Plaintext: the private key as unencrypted PKCS#8 DER (P-256 or Ed25519).

Wrong passphrase and tampering are indistinguishable by design (`key_file_decrypt`).
"""

from __future__ import annotations

import os
import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from keys.errors import KeyFileError, KeysCode
from keys.storage._atomic import locked, read_bounded, write_atomic

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

MAGIC = b"BIDKEY"
VERSION = 1
KDF_ARGON2ID = 1
SALT_BYTES = 16
NONCE_BYTES = 12
TAG_BYTES = 16
_HEADER = struct.Struct(">6sBBIII16s12s")  # magic, version, kdf, t, m KiB, p, salt, nonce
HEADER_BYTES = _HEADER.size  # 48
MAX_FILE_BYTES = 4096
MAX_TIME_COST = 64
MAX_PARALLELISM = 64
DEFAULT_MAX_MEMORY_KIB = 1024 * 1024  # 1 GiB


@dataclass(frozen=True, slots=True)
class KdfParams:
    """argon2id cost parameters; `memory_kib` in KiB. Production uses `DEFAULT_KDF`."""

    time_cost: int
    memory_kib: int
    parallelism: int

    def check(self, *, max_memory_kib: int = DEFAULT_MAX_MEMORY_KIB) -> None:
        """Raise `key_file_format` unless the parameters are within the reader's bounds."""
        if not (
            1 <= self.time_cost <= MAX_TIME_COST
            and 1 <= self.parallelism <= MAX_PARALLELISM
            and 8 * self.parallelism <= self.memory_kib <= max_memory_kib
        ):
            raise KeyFileError(KeysCode.KEY_FILE_FORMAT, "argon2id parameters out of bounds")


DEFAULT_KDF = KdfParams(time_cost=3, memory_kib=64 * 1024, parallelism=4)


def _passphrase_bytes(passphrase: str | bytes) -> bytes:
    raw = (
        unicodedata.normalize("NFC", passphrase).encode("utf-8")
        if isinstance(passphrase, str)
        else bytes(passphrase)
    )
    if not raw:
        raise KeyFileError(KeysCode.PASSPHRASE_REQUIRED, "empty passphrase")
    return raw


def _derive(passphrase: str | bytes, salt: bytes, kdf: KdfParams) -> bytes:
    try:
        return hash_secret_raw(
            secret=_passphrase_bytes(passphrase),
            salt=salt,
            time_cost=kdf.time_cost,
            memory_cost=kdf.memory_kib,
            parallelism=kdf.parallelism,
            hash_len=32,
            type=Type.ID,
        )
    except HashingError as exc:
        raise KeyFileError(KeysCode.KEY_FILE_FORMAT, "argon2id refused the parameters") from exc


def encrypt_private_key(
    private_key: PrivateKey,
    passphrase: str | bytes,
    *,
    kdf: KdfParams = DEFAULT_KDF,
) -> bytes:
    """Return the key file bytes (format version 1) holding `private_key` under `passphrase`."""
    kdf.check()
    salt = os.urandom(SALT_BYTES)
    nonce = os.urandom(NONCE_BYTES)
    header = _HEADER.pack(
        MAGIC, VERSION, KDF_ARGON2ID, kdf.time_cost, kdf.memory_kib, kdf.parallelism, salt, nonce
    )
    plaintext = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key = _derive(passphrase, salt, kdf)
    return header + AESGCM(key).encrypt(nonce, plaintext, header)


def decrypt_private_key(
    blob: bytes,
    passphrase: str | bytes,
    *,
    max_memory_kib: int = DEFAULT_MAX_MEMORY_KIB,
) -> PrivateKey:
    """Parse and decrypt key file bytes; every failure is a KeyFileError with a stable code."""
    if len(blob) > MAX_FILE_BYTES:
        raise KeyFileError(KeysCode.KEY_FILE_FORMAT, "too large")
    if len(blob) < len(MAGIC) + 1 or blob[: len(MAGIC)] != MAGIC:
        raise KeyFileError(KeysCode.KEY_FILE_FORMAT, "not a buergerid key file")
    if blob[len(MAGIC)] != VERSION:
        raise KeyFileError(KeysCode.KEY_FILE_VERSION, f"version {blob[len(MAGIC)]}")
    if len(blob) < HEADER_BYTES + TAG_BYTES + 1:
        raise KeyFileError(KeysCode.KEY_FILE_FORMAT, "truncated")
    _, _, kdf_id, t_cost, m_kib, par, salt, nonce = _HEADER.unpack_from(blob)
    if kdf_id != KDF_ARGON2ID:
        raise KeyFileError(KeysCode.KEY_FILE_FORMAT, "unknown kdf")
    kdf = KdfParams(time_cost=t_cost, memory_kib=m_kib, parallelism=par)
    kdf.check(max_memory_kib=max_memory_kib)
    header = blob[:HEADER_BYTES]
    key = _derive(passphrase, salt, kdf)
    try:
        plaintext = AESGCM(key).decrypt(nonce, blob[HEADER_BYTES:], header)
    except InvalidTag as exc:
        raise KeyFileError(KeysCode.KEY_FILE_DECRYPT, "wrong passphrase or tampered file") from exc
    try:
        loaded = serialization.load_der_private_key(plaintext, password=None)
    except (ValueError, TypeError) as exc:  # authentic but not a key: a bug of whoever wrote it
        raise KeyFileError(KeysCode.BAD_KEY_MATERIAL, "not a PKCS#8 key") from exc
    if isinstance(loaded, ed25519.Ed25519PrivateKey):
        return loaded
    if isinstance(loaded, ec.EllipticCurvePrivateKey) and isinstance(loaded.curve, ec.SECP256R1):
        return loaded
    raise KeyFileError(KeysCode.BAD_KEY_MATERIAL, "neither P-256 nor Ed25519")


def _lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


def write_key_file(
    path: Path,
    private_key: PrivateKey,
    passphrase: str | bytes,
    *,
    kdf: KdfParams = DEFAULT_KDF,
    overwrite: bool = False,
) -> None:
    """Encrypt `private_key` into `path` (mode 0600, atomic); refuse an existing file by default."""
    write_key_blob(path, encrypt_private_key(private_key, passphrase, kdf=kdf), overwrite=overwrite)


def write_key_blob(path: Path, blob: bytes, *, overwrite: bool = False) -> None:
    """Write already encrypted key file bytes to `path` (mode 0600, atomic), as
    `write_key_file` does; refuse an existing file by default."""
    with locked(_lock_path(path)):
        write_atomic(path, blob, overwrite=overwrite)


def read_key_file(
    path: Path,
    passphrase: str | bytes,
    *,
    max_memory_kib: int = DEFAULT_MAX_MEMORY_KIB,
) -> PrivateKey:
    """Read and decrypt the key file at `path`."""
    return decrypt_private_key(
        read_bounded(path, MAX_FILE_BYTES), passphrase, max_memory_kib=max_memory_kib
    )


def change_passphrase(
    path: Path,
    old: str | bytes,
    new: str | bytes,
    *,
    kdf: KdfParams = DEFAULT_KDF,
    max_memory_kib: int = DEFAULT_MAX_MEMORY_KIB,
) -> None:
    """Re-encrypt `path` under `new`; a wrong `old` raises and leaves the file as it was."""
    with locked(_lock_path(path)):
        private_key = decrypt_private_key(
            read_bounded(path, MAX_FILE_BYTES), old, max_memory_kib=max_memory_kib
        )
        write_atomic(path, encrypt_private_key(private_key, new, kdf=kdf), overwrite=True)
