"""API clients and their credentials: create, authenticate, rotate, revoke.

A token is `bid_<key_id>.<secret>`: the key id (not secret) finds one credential row, so a
request costs exactly one argon2id verification; an unknown key id verifies against a dummy
hash so it takes the same time. Secrets are shown once and stored only as argon2id hashes.
Rotation adds a credential and lets the old one live for a grace period (0 = revoke now).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
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


ALL_SCOPES: tuple[Scope, ...] = tuple(Scope)


class SecretHasher:
    """argon2id with fixed parameters, plus a dummy hash for unknown key ids."""

    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int) -> None:
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


def authenticate(session: Session, hasher: SecretHasher, token: str, *, now: datetime) -> Principal:
    """The principal of a bearer token, or Unauthenticated (one answer for every failure)."""
    match = _TOKEN_RE.match(token)
    cred = session.get(ApiCredential, match.group(1)) if match else None
    secret = match.group(2) if match else token[:128]
    # exactly one argon2 verification, against the dummy when the key id is unknown
    ok = hasher.verify(cred.secret_hash if cred else None, secret)
    if not ok or cred is None:
        raise Unauthenticated()
    client = cred.client
    if (
        cred.revoked_at is not None
        or (cred.expires_at is not None and cred.expires_at <= now)
        or client.revoked_at is not None
    ):
        raise Unauthenticated()
    if client.tenant_id is not None and session.get(Tenant, client.tenant_id) is None:
        raise Unauthenticated()
    return Principal(
        client_id=client.id,
        key_id=cred.key_id,
        tenant_id=client.tenant_id,
        scopes=frozenset(client.scopes.split()),
    )
