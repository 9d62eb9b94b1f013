"""Errors of the key package: one family, every instance carries a stable code.

    KeysError                  an operation on keys was refused (never raised for our own bugs)
    ├── KeyFileError           an encrypted key file is missing, malformed, tampered or locked
    ├── Pkcs11Error            the PKCS#11 module, token or key is unavailable or failed
    ├── KeyRingError           a key ring directory, its metadata or a key in it was refused
    ├── BuildError             a trust bundle or plate index could not be built
    └── CertificateError       a certificate or the issuing CA was refused (keys/x509.py)

`KeysCode` values are the contract: scripts and the issuer match on them, so never rename a
member's value. Messages are for people and may change.
"""

from __future__ import annotations

from enum import StrEnum


class KeysCode(StrEnum):
    """Stable error codes of `keys/`."""

    # encrypted key file (keys/storage/file.py)
    KEY_FILE_MISSING = "key_file_missing"
    KEY_FILE_EXISTS = "key_file_exists"
    KEY_FILE_FORMAT = "key_file_format"  # truncated, bad magic, bad lengths, params out of bounds
    KEY_FILE_VERSION = "key_file_version"  # a format version this code does not read
    KEY_FILE_DECRYPT = "key_file_decrypt"  # wrong passphrase or tampered: AES-GCM cannot tell
    KEY_FILE_IO = "key_file_io"
    BAD_KEY_MATERIAL = "bad_key_material"  # decrypted, but not a key we use
    # PKCS#11 (keys/storage/pkcs11.py)
    PKCS11_UNAVAILABLE = "pkcs11_unavailable"  # module cannot be loaded
    PKCS11_NO_TOKEN = "pkcs11_no_token"
    PKCS11_LOGIN = "pkcs11_login"
    PKCS11_KEY_NOT_FOUND = "pkcs11_key_not_found"
    PKCS11_FAILED = "pkcs11_failed"
    # key ring (keys/ring.py, keys/lifecycle.py)
    RING_EXISTS = "ring_exists"
    RING_NOT_FOUND = "ring_not_found"
    RING_FORMAT = "ring_format"
    RING_STORE_UNAVAILABLE = "ring_store_unavailable"  # the database holding rings failed
    UNKNOWN_KEY = "unknown_key"
    NO_ACTIVE_KEY = "no_active_key"
    BAD_WINDOW = "bad_window"
    BAD_TYPES = "bad_types"
    UNSUPPORTED_ALG = "unsupported_alg"
    UNSUPPORTED_BACKEND = "unsupported_backend"
    PASSPHRASE_REQUIRED = "passphrase_required"
    PKCS11_REQUIRED = "pkcs11_required"
    KEY_MISMATCH = "key_mismatch"  # stored private key does not match the recorded public key
    # builders (keys/bundle.py, keys/plate_index.py)
    BAD_INPUT = "bad_input"
    SEQ_NOT_INCREASING = "seq_not_increasing"
    # issuing CA and certificates (keys/issuing_ca.py, keys/x509.py)
    CA_NOT_FOUND = "ca_not_found"
    CA_EXISTS = "ca_exists"
    CA_FORMAT = "ca_format"
    # the relying party's request-signing identity (keys/relying_party.py)
    RP_NOT_FOUND = "rp_not_found"
    RP_FORMAT = "rp_format"


class KeysError(Exception):
    """An operation on keys was refused; `code` says why."""

    def __init__(self, code: KeysCode, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else str(code))
        self.code = code
        self.detail = detail


class KeyFileError(KeysError):
    """An encrypted key file is missing, malformed, tampered, or cannot be written."""


class Pkcs11Error(KeysError):
    """The PKCS#11 module, the token or a key in it is unavailable or an operation failed."""


class KeyRingError(KeysError):
    """A key ring directory, its metadata, or a key in it was refused."""


class BuildError(KeysError):
    """A trust bundle or a plate index could not be built from the inputs given."""


class CertificateError(KeysError):
    """A certificate could not be built or verified, or the issuing CA was refused."""
