"""Publication: status list tokens, the trust bundle, the JWKS; built when state changed, cached.

- Status lists: `status_lists.ensure_built` re-signs a list only when its `version` moved (a
  status change bumps it in the same transaction) or the token nears expiry.
- Trust bundle (DESIGN §3.4): a fingerprint over every tenant's name, url, published keys and
  status list versions decides whether the newest stored bundle still holds; if not (or half
  its freshness period passed), a new one is built with `seq` = newest + 1 and stored. The
  primary key on `seq` makes two concurrent builders agree: the loser serves the winner's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from issuer.db.models import Tenant
from issuer.db.permit_models import StatusList, TrustBundleRecord
from issuer.services import status_lists
from issuer.services.eligibility import PermitCode, PermitError
from issuer.services.signing import public_jwks, root_ring, tenant_ring

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from issuer.settings import Settings


@dataclass(frozen=True, slots=True)
class Artefact:
    """Bytes to serve with their ETag."""

    body: bytes
    etag: str
    media_type: str


def _etag(prefix: str, data: bytes) -> str:
    return f'"{prefix}-{hashlib.sha256(data).hexdigest()[:32]}"'


def status_list(
    session: Session, settings: Settings, *, ags: str, list_no: int, form: str, now: datetime
) -> Artefact:
    """The CWT (`form="cwt"`) or JWT of one list; 404 for an unknown tenant or list."""
    tenant = session.scalar(select(Tenant).where(Tenant.ags == ags))
    if tenant is None:
        raise PermitError(PermitCode.NOT_FOUND, "status list")
    row = session.scalar(
        select(StatusList).where(StatusList.tenant_id == tenant.id, StatusList.list_no == list_no)
    )
    if row is None:
        raise PermitError(PermitCode.NOT_FOUND, "status list")
    status_lists.ensure_built(session, settings, tenant=tenant, row=row, now=now)
    if form == "jwt":
        assert row.jwt is not None
        data = row.jwt.encode("ascii")
        return Artefact(data, _etag("slj", data), "application/statuslist+jwt")
    assert row.cwt is not None
    return Artefact(row.cwt, _etag("slc", row.cwt), "application/statuslist+cwt")


def _fingerprint(session: Session, settings: Settings, tenants: list[Tenant], now: datetime) -> str:
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
            keys = [
                [k.kid, k.window.nbf, k.window.sign_until, k.window.exp, str(k.state)]
                for k in tenant_ring(settings, tenant).published(at)
            ]
        except PermitError:
            keys = []
        doc.append([tenant.ags, tenant.name, tenant.issuer_url, keys, versions.get(tenant.id, [])])
    root = root_ring(settings)
    doc.append([[k.kid, str(k.state)] for k in root.records(at)])
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def latest_bundle(session: Session) -> TrustBundleRecord | None:
    """The newest stored trust bundle."""
    return session.scalar(select(TrustBundleRecord).order_by(TrustBundleRecord.seq.desc()).limit(1))


def trust_bundle(session: Session, settings: Settings, *, now: datetime) -> TrustBundleRecord:
    """The current trust bundle, rebuilt only when something it embeds changed."""
    tenants = list(session.scalars(select(Tenant).order_by(Tenant.ags)))
    fingerprint = _fingerprint(session, settings, tenants, now)
    latest = latest_bundle(session)
    at = int(now.timestamp())
    fresh = int(getattr(settings, "trust_bundle_fresh_seconds", 24 * 3600))
    if latest is not None and latest.fingerprint == fingerprint and at < latest.iat + fresh // 2:
        return latest
    return _build_bundle(session, settings, tenants, fingerprint, latest, now)


def _build_bundle(
    session: Session,
    settings: Settings,
    tenants: list[Tenant],
    fingerprint: str,
    latest: TrustBundleRecord | None,
    now: datetime,
) -> TrustBundleRecord:
    from keys.bundle import IssuerSource, build_trust_bundle
    from keys.errors import KeysCode, KeysError

    sources = []
    for tenant in tenants:
        try:
            ring = tenant_ring(settings, tenant)
        except PermitError:
            continue  # a tenant without keys cannot be verified yet; leave it out
        tokens: dict[int, bytes] = {}
        for row in status_lists.tenant_lists(session, tenant_id=tenant.id):
            status_lists.ensure_built(session, settings, tenant=tenant, row=row, now=now)
            if row.cwt is not None:
                tokens[row.list_no] = row.cwt
        sources.append(IssuerSource(tenant.ags, tenant.name, tenant.issuer_url, ring, tokens))
    at = int(now.timestamp())
    seq = int(session.scalar(select(func.max(TrustBundleRecord.seq))) or 0) + 1
    root = root_ring(settings)
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
            fresh_seconds=int(getattr(settings, "trust_bundle_fresh_seconds", 24 * 3600)),
            valid_seconds=int(getattr(settings, "trust_bundle_exp_seconds", 7 * 24 * 3600)),
            root=root,
        )
    except KeysError as exc:
        raise PermitError(PermitCode.NO_SIGNING_KEY, str(exc.code)) from exc
    record = TrustBundleRecord(
        seq=seq,
        fingerprint=fingerprint,
        body=body,
        etag=_etag("tb", body),
        iat=at,
        exp=at + int(getattr(settings, "trust_bundle_exp_seconds", 7 * 24 * 3600)),
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


def jwks(session: Session, settings: Settings, *, now: datetime) -> Artefact:
    """Every tenant's published public keys (kid = JWS kid)."""
    tenants = list(session.scalars(select(Tenant).order_by(Tenant.ags)))
    body = json.dumps(public_jwks(settings, tenants, now), sort_keys=True).encode()
    return Artefact(body, _etag("jwks", body), "application/jwk-set+json")
