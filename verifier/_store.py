"""The handheld's trust store: pinned root keys, the newest accepted trust bundle, plate indexes.

Two layers:

``TrustStore``
    the loaded, verified, pre-parsed state ``verify()`` reads: issuer keys indexed by
    (issuer id, 8-byte COSE kid), every embedded Status List Token verified with that
    issuer's own keys and decompressed once, plate indexes verified with their issuer's
    keys. Building one is pure (bytes in, value out) and never reads a clock: whether a
    key, list or index is still usable *now* is decided by ``verify()``.

``DataDir``
    the files on disk and the ``sync`` / ``trust add-anchor`` operations::

        <data dir>/anchors/<hex thumbprint>.cbor    pinned root keys (COSE_Key)
        <data dir>/bundle.cbor                      the accepted trust bundle (COSE_Sign1)
        <data dir>/plate-index/<issuer>.cbor        the accepted plate index per issuer
        <data dir>/state.json                       ETag per sync source URL, last sync
        <data dir>/config.json                      municipality, sync source, app settings
        <data dir>/device-key.pem, enrolment.json   the enrolled device (see ``_enrol``)

    Every file is written atomically (temporary file, fsync, ``os.replace``, fsync of the
    directory), so a crash mid-sync leaves the previous bundle usable. A refused sync
    raises ``TrustError`` (or ``DecodeError``) and changes nothing on disk.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from verifier import _bundle, _cbor, _cose, _keys, _plate_cache, _plate_index, _status
from verifier._errors import DecodeError, Reason, SignatureError, TrustError, VerifierError
from verifier._http import FetchError, http_request, read_regular_file

ENV_DATA_DIR = "BUERGERID_VERIFY_DATA"
APP_DIR_NAME = "buergerid-verify"
MAX_SYNC_BYTES = 64 * 1024 * 1024
"""Largest bundle or plate index ``sync`` accepts (a 100,000-plate index is about 5 MB)."""
MAX_ANCHOR_BYTES = 16 * 1024
CACHE_SUFFIX = ".idx"
"""Beside ``plate-index/<issuer>.cbor``: its compact form (``_plate_cache``)."""
SYNC_TIMEOUT_SECONDS = 30.0

NEVER = 2**63
"""Stands in for an absent ``exp``."""


def default_data_dir(environ: Mapping[str, str]) -> Path:
    """``$BUERGERID_VERIFY_DATA``, else ``$XDG_DATA_HOME/buergerid-verify``, else ~/.local/share."""
    override = environ.get(ENV_DATA_DIR)
    if override:
        return Path(override)
    xdg = environ.get("XDG_DATA_HOME")
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"
    return base / APP_DIR_NAME


# --------------------------------------------------------------------------- loaded state


@dataclass(frozen=True, slots=True)
class StoreKey:
    """One issuer key from the bundle, parsed once, with its window and permitted types."""

    issuer: str
    kid: bytes
    key: _keys.PublicKey
    alg: int
    nbf: int
    sign_until: int
    exp: int
    types: frozenset[str]

    def signs_at(self, iat: int) -> bool:
        """Step 7 of the check: ``nbf ≤ iat < sign_until``."""
        return self.nbf <= iat < self.sign_until


@dataclass(frozen=True, slots=True)
class UsableStatusList:
    """A Status List Token that verified with its issuer's key, decompressed once."""

    issuer: str
    number: int
    status_list: _status.StatusList
    iat: int
    exp: int
    ttl: int | None
    key_exp: int
    size: int

    @property
    def stale_at(self) -> int | None:
        """From this time on verdicts using the list carry ``status_stale``."""
        return None if self.ttl is None else self.iat + self.ttl


@dataclass(frozen=True, slots=True)
class UsablePlateIndex:
    """A plate index that verified with a key of its own issuer."""

    issuer: str
    iat: int
    exp: int
    key_exp: int
    types: frozenset[str]
    index: _plate_index.PlateIndex


@dataclass(frozen=True, slots=True)
class IssuerInfo:
    """Display data of one issuer."""

    issuer: str
    name: str
    url: str


@dataclass(slots=True)
class TrustStore:
    """Verified, pre-parsed trust state; ``verify()`` only reads it."""

    anchors: tuple[_keys.PublicKey, ...] = ()
    bundle_bytes: bytes | None = None
    seq: int = -1
    iat: int = 0
    fresh_until: int = 0
    exp: int = 0
    issuers: dict[str, IssuerInfo] = field(default_factory=dict)
    keys: dict[tuple[str, bytes], tuple[StoreKey, ...]] = field(default_factory=dict)
    keys_by_alg: dict[tuple[str, bytes, int], tuple[StoreKey, ...]] = field(default_factory=dict)
    """(issuer, 8-byte kid, alg) → keys: the QR path's one lookup (step 5 of the check)."""
    issuer_keys: dict[str, tuple[StoreKey, ...]] = field(default_factory=dict)
    status: dict[tuple[str, int], UsableStatusList] = field(default_factory=dict)
    unusable_status: dict[tuple[str, int], Reason] = field(default_factory=dict)
    plate_indexes: dict[str, UsablePlateIndex] = field(default_factory=dict)
    anchors_next: tuple[_keys.PublicKey, ...] = ()

    @property
    def has_bundle(self) -> bool:
        """True once a bundle has been accepted."""
        return self.bundle_bytes is not None

    @classmethod
    def from_bundle(
        cls,
        bundle_bytes: bytes,
        anchors: Iterable[_keys.PublicKey],
        plate_indexes: Iterable[bytes | tuple[bytes, bytes | None]] = (),
    ) -> TrustStore:
        """Verify a bundle against the pinned roots and pre-parse everything in it.

        Raises ``TrustError``/``DecodeError`` when the bundle itself is refused; a bad
        status list or plate index is only left out (recorded in ``unusable_status``).
        """
        pinned = tuple(anchors)
        sign1 = _decode_signed(bundle_bytes, Reason.BAD_BUNDLE)
        if sign1.content_type != _bundle.TYP_TRUST_BUNDLE:
            raise TrustError(Reason.BAD_BUNDLE, "typ is not a trust bundle")
        if not _verify_with_any(sign1, [a for a in pinned if _keys.cose_kid(a) == sign1.kid]):
            raise TrustError(Reason.UNTRUSTED_BUNDLE, "not signed by a pinned root key")
        bundle = _bundle.decode_bundle_payload(sign1.payload)
        store = cls(
            anchors=pinned,
            bundle_bytes=bytes(bundle_bytes),
            seq=bundle.seq,
            iat=bundle.iat,
            fresh_until=bundle.fresh_until,
            exp=bundle.exp,
            anchors_next=tuple(bundle.anchors_next),
        )
        for issuer_id, entry in bundle.issuers.items():
            store._add_issuer(issuer_id, entry)
        for item in plate_indexes:
            blob, cache = item if isinstance(item, tuple) else (item, None)
            try:
                store.add_plate_index(blob, cache)
            except VerifierError:
                continue  # a stored index that no longer verifies is simply not usable
        return store

    def _add_issuer(self, issuer_id: str, entry: _bundle.IssuerEntry) -> None:
        self.issuers[issuer_id] = IssuerInfo(issuer_id, entry.name, entry.url)
        parsed: list[StoreKey] = []
        for bk in entry.keys:
            sk = StoreKey(
                issuer=issuer_id,
                kid=bytes(bk.kid),
                key=bk.key,
                alg=int(bk.alg),
                nbf=bk.nbf,
                sign_until=bk.sign_until,
                exp=bk.exp,
                types=frozenset(bk.types),
            )
            parsed.append(sk)
            short = sk.kid[:8]
            self.keys[(issuer_id, short)] = (*self.keys.get((issuer_id, short), ()), sk)
            by_alg = (issuer_id, short, sk.alg)
            self.keys_by_alg[by_alg] = (*self.keys_by_alg.get(by_alg, ()), sk)
        self.issuer_keys[issuer_id] = tuple(parsed)
        for number, token in entry.status.items():
            try:
                self.status[(issuer_id, number)] = self._status_list(issuer_id, number, token)
            except VerifierError as exc:
                self.unusable_status[(issuer_id, number)] = exc.reason

    def _status_list(self, issuer_id: str, number: int, token: bytes) -> UsableStatusList:
        if type(token) is not bytes:
            raise DecodeError(Reason.BAD_STATUS_LIST, "status list token is not a bstr")
        sign1, slt = _status.decode_status_list_cwt(token)
        signers = self._verify_issuer_signed(issuer_id, sign1, slt.iat, Reason.BAD_STATUS_LIST)
        return UsableStatusList(
            issuer=issuer_id,
            number=number,
            status_list=slt.status_list,
            iat=slt.iat,
            exp=NEVER if slt.exp is None else slt.exp,
            ttl=slt.ttl,
            key_exp=max(k.exp for k in signers),
            size=slt.status_list.size,
        )

    def _verify_issuer_signed(
        self, issuer_id: str, sign1: _cose.Sign1, iat: int, reason: Reason
    ) -> list[StoreKey]:
        """Verify with that issuer's keys (kid, alg, ``nbf ≤ iat < sign_until``).

        Returns the keys that verified; raises ``TrustError(reason)`` when none did.
        """
        candidates = [
            k
            for k in self.keys.get((issuer_id, sign1.kid), ())
            if k.alg == sign1.alg and k.signs_at(iat)
        ]
        good = [k for k in candidates if _verify_with_any(sign1, [k.key])]
        if not good:
            raise TrustError(reason, "not signed by a valid key of its issuer")
        return good

    def add_plate_index(self, blob: bytes, cache: bytes | None = None) -> UsablePlateIndex:
        """Verify a plate index with its issuer's keys and make it usable; returns it.

        ``cache`` is the compact form ``sync`` wrote for exactly these bytes
        (``_plate_cache``); when it matches, the payload is not decoded again. The
        signature is verified either way.
        """
        sign1 = _decode_signed(blob, Reason.BAD_PLATE_INDEX)
        if sign1.content_type != _bundle.TYP_PLATE_INDEX:
            raise TrustError(Reason.BAD_PLATE_INDEX, "typ is not a plate index")
        index = None
        if cache is not None:
            try:
                index = _plate_cache.decode(cache, _plate_cache.digest(blob))
            except DecodeError:
                index = None  # damaged, or for other bytes: decode strictly instead
        if index is None:
            index = _plate_index.decode_plate_index_payload(sign1.payload)
        if index.iss not in self.issuers:
            raise TrustError(Reason.UNTRUSTED_PLATE_INDEX, "issuer not in the trust bundle")
        signers = self._verify_issuer_signed(
            index.iss, sign1, index.iat, Reason.UNTRUSTED_PLATE_INDEX
        )
        usable = UsablePlateIndex(
            issuer=index.iss,
            iat=index.iat,
            exp=index.exp,
            key_exp=max(k.exp for k in signers),
            types=frozenset().union(*(k.types for k in signers)),
            index=index,
        )
        self.plate_indexes[index.iss] = usable
        return usable


def _decode_signed(data: bytes, reason: Reason) -> _cose.Sign1:
    if len(data) > MAX_SYNC_BYTES:
        raise DecodeError(Reason.TOO_LARGE, "larger than the sync limit")
    return _cose.decode_sign1(data, reason=reason)


def _verify_with_any(sign1: _cose.Sign1, keys: Iterable[_keys.PublicKey]) -> bool:
    """True if any of ``keys`` verifies the COSE_Sign1 with its own ``alg``."""
    for key in keys:
        try:
            _cose.verify_sign1(sign1, key)
        except SignatureError:
            continue
        return True
    return False


def _stored_seq(stored: bytes) -> int | None:
    """The ``seq`` of the stored bundle (verified when it was accepted); None if unreadable.

    An unreadable stored bundle (a damaged disk) must not block every later sync.
    """
    try:
        return _bundle.decode_bundle_payload(_decode_signed(stored, Reason.BAD_BUNDLE).payload).seq
    except VerifierError:
        return None


def parse_anchor(data: bytes) -> _keys.PublicKey:
    """A root key from JWK JSON or COSE_Key CBOR bytes; ``DecodeError(BAD_KEY)`` otherwise."""
    if len(data) > MAX_ANCHOR_BYTES:
        raise DecodeError(Reason.BAD_KEY, "anchor file too large")
    stripped = data.lstrip()
    if stripped.startswith(b"{"):
        try:
            jwk = json.loads(stripped.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DecodeError(Reason.BAD_KEY, "not JSON") from exc
        if not isinstance(jwk, dict):
            raise DecodeError(Reason.BAD_KEY, "JWK is not an object")
        return _keys.key_from_jwk(jwk)
    return _keys.key_from_cose(_cbor.loads(data, reason=Reason.BAD_KEY))


MAX_ANCHORS_PER_FILE = 8
"""Most root keys one anchor file may pin (a ring's current and announced keys)."""


def parse_anchors(data: bytes) -> tuple[_keys.PublicKey, ...]:
    """One root key or a set: JWK, JWKS ``{"keys": [...]}``, COSE_Key or a CBOR array of
    COSE_Keys (what ``buergerid-keys export-public`` writes for a whole ring).

    Every key must parse; ``DecodeError(BAD_KEY)`` otherwise, and nothing is pinned.
    """
    if len(data) > MAX_ANCHOR_BYTES:
        raise DecodeError(Reason.BAD_KEY, "anchor file too large")
    stripped = data.lstrip()
    items: list[object]
    parse: Callable[[object], _keys.PublicKey]
    if stripped.startswith(b"{"):
        try:
            doc = json.loads(stripped.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DecodeError(Reason.BAD_KEY, "not JSON") from exc
        if not isinstance(doc, dict) or "keys" not in doc:
            return (parse_anchor(data),)
        if not isinstance(doc["keys"], list):
            raise DecodeError(Reason.BAD_KEY, "JWKS keys is not an array")
        items = doc["keys"]
        parse = _keys.key_from_jwk
    else:
        decoded = _cbor.loads(data, reason=Reason.BAD_KEY)
        if not isinstance(decoded, list):
            return (parse_anchor(data),)
        items = decoded
        parse = _keys.key_from_cose
    if not 1 <= len(items) <= MAX_ANCHORS_PER_FILE:
        raise DecodeError(Reason.BAD_KEY, f"1 to {MAX_ANCHORS_PER_FILE} keys per anchor file")
    return tuple(parse(item) for item in items)


# --------------------------------------------------------------------------- disk layout


@dataclass(frozen=True, slots=True)
class SyncResult:
    """What a sync did: ``kind`` is ``bundle``/``plate_index``/``not_modified``."""

    kind: str
    changed: bool
    seq: int | None = None
    issuer: str | None = None
    anchors_added: int = 0


def _atomic_write(path: Path, data: bytes) -> None:
    """Write via temp file + fsync + os.replace + directory fsync: all or nothing.

    Folders are created 0700 and files 0600 (``mkstemp``): a plate index is personal data.
    """
    missing = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class DataDir:
    """The store's files under one directory, and the operations that change them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.anchors_dir = root / "anchors"
        self.bundle_path = root / "bundle.cbor"
        self.plates_dir = root / "plate-index"
        self.state_path = root / "state.json"
        self.config_path = root / "config.json"

    # reading ---------------------------------------------------------------

    def read_anchors(self) -> list[_keys.PublicKey]:
        """Every pinned root key."""
        if not self.anchors_dir.is_dir():
            return []
        found = []
        for path in sorted(self.anchors_dir.glob("*.cbor")):
            found.append(parse_anchor(path.read_bytes()))
        return found

    def read_plate_indexes(self) -> list[bytes]:
        """The stored plate index files, raw."""
        if not self.plates_dir.is_dir():
            return []
        return [p.read_bytes() for p in sorted(self.plates_dir.glob("*.cbor"))]

    def read_plate_indexes_with_caches(self) -> list[tuple[bytes, bytes | None]]:
        """Each stored plate index with the compact form written beside it (None if absent)."""
        if not self.plates_dir.is_dir():
            return []
        found: list[tuple[bytes, bytes | None]] = []
        for path in sorted(self.plates_dir.glob("*.cbor")):
            cache_path = path.with_suffix(CACHE_SUFFIX)
            cache = cache_path.read_bytes() if cache_path.is_file() else None
            found.append((path.read_bytes(), cache))
        return found

    def load(self, *, plate_indexes: bool = True) -> TrustStore:
        """The verified, pre-parsed store (an empty one when nothing was synced).

        ``plate_indexes=False`` skips the plate indexes. With the compact form ``sync``
        writes beside each index, loading 100,000 plates takes tens of milliseconds.
        """
        anchors = self.read_anchors()
        if not self.bundle_path.is_file():
            return TrustStore(anchors=tuple(anchors))
        return TrustStore.from_bundle(
            self.bundle_path.read_bytes(),
            anchors,
            self.read_plate_indexes_with_caches() if plate_indexes else (),
        )

    def read_state(self) -> dict[str, Any]:
        """state.json (ETags per source), empty when missing or unreadable."""
        try:
            state = json.loads(self.state_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return state if isinstance(state, dict) else {}

    def write_state(self, state: dict[str, Any]) -> None:
        """Replace state.json atomically."""
        _atomic_write(self.state_path, json.dumps(state, sort_keys=True).encode("utf-8"))

    def read_config(self) -> dict[str, Any]:
        """config.json (``buergerid-verify config``), empty when missing or unreadable."""
        try:
            config = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return config if isinstance(config, dict) else {}

    def write_config(self, config: dict[str, Any]) -> None:
        """Replace config.json atomically."""
        _atomic_write(self.config_path, json.dumps(config, sort_keys=True).encode("utf-8"))

    # changing --------------------------------------------------------------

    def add_anchor(self, data: bytes) -> tuple[_keys.PublicKey, bool]:
        """Pin a root key (JWK or COSE_Key); returns the key and whether it was new."""
        key = parse_anchor(data)
        return key, self._pin(key)

    def add_anchors(self, data: bytes) -> list[tuple[_keys.PublicKey, bool]]:
        """Pin every root key of a key or key set (see ``parse_anchors``); all or none."""
        return [(key, self._pin(key)) for key in parse_anchors(data)]

    def _pin(self, key: _keys.PublicKey) -> bool:
        path = self.anchors_dir / f"{_keys.thumbprint(key).hex()}.cbor"
        if path.exists():
            return False
        _atomic_write(path, _cbor.dumps(_keys.key_to_cose(key)))
        return True

    def sync_bytes(self, data: bytes) -> SyncResult:
        """Verify a trust bundle or plate index (told apart by ``typ``) and store it.

        Refusals raise ``TrustError``/``DecodeError`` and leave the disk unchanged.
        """
        sign1 = _decode_signed(data, Reason.BAD_BUNDLE)
        if sign1.content_type == _bundle.TYP_PLATE_INDEX:
            return self._sync_plate_index(data)
        if sign1.content_type != _bundle.TYP_TRUST_BUNDLE:
            raise TrustError(Reason.BAD_BUNDLE, "neither a trust bundle nor a plate index")
        return self._sync_bundle(data)

    def _sync_bundle(self, data: bytes) -> SyncResult:
        anchors = self.read_anchors()
        if not anchors:
            raise TrustError(Reason.UNTRUSTED_BUNDLE, "no root key pinned (trust add-anchor)")
        fresh = TrustStore.from_bundle(data, anchors)
        stored = self.bundle_path.read_bytes() if self.bundle_path.is_file() else None
        changed = True
        stored_seq = None if stored is None else _stored_seq(stored)
        if stored is not None and stored_seq is not None:
            if fresh.seq < stored_seq:
                raise TrustError(Reason.BUNDLE_ROLLBACK, "lower seq than the stored bundle")
            if fresh.seq == stored_seq:
                if bytes(data) != stored:
                    raise TrustError(
                        Reason.BUNDLE_ROLLBACK, "same seq as the stored bundle, other bytes"
                    )
                changed = False
        added = sum(self._pin(k) for k in fresh.anchors_next)
        if changed:
            _atomic_write(self.bundle_path, bytes(data))
        return SyncResult("bundle", changed, seq=fresh.seq, anchors_added=added)

    def _sync_plate_index(self, data: bytes) -> SyncResult:
        if not self.bundle_path.is_file():
            raise TrustError(Reason.UNTRUSTED_PLATE_INDEX, "sync a trust bundle first")
        store = TrustStore.from_bundle(self.bundle_path.read_bytes(), self.read_anchors())
        usable = store.add_plate_index(bytes(data))
        # The issuer id comes from signed data, but is still never trusted as a file name.
        path = self.plates_dir / f"{usable.issuer.encode('utf-8').hex()}.cbor"
        if path.is_file():
            cache_path = path.with_suffix(CACHE_SUFFIX)
            try:
                old = store.add_plate_index(
                    path.read_bytes(), cache_path.read_bytes() if cache_path.is_file() else None
                )
            except VerifierError:
                old = None
            if old is not None and old.iat > usable.iat:
                raise TrustError(Reason.BUNDLE_ROLLBACK, "plate index older than the stored one")
            if path.read_bytes() == bytes(data) and path.with_suffix(CACHE_SUFFIX).is_file():
                return SyncResult("plate_index", False, issuer=usable.issuer)
        _atomic_write(path, bytes(data))
        # the compact form for fast loading, bound to these bytes (written after them: a crash
        # in between leaves an index whose old cache no longer matches, so it is decoded)
        _atomic_write(
            path.with_suffix(CACHE_SUFFIX),
            _plate_cache.encode(usable.index, _plate_cache.digest(bytes(data))),
        )
        return SyncResult("plate_index", True, issuer=usable.issuer)


# --------------------------------------------------------------------------- fetching


@dataclass(frozen=True, slots=True)
class Fetched:
    """Bytes read from a sync source; ``data`` is None when the server said 304."""

    data: bytes | None
    etag: str | None = None


def is_url(source: str) -> bool:
    """True for an http(s) URL, False for a file path."""
    return source.startswith(("https://", "http://"))


def fetch(
    source: str,
    *,
    etag: str | None = None,
    timeout_seconds: float = SYNC_TIMEOUT_SECONDS,
    max_bytes: int = MAX_SYNC_BYTES,
    headers: Mapping[str, str] | None = None,
    transport: Any = None,
) -> Fetched:
    """Read a sync source: a regular file, or an https URL (plain http only to loopback).

    ``timeout_seconds`` is a total deadline for the whole fetch, however slowly the server
    sends. At most ``max_bytes + 1`` bytes are ever read from any source
    (``DecodeError(TOO_LARGE)`` beyond ``max_bytes``). Sends ``If-None-Match`` when an ETag
    is known. Failures to reach or read the source raise ``FetchError`` (an ``OSError``)
    with a stable code.
    """
    if not is_url(source):
        return Fetched(read_regular_file(Path(source), max_bytes))
    request_headers = {"Accept": "application/cbor, */*"}
    request_headers.update(headers or {})
    if etag:
        request_headers["If-None-Match"] = etag
    answer = http_request(
        "GET",
        source,
        headers=request_headers,
        timeout_seconds=timeout_seconds,
        max_bytes=max_bytes,
        transport=transport,
    )
    if answer.status == 304:
        return Fetched(None, etag)
    if answer.status != 200:
        raise FetchError("http_status", str(answer.status), status=answer.status)
    return Fetched(answer.body, answer.headers.get("etag"))
