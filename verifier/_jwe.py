"""JWE (RFC 7516) compact serialization, one key-management mode: ECDH-ES direct key
agreement on P-256 with A128GCM or A256GCM (RFC 7518 §4.6, §5.3).

This is how an OpenID4VP response is encrypted for the relying party (response mode
``direct_post.jwt``, HAIP 1.0: ``ECDH-ES`` with P-256, ``enc`` ``A128GCM`` or ``A256GCM``).
Neither `cryptography` nor `pyjwt` ships JWE, so the steps are composed here from
`cryptography`'s primitives, each used as its specification says, and nothing else:

1. the sender makes an ephemeral P-256 key (``epk``) and runs ECDH with the recipient's
   static key (``cryptography`` ``ec.ECDH``): the shared secret Z (32 bytes);
2. the content encryption key is Concat KDF over SHA-256 (NIST SP 800-56A §5.8.1, through
   ``ConcatKDFHash``) of Z with ``otherinfo`` = AlgorithmID ‖ PartyUInfo ‖ PartyVInfo ‖
   SuppPubInfo, where AlgorithmID is the ``enc`` name (direct key agreement), PartyUInfo /
   PartyVInfo the base64url-decoded ``apu`` / ``apv`` (empty when absent), each of these
   three prefixed with its length as a 32-bit big-endian integer, and SuppPubInfo the key
   length in bits as a 32-bit big-endian integer (128 or 256);
3. AES-GCM (``AESGCM``) with a 96-bit random IV, the additional authenticated data being
   the ASCII of the encoded protected header, a 128-bit tag;
4. ``BASE64URL(header) . '' . BASE64URL(iv) . BASE64URL(ciphertext) . BASE64URL(tag)``
   (the encrypted key is empty in direct key agreement).

Fixed parameters: ``alg`` is ``ECDH-ES``, the curve P-256, ``enc`` A128GCM or A256GCM, no
``zip`` (compression inside encryption is refused: RFC 8725 §3.6), no ``crit``. Decryption
checks all of that, takes the ``epk`` through the strict JWK decoder (a point not on the
curve never reaches ECDH), bounds every part before decoding, and folds every failure of
the tag into one error (``bad_jwe``), as Fernet folds its failures into one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash

from verifier._errors import DecodeError, Reason
from verifier._keys import b64url_decode, b64url_encode, key_from_jwk, key_to_jwk

__all__ = [
    "JWE_ALG",
    "JWE_ENCS",
    "MAX_JWE_CHARS",
    "DecryptedJwe",
    "jwe_decrypt",
    "jwe_encrypt",
    "peek_jwe_header",
]

JWE_ALG = "ECDH-ES"
JWE_ENCS: dict[str, int] = {"A128GCM": 16, "A256GCM": 32}  # enc -> key bytes
MAX_JWE_CHARS = 256 * 1024
MAX_JWE_HEADER_CHARS = 4096
MAX_PARTY_INFO_BYTES = 256
_IV_BYTES = 12
_TAG_BYTES = 16
_ALLOWED_HEADER = frozenset({"alg", "enc", "epk", "kid", "apu", "apv", "typ", "cty"})


@dataclass(frozen=True, slots=True)
class DecryptedJwe:
    """A decrypted JWE: its protected header and the plaintext."""

    header: dict[str, Any]
    plaintext: bytes


def _bad(detail: str) -> DecodeError:
    return DecodeError(Reason.BAD_JWE, detail)


def _length_prefixed(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def _content_key(shared: bytes, enc: str, apu: bytes, apv: bytes) -> bytes:
    size = JWE_ENCS[enc]
    other_info = (
        _length_prefixed(enc.encode("ascii"))
        + _length_prefixed(apu)
        + _length_prefixed(apv)
        + (size * 8).to_bytes(4, "big")
    )
    return ConcatKDFHash(algorithm=hashes.SHA256(), length=size, otherinfo=other_info).derive(
        shared
    )


def _party_info(header: Mapping[str, Any], name: str) -> bytes:
    value = header.get(name)
    if value is None:
        return b""
    raw = b64url_decode(value, reason=Reason.BAD_JWE) if isinstance(value, str) else None
    if raw is None or len(raw) > MAX_PARTY_INFO_BYTES:
        raise _bad(f"{name} must be bounded base64url")
    return raw


def jwe_encrypt(
    plaintext: bytes,
    recipient: ec.EllipticCurvePublicKey,
    *,
    enc: str = "A128GCM",
    kid: str | None = None,
    apu: bytes | None = None,
    apv: bytes | None = None,
    extra_header: Mapping[str, str] | None = None,
) -> str:
    """Encrypt `plaintext` to the P-256 key `recipient` (see the module docstring)."""
    if enc not in JWE_ENCS:
        raise ValueError("enc must be A128GCM or A256GCM")
    if not isinstance(recipient.curve, ec.SECP256R1):
        raise ValueError("the recipient key must be a P-256 key")
    ephemeral = ec.generate_private_key(ec.SECP256R1())
    header: dict[str, Any] = {"alg": JWE_ALG, "enc": enc}
    if kid is not None:
        header["kid"] = kid
    header["epk"] = key_to_jwk(ephemeral.public_key())
    if apu:
        header["apu"] = b64url_encode(apu)
    if apv:
        header["apv"] = b64url_encode(apv)
    for name, value in (extra_header or {}).items():
        if name not in ("typ", "cty"):
            raise ValueError("only typ and cty may be added to the header")
        header[name] = value
    encoded_header = b64url_encode(json.dumps(header, separators=(",", ":")).encode("utf-8"))
    key = _content_key(ephemeral.exchange(ec.ECDH(), recipient), enc, apu or b"", apv or b"")
    iv = os.urandom(_IV_BYTES)
    sealed = AESGCM(key).encrypt(iv, plaintext, encoded_header.encode("ascii"))
    ciphertext, tag = sealed[:-_TAG_BYTES], sealed[-_TAG_BYTES:]
    return ".".join(
        (encoded_header, "", b64url_encode(iv), b64url_encode(ciphertext), b64url_encode(tag))
    )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member")
    return result


def peek_jwe_header(token: str) -> dict[str, Any]:
    """The protected header of a compact JWE, checked for shape but NOT decrypted."""
    if not isinstance(token, str) or len(token) > MAX_JWE_CHARS or token.count(".") != 4:
        raise _bad("not a compact JWE")
    encoded = token[: token.index(".")]
    if len(encoded) > MAX_JWE_HEADER_CHARS:
        raise _bad("header too long")
    raw = b64url_decode(encoded, reason=Reason.BAD_JWE)
    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        raise _bad("header is not JSON") from None
    if not isinstance(header, dict):
        raise _bad("header is not an object")
    return header


def jwe_decrypt(
    token: str,
    private_key: ec.EllipticCurvePrivateKey,
    *,
    encs: tuple[str, ...] = tuple(JWE_ENCS),
    expected_kid: str | None = None,
) -> DecryptedJwe:
    """Decrypt a compact JWE made for `private_key`; ``DecodeError(bad_jwe)`` otherwise."""
    header = peek_jwe_header(token)
    if set(header) - _ALLOWED_HEADER:
        raise _bad("unsupported header parameter (zip, crit, ...)")
    if header.get("alg") != JWE_ALG:
        raise _bad("alg must be ECDH-ES")
    enc = header.get("enc")
    if not isinstance(enc, str) or enc not in JWE_ENCS or enc not in encs:
        raise _bad("enc not accepted")
    if expected_kid is not None and header.get("kid") not in (None, expected_kid):
        raise _bad("kid names another key")
    epk = header.get("epk")
    if not isinstance(epk, dict) or epk.get("kty") != "EC" or epk.get("crv") != "P-256":
        raise _bad("epk must be a P-256 key")
    # strict decoding: canonical coordinates, on the curve (no invalid-curve attack)
    ephemeral = key_from_jwk(
        {k: epk[k] for k in ("kty", "crv", "x", "y") if k in epk}, reason=Reason.BAD_JWE
    )
    if not isinstance(ephemeral, ec.EllipticCurvePublicKey):
        raise _bad("epk must be a P-256 key")
    apu, apv = _party_info(header, "apu"), _party_info(header, "apv")
    encoded_header, encrypted_key, encoded_iv, encoded_ct, encoded_tag = token.split(".")
    if encrypted_key:
        raise _bad("direct key agreement carries no encrypted key")
    iv = b64url_decode(encoded_iv, reason=Reason.BAD_JWE)
    ciphertext = b64url_decode(encoded_ct, reason=Reason.BAD_JWE)
    tag = b64url_decode(encoded_tag, reason=Reason.BAD_JWE)
    if len(iv) != _IV_BYTES or len(tag) != _TAG_BYTES:
        raise _bad("iv must be 96 bits and the tag 128 bits")
    key = _content_key(private_key.exchange(ec.ECDH(), ephemeral), enc, apu, apv)
    try:
        plaintext = AESGCM(key).decrypt(iv, ciphertext + tag, encoded_header.encode("ascii"))
    except InvalidTag:
        raise _bad("the JWE does not decrypt") from None
    return DecryptedJwe(header=header, plaintext=plaintext)
