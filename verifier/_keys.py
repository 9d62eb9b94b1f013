"""Public keys: identifiers (RFC 7638 thumbprints), COSE_Key and JWK forms, the signature check.

Only P-256 (ES256) and Ed25519 (EdDSA) keys are part of our formats (``PublicKey``).
``verify_signature`` is the single wrapper of ECDSA/EdDSA/RSASSA-PSS verification in the
code base; its fixed parameters: ES256 = ECDSA P-256 with SHA-256 over a raw ``r‖s``
signature of exactly 64 bytes (never DER); EdDSA = Ed25519 (64-byte signature). The further
algorithms of ``Alg`` (ES384, ES512, PS256/384/512, EdDSA with Ed448) exist only so that
conformance suites (DCC, COSE working group) can be verified through the same wrapper; every
algorithm is bound to its curve (RFC 9053 §2.1: ES512 with a P-256 key is refused). The
permit profile accepts ``PERMIT_ALGS`` only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey, Ed448PublicKey
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from verifier._errors import DecodeError, Reason, SignatureError

PublicKey = ec.EllipticCurvePublicKey | Ed25519PublicKey
"""A key of our formats: EC on P-256 or Ed25519 (check with :func:`is_permit_key`)."""
AnyPublicKey = ec.EllipticCurvePublicKey | Ed25519PublicKey | Ed448PublicKey | rsa.RSAPublicKey
"""Every key :func:`verify_signature` can use (conformance suites only beyond ``PublicKey``)."""
Sign = Callable[[bytes], bytes]
"""A signer: message in, raw signature out (``r‖s`` for ES256). Keys may live in an HSM."""


class Alg(IntEnum):
    """COSE algorithm identifiers (IANA COSE Algorithms registry)."""

    ES256 = -7
    EDDSA = -8
    ES384 = -35
    ES512 = -36
    PS256 = -37
    PS384 = -38
    PS512 = -39


PERMIT_ALGS: frozenset[Alg] = frozenset({Alg.ES256, Alg.EDDSA})
"""The algorithms of our own tokens, bundles, lists and indexes (docs/formats.md)."""
JOSE_NAMES: Mapping[Alg, str] = {
    Alg.ES256: "ES256",
    Alg.EDDSA: "EdDSA",
    Alg.ES384: "ES384",
    Alg.ES512: "ES512",
    Alg.PS256: "PS256",
    Alg.PS384: "PS384",
    Alg.PS512: "PS512",
}

_P256 = ec.SECP256R1()
_EC_PARAMS: dict[Alg, tuple[str, int, ec.EllipticCurveSignatureAlgorithm]] = {
    Alg.ES256: ("secp256r1", 32, ec.ECDSA(hashes.SHA256())),
    Alg.ES384: ("secp384r1", 48, ec.ECDSA(hashes.SHA384())),
    Alg.ES512: ("secp521r1", 66, ec.ECDSA(hashes.SHA512())),
}
_PSS_HASHES: dict[Alg, hashes.HashAlgorithm] = {
    Alg.PS256: hashes.SHA256(),
    Alg.PS384: hashes.SHA384(),
    Alg.PS512: hashes.SHA512(),
}
_ES256_VERIFY = _EC_PARAMS[Alg.ES256][2]
# the concrete classes of cryptography's keys, for exact-type checks on the hot path
_EC_PUBLIC_TYPE = type(ec.derive_private_key(1, _P256).public_key())
_ED25519_PUBLIC_TYPE = type(Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key())
_MAX_JWK_MEMBER_CHARS = 256

# COSE_Key labels (RFC 9052 §7, RFC 9053 §7)
_KTY, _KID, _ALG, _KEY_OPS = 1, 2, 3, 4
_CRV, _X, _Y, _D = -1, -2, -3, -4
_KTY_OKP, _KTY_EC2 = 1, 2
_CRV_P256, _CRV_ED25519 = 1, 6
_COSE_KEY_LABELS = frozenset({_KTY, _KID, _ALG, _KEY_OPS, _CRV, _X, _Y})


def is_permit_key(key: object) -> bool:
    """True for a P-256 EC key or an Ed25519 key (the keys of our formats)."""
    if isinstance(key, Ed25519PublicKey):
        return True
    return isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"


def _require_permit_key(key: object) -> PublicKey:
    if isinstance(key, Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1":
        return key
    raise TypeError("only P-256 and Ed25519 public keys are supported")


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_B64URL_VALUES: dict[str, int] = {
    c: i for i, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
# a final group of 2 (3) characters carries 4 (2) bits that must be zero
_B64URL_UNUSED_BITS: dict[int, int] = {2: 0x0F, 3: 0x03}
# "-" and "_" to the standard alphabet; "+", "/" and "=" to "!", which is in neither
_B64URL_TO_STD = bytes.maketrans(b"-_+/=", b"+/!!!")
_B64_PADDING = (b"", b"", b"==", b"=")  # by the length of the final group


def b64url_decode(text: str, *, reason: Reason) -> bytes:
    """Strict unpadded base64url (RFC 7515 §2): canonical, no padding, no other characters.

    binascii's strict mode refuses every character outside the standard alphabet once
    ``-``/``_`` are mapped to ``+``/``/``; ``+``, ``/`` and ``=`` are mapped to ``!`` by the
    same translation, so it refuses them too. Canonical form is checked on the last
    character's unused bits rather than by encoding the result again: with the alphabet
    fixed and no padding, both accept the same strings (a property test compares the two).
    """
    if not isinstance(text, str):
        raise DecodeError(reason, "not base64url")
    tail = len(text) % 4
    if tail == 1:
        raise DecodeError(reason, "not base64url")
    if tail and _B64URL_VALUES.get(text[-1], 0) & _B64URL_UNUSED_BITS[tail]:
        raise DecodeError(reason, "not canonical base64url")
    try:
        data = text.encode("ascii").translate(_B64URL_TO_STD) + _B64_PADDING[tail]
        return binascii.a2b_base64(data, strict_mode=True)
    except (UnicodeEncodeError, binascii.Error):
        raise DecodeError(reason, "not base64url") from None


def _coordinates(key: ec.EllipticCurvePublicKey) -> tuple[bytes, bytes]:
    point = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    size = (len(point) - 1) // 2
    return point[1 : 1 + size], point[1 + size :]


def _raw_ed25519(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_to_jwk(key: PublicKey) -> dict[str, str]:
    """The public JWK (RFC 7517) of a P-256 or Ed25519 key, thumbprint members only."""
    key = _require_permit_key(key)
    if isinstance(key, Ed25519PublicKey):
        return {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(_raw_ed25519(key))}
    x, y = _coordinates(key)
    return {"crv": "P-256", "kty": "EC", "x": b64url_encode(x), "y": b64url_encode(y)}


def thumbprint(key: PublicKey) -> bytes:
    """SHA-256 over the RFC 7638 JWK thumbprint input, 32 bytes (docs/formats.md, key ids)."""
    canonical = json.dumps(key_to_jwk(key), separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode("ascii")).digest()


def jws_kid(key: PublicKey) -> str:
    """The JWS ``kid``: base64url of the thumbprint without padding (43 characters)."""
    return b64url_encode(thumbprint(key))


def cose_kid(key: PublicKey) -> bytes:
    """The COSE ``kid`` (label 4): the first 8 bytes of the thumbprint."""
    return thumbprint(key)[:8]


def _ec_from_xy(x: object, y: object, reason: Reason) -> ec.EllipticCurvePublicKey:
    if not (isinstance(x, bytes) and isinstance(y, bytes) and len(x) == 32 and len(y) == 32):
        raise DecodeError(reason, "P-256 coordinates must be 32 bytes each")
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(_P256, b"\x04" + x + y)
    except ValueError:
        raise DecodeError(reason, "point is not on P-256") from None


# RFC 8032 §5.1.3: an Ed25519 public key is the little-endian y coordinate (below p) with the
# sign of x in the top bit. Every point has exactly one such encoding; the only other spellings
# are y at or above p, and a set sign bit where x = 0 (y = 1 or y = p - 1). Refusing those is
# integer comparison, no curve arithmetic: a canonical 32-byte string that names no point
# decodes, but OpenSSL refuses every signature under it, so it can prove nothing.
_ED25519_P = 2**255 - 19


def _is_canonical_ed25519(encoded: bytes) -> bool:
    """True when ``encoded`` is the one accepted spelling of whatever point it names."""
    y = int.from_bytes(encoded, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    if y >= _ED25519_P:
        return False
    return not (sign and y in (1, _ED25519_P - 1))  # x = 0 has no negative form


def _ed25519_from_x(x: object, reason: Reason) -> Ed25519PublicKey:
    if not (isinstance(x, bytes) and len(x) == 32):
        raise DecodeError(reason, "Ed25519 key must be 32 bytes")
    if not _is_canonical_ed25519(x):
        raise DecodeError(reason, "not the canonical spelling of an Ed25519 point")
    try:
        return Ed25519PublicKey.from_public_bytes(x)
    except ValueError:
        raise DecodeError(reason, "not an Ed25519 key") from None


def key_to_cose(key: PublicKey) -> dict[int, Any]:
    """The COSE_Key (RFC 9052 §7) map: EC2 ``{1:2,-1:1,-2:x,-3:y}`` or OKP ``{1:1,-1:6,-2:x}``."""
    key = _require_permit_key(key)
    if isinstance(key, Ed25519PublicKey):
        return {_KTY: _KTY_OKP, _CRV: _CRV_ED25519, _X: _raw_ed25519(key)}
    x, y = _coordinates(key)
    return {_KTY: _KTY_EC2, _CRV: _CRV_P256, _X: x, _Y: y}


def key_from_cose(m: object, *, reason: Reason = Reason.BAD_KEY) -> PublicKey:
    """A P-256 or Ed25519 public key from a decoded COSE_Key map; ``DecodeError(reason)``.

    Refuses private keys (label -4), unknown labels, other curves and off-curve points.
    """
    if not isinstance(m, Mapping):
        raise DecodeError(reason, "COSE_Key is not a map")
    if _D in m:
        raise DecodeError(reason, "private key material")
    if not set(m).issubset(_COSE_KEY_LABELS):
        raise DecodeError(reason, "unknown COSE_Key label")
    kty, crv = m.get(_KTY), m.get(_CRV)
    key: PublicKey
    if kty == _KTY_EC2 and crv == _CRV_P256 and type(kty) is int and type(crv) is int:
        key = _ec_from_xy(m.get(_X), m.get(_Y), reason)
        expected = Alg.ES256
    elif kty == _KTY_OKP and crv == _CRV_ED25519 and type(kty) is int and type(crv) is int:
        if _Y in m:
            raise DecodeError(reason, "OKP key with a y coordinate")
        key = _ed25519_from_x(m.get(_X), reason)
        expected = Alg.EDDSA
    else:
        raise DecodeError(reason, "unsupported key type or curve")
    if _ALG in m and m[_ALG] != expected:
        raise DecodeError(reason, "COSE_Key alg does not fit the key")
    return key


def key_from_jwk(jwk: object, *, reason: Reason = Reason.BAD_KEY) -> PublicKey:
    """A P-256 or Ed25519 public key from a JWK (dict), decoded strictly; ``DecodeError(reason)``.

    RFC 7518 §6.2.1 / RFC 8037 §2: ``x`` (and ``y``) are unpadded, canonical base64url of
    exactly 32 bytes; the point lies on P-256, or is a canonical Ed25519 point. Private keys,
    other key types and curves are refused. Members beyond ``kty``, ``crv``, ``x`` and ``y``
    are ignored (RFC 7638 §3.2: they are not part of the key's identity).
    """
    if not isinstance(jwk, Mapping):
        raise DecodeError(reason, "JWK is not an object")
    if "d" in jwk:
        raise DecodeError(reason, "private key material")
    members = {}
    for name in ("kty", "crv", "x", "y"):
        value = jwk.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > _MAX_JWK_MEMBER_CHARS):
            raise DecodeError(reason, "JWK member is not a short string")
        members[name] = value
    if members["kty"] == "EC" and members["crv"] == "P-256":
        if members["x"] is None or members["y"] is None:
            raise DecodeError(reason, "EC JWK without x or y")
        return _ec_from_xy(
            b64url_decode(members["x"], reason=reason),
            b64url_decode(members["y"], reason=reason),
            reason,
        )
    if members["kty"] == "OKP" and members["crv"] == "Ed25519":
        if members["x"] is None or members["y"] is not None:
            raise DecodeError(reason, "OKP JWK needs x only")
        return _ed25519_from_x(b64url_decode(members["x"], reason=reason), reason)
    raise DecodeError(reason, "unsupported key type or curve")


@dataclass(frozen=True, slots=True)
class PublicJwk:
    """A public JWK decoded strictly: the key, its canonical JWK and its thumbprint.

    Two JWKs name the same key exactly when their ``kid`` values are equal: the thumbprint is
    computed from the canonical encoding of the decoded key, never from the text received.
    """

    key: PublicKey
    jwk: dict[str, str]  # the RFC 7638 members only, canonical base64url
    kid: str  # base64url(SHA-256 RFC 7638 thumbprint), 43 characters (the JWS kid form)


def decode_public_jwk(jwk: object, *, reason: Reason = Reason.BAD_KEY) -> PublicJwk:
    """:func:`key_from_jwk`, with the canonical JWK and thumbprint of the key.

    The one decoder of keys that arrive as JWKs: wallet key proofs, device registration and
    the ``cnf.jwk`` of presentations all identify a key by this ``kid``.
    """
    key = key_from_jwk(jwk, reason=reason)
    return PublicJwk(key=key, jwk=key_to_jwk(key), kid=jws_kid(key))


def alg_for_key(key: PublicKey) -> Alg:
    """ES256 for a P-256 key, EdDSA for an Ed25519 key."""
    key = _require_permit_key(key)
    return Alg.EDDSA if isinstance(key, Ed25519PublicKey) else Alg.ES256


def verify_signature(key: AnyPublicKey, alg: Alg, message: bytes, signature: bytes) -> None:
    """Verify ``signature`` over ``message``; ``SignatureError(BAD_SIGNATURE)`` if it fails.

    ES256: P-256, SHA-256, raw ``r‖s`` of 64 bytes. EdDSA: Ed25519 (or Ed448), raw signature.
    ES384/ES512: P-384/P-521 only. PS256/384/512: RSASSA-PSS, MGF1 with the same hash, salt
    length = hash length (RFC 8230 §2). A key that does not fit ``alg`` fails the same way.
    Pass a key object parsed once (e.g. from the trust store); nothing is re-parsed here.
    """
    try:
        if alg == Alg.ES256 and type(signature) is bytes and len(signature) == 64:
            # exact-type checks first: isinstance() against the key ABCs costs ~0.7 µs each
            if (
                type(key) is _EC_PUBLIC_TYPE or isinstance(key, ec.EllipticCurvePublicKey)
            ) and key.curve.name == "secp256r1":
                der = encode_dss_signature(
                    int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                )
                key.verify(der, message, _ES256_VERIFY)
                return
        elif alg == Alg.EDDSA:
            if type(key) is _ED25519_PUBLIC_TYPE or isinstance(
                key, Ed25519PublicKey | Ed448PublicKey
            ):
                key.verify(signature, message)
                return
        elif alg in _EC_PARAMS:
            curve, size, scheme = _EC_PARAMS[alg]
            if (
                isinstance(key, ec.EllipticCurvePublicKey)
                and key.curve.name == curve
                and len(signature) == 2 * size
            ):
                der = encode_dss_signature(
                    int.from_bytes(signature[:size], "big"), int.from_bytes(signature[size:], "big")
                )
                key.verify(der, message, scheme)
                return
        elif alg in _PSS_HASHES and isinstance(key, rsa.RSAPublicKey):
            digest = _PSS_HASHES[alg]
            key.verify(
                signature,
                message,
                padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size),
                digest,
            )
            return
    except (InvalidSignature, ValueError, TypeError):
        pass
    raise SignatureError(Reason.BAD_SIGNATURE)


def software_signer(
    private_key: ec.EllipticCurvePrivateKey | Ed25519PrivateKey | Ed448PrivateKey,
) -> Sign:
    """A :data:`Sign` over a private key held in memory (tests, development; raw ``r‖s``)."""
    if isinstance(private_key, Ed25519PrivateKey | Ed448PrivateKey):
        return private_key.sign
    by_curve = {name: (size, scheme) for name, size, scheme in _EC_PARAMS.values()}
    if private_key.curve.name not in by_curve:
        raise TypeError("unsupported curve")
    size, scheme = by_curve[private_key.curve.name]

    def sign(message: bytes) -> bytes:
        r, s = decode_dss_signature(private_key.sign(message, scheme))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    return sign
