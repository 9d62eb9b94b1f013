"""PKCS#11 backend: keys generated, kept and used inside a token (an HSM, or SoftHSM2).

Fixed parameters: private keys are created on the token (`CKA_TOKEN`, `CKA_PRIVATE`,
`CKA_SENSITIVE` true, `CKA_EXTRACTABLE` false), so their value never leaves it. ES256 keys
are EC on P-256 (`CKM_EC_KEY_PAIR_GEN`); we hash the message with SHA-256 here and the token
signs the digest with `CKM_ECDSA`, whose output is already raw r‖s (PKCS#11 §2.3.1).
Ed25519 keys use `CKM_EC_EDWARDS_KEY_PAIR_GEN` and `CKM_EDDSA` over the whole message
(SoftHSM2 ≥ 2.6 built against OpenSSL ≥ 1.1.1 has both; Debian's does). The public key is
read back from `CKA_EC_POINT`. A key is found by its `CKA_ID` (16 random bytes chosen at
generation, recorded by the key ring) and checked against the recorded thumbprint there.

Every error of the module is translated into `Pkcs11Error` with a stable code.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
import time
from collections.abc import Mapping
from types import TracebackType

import pkcs11
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.types import SignMixin
from pkcs11.util.ec import encode_named_curve_parameters

from keys.errors import KeysCode, Pkcs11Error
from keys.signer import PublicIdentity, signed
from verifier.formats import Alg, PublicKey

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"  # Debian package softhsm2
MODULE_ENV = "BUERGERID_PKCS11_MODULE"
_OID_P256 = "1.2.840.10045.3.1.7"
_OID_ED25519 = "1.3.101.112"
KEY_ID_BYTES = 16


def module_path(environ: Mapping[str, str]) -> str:
    """The PKCS#11 module to load: `$BUERGERID_PKCS11_MODULE` or Debian's SoftHSM2."""
    return environ.get(MODULE_ENV) or DEFAULT_MODULE


def _public_from_point(alg: Alg, point: bytes) -> PublicKey:
    """CKA_EC_POINT (a DER OCTET STRING, or a bare point from some modules) → public key."""
    size = 65 if alg == Alg.ES256 else 32
    if len(point) == size + 2 and point[0] == 0x04 and point[1] == size:
        point = point[2:]
    if len(point) != size:
        raise Pkcs11Error(KeysCode.PKCS11_FAILED, "unexpected CKA_EC_POINT")
    try:
        if alg == Alg.ES256:
            return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
        return ed25519.Ed25519PublicKey.from_public_bytes(point)
    except ValueError as exc:
        raise Pkcs11Error(KeysCode.PKCS11_FAILED, "CKA_EC_POINT is not a valid key") from exc


class Pkcs11Signer(PublicIdentity):
    """A signer whose private key stays in the token; signing is serialised per token."""

    __slots__ = ("_key_id", "_lock", "_private")

    def __init__(
        self,
        *,
        alg: Alg,
        key_id: bytes,
        private: SignMixin,
        public: PublicKey,
        lock: threading.Lock,
    ) -> None:
        super().__init__(public, alg)
        self._key_id = key_id
        self._private = private
        self._lock = lock

    def __repr__(self) -> str:
        return f"Pkcs11Signer(alg={self._alg.name}, kid={self.jws_kid}, id={self._key_id.hex()})"

    @property
    def key_id(self) -> bytes:
        """The CKA_ID of the key pair on the token."""
        return self._key_id

    def sign(self, message: bytes) -> bytes:
        started = time.perf_counter()
        try:
            with self._lock:
                if self._alg == Alg.ES256:
                    digest = hashes.Hash(hashes.SHA256())
                    digest.update(message)
                    mechanism, data = Mechanism.ECDSA, digest.finalize()
                else:
                    mechanism, data = Mechanism.EDDSA, message
                signature = bytes(self._private.sign(data, mechanism=mechanism))
        except pkcs11.PKCS11Error as exc:
            raise Pkcs11Error(KeysCode.PKCS11_FAILED, f"sign: {type(exc).__name__}") from exc
        signed("pkcs11", started)
        return signature


class _Login:
    """The process-wide login to one token: PKCS#11 logs in an application, not a session."""

    __slots__ = ("count", "pin_digest", "session")

    def __init__(self, session: pkcs11.Session | None, pin_digest: bytes) -> None:
        self.session = session  # None: someone else in this process logged in before us
        self.pin_digest = pin_digest
        self.count = 0


_LOGINS: dict[tuple[str, str], _Login] = {}
_LOGINS_LOCK = threading.Lock()


def _pin_digest(pin: str) -> bytes:
    return hashlib.sha256(pin.encode("utf-8")).digest()


class Pkcs11Token:
    """A read-write session on one token, logged in as user; a context manager, or `close()`.

    Several `Pkcs11Token`s on the same token may be open in one process: the first logs in
    (with a session kept for that purpose), the last to close logs out; each has its own
    session for its work.
    """

    def __init__(self, session: pkcs11.Session, token_label: str, login_key: tuple[str, str]):
        self._session = session
        self._lock = threading.Lock()
        self._login_key = login_key
        self._closed = False
        self.token_label = token_label

    def __repr__(self) -> str:
        return f"Pkcs11Token(token_label={self.token_label!r})"

    @classmethod
    def open(cls, *, token_label: str, pin: str, module: str = DEFAULT_MODULE) -> Pkcs11Token:
        """Load `module`, find the token labelled `token_label`, log in as user with `pin`."""
        if not os.path.isfile(module):
            raise Pkcs11Error(KeysCode.PKCS11_UNAVAILABLE, "PKCS#11 module not found")
        try:
            lib = pkcs11.lib(module)
        except (pkcs11.PKCS11Error, OSError, RuntimeError) as exc:
            raise Pkcs11Error(KeysCode.PKCS11_UNAVAILABLE, "cannot load the module") from exc
        try:
            token = lib.get_token(token_label=token_label)
        except (pkcs11.NoSuchToken, pkcs11.MultipleObjectsReturned) as exc:
            raise Pkcs11Error(KeysCode.PKCS11_NO_TOKEN, f"token {token_label!r}") from exc
        except pkcs11.PKCS11Error as exc:
            raise Pkcs11Error(KeysCode.PKCS11_UNAVAILABLE, type(exc).__name__) from exc
        key = (module, token_label)
        digest = _pin_digest(pin)
        with _LOGINS_LOCK:
            login = _LOGINS.get(key)
            if login is None:
                try:
                    login = _Login(token.open(user_pin=pin, rw=True), digest)
                except pkcs11.UserAlreadyLoggedIn:
                    login = _Login(None, digest)
                except (pkcs11.PinIncorrect, pkcs11.PinInvalid, pkcs11.PinLenRange) as exc:
                    raise Pkcs11Error(KeysCode.PKCS11_LOGIN, "PIN refused") from exc
                except pkcs11.PKCS11Error as exc:
                    raise Pkcs11Error(KeysCode.PKCS11_LOGIN, type(exc).__name__) from exc
                _LOGINS[key] = login
            elif not hmac.compare_digest(login.pin_digest, digest):
                raise Pkcs11Error(KeysCode.PKCS11_LOGIN, "PIN refused")
            try:
                session = token.open(rw=True)  # sees the login of this application
            except pkcs11.PKCS11Error as exc:
                raise Pkcs11Error(KeysCode.PKCS11_FAILED, type(exc).__name__) from exc
            login.count += 1
        return cls(session, token_label, key)

    def close(self) -> None:
        """Close the session; the last one open on this token in the process logs out."""
        if self._closed:
            return
        self._closed = True
        try:
            with _LOGINS_LOCK:
                self._session.close()
                login = _LOGINS[self._login_key]
                login.count -= 1
                if login.count == 0:
                    del _LOGINS[self._login_key]
                    if login.session is not None:
                        login.session.close()
        except pkcs11.PKCS11Error as exc:
            raise Pkcs11Error(KeysCode.PKCS11_FAILED, "close") from exc

    def __enter__(self) -> Pkcs11Token:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def generate_key(self, alg: Alg, *, label: str) -> Pkcs11Signer:
        """Generate a non-extractable, sensitive key pair on the token and return its signer."""
        if alg == Alg.ES256:
            key_type, oid, mechanism = KeyType.EC, _OID_P256, Mechanism.EC_KEY_PAIR_GEN
        elif alg == Alg.EDDSA:
            key_type, oid = KeyType.EC_EDWARDS, _OID_ED25519
            mechanism = Mechanism.EC_EDWARDS_KEY_PAIR_GEN
        else:
            raise Pkcs11Error(KeysCode.UNSUPPORTED_ALG, f"alg {alg}")
        key_id = os.urandom(KEY_ID_BYTES)
        try:
            with self._lock:
                params = self._session.create_domain_parameters(
                    key_type, {Attribute.EC_PARAMS: encode_named_curve_parameters(oid)}, local=True
                )
                params.generate_keypair(
                    id=key_id,
                    label=label,
                    store=True,
                    mechanism=mechanism,
                    public_template={Attribute.VERIFY: True, Attribute.TOKEN: True},
                    private_template={
                        Attribute.SIGN: True,
                        Attribute.TOKEN: True,
                        Attribute.PRIVATE: True,
                        Attribute.SENSITIVE: True,
                        Attribute.EXTRACTABLE: False,
                    },
                )
        except pkcs11.PKCS11Error as exc:
            raise Pkcs11Error(KeysCode.PKCS11_FAILED, f"generate: {type(exc).__name__}") from exc
        return self.signer(key_id, alg)

    def signer(self, key_id: bytes, alg: Alg) -> Pkcs11Signer:
        """The signer of the key pair with CKA_ID `key_id`; `pkcs11_key_not_found` if absent."""
        try:
            with self._lock:
                private = self._session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)
                public = self._session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=key_id)
                point = bytes(public[Attribute.EC_POINT])
        except (pkcs11.NoSuchKey, pkcs11.MultipleObjectsReturned) as exc:
            raise Pkcs11Error(KeysCode.PKCS11_KEY_NOT_FOUND, key_id.hex()) from exc
        except pkcs11.PKCS11Error as exc:
            raise Pkcs11Error(KeysCode.PKCS11_FAILED, f"find: {type(exc).__name__}") from exc
        if not isinstance(private, SignMixin):
            raise Pkcs11Error(KeysCode.PKCS11_KEY_NOT_FOUND, key_id.hex())
        return Pkcs11Signer(
            alg=alg,
            key_id=key_id,
            private=private,
            public=_public_from_point(alg, point),
            lock=self._lock,
        )

    def destroy_key(self, key_id: bytes) -> None:
        """Destroy both halves of the key pair with CKA_ID `key_id` (after withdrawal)."""
        try:
            with self._lock:
                for obj in list(self._session.get_objects({Attribute.ID: key_id})):
                    obj.destroy()
        except pkcs11.PKCS11Error as exc:
            raise Pkcs11Error(KeysCode.PKCS11_FAILED, f"destroy: {type(exc).__name__}") from exc
