"""API clients and their credentials: create, authenticate, rotate, revoke.

A token is `bid_<key_id>.<secret>`: the key id (not secret) finds one credential row, so a
request costs at most one argon2id verification; an unknown key id verifies against a dummy
hash so it takes the same time. Secrets are shown once and stored only as argon2id hashes.
Rotation adds a credential and lets the old one live for a grace period (0 = revoke now).

Verification cache: after a successful authentication the hasher remembers, in process memory
only, key id -> (HMAC-SHA256 of the presented secret under a per-process random key, the stored
argon2 hash it was verified against, expiry). A later request with the same key id and secret
skips argon2 if the digest matches (hmac.compare_digest) and the stored hash is unchanged. The
credential, client and tenant rows are still read on every request, so revocation, expiry and
rotation take effect at once; a failed verification never populates the cache. Bounded
(LRU, `cache_size` entries) with a short TTL (`cache_ttl_seconds`, default 300 s).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import cast

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from issuer.db.models import ApiClient, ApiCredential, Tenant
from issuer.errors import ErrorCode, InvalidRequest, NotFound, Unauthenticated
from issuer.services import audit

TOKEN_PREFIX = "bid_"
_TOKEN_RE = re.compile(r"^bid_([0-9a-f]{16})\.([A-Za-z0-9_\-]{20,128})$")


class Scope(StrEnum):
    """What a client may do."""

    REGISTRY_WRITE = "registry:write"
    PERMITS_ISSUE = "permits:issue"
    PERMITS_REVOKE = "permits:revoke"
    AUDIT_READ = "audit:read"
    ENFORCEMENT_READ = "enforcement:read"
    ADMIN = "admin"
    # another municipal application asks residents to show their Bürger-ID (within the
    # allow-list the administrator gave it)
    RESIDENTS_IDENTIFY = "residents:identify"


ALL_SCOPES: tuple[Scope, ...] = tuple(Scope)


@dataclass(frozen=True, slots=True)
class _CacheEntry:
    digest: bytes  # HMAC-SHA256(process key, secret)
    stored_hash: str  # the argon2 hash the secret was verified against
    expires: datetime


class SecretHasher:
    """argon2id with fixed parameters, a dummy hash for unknown key ids, a verification cache."""

    def __init__(
        self,
        *,
        time_cost: int,
        memory_kib: int,
        parallelism: int,
        cache_size: int = 4096,
        cache_ttl_seconds: int = 300,
    ) -> None:
        self._cache: OrderedDict[str, _CacheEntry] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._cache_size = max(0, cache_size)
        self._cache_ttl = timedelta(seconds=max(0, cache_ttl_seconds))
        self._cache_key = secrets.token_bytes(32)
        self._hasher = PasswordHasher(
            time_cost=time_cost,
            memory_cost=memory_kib,
            parallelism=parallelism,
            hash_len=32,
            salt_len=16,
            type=Type.ID,
        )
        self._dummy = self._hasher.hash(secrets.token_urlsafe(32))

    def hash(self, secret: str) -> str:
        """A PHC-format argon2id hash of `secret`."""
        return self._hasher.hash(secret)

    def verify(self, stored_hash: str | None, secret: str) -> bool:
        """Constant-work check; `stored_hash` None verifies against the dummy and fails."""
        try:
            self._hasher.verify(stored_hash or self._dummy, secret)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
        return stored_hash is not None

    def _digest(self, secret: str) -> bytes:
        return hmac.new(self._cache_key, secret.encode(), hashlib.sha256).digest()

    def verify_cached(self, key_id: str, stored_hash: str, secret: str, *, now: datetime) -> bool:
        """True if `secret` was verified against this very `stored_hash` less than a TTL ago."""
        digest = self._digest(secret)
        with self._cache_lock:
            entry = self._cache.get(key_id)
            if entry is None:
                return False
            if entry.expires <= now or not hmac.compare_digest(entry.stored_hash, stored_hash):
                del self._cache[key_id]
                return False
            self._cache.move_to_end(key_id)
        return hmac.compare_digest(entry.digest, digest)

    def is_remembered(self, key_id: str, secret: str, *, now: datetime) -> bool:
        """True if `secret` is the one verified for `key_id` less than a TTL ago. A hint only
        (the stored hash is not compared): `verify_cached` decides."""
        digest = self._digest(secret)
        with self._cache_lock:
            entry = self._cache.get(key_id)
        return (
            entry is not None and entry.expires > now and hmac.compare_digest(entry.digest, digest)
        )

    def remember(self, key_id: str, stored_hash: str, secret: str, *, now: datetime) -> None:
        """Cache a successful verification (only ever called after argon2 said yes)."""
        if self._cache_size == 0 or not self._cache_ttl:
            return
        entry = _CacheEntry(self._digest(secret), stored_hash, now + self._cache_ttl)
        with self._cache_lock:
            self._cache[key_id] = entry
            self._cache.move_to_end(key_id)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def forget(self, key_id: str) -> None:
        """Drop a cached verification (revocation and rotation also work without this)."""
        with self._cache_lock:
            self._cache.pop(key_id, None)

    def cache_len(self) -> int:
        """Number of cached verifications (for tests and metrics)."""
        with self._cache_lock:
            return len(self._cache)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    client_id: uuid.UUID
    key_id: str
    tenant_id: int | None  # None: operator
    scopes: frozenset[str]

    @property
    def is_operator(self) -> bool:
        """An operator-level client (no tenant)."""
        return self.tenant_id is None

    def has_any(self, scopes: Iterable[str]) -> bool:
        """True if the principal holds at least one of `scopes`."""
        return any(s in self.scopes for s in scopes)


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A new secret, shown once."""

    client: ApiClient
    key_id: str
    token: str


def parse_scopes(scopes: Iterable[str]) -> list[Scope]:
    """Validated, de-duplicated scopes in a stable order."""
    wanted = set(scopes)
    unknown = wanted - {s.value for s in Scope}
    if unknown or not wanted:
        raise InvalidRequest(ErrorCode.INVALID_REQUEST, "unknown or empty scopes")
    return [s for s in Scope if s.value in wanted]


def _new_credential(
    session: Session, hasher: SecretHasher, client: ApiClient, now: datetime
) -> IssuedCredential:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    session.add(
        ApiCredential(
            key_id=key_id, client_id=client.id, secret_hash=hasher.hash(secret), created_at=now
        )
    )
    session.flush()
    return IssuedCredential(client=client, key_id=key_id, token=f"{TOKEN_PREFIX}{key_id}.{secret}")


def create_client(
    session: Session,
    hasher: SecretHasher,
    *,
    tenant_id: int | None,
    name: str,
    scopes: Iterable[str],
    actor: str,
    now: datetime,
) -> IssuedCredential:
    """Create a client (tenant_id None = operator) with its first secret."""
    parsed = parse_scopes(scopes)
    client = ApiClient(
        tenant_id=tenant_id, name=name, scopes=" ".join(s.value for s in parsed), created_at=now
    )
    session.add(client)
    session.flush()
    issued = _new_credential(session, hasher, client, now)
    audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="client_created",
        object_type="api_client",
        object_id=str(client.id),
        reason=f"key_id={issued.key_id} scopes={client.scopes}",
        now=now,
    )
    return issued


def get_client(session: Session, *, tenant_id: int | None, client_id: uuid.UUID) -> ApiClient:
    """A client of this tenant (operator: tenant_id None means any), else NotFound."""
    client = session.get(ApiClient, client_id)
    if client is None or (tenant_id is not None and client.tenant_id != tenant_id):
        raise NotFound()
    return client


def list_clients(session: Session, *, tenant_id: int) -> list[ApiClient]:
    """The tenant's clients, oldest first."""
    return list(
        session.scalars(
            select(ApiClient).where(ApiClient.tenant_id == tenant_id).order_by(ApiClient.created_at)
        )
    )


def rotate_client(
    session: Session,
    hasher: SecretHasher,
    *,
    tenant_id: int | None,
    client_id: uuid.UUID,
    grace_seconds: int,
    actor: str,
    now: datetime,
) -> IssuedCredential:
    """A new secret; older live credentials expire after `grace_seconds` (0: revoked now)."""
    client = get_client(session, tenant_id=tenant_id, client_id=client_id)
    if client.revoked_at is not None:
        raise NotFound()
    until = now + timedelta(seconds=grace_seconds)
    for cred in session.scalars(
        select(ApiCredential).where(
            ApiCredential.client_id == client.id, ApiCredential.revoked_at.is_(None)
        )
    ):
        if grace_seconds == 0:
            cred.revoked_at = now
        elif cred.expires_at is None or cred.expires_at > until:
            cred.expires_at = until
    issued = _new_credential(session, hasher, client, now)
    audit.record(
        session,
        tenant_id=client.tenant_id,
        actor=actor,
        action="client_rotated",
        object_type="api_client",
        object_id=str(client.id),
        reason=f"key_id={issued.key_id} grace_seconds={grace_seconds}",
        now=now,
    )
    return issued


def revoke_client(
    session: Session, *, tenant_id: int | None, client_id: uuid.UUID, actor: str, now: datetime
) -> ApiClient:
    """Revoke a client and every credential it has."""
    client = get_client(session, tenant_id=tenant_id, client_id=client_id)
    if client.revoked_at is None:
        client.revoked_at = now
        for cred in session.scalars(
            select(ApiCredential).where(ApiCredential.client_id == client.id)
        ):
            if cred.revoked_at is None:
                cred.revoked_at = now
        audit.record(
            session,
            tenant_id=client.tenant_id,
            actor=actor,
            action="client_revoked",
            object_type="api_client",
            object_id=str(client.id),
            now=now,
        )
    session.flush()
    return client


@dataclass(frozen=True, slots=True)
class CredentialLookup:
    """What one statement read about a presented token (plain values, no ORM objects)."""

    secret: str
    key_id: str | None  # None: malformed token or unknown key id
    secret_hash: str | None
    usable: bool  # credential and client not revoked or expired, tenant present
    principal: Principal | None


# built once and run with the key id bound: every authenticated request runs it. On the
# tables (Core), not the mapped classes: the ORM adds nothing to a row of plain columns, and
# its statement handling costs more than the statement itself.
_CREDENTIALS = cast(Table, ApiCredential.__table__)
_CLIENTS = cast(Table, ApiClient.__table__)
_TENANTS = cast(Table, Tenant.__table__)
_CREDENTIAL = (
    select(
        _CREDENTIALS.c.key_id,
        _CREDENTIALS.c.secret_hash,
        _CREDENTIALS.c.expires_at,
        _CREDENTIALS.c.revoked_at,
        _CLIENTS.c.id.label("client_id"),
        _CLIENTS.c.tenant_id,
        _CLIENTS.c.scopes,
        _CLIENTS.c.revoked_at.label("client_revoked_at"),
        _TENANTS.c.id.label("tenant_present"),
    )
    .select_from(_CREDENTIALS)
    .join(_CLIENTS, _CLIENTS.c.id == _CREDENTIALS.c.client_id)
    .outerjoin(_TENANTS, _TENANTS.c.id == _CLIENTS.c.tenant_id)
    .where(_CREDENTIALS.c.key_id == bindparam("key_id"))
)


# the same, with the client's tenant as a mapped object (the request that goes on in the
# look-up's transaction needs it next)
_CREDENTIAL_AND_TENANT = (
    select(Tenant, *_CREDENTIAL.selected_columns)
    .select_from(_CREDENTIALS)
    .join(_CLIENTS, _CLIENTS.c.id == _CREDENTIALS.c.client_id)
    .outerjoin(Tenant, Tenant.id == _CLIENTS.c.tenant_id)
    .where(_CREDENTIALS.c.key_id == bindparam("key_id"))
)


def lookup(session: Session, token: str, *, now: datetime) -> CredentialLookup:
    """Read the credential of `token` with its client and tenant in one statement."""
    return _lookup(session, token, now, with_tenant=False)[0]


def lookup_with_tenant(
    session: Session, token: str, *, now: datetime
) -> tuple[CredentialLookup, Tenant | None]:
    """`lookup`, and in the same statement the client's tenant as an object of `session`
    (None: an operator client, an unknown key id, a tenant gone)."""
    return _lookup(session, token, now, with_tenant=True)


def _lookup(
    session: Session, token: str, now: datetime, *, with_tenant: bool
) -> tuple[CredentialLookup, Tenant | None]:
    match = _TOKEN_RE.match(token)
    row = None
    if match:
        statement = _CREDENTIAL_AND_TENANT if with_tenant else _CREDENTIAL
        row = session.execute(statement, {"key_id": match.group(1)}).first()
    secret = match.group(2) if match else token[:128]
    if row is None:
        return CredentialLookup(secret, None, None, False, None), None
    usable = not (
        row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
        or row.client_revoked_at is not None
        or (row.tenant_id is not None and row.tenant_present is None)
    )
    principal = Principal(
        client_id=row.client_id,
        key_id=row.key_id,
        tenant_id=row.tenant_id,
        scopes=frozenset(row.scopes.split()),
    )
    tenant = row[0] if with_tenant else None
    return CredentialLookup(secret, row.key_id, row.secret_hash, usable, principal), tenant


def is_well_formed(token: str) -> bool:
    """True if `token` has the shape `bid_<16 hex>.<secret>` (says nothing about validity)."""
    return _TOKEN_RE.match(token) is not None


def split_token(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None."""
    match = _TOKEN_RE.match(token)
    return (match.group(1), match.group(2)) if match else None


def verify_from_cache(
    hasher: SecretHasher, found: CredentialLookup, *, now: datetime
) -> Principal | None:
    """The principal when the verification cache vouches for the presented secret; None when
    argon2 has to decide. Unauthenticated when the cached credential is no longer usable."""
    key_id, stored = found.key_id, found.secret_hash
    if key_id is None or stored is None or found.principal is None:
        return None
    if not hasher.verify_cached(key_id, stored, found.secret, now=now):
        return None
    if not found.usable:
        hasher.forget(key_id)
        raise Unauthenticated()
    return found.principal


def verify_with_argon2(
    hasher: SecretHasher, found: CredentialLookup, *, now: datetime
) -> Principal:
    """The principal, or Unauthenticated, after exactly one argon2 verification (against the
    dummy hash when the key id is unknown); a success is remembered in the cache."""
    key_id, stored = found.key_id, found.secret_hash
    ok = hasher.verify(stored, found.secret)
    if not ok or key_id is None or stored is None or found.principal is None:
        raise Unauthenticated()
    if not found.usable:
        hasher.forget(key_id)
        raise Unauthenticated()
    hasher.remember(key_id, stored, found.secret, now=now)
    return found.principal


def verify_lookup(hasher: SecretHasher, found: CredentialLookup, *, now: datetime) -> Principal:
    """The principal, or Unauthenticated; at most one argon2 verification (none on a cache hit),
    against the dummy hash when the key id is unknown. Needs no database session, so the
    caller can run it after its transaction ended (argon2 never holds a database lock)."""
    principal = verify_from_cache(hasher, found, now=now)
    return principal or verify_with_argon2(hasher, found, now=now)


def authenticate(session: Session, hasher: SecretHasher, token: str, *, now: datetime) -> Principal:
    """The principal of a bearer token, or Unauthenticated (one answer for every failure).

    One statement reads the credential with its client and tenant; at most one argon2
    verification (none when the cache holds this key id, secret and stored hash).
    """
    return verify_lookup(hasher, lookup(session, token, now=now), now=now)
