"""Who the relying party is to a wallet: the access certificate that signs request objects,
the client identifier derived from it, and the keys wallets encrypt responses to.

The request-signing identity is the key directory <rp_dir> of the configured key store
(keys/relying_party.py): keys_dir/<rp_dir>, or its rows in the database, so every instance
uses the same one. When it is missing or no longer fits the public base URL, it is
certified by the deployment's issuing CA, as long as the CA key is a file key under the
server's key passphrase (the development setup, or a deployment that accepts that) or in
the configured PKCS#11 token; otherwise the operator installs a chain, and without one
every request answers 503 ``rp_unavailable``. In the database store an identity loaded
here is checked against the directory's version at most once per `RING_STAT_SECONDS`, so
a chain installed or renewed by another instance is used within that bound.

Response encryption keys are per transaction and never stored: the P-256 private scalar is
HKDF-SHA256 of the server secret with the transaction id as ``info``, reduced into
[1, n-1] from 48 bytes (FIPS 186-5 A.2.1, so the bias is below 2^-128). A key therefore
decrypts exactly one transaction's response, and no key file exists to leak.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from issuer.services.clock import Clock
from issuer.services.rate_limits import SharedCounters
from issuer.services.signing import RING_STAT_SECONDS, KeyStore
from issuer.settings import Settings, resolve_key_passphrase, resolve_server_secret
from keys.errors import KeysError
from keys.issuing_ca import IssuingCa
from keys.relying_party import RelyingPartyIdentity, ensure_identity, open_identity
from keys.ring import Backend
from keys.storage.documents import Documents
from verifier.formats import jws_kid, key_to_jwk
from wallet_api.errors import WalletProblem
from wallet_api.relying_party.starts import PUSHED_LIMIT_NAME, StartBudget, client_starts
from wallet_api.relying_party.trust import TrustList, load_trust_list
from wallet_api.services.rate_limits import RateLimiter

log = logging.getLogger(__name__)

_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_HKDF_SALT = b"buergerid relying party response encryption v1"


def _unavailable(detail: str) -> WalletProblem:
    return WalletProblem("rp_unavailable", detail, status=503)


@dataclass
class RelyingParty:
    """Per-app state of the relying party (built once by the app factory)."""

    settings: Settings
    clock: Clock
    keys: KeyStore
    trust: TrustList
    starts: StartBudget  # anonymous login starts per client address (relying_party.starts)
    pushes: StartBudget  # pushed authorization requests per client address (the same)
    client_starts: RateLimiter  # presentations each municipal application starts
    _secret: bytes = field(repr=False)
    _identity: RelyingPartyIdentity | None = field(default=None, repr=False)
    _version: Hashable = field(default=None, repr=False)
    _checked: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Clock, keys: KeyStore, counters: SharedCounters
    ) -> RelyingParty:
        """The relying party of `settings` (the identity is loaded on first use); anonymous
        starts are counted in `counters`."""
        dev_dir = settings.data_dir / DEV_PID_PROVIDER_DIR if settings.rp_dev_pid_provider else None
        return cls(
            settings=settings,
            clock=clock,
            keys=keys,
            trust=load_trust_list(settings.rp_pid_trust_list, dev_provider_dir=dev_dir),
            starts=StartBudget.from_settings(settings, counters),
            pushes=StartBudget.from_settings(settings, counters, PUSHED_LIMIT_NAME),
            client_starts=client_starts(settings, counters),
            _secret=resolve_server_secret(settings),
        )

    @property
    def base_url(self) -> str:
        """Our public base URL (no trailing slash)."""
        return self.settings.public_base_url.rstrip("/")

    def identity(self) -> RelyingPartyIdentity:
        """The request-signing identity, certified on first use when possible."""
        with self._lock:
            now = int(self.clock.now().timestamp())
            current = self._identity
            if (
                current is not None
                and _still_fits(current, self.base_url, now)
                and not self._moved()
            ):
                return current
            self._identity = self._load(now)
            return self._identity

    def _moved(self) -> bool:
        """Whether another instance changed the identity (database store; asked at most once
        per `RING_STAT_SECONDS`)."""
        if not self.keys.in_database:
            return False
        at = time.monotonic()
        if at - self._checked < RING_STAT_SECONDS:
            return False
        self._checked = at
        try:
            version = self._documents().version()  # type: ignore[union-attr]
        except KeysError:
            return False  # the database is away: keep signing with what we have
        return version != self._version

    def _documents(self) -> Path | Documents:
        return self.keys.key_directory(self.settings.rp_dir)

    def _load(self, now: int) -> RelyingPartyIdentity:
        settings = self.settings
        directory = self._documents()
        passphrase = resolve_key_passphrase(settings)
        if not isinstance(directory, Path):
            self._version = directory.version()
            self._checked = time.monotonic()
        try:
            ca = IssuingCa.open(
                self.keys.key_directory(settings.issuing_ca_dir), passphrase=passphrase
            )
            if ca.backend is Backend.PKCS11:
                ca = IssuingCa.open(ca.path, pkcs11=self.keys.token())
            identity = ensure_identity(
                directory,
                passphrase=passphrase,
                ca=ca,
                base_url=self.base_url,
                common_name=settings.wallet_display_name,
                now=now,
            )
        except KeysError as exc:
            log.warning("rp_identity_not_certified", extra={"code": str(exc.code)})
            try:
                identity = open_identity(directory, passphrase=passphrase)
            except KeysError as inner:
                raise _unavailable("no request-signing certificate") from inner
        return identity

    @property
    def server_secret(self) -> bytes:
        """The server secret (HMAC key of bindings, consent tokens, issuer_state)."""
        return self._secret

    def binding_digest(self, binding: str) -> str:
        """HMAC-SHA256 of a browser session's (or an API client's) binding secret."""
        mac = hmac.new(self._secret, b"rp-binding:" + binding.encode("utf-8"), hashlib.sha256)
        return mac.hexdigest()

    @property
    def client_id(self) -> str:
        """Our client identifier with its prefix (OpenID4VP 1.0 §5.9)."""
        try:
            return self.identity().client_id(self.settings.rp_client_id_prefix)
        except KeysError as exc:
            raise _unavailable("the certificate does not fit the client identifier") from exc

    def encryption_key(self, transaction_id: str) -> ec.EllipticCurvePrivateKey:
        """The P-256 key of one transaction's encrypted response (see the docstring)."""
        okm = HKDF(
            algorithm=hashes.SHA256(),
            length=48,
            salt=_HKDF_SALT,
            info=transaction_id.encode("ascii"),
        ).derive(self._secret)
        scalar = int.from_bytes(okm, "big") % (_P256_ORDER - 1) + 1
        return ec.derive_private_key(scalar, ec.SECP256R1())

    def encryption_jwk(self, transaction_id: str) -> dict[str, Any]:
        """The public JWK wallets encrypt to (``use`` enc, ``alg`` ECDH-ES)."""
        public = self.encryption_key(transaction_id).public_key()
        jwk: dict[str, Any] = dict(key_to_jwk(public))
        jwk.update({"kid": jws_kid(public), "use": "enc", "alg": "ECDH-ES"})
        return jwk


DEV_PID_PROVIDER_DIR = "dev-pid-provider"


def _still_fits(identity: RelyingPartyIdentity, base_url: str, now: int) -> bool:
    leaf = identity.chain[0]
    return leaf.not_valid_before_utc.timestamp() <= now < leaf.not_valid_after_utc.timestamp()
