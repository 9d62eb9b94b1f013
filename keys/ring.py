"""The key ring: one issuer's (or the operator's root) keys, in a directory or the database.

A ring is its metadata (the ring.json document: issuer id, kind, every key's public key,
window, types, backend and reference, withdrawn time; root rings: last bundle seq) plus the
encrypted key files of its file keys. Where those bytes live is the ring's storage
(keys/storage/rings.py): a directory (layout in docs/keys.md: `ring.json`,
`keys/<kid>.key` 0600, `.ring.lock`) or two database tables (keys/storage/sql.py). PKCS#11
keys stay in their token; the metadata holds their handles.

The metadata holds no secret. Each mutation (`add_key`, `rotate`, `withdraw`,
`next_bundle_seq`) re-reads it under the storage's exclusive lock and writes it with the new
key blobs, so several processes (instances, the job runner, the CLI) can share a ring.
Readers check the stored version on every call, or at most once per `recheck_seconds` when
the ring is opened with one (the issuer does so for database rings: no query per
signature), and cache decrypted signers by kid.

State is never stored: it is derived from the window and `withdrawn_at` at the `now` passed
in (keys/lifecycle.py); no method reads a clock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from keys.errors import KeyRingError, KeysCode
from keys.lifecycle import (
    ISSUER_TYPES,
    ROOT_TYPES,
    KeyState,
    KeyType,
    KeyWindow,
    PlannedKey,
    Purpose,
    RotationPolicy,
    is_published,
    key_state,
    key_type,
    parse_types,
    permit_types,
    plan_rotation,
)
from keys.signer import Signer, SoftwareSigner, alg_for_public_key, generate_private_key
from keys.storage.file import (
    DEFAULT_KDF,
    DEFAULT_MAX_MEMORY_KIB,
    KdfParams,
    decrypt_private_key,
    encrypt_private_key,
)
from keys.storage.pkcs11 import Pkcs11Token
from keys.storage.rings import (
    KEYS_DIR,
    LOCK,
    MAX_METADATA_BYTES,
    METADATA,
    DirectoryRing,
    RingStorage,
    check_blob_name,
)
from verifier import Reason, VerifierError
from verifier.formats import (
    PERMIT_ALGS,
    Alg,
    BundleKey,
    PublicKey,
    b64url_decode,
    jws_kid,
    key_from_jwk,
    key_to_jwk,
)

log = logging.getLogger(__name__)

Passphrase = str | bytes | Callable[[], str | bytes] | None
"""A passphrase, or a function asked once when a file key is first needed (e.g. a prompt)."""

RING_FORMAT = 1
MIN_KID_PREFIX = 6
__all__ = [
    "KEYS_DIR",
    "LOCK",
    "MAX_METADATA_BYTES",
    "METADATA",
    "Backend",
    "KeyInfo",
    "KeyRing",
    "RingKind",
    "bundle_keys_of",
]


def _storage_of(where: Path | str | RingStorage) -> RingStorage:
    return DirectoryRing(where) if isinstance(where, (str, Path)) else where


class RingKind(StrEnum):
    """An issuer's ring signs permits, lists and indexes; the root ring signs bundles."""

    ISSUER = "issuer"
    ROOT = "root"


class Backend(StrEnum):
    """Where a private key lives."""

    FILE = "file"
    PKCS11 = "pkcs11"


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """A key of the ring as seen at some `now` (no private material)."""

    kid: str  # JWS kid: base64url(thumbprint), 43 characters
    thumbprint: bytes  # 32 bytes; the bundle's kid
    alg: Alg
    public_key: PublicKey
    window: KeyWindow
    types: tuple[KeyType, ...]
    backend: Backend
    state: KeyState
    withdrawn_at: int | None

    @property
    def cose_kid(self) -> bytes:
        """The COSE kid: the first 8 bytes of the thumbprint."""
        return self.thumbprint[:8]


@dataclass(frozen=True, slots=True)
class _Entry:
    """One key as stored in ring.json."""

    kid: str
    alg: Alg
    public_key: PublicKey
    window: KeyWindow
    types: tuple[KeyType, ...]
    backend: Backend
    ref: dict[str, str]  # file: {"file": name}; pkcs11: {"token_label": ..., "id": hex}
    withdrawn_at: int | None

    def info(self, now: int) -> KeyInfo:
        return KeyInfo(
            kid=self.kid,
            thumbprint=_thumbprint_of(self.kid),
            alg=self.alg,
            public_key=self.public_key,
            window=self.window,
            types=self.types,
            backend=self.backend,
            state=key_state(self.window, now, self.withdrawn_at),
            withdrawn_at=self.withdrawn_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": int(self.alg),
            "public_key": key_to_jwk(self.public_key),
            "nbf": self.window.nbf,
            "sign_until": self.window.sign_until,
            "exp": self.window.exp,
            "types": [t.value for t in self.types],
            "backend": self.backend.value,
            "ref": dict(self.ref),
            "withdrawn_at": self.withdrawn_at,
        }


@dataclass(frozen=True, slots=True)
class _Meta:
    issuer_id: str
    kind: RingKind
    bundle_seq: int
    entries: tuple[_Entry, ...]
    name: str = ""
    url: str = ""

    def to_json(self) -> bytes:
        doc = {
            "format": RING_FORMAT,
            "issuer_id": self.issuer_id,
            "name": self.name,
            "url": self.url,
            "kind": self.kind.value,
            "bundle_seq": self.bundle_seq,
            "keys": [e.to_json() for e in self.entries],
        }
        return (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")


def _thumbprint_of(kid: str) -> bytes:
    return b64url_decode(kid, reason=Reason.BAD_KEY)


def _bad(detail: str) -> KeyRingError:
    return KeyRingError(KeysCode.RING_FORMAT, detail)


def _int(doc: dict[str, Any], name: str) -> int:
    value = doc.get(name)
    if type(value) is not int:
        raise _bad(f"{name} is not an integer")
    return value


def _parse_entry(doc: object) -> _Entry:
    if not isinstance(doc, dict):
        raise _bad("key entry is not an object")
    try:
        public_key = key_from_jwk(doc.get("public_key"))
    except VerifierError as exc:
        raise _bad("public_key") from exc
    kid = doc.get("kid")
    if kid != jws_kid(public_key):
        raise _bad("kid does not match public_key")
    alg_value = _int(doc, "alg")
    if alg_value not in {int(a) for a in PERMIT_ALGS} or Alg(alg_value) != alg_for_public_key(
        public_key
    ):
        raise _bad("alg")
    withdrawn_at = doc.get("withdrawn_at")
    if withdrawn_at is not None and type(withdrawn_at) is not int:
        raise _bad("withdrawn_at")
    types = doc.get("types")
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise _bad("types")
    try:
        backend = Backend(str(doc.get("backend")))
    except ValueError as exc:
        raise _bad("backend") from exc
    ref = doc.get("ref")
    if not isinstance(ref, dict) or not all(isinstance(v, str) for v in ref.values()):
        raise _bad("ref")
    if backend is Backend.FILE and set(ref) != {"file"}:
        raise _bad("ref of a file key")
    if backend is Backend.PKCS11 and set(ref) != {"token_label", "id"}:
        raise _bad("ref of a PKCS#11 key")
    try:
        window = KeyWindow(_int(doc, "nbf"), _int(doc, "sign_until"), _int(doc, "exp"))
        parsed_types = parse_types(types)
    except KeyRingError as exc:
        raise _bad(exc.detail) from exc
    return _Entry(
        kid=str(kid),
        alg=Alg(alg_value),
        public_key=public_key,
        window=window,
        types=parsed_types,
        backend=backend,
        ref={str(k): str(v) for k, v in ref.items()},
        withdrawn_at=withdrawn_at,
    )


def _parse_meta(raw: bytes) -> _Meta:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _bad("ring.json is not JSON") from exc
    if not isinstance(doc, dict):
        raise _bad("ring.json is not an object")
    if doc.get("format") != RING_FORMAT:
        raise _bad("unknown ring format")
    issuer_id = doc.get("issuer_id")
    if not isinstance(issuer_id, str) or not issuer_id:
        raise _bad("issuer_id")
    try:
        kind = RingKind(str(doc.get("kind")))
    except ValueError as exc:
        raise _bad("kind") from exc
    keys = doc.get("keys")
    if not isinstance(keys, list):
        raise _bad("keys")
    entries = tuple(_parse_entry(k) for k in keys)
    if len({e.kid for e in entries}) != len(entries):
        raise _bad("duplicate kid")
    name, url = doc.get("name", ""), doc.get("url", "")
    if not isinstance(name, str) or not isinstance(url, str):
        raise _bad("name or url")
    return _Meta(issuer_id, kind, _int(doc, "bundle_seq"), entries, name, url)


def _records(meta: _Meta, now: int) -> list[KeyInfo]:
    """Every key of `meta`, with its state at `now`, oldest `nbf` first."""
    entries = sorted(meta.entries, key=lambda e: (e.window.nbf, e.kid))
    return [e.info(now) for e in entries]


def _active(meta: _Meta, now: int, purpose: KeyType | str) -> KeyInfo:
    """The key of `meta` that signs `purpose` at `now`: active, allowed that type, newest `nbf`."""
    wanted = key_type(purpose)
    candidates = [
        k for k in _records(meta, now) if k.state is KeyState.ACTIVE and wanted in k.types
    ]
    if not candidates:
        raise KeyRingError(KeysCode.NO_ACTIVE_KEY, f"no active key for {wanted.value}")
    return max(candidates, key=lambda k: (k.window.nbf, k.kid))


class KeyRing:
    """An issuer's (or the root's) keys. See the module docstring."""

    def __init__(
        self,
        storage: RingStorage,
        *,
        passphrase: Passphrase,
        pkcs11: Pkcs11Token | None,
        kdf: KdfParams,
        max_memory_kib: int,
        recheck_seconds: float = 0.0,
    ) -> None:
        self._storage = storage
        self._passphrase = passphrase
        self._pkcs11 = pkcs11
        self._kdf = kdf
        self._max_memory_kib = max_memory_kib
        self._recheck_seconds = recheck_seconds
        self._signers: dict[str, Signer] = {}
        self._cache_lock = threading.Lock()
        self._version: Hashable | None = None
        self._checked_at = 0.0
        self._meta: _Meta | None = None
        self._load()

    def __repr__(self) -> str:
        return f"KeyRing(location={self.location!r}, issuer_id={self.issuer_id!r})"

    # --- construction -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        where: Path | str | RingStorage,
        issuer_id: str,
        *,
        kind: RingKind = RingKind.ISSUER,
        name: str = "",
        url: str = "",
        passphrase: Passphrase = None,
        pkcs11: Pkcs11Token | None = None,
        kdf: KdfParams = DEFAULT_KDF,
    ) -> KeyRing:
        """Create an empty ring in `where`: a directory (created if missing; must not hold a ring
        yet) or a storage (keys/storage/rings.py); `ring_exists` when there is one.

        `name` and `url` (the https issuer id of SD-JWT VCs) go into the trust bundle.
        """
        storage = _storage_of(where)
        if not issuer_id:
            raise KeyRingError(KeysCode.BAD_INPUT, "issuer id is empty")
        meta = _Meta(
            issuer_id=issuer_id,
            kind=RingKind(kind),
            bundle_seq=0,
            entries=(),
            name=name,
            url=url,
        )
        storage.create(issuer_id, meta.to_json())
        return cls(
            storage,
            passphrase=passphrase,
            pkcs11=pkcs11,
            kdf=kdf,
            max_memory_kib=DEFAULT_MAX_MEMORY_KIB,
        )

    @classmethod
    def open(
        cls,
        where: Path | str | RingStorage,
        *,
        passphrase: Passphrase = None,
        pkcs11: Pkcs11Token | None = None,
        kdf: KdfParams = DEFAULT_KDF,
        max_memory_kib: int = DEFAULT_MAX_MEMORY_KIB,
        recheck_seconds: float = 0.0,
    ) -> KeyRing:
        """Open an existing ring (a directory or a storage). The passphrase / token are needed
        only to sign or add keys. With `recheck_seconds` > 0 the stored version is checked at
        most that often (`refresh` forces the next check)."""
        storage = _storage_of(where)
        return cls(
            storage,
            passphrase=passphrase,
            pkcs11=pkcs11,
            kdf=kdf,
            max_memory_kib=max_memory_kib,
            recheck_seconds=recheck_seconds,
        )

    # --- reading ------------------------------------------------------------------------

    def _load(self) -> _Meta:
        with self._cache_lock:
            meta, known, checked_at = self._meta, self._version, self._checked_at
        now = time.monotonic()
        if (
            meta is not None
            and self._recheck_seconds > 0
            and now - checked_at < self._recheck_seconds
        ):
            return meta
        found = self._storage.read_if_changed(known if meta is not None else None)
        with self._cache_lock:
            if found is not None:
                raw, version = found
                self._meta = _parse_meta(raw)
                self._version = version
            self._checked_at = now
            assert self._meta is not None
            return self._meta

    def refresh(self, version: Hashable | None = None) -> None:
        """Check the stored version on the next read (it moved to `version`, or may have)."""
        with self._cache_lock:
            if version is None or version != self._version:
                self._checked_at = float("-inf")

    @property
    def storage(self) -> RingStorage:
        """Where the ring's bytes live."""
        return self._storage

    @property
    def location(self) -> str:
        """Where the ring is (its directory, or database:<name>)."""
        return self._storage.location

    @property
    def path(self) -> Path:
        """The ring directory (directory rings only: `bad_input` for a database ring)."""
        if not isinstance(self._storage, DirectoryRing):
            raise KeyRingError(KeysCode.BAD_INPUT, "the ring is not a directory")
        return self._storage.path

    @property
    def issuer_id(self) -> str:
        """The issuer id (AGS) of an issuer ring, the operator's name for the root ring."""
        assert self._meta is not None
        return self._meta.issuer_id

    @property
    def name(self) -> str:
        """The issuer's display name (the municipality), as published in the bundle."""
        return self._load().name

    @property
    def url(self) -> str:
        """The issuer's https URL (SD-JWT VC `iss`), as published in the bundle."""
        return self._load().url

    @property
    def kind(self) -> RingKind:
        """Issuer or root ring."""
        assert self._meta is not None
        return self._meta.kind

    def records(self, now: int) -> list[KeyInfo]:
        """Every key, with its state at `now`, oldest `nbf` first."""
        return _records(self._load(), now)

    def find(self, kid: str, now: int) -> KeyInfo:
        """The key whose JWS kid is `kid` or starts with it (≥ 6 characters, unique)."""
        return self._find(self._load(), kid).info(now)

    def _find(self, meta: _Meta, kid: str) -> _Entry:
        exact = [e for e in meta.entries if e.kid == kid]
        if exact:
            return exact[0]
        matches = [e for e in meta.entries if len(kid) >= MIN_KID_PREFIX and e.kid.startswith(kid)]
        if len(matches) != 1:
            raise KeyRingError(KeysCode.UNKNOWN_KEY, "no key (or several) with that kid")
        return matches[0]

    def published(self, now: int) -> list[KeyInfo]:
        """Keys that belong in the next bundle / JWKS: pending, active, retired; never withdrawn."""
        return [k for k in self.records(now) if is_published(k.state)]

    def bundle_keys(self, now: int) -> list[BundleKey]:
        """The ring's keys for the trust bundle (docs/formats.md, "Trust bundle"); `types` =
        permit types only."""
        from verifier.formats import BundleKey

        return [
            BundleKey(
                kid=k.thumbprint,
                key=k.public_key,
                alg=k.alg,
                nbf=k.window.nbf,
                sign_until=k.window.sign_until,
                exp=k.window.exp,
                types=permit_types(k.types),
            )
            for k in self.published(now)
        ]

    def anchor_keys(self, now: int) -> list[PublicKey]:
        """Root ring: the pending keys, announced as `anchors_next` before they sign bundles."""
        return [k.public_key for k in self.records(now) if k.state is KeyState.PENDING]

    def active(self, now: int, purpose: KeyType | str) -> KeyInfo:
        """The key that signs `purpose` at `now`: active, allowed that type, newest `nbf`."""
        return _active(self._load(), now, purpose)

    def signer_for(self, now: int, purpose: KeyType | str) -> Signer:
        """A signer for the key that signs `purpose` at `now` (see `active`)."""
        return self.active_signer(now, purpose)[1]

    def active_signer(self, now: int, purpose: KeyType | str) -> tuple[KeyInfo, Signer]:
        """`active` and `signer_for` from one reading of the ring: the key and its signer."""
        meta = self._load()
        info = _active(meta, now, purpose)
        return info, self._signer(self._find(meta, info.kid))

    def signer(self, kid: str) -> Signer:
        """The signer of the key `kid`, whatever its state (loaded once, then cached)."""
        return self._signer(self._find(self._load(), kid))

    def _signer(self, entry: _Entry) -> Signer:
        with self._cache_lock:
            cached = self._signers.get(entry.kid)
        if cached is not None:
            return cached
        signer = self._load_signer(entry)
        if signer.thumbprint != _thumbprint_of(entry.kid):
            raise KeyRingError(KeysCode.KEY_MISMATCH, "stored key is not the recorded key")
        with self._cache_lock:
            self._signers[entry.kid] = signer
        return signer

    def _load_signer(self, entry: _Entry) -> Signer:
        if entry.backend is Backend.FILE:
            passphrase = self._get_passphrase()
            name = entry.ref["file"]
            check_blob_name(name)
            private = decrypt_private_key(
                self._storage.read_key(name), passphrase, max_memory_kib=self._max_memory_kib
            )
            return SoftwareSigner(private)
        token = self._token(entry.ref["token_label"])
        try:
            key_id = bytes.fromhex(entry.ref["id"])
        except ValueError as exc:
            raise _bad("PKCS#11 id") from exc
        return token.signer(key_id, entry.alg)

    def _get_passphrase(self) -> str | bytes:
        with self._cache_lock:
            if callable(self._passphrase):
                self._passphrase = self._passphrase()  # asked once, when first needed
            if not self._passphrase:
                raise KeyRingError(KeysCode.PASSPHRASE_REQUIRED, "file keys need a passphrase")
            return self._passphrase

    def _token(self, label: str | None = None) -> Pkcs11Token:
        if self._pkcs11 is None:
            raise KeyRingError(KeysCode.PKCS11_REQUIRED, "open the ring with a PKCS#11 token")
        if label is not None and self._pkcs11.token_label != label:
            raise KeyRingError(KeysCode.PKCS11_REQUIRED, f"the key is on token {label!r}")
        return self._pkcs11

    # --- mutation -----------------------------------------------------------------------

    def _mutate(
        self, change: Callable[[_Meta], _Meta], blobs: dict[str, bytes] | None = None
    ) -> _Meta:
        """Apply `change` under the storage's lock, writing `blobs` (name -> encrypted key
        file) with the metadata; `change` may add to `blobs` (a rotation's new key)."""
        pending = {} if blobs is None else blobs
        result: list[_Meta] = []

        def apply(raw: bytes) -> tuple[bytes, dict[str, bytes]] | None:
            meta = _parse_meta(raw)
            new = change(meta)
            result.append(new)
            return None if new is meta else (new.to_json(), pending)

        raw, version = self._storage.mutate(apply)
        with self._cache_lock:
            self._meta = result[-1] if result else _parse_meta(raw)
            self._version = version
            self._checked_at = time.monotonic()
        return self._meta

    def _default_types(self) -> tuple[KeyType, ...]:
        return ROOT_TYPES if self.kind is RingKind.ROOT else ISSUER_TYPES

    def _check_types(self, types: Iterable[str] | None) -> tuple[KeyType, ...]:
        parsed = self._default_types() if types is None else parse_types(types)
        is_root = self.kind is RingKind.ROOT
        if is_root != (Purpose.BUNDLE in parsed):
            raise KeyRingError(KeysCode.BAD_TYPES, "bundle keys belong to the root ring only")
        return parsed

    def _generate(
        self, alg: Alg, backend: Backend, blobs: dict[str, bytes]
    ) -> tuple[PublicKey, dict[str, str]]:
        """Make a key; a file key's encrypted bytes go into `blobs` (stored with the metadata)."""
        if alg not in PERMIT_ALGS:
            raise KeyRingError(KeysCode.UNSUPPORTED_ALG, f"alg {int(alg)}")
        if backend is Backend.FILE:
            passphrase = self._get_passphrase()
            private = generate_private_key(alg)
            signer = SoftwareSigner(private)
            name = f"{signer.jws_kid}.key"
            blobs[name] = encrypt_private_key(private, passphrase, kdf=self._kdf)
            with self._cache_lock:
                self._signers[signer.jws_kid] = signer
            return signer.public_key, {"file": name}
        token = self._token()
        hsm_signer = token.generate_key(alg, label=f"buergerid {self.issuer_id}")
        with self._cache_lock:
            self._signers[hsm_signer.jws_kid] = hsm_signer
        return hsm_signer.public_key, {
            "token_label": token.token_label,
            "id": hsm_signer.key_id.hex(),
        }

    def add_key(
        self,
        *,
        nbf: int,
        sign_until: int,
        exp: int,
        alg: Alg = Alg.ES256,
        backend: Backend | str = Backend.FILE,
        types: Iterable[str] | None = None,
        now: int | None = None,
    ) -> KeyInfo:
        """Generate a key in `backend` and record it with its window and types.

        `types` defaults to every issuer purpose (issuer ring) or `bundle` (root ring). The
        returned info has the state at `now` (default: `nbf`).
        """
        window = KeyWindow(nbf, sign_until, exp)
        parsed_types = self._check_types(types)
        try:
            chosen = Backend(backend)
        except ValueError as exc:
            raise KeyRingError(KeysCode.UNSUPPORTED_BACKEND, str(backend)) from exc
        blobs: dict[str, bytes] = {}
        public_key, ref = self._generate(Alg(alg), chosen, blobs)
        entry = _Entry(
            kid=jws_kid(public_key),
            alg=Alg(alg),
            public_key=public_key,
            window=window,
            types=parsed_types,
            backend=chosen,
            ref=ref,
            withdrawn_at=None,
        )
        self._mutate(lambda meta: replace(meta, entries=(*meta.entries, entry)), blobs)
        log.info(
            "key_added",
            extra={"issuer": self.issuer_id, "kid": entry.kid, "backend": chosen.value},
        )
        return entry.info(nbf if now is None else now)

    def rotate(
        self,
        now: int,
        policy: RotationPolicy,
        *,
        force: bool = False,
        alg: Alg | None = None,
        backend: Backend | str | None = None,
        types: Iterable[str] | None = None,
    ) -> KeyInfo | None:
        """Run the rotation planner (keys/lifecycle.py) and apply its plan, under the ring lock.

        Returns the new pending key, or None when a successor is already published and
        `force` is false. Algorithm, backend and types default to the newest active key's.
        """
        created: list[_Entry] = []
        blobs: dict[str, bytes] = {}

        def apply(current: _Meta) -> _Meta:
            planned = [PlannedKey(e.kid, e.window, e.withdrawn_at) for e in current.entries]
            plan = plan_rotation(planned, now, policy, force=force)
            if plan is None:
                return current
            template = self._template(current, now)
            new_alg = alg if alg is not None else (template.alg if template else Alg.ES256)
            if backend is not None:
                new_backend = Backend(backend)
            else:
                new_backend = template.backend if template else Backend.FILE
            if types is not None:
                new_types = self._check_types(types)
            else:
                new_types = template.types if template else self._default_types()
            blobs.clear()  # a storage may call `apply` once only; be safe if it retried
            created.clear()
            public_key, ref = self._generate(new_alg, new_backend, blobs)
            entry = _Entry(
                kid=jws_kid(public_key),
                alg=new_alg,
                public_key=public_key,
                window=plan.new_window,
                types=new_types,
                backend=new_backend,
                ref=ref,
                withdrawn_at=None,
            )
            created.append(entry)
            changed = dict(plan.changed)
            entries = tuple(
                replace(e, window=changed[e.kid]) if e.kid in changed else e
                for e in current.entries
            )
            return replace(current, entries=(*entries, entry))

        self._mutate(apply, blobs)
        if not created:
            return None
        log.info("key_rotated", extra={"issuer": self.issuer_id, "kid": created[0].kid})
        return created[0].info(now)

    @staticmethod
    def _template(meta: _Meta, now: int) -> _Entry | None:
        live = [
            e for e in meta.entries if key_state(e.window, now, e.withdrawn_at) is KeyState.ACTIVE
        ]
        if not live:
            live = [e for e in meta.entries if e.withdrawn_at is None]
        return max(live, key=lambda e: (e.window.nbf, e.kid), default=None)

    def withdraw(self, kid: str, now: int) -> KeyInfo:
        """Mark a key compromised from `now` on: it signs nothing and leaves the next bundle.
        A PKCS#11 key is then destroyed in its token (the ring must be opened with it:
        `pkcs11_required` otherwise, before anything changes).

        Withdrawing twice keeps the first time.
        """
        target = self._find(self._load(), kid)
        token = self._token(target.ref["token_label"]) if target.backend is Backend.PKCS11 else None

        def apply(current: _Meta) -> _Meta:
            entries = tuple(
                replace(e, withdrawn_at=now)
                if e.kid == target.kid and e.withdrawn_at is None
                else e
                for e in current.entries
            )
            return replace(current, entries=entries)

        meta = self._mutate(apply)
        with self._cache_lock:
            self._signers.pop(target.kid, None)
        log.warning("key_withdrawn", extra={"issuer": self.issuer_id, "kid": target.kid})
        if token is not None:
            try:
                key_id = bytes.fromhex(target.ref["id"])
            except ValueError as exc:
                raise _bad("PKCS#11 id") from exc
            token.destroy_key(key_id)  # a second withdrawal finds nothing left to destroy
            log.warning("key_destroyed", extra={"issuer": self.issuer_id, "kid": target.kid})
        return self._find(meta, target.kid).info(now)

    def set_identity(self, *, name: str, url: str) -> None:
        """Record the issuer's display name and https URL (as published in the bundle)."""
        self._mutate(
            lambda current: (
                current
                if (current.name, current.url) == (name, url)
                else replace(current, name=name, url=url)
            )
        )

    def next_bundle_seq(self, requested: int | None = None) -> int:
        """Root ring: reserve the next bundle `seq` (last + 1, or `requested` if higher)."""
        if self.kind is not RingKind.ROOT:
            raise KeyRingError(KeysCode.BAD_INPUT, "bundle seq is kept in the root ring")
        reserved: list[int] = []

        def apply(current: _Meta) -> _Meta:
            seq = current.bundle_seq + 1 if requested is None else requested
            if seq <= current.bundle_seq:
                raise KeyRingError(
                    KeysCode.SEQ_NOT_INCREASING, f"seq must exceed {current.bundle_seq}"
                )
            reserved.append(seq)
            return replace(current, bundle_seq=seq)

        self._mutate(apply)
        return reserved[0]


def bundle_keys_of(source: KeyRing | Sequence[BundleKey], now: int) -> list[BundleKey]:
    """A ring's bundle keys at `now`, or a given list as is."""
    if isinstance(source, KeyRing):
        return source.bundle_keys(now)
    return list(source)
