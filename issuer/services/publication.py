"""Publication: status list tokens, the trust bundle, the JWKS; built when state changed, cached.

- Status lists: `status_lists.ensure_built` re-signs a list only when its `version` moved (a
  status change bumps it in the same transaction) or the token nears expiry.
- Trust bundle (docs/formats.md): a fingerprint over every tenant's name, url, published keys and
  status list versions decides whether the newest stored bundle still holds; if not (or half
  its freshness period passed), a new one is built with `seq` = newest + 1 and stored. The
  primary key on `seq` makes two concurrent builders agree: the loser serves the winner's.

Fast path: the served artefact and its ETag are kept by the `KeyStore` (`artefacts`) with a
cheap token of what they were built from: one statement of aggregates over indexed columns
(newest bundle `seq`, count/sum of tenant ids, count/sum of status list versions — versions
only ever grow) plus the store's ring generation, bumped by its key rotation
(`KeyStore.rotate`/`ensure_ring`). Key rings changed by another process (the `buergerid-keys`
or `buergerid-issuer keys rotate` CLI, the job runner) are noticed by `KeyStore.ring_stamp`
(a stat of each ring's ring.json, or one statement over the database rings' versions) at
most once per `RING_STAT_SECONDS` (1 s); every key-window boundary (nbf,
sign_until, exp) and half the bundle's freshness period end an entry too. Anything else goes
the slow path above, which decides exactly as before.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from issuer.db.models import Tenant
from issuer.db.permit_models import PublicationState, StatusList, TrustBundleRecord
from issuer.errors import ErrorCode, NoSigningKey, NotFound
from issuer.services import signing, status_lists
from issuer.services.clock import as_utc
from keys.bundle import IssuerSource, build_trust_bundle
from keys.errors import KeysCode, KeysError
from verifier.formats import JOSE_NAMES, key_to_jwk

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from issuer.services.signing import KeyStore


_STATES = cast(Table, PublicationState.__table__)
_BUMP = (  # built once: every permit change runs it (on the table: no ORM statement handling)
    update(_STATES)
    .where(_STATES.c.tenant_id == bindparam("tenant"))
    .values(version=_STATES.c.version + 1)
)


def bump_version(session: Session, tenant_id: int) -> None:
    """Move the tenant's publication version (its permits changed: the plate index is built
    anew when next asked for) in this transaction."""
    if session.execute(_BUMP, {"tenant": tenant_id}).rowcount:  # type: ignore[attr-defined]
        return
    try:
        with session.begin_nested():
            session.add(PublicationState(tenant_id=tenant_id, version=1))
            session.flush()
    except IntegrityError:  # another transaction made the row meanwhile
        session.execute(_BUMP, {"tenant": tenant_id})


@dataclass(frozen=True, slots=True)
class Artefact:
    """Bytes to serve with their ETag."""

    body: bytes
    etag: str
    media_type: str


def _etag(prefix: str, data: bytes) -> str:
    return f'"{prefix}-{hashlib.sha256(data).hexdigest()[:32]}"'


RING_STAT_SECONDS = signing.RING_STAT_SECONDS
_FAR = 2**62


@dataclass(frozen=True, slots=True)
class _Entry:
    token: tuple[Any, ...]
    ring_names: tuple[str, ...]
    ring_stamp: tuple[Any, ...]
    stat_at: float  # time.monotonic() of the last stat
    valid_until: int  # unix seconds, exclusive
    artefact: Artefact


def _remembered(
    keys: KeyStore, key: tuple[Any, ...], token: tuple[Any, ...], at: int
) -> Artefact | None:
    """The artefact remembered under `key` if it was built from `token`, is still valid at
    `at`, and the ring files it depends on did not change (stat at most every second)."""
    entry: _Entry | None = keys.artefacts.get(key)
    if entry is None or entry.token != token or at >= entry.valid_until:
        return None
    mono = time.monotonic()
    if mono - entry.stat_at >= RING_STAT_SECONDS:
        if keys.ring_stamp(list(entry.ring_names)) != entry.ring_stamp:
            keys.artefacts.discard(key, entry)
            return None
        keys.artefacts.put(key, replace(entry, stat_at=mono))
    return entry.artefact


def _memo_key(kind: str, *extra: Any) -> tuple[Any, ...]:
    return (kind, *extra)


_TOKEN_STATEMENT = select(
    select(func.max(TrustBundleRecord.seq)).scalar_subquery(),
    select(func.count(Tenant.id)).scalar_subquery(),
    select(func.coalesce(func.sum(Tenant.id), 0)).scalar_subquery(),
    select(func.count(StatusList.id)).scalar_subquery(),
    select(func.coalesce(func.sum(StatusList.version), 0)).scalar_subquery(),
)


def _db_token(session: Session, keys: KeyStore) -> tuple[Any, ...]:
    """One statement of cheap aggregates that moves whenever a published artefact must."""
    row = session.execute(_TOKEN_STATEMENT).one()
    return (keys.generation, *(None if v is None else int(v) for v in row))


def _ring_names(keys: KeyStore, tenants: list[Tenant]) -> tuple[str, ...]:
    return (*(t.key_ring for t in tenants), keys.settings.root_key_ring)


def _next_key_boundary(keys: KeyStore, tenants: list[Tenant], at: int) -> int:
    """The first nbf/sign_until/exp after `at` of any tenant or root key (key states move)."""
    rings = []
    for tenant in tenants:
        try:
            rings.append(keys.tenant_ring(tenant))
        except NoSigningKey:
            continue
    try:
        rings.append(keys.root_ring())
    except NoSigningKey:
        pass
    best = _FAR
    for ring in rings:
        try:
            records = ring.records(at)
        except KeysError:
            return at + 1  # an unreadable ring: do not cache
        for k in records:
            for t in (k.window.nbf, k.window.sign_until, k.window.exp):
                if at < t < best:
                    best = t
    return best


def status_list(
    session: Session, keys: KeyStore, *, ags: str, list_no: int, form: str, now: datetime
) -> Artefact:
    """The CWT (`form="cwt"`) or JWT of one list; 404 for an unknown tenant or list.

    One narrow statement (no token bytes) decides; the bytes come from memory when the row's
    build (version, built_version, built_at) is the one remembered and still fresh."""
    light = session.execute(
        select(StatusList.id, StatusList.version, StatusList.built_version, StatusList.built_at)
        .join(Tenant, Tenant.id == StatusList.tenant_id)
        .where(Tenant.ags == ags, StatusList.list_no == list_no)
    ).first()
    if light is None:
        raise NotFound(ErrorCode.NOT_FOUND, "status list")
    row_id, version, built_version, built_at = light
    key = _memo_key("sl", ags, list_no, form)
    token = (int(row_id), int(version), built_version, built_at)
    refresh = status_lists.status_refresh(keys.settings)
    at = int(now.timestamp())
    if built_version == version and built_at is not None:
        hit = _remembered(keys, key, token, at)
        if hit is not None and now < as_utc(built_at) + refresh:
            return hit
    tenant = session.scalar(select(Tenant).where(Tenant.ags == ags))
    row = session.get(StatusList, row_id)
    if tenant is None or row is None:
        raise NotFound(ErrorCode.NOT_FOUND, "status list")
    status_lists.ensure_built(session, keys, tenant=tenant, row=row, now=now)
    if form == "jwt":
        assert row.jwt is not None
        data = row.jwt.encode("ascii")
        artefact = Artefact(data, _etag("slj", data), "application/statuslist+jwt")
    else:
        assert row.cwt is not None
        artefact = Artefact(row.cwt, _etag("slc", row.cwt), "application/statuslist+cwt")
    if row.built_version == row.version and row.built_at is not None:
        token = (int(row.id), int(row.version), row.built_version, row.built_at)
        keys.artefacts.put(key, _Entry(token, (), (), time.monotonic(), _FAR, artefact))
    return artefact


def _fingerprint(session: Session, keys: KeyStore, tenants: list[Tenant], now: datetime) -> str:
    at = int(now.timestamp())
    versions: dict[int, list[list[int]]] = {}
    for tenant_id, list_no, version in session.execute(
        select(StatusList.tenant_id, StatusList.list_no, StatusList.version).order_by(
            StatusList.tenant_id, StatusList.list_no
        )
    ):
        versions.setdefault(int(tenant_id), []).append([int(list_no), int(version)])
    doc: list[Any] = []
    for tenant in tenants:
        try:
            published = [
                [k.kid, k.window.nbf, k.window.sign_until, k.window.exp, str(k.state)]
                for k in keys.tenant_ring(tenant).published(at)
            ]
        except NoSigningKey:
            published = []
        doc.append(
            [tenant.ags, tenant.name, tenant.issuer_url, published, versions.get(tenant.id, [])]
        )
    root = keys.root_ring()
    doc.append([[k.kid, str(k.state)] for k in root.records(at)])
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def latest_bundle(session: Session) -> TrustBundleRecord | None:
    """The newest stored trust bundle."""
    return session.scalar(select(TrustBundleRecord).order_by(TrustBundleRecord.seq.desc()).limit(1))


def trust_bundle_artefact(session: Session, keys: KeyStore, *, now: datetime) -> Artefact:
    """The current trust bundle's bytes and ETag: from process memory when nothing changed
    (one cheap statement), else `trust_bundle` (the slow path) and remembered."""
    at = int(now.timestamp())
    key = _memo_key("tb")
    token = _db_token(session, keys)
    hit = _remembered(keys, key, token, at)
    if hit is not None:
        return hit
    tenants = list(session.scalars(select(Tenant).order_by(Tenant.ags)))
    files = _ring_names(keys, tenants)
    stamp = keys.ring_stamp(list(files))  # before the rings are read: a later write shows
    record = _trust_bundle(session, keys, tenants, now=now)
    artefact = Artefact(record.body, record.etag, "application/vnd.buergerid.trust-bundle+cbor")
    fresh = keys.settings.trust_bundle_fresh_seconds
    until = min(record.iat + fresh // 2, _next_key_boundary(keys, tenants, at))
    token = (token[0], record.seq, *token[2:])
    keys.artefacts.put(key, _Entry(token, files, stamp, time.monotonic(), until, artefact))
    return artefact


def trust_bundle(session: Session, keys: KeyStore, *, now: datetime) -> TrustBundleRecord:
    """The current trust bundle, rebuilt only when something it embeds changed."""
    tenants = list(session.scalars(select(Tenant).order_by(Tenant.ags)))
    return _trust_bundle(session, keys, tenants, now=now)


def _trust_bundle(
    session: Session, keys: KeyStore, tenants: list[Tenant], *, now: datetime
) -> TrustBundleRecord:
    fingerprint = _fingerprint(session, keys, tenants, now)
    latest = latest_bundle(session)
    at = int(now.timestamp())
    fresh = keys.settings.trust_bundle_fresh_seconds
    if latest is not None and latest.fingerprint == fingerprint and at < latest.iat + fresh // 2:
        return latest
    return _build_bundle(session, keys, tenants, fingerprint, latest, now)


def _build_bundle(
    session: Session,
    keys: KeyStore,
    tenants: list[Tenant],
    fingerprint: str,
    latest: TrustBundleRecord | None,
    now: datetime,
) -> TrustBundleRecord:
    settings = keys.settings
    sources = []
    for tenant in tenants:
        try:
            ring = keys.tenant_ring(tenant)
        except NoSigningKey:
            continue  # a tenant without keys cannot be verified yet; leave it out
        tokens: dict[int, bytes] = {}
        for row in status_lists.tenant_lists(session, tenant_id=tenant.id):
            status_lists.ensure_built(session, keys, tenant=tenant, row=row, now=now)
            if row.cwt is not None:
                tokens[row.list_no] = row.cwt
        sources.append(IssuerSource(tenant.ags, tenant.name, tenant.issuer_url, ring, tokens))
    at = int(now.timestamp())
    seq = int(session.scalar(select(func.max(TrustBundleRecord.seq))) or 0) + 1
    root = keys.root_ring()
    try:
        # the root ring keeps the last seq too, so a rebuilt database never goes back
        try:
            seq = root.next_bundle_seq(seq)
        except KeysError as exc:
            if exc.code is not KeysCode.SEQ_NOT_INCREASING:
                raise
            seq = root.next_bundle_seq()
        body = build_trust_bundle(
            issuers=sources,
            seq=seq,
            now=at,
            fresh_seconds=settings.trust_bundle_fresh_seconds,
            valid_seconds=settings.trust_bundle_exp_seconds,
            root=root,
        )
    except KeysError as exc:
        raise NoSigningKey(detail=exc.code.value) from exc
    record = TrustBundleRecord(
        seq=seq,
        fingerprint=fingerprint,
        body=body,
        etag=_etag("tb", body),
        iat=at,
        exp=at + settings.trust_bundle_exp_seconds,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:
        winner = latest_bundle(session)
        assert winner is not None
        return winner
    return record


def jwks(session: Session, keys: KeyStore, *, now: datetime) -> Artefact:
    """Every tenant's published public keys (kid = JWS kid); from memory when unchanged."""
    at = int(now.timestamp())
    key = _memo_key("jwks")
    token = _db_token(session, keys)[:4]  # generation, (bundle seq), tenants: lists do not matter
    token = (token[0], None, token[2], token[3])
    hit = _remembered(keys, key, token, at)
    if hit is not None:
        return hit
    tenants = list(session.scalars(select(Tenant).order_by(Tenant.ags)))
    files = _ring_names(keys, tenants)
    stamp = keys.ring_stamp(list(files))
    body = json.dumps(public_jwks(keys, tenants, now), sort_keys=True).encode()
    artefact = Artefact(body, _etag("jwks", body), "application/jwk-set+json")
    until = _next_key_boundary(keys, tenants, at)
    keys.artefacts.put(key, _Entry(token, files, stamp, time.monotonic(), until, artefact))
    return artefact


def public_jwks(keys: KeyStore, tenants: list[Tenant], now: datetime) -> dict[str, Any]:
    """The tenants' published public keys as a JWKS (kid = JWS kid: base64url thumbprint)."""
    published: list[dict[str, Any]] = []
    at = int(now.timestamp())
    for tenant in tenants:
        try:
            infos = keys.tenant_ring(tenant).published(at)
        except (NoSigningKey, KeysError):
            continue
        for info in infos:
            jwk = dict(key_to_jwk(info.public_key))
            jwk["kid"] = info.kid
            jwk["alg"] = JOSE_NAMES.get(info.alg, "ES256")
            jwk["use"] = "sig"
            jwk["iss"] = tenant.issuer_url
            published.append(jwk)
    return {"keys": published}
