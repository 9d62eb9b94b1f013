"""Signers for the issuer: a tenant's key ring (permits, status lists, plate index, credentials)
and the operator's root ring (trust bundles), opened once per process and reused.

Key rings cache their decrypted signers (an argon2id derivation per key file), so the rings
are kept in a small process cache keyed by directory and passphrase; a key added by another
process is still seen because a ring re-reads its metadata on every call (keys/ring.py).
"""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from issuer.services.eligibility import PermitCode, PermitError
from keys.errors import KeysError
from keys.ring import KeyRing
from keys.signer import Signer
from verifier.formats import JOSE_NAMES as JWS_ALG

if TYPE_CHECKING:
    from issuer.db.models import Tenant
    from issuer.settings import Settings

_RINGS: dict[tuple[str, str], KeyRing] = {}
_LOCK = threading.Lock()
_GENERATION = [0]  # bumped by every in-process ring change (publication caches compare it)


def ring_generation() -> int:
    """A counter bumped whenever this process changed a key ring (rotate, ensure_ring)."""
    with _LOCK:
        return _GENERATION[0]


def _bump_generation() -> None:
    with _LOCK:
        _GENERATION[0] += 1


def open_ring(settings: Settings, relative: str) -> KeyRing:
    """The key ring at keys_dir/<relative>, opened once per process."""
    from issuer.settings import resolve_key_passphrase

    path = Path(settings.keys_dir) / relative
    passphrase = resolve_key_passphrase(settings)
    key = (str(path.resolve()), passphrase)
    with _LOCK:
        ring = _RINGS.get(key)
    if ring is not None:
        return ring
    try:
        ring = KeyRing.open(path, passphrase=passphrase)
    except KeysError as exc:
        raise PermitError(PermitCode.NO_SIGNING_KEY, str(exc.code)) from exc
    with _LOCK:
        return _RINGS.setdefault(key, ring)


def tenant_ring(settings: Settings, tenant: Tenant) -> KeyRing:
    """The tenant's key ring."""
    return open_ring(settings, tenant.key_ring)


def root_ring(settings: Settings) -> KeyRing:
    """The operator's root ring (signs trust bundles)."""
    return open_ring(settings, getattr(settings, "root_key_ring", "root"))


def tenant_signer(
    settings: Settings, tenant: Tenant, now: datetime, permit_type: str | None = None
) -> Signer:
    """The tenant's active signer for a permit type, or for `credential` when type is None.

    Any purpose of keys.lifecycle.KeyType is accepted too ("status", "plate-index").
    503 no_signing_key when the ring has no active key for it.
    """
    purpose = permit_type or "credential"
    try:
        return tenant_ring(settings, tenant).signer_for(int(now.timestamp()), purpose)
    except (KeysError, ValueError) as exc:
        raise PermitError(PermitCode.NO_SIGNING_KEY, purpose) from exc


def signing_key_exp(
    settings: Settings, tenant: Tenant, now: datetime, permit_type: str | None = None
) -> int:
    """Until when (unix seconds, exclusive) the key that signs `permit_type` at `now` verifies:
    no token it signs may expire later. 503 no_signing_key as `tenant_signer`."""
    purpose = permit_type or "credential"
    try:
        return tenant_ring(settings, tenant).active(int(now.timestamp()), purpose).window.exp
    except (KeysError, ValueError) as exc:
        raise PermitError(PermitCode.NO_SIGNING_KEY, purpose) from exc


def sign_cose(signer: Signer, payload: bytes, content_type: str | None = None) -> bytes:
    """A COSE_Sign1 of `payload` by `signer` (alg and kid from the signer)."""
    from verifier.formats import encode_sign1

    return encode_sign1(
        payload, alg=signer.alg, kid=signer.cose_kid, sign=signer.sign, content_type=content_type
    )


def sign_status_list(
    settings: Settings, tenant: Tenant, *, uri: str, bits: bytes, now: datetime
) -> tuple[bytes, str]:
    """The CWT and the JWT Status List Token over the raw 2-bit list (DESIGN §3.3)."""
    from verifier.formats import (
        StatusList,
        StatusListToken,
        encode_status_list_cwt,
        encode_status_list_jwt,
    )

    signer = tenant_signer(settings, tenant, now, "status")
    iat = int(now.timestamp())
    token = StatusListToken(
        sub=uri,
        iat=iat,
        exp=iat + int(getattr(settings, "status_list_exp_seconds", 7 * 24 * 3600)),
        ttl=int(getattr(settings, "status_list_ttl_seconds", 3600)),
        status_list=StatusList(2, bits),
        iss=tenant.issuer_url,
    )
    from issuer.services.certificates import x5c_for

    cwt = encode_status_list_cwt(token, alg=signer.alg, kid=signer.cose_kid, sign=signer.sign)
    # HAIP 1.0: the status list token's signing key comes with its certificate in x5c
    jwt = encode_status_list_jwt(
        token,
        kid=signer.jws_kid,
        sign=signer.sign,
        alg=JWS_ALG[signer.alg],
        x5c=x5c_for(settings, tenant, signer, now),
    )
    return cwt, jwt


def public_jwks(settings: Settings, tenants: list[Any], now: datetime) -> dict[str, Any]:
    """Every tenant's published public keys as a JWKS (kid = JWS kid, DESIGN §3.1)."""
    from verifier.formats import key_to_jwk

    keys: list[dict[str, Any]] = []
    at = int(now.timestamp())
    for tenant in tenants:
        try:
            ring = tenant_ring(settings, tenant)
            published = ring.published(at)
        except (PermitError, KeysError):
            continue
        for info in published:
            jwk = dict(key_to_jwk(info.public_key))
            jwk["kid"] = info.kid
            jwk["alg"] = JWS_ALG.get(info.alg, "ES256")
            jwk["use"] = "sig"
            jwk["iss"] = tenant.issuer_url
            keys.append(jwk)
    return {"keys": keys}


def ensure_ring(
    settings: Settings,
    relative: str,
    issuer_id: str,
    *,
    root: bool,
    now: datetime,
    kdf: Any = None,
) -> KeyRing:
    """Development and tests: open the ring at keys_dir/<relative>, creating it with one active
    key (valid from a day ago for two years) when it is missing or has no active key.

    `kdf` (keys.storage.file.KdfParams) lets tests use cheap argon2 parameters."""
    from issuer.settings import resolve_key_passphrase
    from keys.ring import RingKind
    from keys.storage.file import DEFAULT_KDF

    path = Path(settings.keys_dir) / relative
    passphrase = resolve_key_passphrase(settings)
    chosen = kdf or DEFAULT_KDF
    try:
        ring = KeyRing.open(path, passphrase=passphrase, kdf=chosen)
    except KeysError:
        ring = KeyRing.create(
            path,
            issuer_id,
            kind=RingKind.ROOT if root else RingKind.ISSUER,
            passphrase=passphrase,
            kdf=chosen,
        )
    at = int(now.timestamp())
    purpose = "bundle" if root else "BEW"
    try:
        ring.active(at, purpose)
    except KeysError:
        ring.add_key(nbf=at - 86400, sign_until=at + 365 * 86400, exp=at + 2 * 365 * 86400)
    with _LOCK:
        _RINGS[(str(path.resolve()), passphrase)] = ring
        _GENERATION[0] += 1
    return ring


def rotate(settings: Settings, relative: str, *, now: datetime, force: bool = False) -> str | None:
    """Run the key ring's rotation planner: a new pending key published at least one bundle
    freshness period before it signs; the old key verifies as long as tokens live (2 years)."""
    from keys.lifecycle import RotationPolicy

    ring = open_ring(settings, relative)
    policy = RotationPolicy(
        fresh_seconds=int(getattr(settings, "trust_bundle_fresh_seconds", 24 * 3600)),
        max_token_seconds=2 * 366 * 24 * 3600,
        sign_seconds=365 * 24 * 3600,
    )
    try:
        info = ring.rotate(int(now.timestamp()), policy, force=force)
    finally:
        _bump_generation()
    return None if info is None else info.kid
