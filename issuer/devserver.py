"""Development bootstrap (`buergerid-issuer dev`, `python -m wallet_api`): migrate the database,
create the key passphrase, key rings and the issuing CA, seed a demo tenant once. Safe to run
on every start.

The demo tenant's issuer URL is `<public base URL>/issuers/<AGS>`, a URL this very server
answers (JWT VC issuer metadata, type metadata at its `vct` URLs), so every discovery step
works on a fresh machine; a demo tenant seeded for another address is moved to the current
one. With `dev_tls` a local CA and a server certificate for 127.0.0.1 and localhost are made
under data_dir/dev-tls (trust dev-tls/ca.pem) and the server speaks https.

The demo API key is written to data_dir/dev-api-key (0600) on first start so later starts can
print it again; this file and the dev passphrase exist only outside production.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from issuer.db.models import Tenant
from issuer.db.session import make_engine, make_session_factory
from issuer.migrations import upgrade
from issuer.schemas.registry import (
    ResidenceIn,
    ResidentCreate,
    SegmentIn,
    VehicleCreate,
    ZoneCreate,
)
from issuer.services import clients, fees, registry, tenants
from issuer.services.clock import SystemClock
from issuer.services.permits import set_rules
from issuer.services.signing import key_directory_in, ring_store_for
from issuer.settings import Settings, resolve_key_passphrase
from issuer.vocabulary import Parity, ResidenceKind, VehicleKind
from keys.errors import KeysCode, KeysError
from keys.issuing_ca import IssuingCa
from keys.ring import KeyRing
from keys.signer import generate_signer
from keys.storage import make_private_dir
from keys.storage.file import KdfParams
from keys.x509 import ca_certificate, issuer_certificate, tls_server_certificate, to_pem
from verifier import PermitType

log = logging.getLogger(__name__)

DEMO_AGS = "05513000"
DEMO_NAME = "Stadt Gelsenkirchen (Demo)"
# what a city that sells its resident permits online runs: a yearly fee, paid before the
# permit is valid (docs/citizen-portal.md, "The demo city")
DEMO_FEE_CENTS = 3000
DEV_API_KEY_FILE = "dev-api-key"
DEV_TLS_DIR = "dev-tls"
DEV_TLS_DAYS = 397
DEV_CA_DAYS = 3650
ACTOR = "devserver"
# the development PID provider (a stand-in for a member state's, to try the Bürger-ID
# without a letter): trusted only by a development server (settings.rp_dev_pid_provider)
DEV_PID_PROVIDER_DIR = "dev-pid-provider"
DEV_PID_PROVIDER_URL = "https://pid-provider.dev.buergerid.invalid"


@dataclass(frozen=True, slots=True)
class DevTls:
    """The development TLS files: trust `ca`, serve `cert` with `key`."""

    ca: Path
    cert: Path
    key: Path


@dataclass(frozen=True, slots=True)
class DevInfo:
    """What the bootstrap made or found."""

    base_url: str
    tenant_ags: str
    api_key: str
    seeded: bool  # True on the first start
    tls: DevTls | None = None
    issuer_url: str = ""


def demo_issuer_url(settings: Settings) -> str:
    """The demo tenant's issuer URL: a path under the URL this server answers."""
    return f"{settings.public_base_url.rstrip('/')}/issuers/{DEMO_AGS}"


def _write_private(path: os.PathLike[str], text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")


def _seed(settings: Settings) -> tuple[int, bool]:
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    factory = make_session_factory(engine)
    now = SystemClock().now()
    url = demo_issuer_url(settings)
    try:
        with factory() as session, session.begin():
            existing = session.scalars(select(Tenant).where(Tenant.ags == DEMO_AGS)).first()
            tenants.provision_key_ring_for(settings, DEMO_AGS, now=now, name=DEMO_NAME, url=url)
            tenants.provision_root_ring(settings, now=now)
            if existing is not None and existing.name == DEMO_NAME:
                _move_demo_tenant(settings, existing, url, now)
            if existing is not None or session.scalars(select(Tenant.id)).first() is not None:
                return (existing.id if existing else 0), False
            tenant = tenants.create_tenant(
                session,
                ags=DEMO_AGS,
                name=DEMO_NAME,
                issuer_url=url,
                retention_days=365,
                actor=ACTOR,
                now=now,
                allow_loopback_http=True,
            )
            zone = ZoneCreate(
                code="A3",
                name="Altstadt Nord",
                segments=[
                    SegmentIn(
                        street="Bahnhofstraße", number_from=1, number_to=99, parity=Parity.ODD
                    ),
                    SegmentIn(
                        street="Bahnhofstraße", number_from=2, number_to=40, parity=Parity.EVEN
                    ),
                    SegmentIn(street="Ringstraße", number_from=1, number_to=60, parity=Parity.ALL),
                ],
            )
            registry.create_zone(session, tenant_id=tenant.id, data=zone, actor=ACTOR, now=now)
            _demo_fees(session, tenant.id, now)
            demo = [
                ("DEMO-0001", "Erika", "Mustermann", "Bahnhofstraße", "13", "GE-EM 1234"),
                ("DEMO-0002", "Max", "Mustermann", "Ringstraße", "7", "GE-MM 77E"),
                ("DEMO-0003", "Aylin", "Beispiel", "Bahnhofstraße", "24", "GE-AB 2024"),
            ]
            for ref, given, family, street, number, plate in demo:
                resident = registry.create_resident(
                    session,
                    tenant_id=tenant.id,
                    data=ResidentCreate(
                        external_ref=ref,
                        given_name=given,
                        family_name=family,
                        birth_date=date(1980, 2, 29),
                        residences=[
                            ResidenceIn(
                                kind=ResidenceKind.MAIN,
                                street=street,
                                house_number=number,
                                postcode="45879",
                                valid_from=date(2020, 4, 1),
                            )
                        ],
                    ),
                    actor=ACTOR,
                    now=now,
                )
                registry.create_vehicle(
                    session,
                    tenant_id=tenant.id,
                    data=VehicleCreate(
                        external_ref="V-" + ref,
                        plate=plate,
                        kind=VehicleKind.OWN,
                        holder_id=resident.id,
                        length_mm=4300,
                        width_mm=1800,
                    ),
                    actor=ACTOR,
                    now=now,
                )
            return tenant.id, True
    finally:
        engine.dispose()


def _demo_fees(session: Session, tenant_id: int, now: datetime) -> None:
    """The demo city's resident permit: 30 € a year, paid (online, the development payment
    provider) before the permit is valid."""
    set_rules(
        session,
        tenant_id=tenant_id,
        permit_type=PermitType.BEW,
        rules={"awaiting_payment": True},
        actor=ACTOR,
        now=now,
    )
    fees.create_schedule(
        session,
        tenant_id=tenant_id,
        permit_type=PermitType.BEW,
        kind="flat",
        params={"amount_cents": DEMO_FEE_CENTS},
        effective_from=now,
        effective_until=None,
        actor=ACTOR,
        now=now,
    )


def _move_demo_tenant(settings: Settings, tenant: Tenant, url: str, now: datetime) -> None:
    """A demo tenant seeded for another address (an older seed, another port) moves to the
    URL this server answers; credentials issued before keep their old `iss`."""
    if tenant.issuer_url == url:
        return
    tenant.issuer_url = url
    with ring_store_for(settings) as store:
        KeyRing.open(store.ring(tenant.key_ring)).set_identity(name=tenant.name, url=url)
    log.warning("demo_issuer_url_moved", extra={"tenant": tenant.ags})


def _kdf(settings: Settings) -> KdfParams:
    return KdfParams(
        time_cost=settings.key_kdf_time_cost,
        memory_kib=settings.key_kdf_memory_kib,
        parallelism=settings.key_kdf_parallelism,
    )


def ensure_issuing_ca(settings: Settings, now: int) -> IssuingCa:
    """The development issuing CA (file key under the dev passphrase), made on first start
    in the configured key store. Of two servers starting at once the first makes it; the
    second opens that one."""
    passphrase = resolve_key_passphrase(settings)
    with ring_store_for(settings) as store:
        where = key_directory_in(store, settings.keys_dir, settings.issuing_ca_dir)
        try:
            return IssuingCa.open(where, passphrase=passphrase)
        except KeysError as exc:
            if exc.code is not KeysCode.CA_NOT_FOUND:
                raise
        log.warning("dev_issuing_ca_created")
        try:
            return IssuingCa.create(
                where,
                common_name="buergerid development issuing CA",
                organization="buergerid (development)",
                now=now - 60,
                valid_seconds=DEV_CA_DAYS * 86400,
                passphrase=passphrase,
                kdf=_kdf(settings),
            )
        except KeysError as lost:
            if lost.code is not KeysCode.CA_EXISTS:
                raise
            return IssuingCa.open(where, passphrase=passphrase)


def ensure_dev_tls(settings: Settings, now: int) -> DevTls:
    """A local CA and a server certificate for 127.0.0.1, localhost and the configured host,
    under data_dir/dev-tls; made again when missing or within a day of expiry."""
    directory = settings.data_dir / DEV_TLS_DIR
    tls = DevTls(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    if tls.cert.exists() and tls.key.exists() and tls.ca.exists():
        from cryptography import x509

        current = x509.load_pem_x509_certificate(tls.cert.read_bytes())
        if current.not_valid_after_utc.timestamp() > now + 86400:
            return tls
    make_private_dir(directory)
    ca_signer, server_signer = generate_signer(), generate_signer()
    ca = ca_certificate(
        ca_signer,
        common_name="buergerid development TLS CA",
        organization=None,
        not_before=now - 60,
        not_after=now + DEV_TLS_DAYS * 86400,
    )
    hosts = list(dict.fromkeys(["127.0.0.1", "localhost", settings.host]))
    cert = tls_server_certificate(
        ca_signer,
        ca,
        server_signer.public_key,
        hosts=hosts,
        not_before=now - 60,
        not_after=now + DEV_TLS_DAYS * 86400,
    )
    key_pem = server_signer.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(tls.key, key_pem.decode("ascii").strip())
    _write_private(tls.cert, to_pem([cert, ca]).decode("ascii").strip())
    _write_private(tls.ca, to_pem([ca]).decode("ascii").strip())
    log.warning("dev_tls_created", extra={"file": tls.ca.name})
    return tls


def ensure_dev_pid_provider(settings: Settings, now: int) -> Path:
    """The development PID provider under data_dir/dev-pid-provider (ca.pem, issuer.pem,
    issuer.key), made on first start; ``buergerid-wallet dev-pid`` signs PIDs with it."""
    if settings.environment == "production":
        raise ValueError("the development PID provider is for development only")
    directory = settings.data_dir / DEV_PID_PROVIDER_DIR
    if all((directory / name).exists() for name in ("ca.pem", "issuer.pem", "issuer.key")):
        return directory
    make_private_dir(directory)
    ca_signer, signer = generate_signer(), generate_signer()
    ca = ca_certificate(
        ca_signer,
        common_name="buergerid development PID provider CA",
        organization="buergerid (development)",
        not_before=now - 60,
        not_after=now + DEV_CA_DAYS * 86400,
    )
    leaf = issuer_certificate(
        ca_signer,
        ca,
        signer.public_key,
        common_name="buergerid development PID provider",
        issuer_url=DEV_PID_PROVIDER_URL,
        not_before=now - 60,
        not_after=now + DEV_CA_DAYS * 86400,
    )
    key_pem = signer.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write_private(directory / "issuer.key", key_pem.decode("ascii").strip())
    _write_private(directory / "issuer.pem", to_pem([leaf]).decode("ascii").strip())
    _write_private(directory / "ca.pem", to_pem([ca]).decode("ascii").strip())
    log.warning("dev_pid_provider_created")
    return directory


def _demo_key(settings: Settings, tenant_id: int) -> str:
    path = settings.data_dir / DEV_API_KEY_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    factory = make_session_factory(engine)
    hasher = clients.SecretHasher(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )
    try:
        with factory() as session, session.begin():
            issued = clients.create_client(
                session,
                hasher,
                tenant_id=tenant_id,
                name="demo (all scopes)",
                scopes=[s.value for s in clients.ALL_SCOPES],
                actor=ACTOR,
                now=SystemClock().now(),
            )
    finally:
        engine.dispose()
    _write_private(path, issued.token)
    log.warning("dev_api_key_written", extra={"file": path.name})
    return issued.token


def bootstrap_dev(settings: Settings) -> DevInfo:
    """Migrate, create keys and the demo tenant on first start; idempotent afterwards."""
    if settings.environment == "production":
        raise ValueError("bootstrap_dev is for development only")
    make_private_dir(settings.data_dir)  # 0700; every file in it is made 0600
    resolve_key_passphrase(settings)  # generated (0600, warned) on the first start
    now = int(SystemClock().now().timestamp())
    tls = ensure_dev_tls(settings, now) if settings.dev_tls else None
    upgrade(settings.database_url)
    ensure_issuing_ca(settings, now)
    ensure_dev_pid_provider(settings, now)
    tenant_id, seeded = _seed(settings)
    url = demo_issuer_url(settings)
    if tenant_id == 0:  # a database with other tenants and no demo tenant: no demo key
        return DevInfo(settings.public_base_url, DEMO_AGS, "", seeded, tls, url)
    key = _demo_key(settings, tenant_id)
    return DevInfo(settings.public_base_url, DEMO_AGS, key, seeded, tls, url)
