"""Where the issuer's keys come from: `KeyStore`, one object with an explicit lifetime.

The issuer never builds a signed artefact itself. It chooses the key here
(`KeyStore.signer(tenant, purpose, now)`) and hands its data to a `keys` builder, which
signs with that key:

    permit QR            keys.build_permit_qr         (issuer/services/permits/tokens.py)
    SD-JWT VC            keys.build_sd_jwt_vc         (wallet_api/services/sd_jwt_vc.py)
    status list tokens   keys.build_status_list_tokens (issuer/services/status_lists.py)
    trust bundle         keys.build_trust_bundle      (issuer/services/publication.py)
    plate index          keys.build_plate_index       (issuer/services/plate_index.py)

A `KeyStore` opens each key ring once (the tenants' rings and the operator's root ring, from
the configured `key_store`: the shared database, or directories under `keys_dir`) and keeps
it, with its decrypted signers (an argon2id derivation per key file), until `close()`.
`create_app` makes one and closes it at shutdown; the CLI makes its own for one command. It
is the only place that knows where keys live. With a PKCS#11 token
configured (`pkcs11_token_label`, the PIN from the environment or a file) the store logs in
once, on first use, and every ring it opens signs with that token's keys; new keys
(`ensure_ring`, new tenants) are made in the token, a rotation makes its key where the ring's
current key lives, and `withdraw` destroys a token key there.

A key that another process added, rotated or withdrew is seen within `RING_STAT_SECONDS`: a
directory ring re-reads its ring.json on every call; a database ring checks its version at
most once per `RING_STAT_SECONDS` (no query per signature), and `ring_stamp` (the
publication cache's check) tells the open rings when a version moved.

The store also keeps what depends on its keys for as long as it lives: the certificate
chains of its keys (`chains`), the signed artefacts the publication service serves again and
the public keys the relying party verifies its tenants' credentials with (`artefacts`); a
ring change through the store (`ensure_ring`, `rotate`, `withdraw`) bumps `generation` and
empties both.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

from issuer.errors import NoSigningKey
from keys.errors import KeysCode, KeysError, Pkcs11Error
from keys.lifecycle import KeyType, Purpose
from keys.ring import Backend, KeyInfo, KeyRing, RingKind
from keys.storage.file import DEFAULT_KDF, KdfParams
from keys.storage.pkcs11 import DEFAULT_MODULE, Pkcs11Token
from keys.storage.rings import METADATA, DirectoryRingStore, RingStore
from verifier import PermitType

if TYPE_CHECKING:
    from cryptography import x509
    from sqlalchemy import Connection, Engine

    from issuer.db.models import Tenant
    from issuer.settings import Settings
    from keys.signer import Signer
    from keys.storage.documents import Documents

TENANT_PURPOSES: tuple[KeyType, ...] = (
    PermitType.BEW,
    Purpose.STATUS,
    Purpose.PLATE_INDEX,
    Purpose.CREDENTIAL,
)
"""What every tenant ring must be able to sign (readiness, adopting a prepared ring)."""
ROOT_PURPOSES: tuple[KeyType, ...] = (Purpose.BUNDLE,)

V = TypeVar("V")
RING_STAT_SECONDS = 1.0
"""A ring change made by another process is seen within this bound (see the docstring)."""
_CA_ROOT = ("issuing-ca-root",)
LOGIN_RETRY_SECONDS = 300.0
"""After a refused PIN the store tries to log in again only this much later."""


class Memo(Generic[V]):
    """A small thread-safe map owned by a `KeyStore`, emptied when the store changes a ring."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[Any, V] = {}

    def get(self, key: Any) -> V | None:
        """The remembered value, or None."""
        with self._lock:
            return self._items.get(key)

    def put(self, key: Any, value: V) -> None:
        """Remember `value`."""
        with self._lock:
            self._items[key] = value

    def discard(self, key: Any, value: V) -> None:
        """Forget `key` if it still holds `value`."""
        with self._lock:
            if self._items.get(key) is value:
                del self._items[key]

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()


@dataclass(frozen=True, slots=True)
class Chain:
    """An `x5c` header value and until when (unix seconds) its leaf certificate is valid."""

    x5c: list[str]
    until: int


class KeyStore:
    """The issuer's key rings for one app (or one CLI command). See the module docstring."""

    def __init__(self, settings: Settings, *, engine: Engine | None = None) -> None:
        """`engine`: the app's database engine (database key store); without one the store
        makes its own on first use and disposes it in `close`."""
        from issuer.settings import resolve_key_passphrase

        self.settings = settings
        self._keys_dir = Path(settings.keys_dir)
        self._engine = engine
        self._own_engine: Engine | None = None
        self._store: RingStore | None = None
        self._passphrase = resolve_key_passphrase(settings)
        self._lock = threading.Lock()
        self._rings: dict[str, KeyRing] = {}
        self._generation = 0
        self._token: Pkcs11Token | None = None
        self._token_lock = threading.Lock()
        self._token_failure: tuple[Pkcs11Error, float] | None = None
        self.chains: Memo[Chain] = Memo()
        self.artefacts: Memo[Any] = Memo()

    def __repr__(self) -> str:
        return f"KeyStore(key_store={self.settings.key_store!r})"

    @property
    def in_database(self) -> bool:
        """Whether rings live in the database (else in directories under keys_dir)."""
        return self.settings.key_store == "database"

    def store(self) -> RingStore:
        """Where the rings live (the configured `key_store`)."""
        with self._lock:
            if self._store is None:
                self._store = self._make_store()
            return self._store

    def _make_store(self) -> RingStore:
        if not self.in_database:
            return DirectoryRingStore(self._keys_dir)
        from keys.storage.sql import SqlRingStore

        engine = self._engine
        if engine is None:
            from issuer.db.session import make_engine

            engine = self._own_engine = make_engine(self.settings.database_url)
        return SqlRingStore(engine)

    def key_directory(self, name: str) -> Path | Documents:
        """A small key directory of the configured store, e.g. the issuing CA
        (`issuing_ca_dir`) or the relying party's identity (`rp_dir`): the directory
        keys_dir/<name>, or its rows in the database."""
        return key_directory_in(self.store(), self._keys_dir, name)

    def ca_root(self) -> x509.Certificate | None:
        """The issuing CA's root certificate, None without a CA; read again at most once per
        `RING_STAT_SECONDS` (the CA's root changes only when an operator makes a new CA)."""
        from keys.issuing_ca import IssuingCa

        now = time.monotonic()
        cached = self.artefacts.get(_CA_ROOT)
        if cached is not None and now < cached[1]:
            return cast("x509.Certificate | None", cached[0])
        try:
            root: x509.Certificate | None = IssuingCa.open(
                self.key_directory(self.settings.issuing_ca_dir)
            ).certificate
        except KeysError:
            root = None
        self.artefacts.put(_CA_ROOT, (root, now + RING_STAT_SECONDS))
        return root

    def ring_stamp(self, names: list[str]) -> tuple[Hashable, ...]:
        """What moves when any of the named rings changes: each ring.json's (mtime, size,
        inode), or the database rings' versions (one statement; rings this store has open
        learn of a moved version, so their next read is fresh)."""
        if not self.in_database:
            return tuple(_file_stamp(self._keys_dir / n / METADATA) for n in names)
        from keys.storage.sql import SqlRingStore

        store = self.store()
        assert isinstance(store, SqlRingStore)
        try:
            versions = store.versions(names)
        except KeysError:
            return (None,) * len(names)
        with self._lock:
            opened = {n: self._rings.get(n) for n in names}
        for name, ring in opened.items():
            if ring is not None:
                ring.refresh(versions.get(name))
        return tuple(versions.get(n, -1) for n in names)

    # --- where keys come from ---------------------------------------------------------------

    def token(self) -> Pkcs11Token | None:
        """The configured PKCS#11 token, logged in on first use; None without one. Raises
        `Pkcs11Error` (a KeysError: unavailable module, no token, PIN refused)."""
        with self._token_lock:  # logging in is rare: one thread at a time
            if self._token is not None:
                return self._token
            failed = self._token_failure
            if failed is not None and failed[1] > time.monotonic():
                raise failed[0]  # not again yet: an HSM locks a user after a few wrong PINs
            try:
                self._token = open_token(self.settings)
            except Pkcs11Error as exc:
                pause = LOGIN_RETRY_SECONDS if exc.code is KeysCode.PKCS11_LOGIN else 5.0
                self._token_failure = (exc, time.monotonic() + pause)
                raise
            self._token_failure = None
            return self._token

    @property
    def new_key_backend(self) -> Backend:
        """Where new keys are made: the token when one is configured, else key files."""
        return Backend.FILE if self.settings.pkcs11_token_label is None else Backend.PKCS11

    def _open(self, relative: str) -> KeyRing:
        return KeyRing.open(
            self.store().ring(relative),
            passphrase=self._passphrase,
            pkcs11=self.token(),
            recheck_seconds=self._recheck_seconds(),
        )

    def _recheck_seconds(self) -> float:
        """Database rings check their version at most this often; directory rings always."""
        return RING_STAT_SECONDS if self.in_database else 0.0

    def ring_path(self, relative: str) -> Path:
        """The directory of the ring `relative` to keys_dir (directory key store)."""
        return self._keys_dir / relative

    def ring(self, relative: str) -> KeyRing:
        """The ring at keys_dir/<relative>, opened on first use; 503 no_signing_key if there is
        none (the detail is the keys error code)."""
        with self._lock:
            ring = self._rings.get(relative)
        if ring is not None:
            return ring
        try:
            ring = self._open(relative)
        except KeysError as exc:
            raise NoSigningKey(detail=exc.code.value) from exc
        with self._lock:
            return self._rings.setdefault(relative, ring)

    def tenant_ring(self, tenant: Tenant) -> KeyRing:
        """The tenant's key ring."""
        return self.ring(tenant.key_ring)

    def root_ring(self) -> KeyRing:
        """The operator's root ring (signs trust bundles)."""
        return self.ring(self.settings.root_key_ring)

    @property
    def generation(self) -> int:
        """Bumped whenever this store changed a ring (`ensure_ring`, `rotate`)."""
        with self._lock:
            return self._generation

    # --- choosing the key -----------------------------------------------------------------

    def signer(self, tenant: Tenant, purpose: KeyType | str, now: datetime) -> Signer:
        """The tenant's active signer for a permit type or purpose at `now`; 503
        no_signing_key when the ring has no active key for it."""
        return self.signing_key(tenant, purpose, now)[0]

    def signing_key(
        self, tenant: Tenant, purpose: KeyType | str, now: datetime
    ) -> tuple[Signer, int]:
        """`signer` and `key_end` from one reading of the tenant's ring (a directory ring is
        read from its file each time). 503 no_signing_key when the ring has no active key
        for it."""
        try:
            info, signer = self.tenant_ring(tenant).active_signer(int(now.timestamp()), purpose)
        except KeysError as exc:
            raise NoSigningKey(detail=str(purpose)) from exc
        return signer, info.window.exp

    def key_end(self, tenant: Tenant, purpose: KeyType | str, now: datetime) -> int:
        """Until when (unix seconds, exclusive) the key that signs `purpose` at `now`
        verifies: no token it signs may expire later. 503 no_signing_key as `signer`."""
        try:
            return self.tenant_ring(tenant).active(int(now.timestamp()), purpose).window.exp
        except KeysError as exc:
            raise NoSigningKey(detail=str(purpose)) from exc

    # --- changing rings (development, tests, the rotation job) ------------------------------

    def ensure_ring(
        self,
        relative: str,
        issuer_id: str,
        *,
        root: bool,
        now: datetime,
        kdf: KdfParams | None = None,
    ) -> KeyRing:
        """Development and tests: the ring `relative`, created with one active key (valid from
        a day ago for two years) when it is missing or has no active key.

        `kdf` lets tests use cheap argon2 parameters."""
        where = self.store().ring(relative)
        chosen = kdf or DEFAULT_KDF
        token = self.token()

        def opened() -> KeyRing:
            return KeyRing.open(
                where,
                passphrase=self._passphrase,
                pkcs11=token,
                kdf=chosen,
                recheck_seconds=self._recheck_seconds(),
            )

        try:
            ring = opened()
        except KeysError:
            KeyRing.create(
                where,
                issuer_id,
                kind=RingKind.ROOT if root else RingKind.ISSUER,
                passphrase=self._passphrase,
                pkcs11=token,
                kdf=chosen,
            )
            ring = opened()
        at = int(now.timestamp())
        try:
            ring.active(at, Purpose.BUNDLE if root else PermitType.BEW)
        except KeysError:
            ring.add_key(
                nbf=at - 86400,
                sign_until=at + 365 * 86400,
                exp=at + 2 * 365 * 86400,
                backend=self.new_key_backend,
            )
        with self._lock:
            self._rings[relative] = ring
        self._changed()
        return ring

    def rotate(self, relative: str, *, now: datetime, force: bool = False) -> str | None:
        """Run the ring's rotation planner: a new pending key published at least one bundle
        freshness period before it signs; the old key verifies as long as tokens live
        (2 years). The new key's kid, or None when nothing was due."""
        from keys.lifecycle import RotationPolicy

        ring = self.ring(relative)
        policy = RotationPolicy(
            fresh_seconds=self.settings.trust_bundle_fresh_seconds,
            max_token_seconds=2 * 366 * 24 * 3600,
            sign_seconds=365 * 24 * 3600,
        )
        try:
            info = ring.rotate(int(now.timestamp()), policy, force=force)
        finally:
            self._changed()
        return None if info is None else info.kid

    def withdraw(self, relative: str, kid: str, *, now: datetime) -> KeyInfo:
        """Withdraw a key of the ring (compromised, or retired early): it signs nothing from
        `now` on and leaves the next bundle; a PKCS#11 key is destroyed in the token."""
        try:
            return self.ring(relative).withdraw(kid, int(now.timestamp()))
        finally:
            self._changed()

    def _changed(self) -> None:
        with self._lock:
            self._generation += 1
        self.chains.clear()
        self.artefacts.clear()

    def close(self) -> None:
        """Forget every ring, signer, chain and artefact and log out of the token (the app is
        shutting down)."""
        with self._lock:
            self._rings.clear()
        with self._token_lock:
            token, self._token = self._token, None
        self.chains.clear()
        self.artefacts.clear()
        if token is not None:
            token.close()
        with self._lock:
            own, self._own_engine, self._store = self._own_engine, None, None
        if own is not None:
            own.dispose()


def _file_stamp(path: Path) -> tuple[int, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1, -1)
    return (st.st_mtime_ns, st.st_size, st.st_ino)


@contextmanager
def ring_store_for(
    settings: Settings, bind: Engine | Connection | None = None
) -> Iterator[RingStore]:
    """The configured ring store for one operation (tenant creation, the CLI): directories
    under keys_dir, or the database through `bind` (a connection: inside the caller's
    transaction) or an engine made for the call and disposed after."""
    if settings.key_store != "database":
        yield DirectoryRingStore(settings.keys_dir)
        return
    from keys.storage.sql import SqlRingStore

    if bind is not None:
        yield SqlRingStore(bind)
        return
    from issuer.db.session import make_engine

    engine = make_engine(settings.database_url)
    try:
        yield SqlRingStore(engine)
    finally:
        engine.dispose()


def key_directory_in(store: RingStore, keys_dir: Path, name: str) -> Path | Documents:
    """The key directory `name` (the issuing CA, the relying party's identity) next to the
    rings of `store`: keys_dir/<name>, or its rows in the database."""
    documents = getattr(store, "documents", None)
    if documents is None:
        return Path(keys_dir) / name
    return cast("Documents", documents(name))


def open_token(settings: Settings) -> Pkcs11Token | None:
    """The PKCS#11 token of `settings` logged in with the configured PIN (the caller closes
    it), or None without `pkcs11_token_label`. Raises `Pkcs11Error`."""
    from issuer.settings import resolve_pkcs11_pin

    label = settings.pkcs11_token_label
    if label is None:
        return None
    try:
        pin = resolve_pkcs11_pin(settings)
    except ValueError as exc:
        raise Pkcs11Error(KeysCode.PKCS11_LOGIN, str(exc)) from exc
    module = str(settings.pkcs11_module or DEFAULT_MODULE)
    return Pkcs11Token.open(token_label=label, pin=pin, module=module)
