"""Tenants (municipalities): creation with their audit chain and key ring, lookup.

The key ring itself belongs to `keys/` (one KeyRing per tenant, named by its AGS, in the
configured key store: the database or keys_dir/<ags>/; an ES256 active key);
`provision_key_ring` is the one place the issuer asks for it.

`register_tenant` (CLI `tenant create`, `POST /api/v1/tenants`) makes a tenant all or nothing:
every check runs before anything is made, and a failure after the ring was made removes that
ring again. A key ring found where the new tenant's would go is never taken silently: it is
refused (`key_ring_exists`), or adopted on request (a ring a key custodian made beforehand,
e.g. on an HSM) once it is shown to be this tenant's and its keys load.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from issuer.db.models import Tenant
from issuer.errors import Conflict, ErrorCode, InvalidRequest, NotFound, Unavailable
from issuer.schemas.tenants import TenantCreate
from issuer.services import audit
from issuer.services.signing import TENANT_PURPOSES, open_token, ring_store_for
from issuer.settings import Settings, resolve_key_passphrase
from keys.errors import KeysCode, KeysError
from keys.lifecycle import KeyType, Purpose
from keys.ring import Backend, KeyRing, RingKind
from keys.storage import make_private_dir
from keys.storage.file import DEFAULT_KDF, KdfParams
from keys.storage.pkcs11 import Pkcs11Token
from keys.storage.rings import DirectoryRing, RingStorage
from verifier import PermitType

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

log = logging.getLogger(__name__)

_AGS_RE = re.compile(r"^[0-9]{8}$")


def validate_ags(ags: str) -> str:
    """An 8-digit Amtlicher Gemeindeschlüssel."""
    if not _AGS_RE.match(ags):
        raise InvalidRequest(ErrorCode.INVALID_REQUEST, "ags must be 8 digits")
    return ags


def is_loopback_http(url: str) -> bool:
    """An http URL on this machine (development only: 127.0.0.1, ::1, localhost)."""
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost")


def create_tenant(
    session: Session,
    *,
    ags: str,
    name: str,
    issuer_url: str,
    retention_days: int = 365,
    actor: str,
    now: datetime,
    allow_loopback_http: bool = False,
) -> Tenant:
    """A new tenant with its audit chain; Conflict if the AGS exists.

    The issuer URL is https; `allow_loopback_http` (the development seed of a server
    listening on plain http) also admits http on 127.0.0.1 / localhost."""
    validate_ags(ags)
    if not issuer_url.startswith("https://") and not (
        allow_loopback_http and is_loopback_http(issuer_url)
    ):
        raise InvalidRequest(ErrorCode.INVALID_REQUEST, "issuer_url must be https")
    if session.scalars(select(Tenant.id).where(Tenant.ags == ags)).first() is not None:
        raise Conflict(ErrorCode.ALREADY_EXISTS)
    tenant = Tenant(
        ags=ags,
        name=name,
        issuer_url=issuer_url,
        retention_days=retention_days,
        key_ring=ags,
        created_at=now,
    )
    session.add(tenant)
    session.flush()
    audit.ensure_chain(session, tenant.id)
    for chain_tenant in (None, tenant.id):  # the operator chain and the tenant's own
        audit.record(
            session,
            tenant_id=chain_tenant,
            actor=actor,
            action="tenant_created",
            object_type="tenant",
            object_id=ags,
            now=now,
        )
    log.info("tenant_created", extra={"tenant": ags})
    return tenant


def get_tenant(session: Session, tenant_id: int) -> Tenant:
    """A tenant by id, else NotFound."""
    tenant = session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound()
    return tenant


def get_tenant_by_ags(session: Session, ags: str) -> Tenant:
    """A tenant by AGS, else NotFound."""
    tenant = session.scalars(select(Tenant).where(Tenant.ags == ags)).first()
    if tenant is None:
        raise NotFound()
    return tenant


def list_tenants(session: Session) -> list[Tenant]:
    """Every tenant, by AGS."""
    return list(session.scalars(select(Tenant).order_by(Tenant.ags)))


def key_ring_dir(keys_dir: Path, tenant: Tenant) -> Path:
    """Where a tenant's key ring lives."""
    return keys_dir / tenant.key_ring


def _ensure_ring(
    where: RingStorage,
    issuer_id: str,
    *,
    kind: RingKind,
    purpose: KeyType,
    passphrase: str,
    now: datetime,
    name: str,
    url: str,
    kdf: KdfParams,
    sign_days: int,
    verify_extra_days: int,
    pkcs11: Pkcs11Token | None,
) -> bool:
    at = int(now.timestamp())
    try:
        ring = KeyRing.open(where, passphrase=passphrase, pkcs11=pkcs11, kdf=kdf)
    except KeysError as exc:
        if exc.code is not KeysCode.RING_NOT_FOUND:
            raise Unavailable(ErrorCode.UNAVAILABLE, "key ring") from exc
        ring = KeyRing.create(
            where,
            issuer_id,
            kind=kind,
            name=name,
            url=url,
            passphrase=passphrase,
            pkcs11=pkcs11,
            kdf=kdf,
        )
    try:
        ring.active(at, purpose)
        return False
    except KeysError:
        sign_until = at + sign_days * 86400
        ring.add_key(
            nbf=at,
            sign_until=sign_until,
            exp=sign_until + verify_extra_days * 86400,
            now=at,
            backend=Backend.FILE if pkcs11 is None else Backend.PKCS11,
        )
        return True


def provision_key_ring(
    keys_dir: Path,
    ags: str,
    *,
    passphrase: str,
    now: datetime,
    name: str = "",
    url: str = "",
    kdf: KdfParams = DEFAULT_KDF,
    sign_days: int = 365,
    verify_extra_days: int = 400,
    pkcs11: Pkcs11Token | None = None,
) -> Path:
    """Create (or complete) the tenant's key ring under keys_dir/<ags>/ with an active ES256 key
    (in the token `pkcs11` when given, else a key file under `passphrase`).

    Idempotent: an existing ring is opened, and a key is added only when none is active at
    `now`. The first key signs from `now` for `sign_days` and verifies `verify_extra_days`
    longer (longer than any token it signs); later rotation is `buergerid-keys rotate`.
    """
    validate_ags(ags)
    path = keys_dir / ags
    _provision(
        DirectoryRing(path),
        ags,
        passphrase=passphrase,
        now=now,
        name=name,
        url=url,
        kdf=kdf,
        sign_days=sign_days,
        verify_extra_days=verify_extra_days,
        pkcs11=pkcs11,
    )
    return path


def _provision(
    where: RingStorage,
    ags: str,
    *,
    passphrase: str,
    now: datetime,
    name: str,
    url: str,
    kdf: KdfParams,
    sign_days: int,
    verify_extra_days: int,
    pkcs11: Pkcs11Token | None,
) -> None:
    if _ensure_ring(
        where,
        ags,
        kind=RingKind.ISSUER,
        purpose=PermitType.BEW,
        passphrase=passphrase,
        now=now,
        name=name,
        url=url,
        kdf=kdf,
        sign_days=sign_days,
        verify_extra_days=verify_extra_days,
        pkcs11=pkcs11,
    ):
        log.info("tenant_key_created", extra={"tenant": ags})


def _kdf(settings: Settings) -> KdfParams:
    return KdfParams(
        time_cost=settings.key_kdf_time_cost,
        memory_kib=settings.key_kdf_memory_kib,
        parallelism=settings.key_kdf_parallelism,
    )


@contextmanager
def _token(settings: Settings) -> Iterator[Pkcs11Token | None]:
    """The configured PKCS#11 token for one call (None without one), closed afterwards."""
    token = open_token(settings)
    try:
        yield token
    finally:
        if token is not None:
            token.close()


def provision_root_ring(settings: Settings, *, now: datetime, relative: str = "root") -> str:
    """Development: the operator's root ring (signs trust bundles) with an active key, in the
    configured key store; its location."""
    with _token(settings) as token, ring_store_for(settings) as store:
        where = store.ring(relative)
        made = _ensure_ring(
            where,
            "root",
            kind=RingKind.ROOT,
            purpose=Purpose.BUNDLE,
            passphrase=resolve_key_passphrase(settings),
            now=now,
            name="buergerid root",
            url="",
            kdf=_kdf(settings),
            sign_days=2 * 365,
            verify_extra_days=400,
            pkcs11=token,
        )
    if made:
        log.warning("root_key_created")
    return where.location


def provision_key_ring_for(
    settings: Settings,
    ags: str,
    *,
    now: datetime,
    name: str = "",
    url: str = "",
    bind: Engine | Connection | None = None,
) -> str:
    """`provision_key_ring` in the configured key store (`bind`: the database connection of
    the caller's transaction) with the passphrase, KDF parameters and token of `settings`;
    the ring's location."""
    validate_ags(ags)
    with _token(settings) as token, ring_store_for(settings, bind) as store:
        where = store.ring(ags)
        _provision(
            where,
            ags,
            passphrase=resolve_key_passphrase(settings),
            now=now,
            name=name,
            url=url,
            kdf=_kdf(settings),
            sign_days=settings.tenant_key_sign_days,
            verify_extra_days=settings.tenant_key_verify_extra_days,
            pkcs11=token,
        )
    return where.location


# the purposes a tenant's ring must sign from the first day


def _check_adoptable(
    settings: Settings, where: RingStorage, data: TenantCreate, now: datetime
) -> None:
    """The ring `where` is this tenant's (issuer ring, same AGS and issuer URL) and the keys
    it signs with from now on load; else Conflict key_ring_unusable naming what failed."""
    at = int(now.timestamp())
    try:
        with _token(settings) as token:
            ring = KeyRing.open(
                where, passphrase=resolve_key_passphrase(settings), pkcs11=token, kdf=_kdf(settings)
            )
            _check_ring(ring, data, at)
    except KeysError as exc:
        raise Conflict(ErrorCode.KEY_RING_UNUSABLE, exc.code.value) from exc


def _check_ring(ring: KeyRing, data: TenantCreate, at: int) -> None:
    if ring.kind is not RingKind.ISSUER or ring.issuer_id != data.ags:
        raise Conflict(ErrorCode.KEY_RING_UNUSABLE, "issuer_id")
    if ring.url and ring.url != data.issuer_url:
        raise Conflict(ErrorCode.KEY_RING_UNUSABLE, "url")
    for purpose in TENANT_PURPOSES:
        ring.signer_for(at, purpose)


def _new_ring_dir(settings: Settings, ags: str) -> Path:
    """Make the (empty) directory of a new ring, exclusively: Conflict if anything is there."""
    path = settings.keys_dir / ags
    try:
        make_private_dir(settings.keys_dir)
        os.mkdir(path, 0o700)
    except FileExistsError as exc:
        raise Conflict(ErrorCode.KEY_RING_EXISTS) from exc
    except OSError as exc:
        raise Unavailable(ErrorCode.UNAVAILABLE, "key ring directory") from exc
    return path


def register_tenant(
    sessions: sessionmaker[Session],
    settings: Settings,
    data: TenantCreate,
    *,
    actor: str,
    now: datetime,
) -> Tenant:
    """Create a tenant with its key ring (or adopt a prepared one), all or nothing, in its own
    transaction. Refusals, all before anything is made: `already_exists` (409, the AGS has a
    tenant), `key_ring_exists` (409, a ring or directory is where the new ring would go and
    `adopt_key_ring` is false), `key_ring_unusable` (409, the ring to adopt is another issuer's
    or its keys do not load), `invalid_request` (422, nothing to adopt).

    In the database key store the new ring is written in the tenant's own transaction, so a
    refusal leaves neither."""
    path = settings.keys_dir / data.ags
    in_database = settings.key_store == "database"
    made: Path | None = None
    try:
        with sessions() as session, session.begin():
            if session.scalars(select(Tenant.id).where(Tenant.ags == data.ags)).first():
                raise Conflict(ErrorCode.ALREADY_EXISTS)
            bind = session.connection() if in_database else None
            with ring_store_for(settings, bind) as store:
                where = store.ring(data.ags)
                try:
                    exists = where.exists()
                except KeysError as exc:
                    raise Unavailable(ErrorCode.UNAVAILABLE, f"key ring: {exc.code}") from exc
            if data.adopt_key_ring:
                if not exists:
                    raise InvalidRequest(ErrorCode.INVALID_REQUEST, "no key ring to adopt")
                _check_adoptable(settings, where, data, now)
            elif exists or (not in_database and (path.exists() or path.is_symlink())):
                raise Conflict(ErrorCode.KEY_RING_EXISTS)
            resolve_key_passphrase(settings)  # a missing passphrase refuses before the row
            try:
                tenant = create_tenant(
                    session,
                    ags=data.ags,
                    name=data.name,
                    issuer_url=data.issuer_url,
                    retention_days=data.retention_days,
                    actor=actor,
                    now=now,
                )
            except IntegrityError as exc:  # a concurrent request created it first
                raise Conflict(ErrorCode.ALREADY_EXISTS) from exc
            if not data.adopt_key_ring:
                if not in_database:
                    made = _new_ring_dir(settings, data.ags)
                try:
                    provision_key_ring_for(
                        settings,
                        data.ags,
                        now=now,
                        name=data.name,
                        url=data.issuer_url,
                        bind=bind,
                    )
                except KeysError as exc:
                    raise Unavailable(ErrorCode.UNAVAILABLE, f"key ring: {exc.code}") from exc
        return tenant
    except BaseException:
        if made is not None:  # ours, made in this call: nothing of a refused tenant stays
            shutil.rmtree(made, ignore_errors=True)
        raise
