"""Generating and hashing the wallet's secrets: codes, tokens, nonces and tx_codes.

High-entropy values (pre-authorized codes, access and refresh tokens, nonces; 256 bits
from ``secrets``) are stored as SHA-256 digests: nobody can invert them. A ``tx_code`` has
only 10^digits values, so it is stored as an argon2id hash with its own salt, which makes
an offline search of a stolen database slow; online guessing is bounded by the attempt
counter of the offer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_BYTES = 32
MIN_TX_CODE_DIGITS = 6
MAX_TX_CODE_DIGITS = 12

# OWASP's argon2id minimum (19 MiB, t=2, p=1): one check costs a few ms of one core.
_TX_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def new_token() -> str:
    """A fresh URL-safe random token (256 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """SHA-256 hex digest of a high-entropy token: what the database stores and looks up."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_tx_code(digits: int) -> str:
    """A uniformly random numeric transaction code of ``digits`` digits (leading zeros kept)."""
    if not MIN_TX_CODE_DIGITS <= digits <= MAX_TX_CODE_DIGITS:
        raise ValueError(f"tx_code digits must be {MIN_TX_CODE_DIGITS}..{MAX_TX_CODE_DIGITS}")
    return "".join(secrets.choice("0123456789") for _ in range(digits))


def hash_tx_code(code: str) -> str:
    """argon2id hash (PHC string, own salt) of a transaction code."""
    return _TX_HASHER.hash(code)


def tx_code_matches(stored_hash: str, candidate: str) -> bool:
    """Whether ``candidate`` is the code behind ``stored_hash``; malformed input is a miss."""
    if not candidate.isascii() or not candidate.isdigit() or len(candidate) > MAX_TX_CODE_DIGITS:
        # Still spend the hash so a malformed guess costs as long as a well-formed one.
        candidate = "x"
    try:
        return _TX_HASHER.verify(stored_hash, candidate)
    except (VerificationError, InvalidHashError):
        return False


def digests_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode("ascii"), b.encode("ascii"))
