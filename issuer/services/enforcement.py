"""Enforcement clients and their handhelds: enrolment, device authentication, withdrawal.

- The operator creates an enforcement client covering one or more municipalities and issues
  a one-time enrolment code per handheld (``BIDE-`` + 20 base32 characters, 100 bits; only
  its SHA-256 is stored; it expires after ``enrolment_code_ttl_seconds``).
- The handheld redeems it with a JWS signed by a P-256 key it generated (the public JWK in
  the protected header, ``typ`` ``buergerid-enrol+jwt``, ``aud`` the enrol URL, ``iat``
  within five minutes): the key is bound to the device, the code is spent.
- The handheld then authenticates with RFC 7523 ``private_key_jwt`` (client credentials
  grant): an assertion with ``iss`` = ``sub`` = the device id, ``aud`` the token endpoint,
  ``exp`` at most five minutes after ``iat``, a ``jti`` remembered until ``exp`` so a replay
  fails. It gets an opaque access token (``bide_…``, SHA-256 stored) for
  ``enforcement_token_seconds``; the token reads the plate index of each covered municipality.
- Withdrawing a device (or revoking its client) ends its tokens at once and refuses every
  later assertion. Every change is audited (ids only).

Failures are one answer per endpoint (``invalid_enrolment`` 422, ``invalid_client`` 401),
so a caller learns nothing about which check failed.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from issuer.db.enforcement_models import (
    EnforcementAssertion,
    EnforcementClient,
    EnforcementCoverage,
    EnforcementDevice,
    EnforcementToken,
)
from issuer.db.models import Tenant
from issuer.errors import ErrorCode, InvalidRequest, NotFound, Unauthenticated
from issuer.services import audit
from verifier import VerifierError
from verifier.formats import decode_jws, jws_kid, key_from_jwk, key_to_jwk, peek_jws_header

ENROL_PATH = "/api/v1/enforcement/enrol"
TOKEN_PATH = "/api/v1/enforcement/token"
PLATE_INDEX_PATH = "/api/v1/enforcement/plate-index/{ags}"
ENROL_TYP = "buergerid-enrol+jwt"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CODE_PREFIX = "BIDE-"
TOKEN_PREFIX = "bide_"
MAX_ASSERTION_SECONDS = 300
CLOCK_LEEWAY_SECONDS = 60
MAX_JWS_CHARS = 4096
MAX_MUNICIPALITIES = 100


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _normalise_code(code: str) -> str:
    # typed on a handheld: case, spaces and hyphens do not matter
    return "".join(ch for ch in code.upper() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """A new device with its enrolment code (shown once)."""

    device: EnforcementDevice
    code: str


@dataclass(frozen=True, slots=True)
class DeviceGrant:
    """An authenticated device: its id and the AGS of every municipality it may see."""

    device_id: uuid.UUID
    municipalities: frozenset[str]


# --------------------------------------------------------------------------- operator


def _tenants(session: Session, municipalities: Iterable[str]) -> list[Tenant]:
    wanted = sorted(set(municipalities))
    if not 0 < len(wanted) <= MAX_MUNICIPALITIES:
        raise InvalidRequest(ErrorCode.INVALID_REQUEST, "one to 100 municipalities")
    rows = list(session.scalars(select(Tenant).where(Tenant.ags.in_(wanted))))
    if len(rows) != len(wanted):
        raise InvalidRequest(ErrorCode.INVALID_REQUEST, "unknown municipality")
    return rows


def create_client(
    session: Session, *, name: str, municipalities: Iterable[str], actor: str, now: datetime
) -> EnforcementClient:
    """An enforcement client covering the given municipalities (AGS)."""
    tenants = _tenants(session, municipalities)
    client = EnforcementClient(name=name, created_at=now)
    client.coverage = [EnforcementCoverage(tenant_id=t.id) for t in tenants]
    session.add(client)
    session.flush()
    for tenant in tenants:
        audit.record(
            session,
            tenant_id=tenant.id,
            actor=actor,
            action="enforcement_client_created",
            object_type="enforcement_client",
            object_id=str(client.id),
            now=now,
        )
    return client


def client_municipalities(session: Session, client: EnforcementClient) -> list[str]:
    """The AGS of every municipality a client covers, sorted."""
    ids = [c.tenant_id for c in client.coverage]
    return sorted(session.scalars(select(Tenant.ags).where(Tenant.id.in_(ids))))


def list_clients(session: Session) -> list[EnforcementClient]:
    """Every enforcement client, oldest first."""
    return list(session.scalars(select(EnforcementClient).order_by(EnforcementClient.created_at)))


def get_client(session: Session, client_id: uuid.UUID) -> EnforcementClient:
    """One client, else NotFound."""
    client = session.get(EnforcementClient, client_id)
    if client is None:
        raise NotFound()
    return client


def list_devices(session: Session, client_id: uuid.UUID) -> list[EnforcementDevice]:
    """A client's handhelds, oldest first."""
    get_client(session, client_id)
    return list(
        session.scalars(
            select(EnforcementDevice)
            .where(EnforcementDevice.client_id == client_id)
            .order_by(EnforcementDevice.created_at)
        )
    )


def _audit_client(
    session: Session,
    client: EnforcementClient,
    action: str,
    object_id: str,
    actor: str,
    now: datetime,
) -> None:
    for coverage in client.coverage:
        audit.record(
            session,
            tenant_id=coverage.tenant_id,
            actor=actor,
            action=action,
            object_type="enforcement_device",
            object_id=object_id,
            now=now,
        )


def issue_code(
    session: Session,
    *,
    client_id: uuid.UUID,
    label: str,
    ttl_seconds: int,
    actor: str,
    now: datetime,
) -> IssuedCode:
    """A new handheld slot with a one-time enrolment code (shown once, SHA-256 stored)."""
    client = get_client(session, client_id)
    if client.revoked_at is not None:
        raise NotFound()
    raw = base64.b32encode(secrets.token_bytes(15)).decode("ascii")[:20]
    code = CODE_PREFIX + "-".join(raw[i : i + 5] for i in range(0, 20, 5))
    device = EnforcementDevice(
        client_id=client.id,
        label=label,
        code_digest=_digest(_normalise_code(code)),
        code_expires_at=now + timedelta(seconds=ttl_seconds),
        created_at=now,
    )
    session.add(device)
    session.flush()
    _audit_client(session, client, "enforcement_code_issued", str(device.id), actor, now)
    return IssuedCode(device=device, code=code)


def withdraw_device(
    session: Session, *, device_id: uuid.UUID, actor: str, now: datetime
) -> EnforcementDevice:
    """Withdraw a handheld: its tokens end now, its key is refused from now on."""
    device = session.get(EnforcementDevice, device_id)
    if device is None:
        raise NotFound()
    if device.withdrawn_at is None:
        device.withdrawn_at = now
        device.code_digest = None
        session.execute(delete(EnforcementToken).where(EnforcementToken.device_id == device.id))
        client = get_client(session, device.client_id)
        _audit_client(session, client, "enforcement_device_withdrawn", str(device.id), actor, now)
    session.flush()
    return device


def revoke_client(
    session: Session, *, client_id: uuid.UUID, actor: str, now: datetime
) -> EnforcementClient:
    """Revoke a client and withdraw every handheld it has."""
    client = get_client(session, client_id)
    if client.revoked_at is None:
        client.revoked_at = now
        for device in list_devices(session, client.id):
            withdraw_device(session, device_id=device.id, actor=actor, now=now)
    session.flush()
    return client


# --------------------------------------------------------------------------- the handheld


def _jws_parts(token: object) -> tuple[dict[str, Any], dict[str, Any], Any]:
    """The header, the claims and the key of a compact ES256 JWS whose header carries a JWK;
    the signature verified with that key. ``ValueError`` for anything else."""

    if not isinstance(token, str) or len(token) > MAX_JWS_CHARS:
        raise ValueError("not a compact JWS")
    try:
        header = peek_jws_header(token)
        key = key_from_jwk(header.get("jwk"))
        _, payload = decode_jws(token, key, algorithms=("ES256",))
        claims = json.loads(payload.decode("utf-8"))
    except (VerifierError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("JWS does not verify") from exc
    if not isinstance(claims, dict):
        raise ValueError("claims are not an object")
    return header, claims, key


def _int_claim(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if type(value) is not int:
        raise ValueError(f"{name} is not an integer")
    return value


def enrol(
    session: Session, *, request: object, audience: str, now: datetime
) -> tuple[EnforcementDevice, list[str]]:
    """Redeem an enrolment code with a key-bound request; the device and its municipalities."""

    refused = InvalidRequest(ErrorCode.INVALID_ENROLMENT)
    try:
        header, claims, key = _jws_parts(request)
        if header.get("typ") != ENROL_TYP or claims.get("aud") != audience:
            raise ValueError("wrong typ or audience")
        iat = _int_claim(claims, "iat")
        code = claims.get("code")
        if not isinstance(code, str) or len(code) > 64:
            raise ValueError("no code")
    except ValueError:
        raise refused from None
    at = int(now.timestamp())
    if abs(at - iat) > MAX_ASSERTION_SECONDS:
        raise refused
    device = session.scalar(
        select(EnforcementDevice)
        .where(EnforcementDevice.code_digest == _digest(_normalise_code(code)))
        .with_for_update()
    )
    if (
        device is None
        or device.enrolled_at is not None
        or device.withdrawn_at is not None
        or device.code_expires_at <= now
    ):
        raise refused
    client = get_client(session, device.client_id)
    if client.revoked_at is not None:
        raise refused

    device.public_jwk = json.dumps(key_to_jwk(key), sort_keys=True)
    device.key_thumbprint = jws_kid(key)
    device.enrolled_at = now
    device.code_digest = None  # one time only
    label = claims.get("label")
    if isinstance(label, str) and 0 < len(label) <= 200 and label.isprintable():
        device.label = label
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise refused from None  # a key already bound to another device
    _audit_client(session, client, "enforcement_device_enrolled", str(device.id), "device", now)
    return device, client_municipalities(session, client)


def _parse_device_id(value: object) -> uuid.UUID:
    if not isinstance(value, str) or len(value) > 64:
        raise ValueError("no client id")
    return uuid.UUID(value)


def issue_token(
    session: Session,
    *,
    form: dict[str, str],
    audience: str,
    token_seconds: int,
    now: datetime,
) -> tuple[str, int, list[str]]:
    """RFC 7523 client authentication → (access token, lifetime, municipalities)."""

    refused = Unauthenticated(ErrorCode.INVALID_CLIENT)
    at = int(now.timestamp())
    try:
        if form.get("grant_type") != "client_credentials":
            raise ValueError("grant_type")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise ValueError("client_assertion_type")
        assertion = form.get("client_assertion", "")
        if len(assertion) > MAX_JWS_CHARS:
            raise ValueError("assertion too long")
        header = peek_jws_header(assertion)
        if header.get("alg") != "ES256":
            raise ValueError("alg")
        device_id = _parse_device_id(form.get("client_id"))
    except (ValueError, VerifierError):
        raise refused from None
    device = session.get(EnforcementDevice, device_id)
    if device is None or device.public_jwk is None or device.withdrawn_at is not None:
        raise refused
    client = session.get(EnforcementClient, device.client_id)
    if client is None or client.revoked_at is not None:
        raise refused
    try:
        key = key_from_jwk(json.loads(device.public_jwk))
        _, payload = decode_jws(assertion, key, algorithms=("ES256",))
        claims = json.loads(payload.decode("utf-8"))
        if not isinstance(claims, dict):
            raise ValueError("claims")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        iat, exp = _int_claim(claims, "iat"), _int_claim(claims, "exp")
        jti = claims.get("jti")
        if (
            claims.get("iss") != str(device.id)
            or claims.get("sub") != str(device.id)
            or audience not in audiences
            or not isinstance(jti, str)
            or not 8 <= len(jti) <= 128
            or not iat - CLOCK_LEEWAY_SECONDS <= at < exp
            or exp - iat > MAX_ASSERTION_SECONDS
        ):
            raise ValueError("claims")
    except (ValueError, VerifierError, UnicodeDecodeError):
        raise refused from None
    # RFC 7523 §3 item 7: a jti is used once; remembered until the assertion expires
    session.execute(
        delete(EnforcementAssertion).where(
            EnforcementAssertion.device_id == device.id, EnforcementAssertion.expires_at <= now
        )
    )
    try:
        with session.begin_nested():
            session.add(
                EnforcementAssertion(
                    device_id=device.id,
                    jti_digest=_digest(jti),
                    expires_at=datetime.fromtimestamp(exp, now.tzinfo),
                )
            )
            session.flush()
    except IntegrityError:
        raise refused from None
    session.execute(
        delete(EnforcementToken).where(
            EnforcementToken.device_id == device.id, EnforcementToken.expires_at <= now
        )
    )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        EnforcementToken(
            digest=_digest(token),
            device_id=device.id,
            expires_at=now + timedelta(seconds=token_seconds),
        )
    )
    device.last_seen_at = now
    session.flush()
    return token, token_seconds, client_municipalities(session, client)


def is_device_token(token: str) -> bool:
    """True for a device access token (as opposed to an API client's ``bid_`` key)."""
    return token.startswith(TOKEN_PREFIX)


def authenticate_token(session: Session, token: str, *, now: datetime) -> DeviceGrant:
    """The device of a live access token and what it may see, else ``invalid_client`` 401."""
    refused = Unauthenticated(ErrorCode.INVALID_CLIENT)
    if not is_device_token(token) or len(token) > 100:
        raise refused
    row = session.execute(
        select(EnforcementToken, EnforcementDevice, EnforcementClient)
        .join(EnforcementDevice, EnforcementDevice.id == EnforcementToken.device_id)
        .join(EnforcementClient, EnforcementClient.id == EnforcementDevice.client_id)
        .where(EnforcementToken.digest == _digest(token))
    ).first()
    if row is None:
        raise refused
    stored, device, client = row
    if stored.expires_at <= now or device.withdrawn_at is not None or client.revoked_at is not None:
        raise refused
    return DeviceGrant(device.id, frozenset(client_municipalities(session, client)))
