"""The signer interface every backend implements, the in-memory signer, and key generation.

`Signer.sign(message)` returns the raw signature: `r‖s` (64 bytes) for ES256, never DER
(docs/formats.md), and the 64-byte Ed25519 signature for EdDSA. `sign_cose` and `sign_jws` are
the only ways `keys/` and its callers should turn a signer into a token: they fill `alg` and
`kid` from the signer, so a header can never name another key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from keys.errors import KeyRingError, KeysCode
from keys.storage.file import PrivateKey
from verifier.formats import (
    JOSE_NAMES,
    Alg,
    PublicKey,
    cose_kid,
    encode_jws,
    encode_sign1,
    jws_kid,
    thumbprint,
)


@runtime_checkable
class Signer(Protocol):
    """A private key that signs, wherever it lives; it never hands out private bytes."""

    @property
    def alg(self) -> Alg:
        """COSE algorithm: ES256 (-7) or EdDSA (-8)."""
        ...

    @property
    def public_key(self) -> PublicKey:
        """The public key (cryptography object)."""
        ...

    @property
    def thumbprint(self) -> bytes:
        """The key's thumbprint (docs/formats.md, "Key identifiers"), 32 bytes."""
        ...

    @property
    def cose_kid(self) -> bytes:
        """The first 8 bytes of the thumbprint."""
        ...

    @property
    def jws_kid(self) -> str:
        """base64url(thumbprint), 43 characters."""
        ...

    def sign(self, message: bytes) -> bytes:
        """Raw signature over `message` (ES256: r‖s, 64 bytes; Ed25519: 64 bytes)."""
        ...


# (backend, seconds) of every signature made; the issuer's metrics listen (keys stays free of them)
SignObserver = Callable[[str, float], None]
_SIGN_OBSERVERS: list[SignObserver] = []


def add_sign_observer(observer: SignObserver) -> None:
    """Call `observer(backend, seconds)` after every signature ("software" or "pkcs11")."""
    if observer not in _SIGN_OBSERVERS:
        _SIGN_OBSERVERS.append(observer)


def remove_sign_observer(observer: SignObserver) -> None:
    """Stop calling `observer`."""
    if observer in _SIGN_OBSERVERS:
        _SIGN_OBSERVERS.remove(observer)


def signed(backend: str, started: float) -> None:
    """Report a signature that began at `started` (time.perf_counter()) to the observers."""
    if _SIGN_OBSERVERS:
        seconds = time.perf_counter() - started
        for observer in tuple(_SIGN_OBSERVERS):
            observer(backend, seconds)


def alg_for_public_key(public_key: PublicKey) -> Alg:
    """The algorithm a public key signs with; other curves raise `unsupported_alg`."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return Alg.EDDSA
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(
        public_key.curve, ec.SECP256R1
    ):
        return Alg.ES256
    raise KeyRingError(KeysCode.UNSUPPORTED_ALG, "only P-256 and Ed25519 keys")


def raw_ecdsa_signature(der: bytes) -> bytes:
    """DER ECDSA-Sig-Value → raw r‖s for P-256 (2 × 32 bytes, big-endian)."""
    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class PublicIdentity:
    """What every signer shows of itself: algorithm, public key and the kids of
    docs/formats.md ("Key identifiers").

    Backends subclass it and add ``sign``; the private half stays with the backend.
    """

    __slots__ = ("_alg", "_cose_kid", "_jws_kid", "_public", "_thumbprint")

    def __init__(self, public_key: PublicKey, alg: Alg | None = None) -> None:
        self._public: PublicKey = public_key
        self._alg = alg_for_public_key(public_key) if alg is None else alg
        self._thumbprint = thumbprint(public_key)
        # computed once: every signature carries the kid (a thumbprint is a JSON dump and a hash)
        self._cose_kid = cose_kid(public_key)
        self._jws_kid = jws_kid(public_key)

    @property
    def alg(self) -> Alg:
        return self._alg

    @property
    def public_key(self) -> PublicKey:
        return self._public

    @property
    def thumbprint(self) -> bytes:
        return self._thumbprint

    @property
    def cose_kid(self) -> bytes:
        return self._cose_kid

    @property
    def jws_kid(self) -> str:
        return self._jws_kid


class SoftwareSigner(PublicIdentity):
    """A signer over a private key held in this process (loaded from an encrypted file)."""

    __slots__ = ("_private",)

    def __init__(self, private_key: PrivateKey) -> None:
        super().__init__(private_key.public_key())
        self._private = private_key

    def __repr__(self) -> str:
        return f"SoftwareSigner(alg={self._alg.name}, kid={self.jws_kid})"

    @property
    def private_key(self) -> PrivateKey:
        """The private key object, for storing it encrypted (never print or log it)."""
        return self._private

    def sign(self, message: bytes) -> bytes:
        started = time.perf_counter()
        if isinstance(self._private, ed25519.Ed25519PrivateKey):
            signature = self._private.sign(message)
        else:
            der = self._private.sign(message, ec.ECDSA(hashes.SHA256()))
            signature = raw_ecdsa_signature(der)
        signed("software", started)
        return signature


def generate_private_key(alg: Alg) -> PrivateKey:
    """A fresh P-256 (ES256) or Ed25519 (EdDSA) private key."""
    if alg == Alg.ES256:
        return ec.generate_private_key(ec.SECP256R1())
    if alg == Alg.EDDSA:
        return ed25519.Ed25519PrivateKey.generate()
    raise KeyRingError(KeysCode.UNSUPPORTED_ALG, f"alg {alg}")


def generate_signer(alg: Alg = Alg.ES256) -> SoftwareSigner:
    """A software signer over a fresh key (tests, development, before storing it)."""
    return SoftwareSigner(generate_private_key(alg))


def sign_cose(signer: Signer, payload: bytes, content_type: str | None = None) -> bytes:
    """COSE_Sign1 (tag 18) over `payload` with protected {1: alg, 4: kid[, 16: type]}."""
    return encode_sign1(
        payload,
        alg=signer.alg,
        kid=signer.cose_kid,
        sign=signer.sign,
        content_type=content_type,
    )


def sign_jws(signer: Signer, header: Mapping[str, Any], payload: bytes) -> str:
    """Compact JWS; `alg` and `kid` come from the signer and may not be given otherwise."""

    full = dict(header)
    for name, value in (("alg", JOSE_NAMES[signer.alg]), ("kid", signer.jws_kid)):
        if full.setdefault(name, value) != value:
            raise ValueError(f"header {name!r} does not match the signer")
    return encode_jws(full, payload, signer.sign)
