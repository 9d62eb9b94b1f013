"""Development bootstrap (`buergerid-issuer dev`, `python -m wallet_api`): migrate the database,
create the key passphrase and key rings, seed a demo tenant once. Safe to run on every start.

The demo API key is written to data_dir/dev-api-key (0600) on first start so later starts can
print it again; this file and the dev passphrase exist only outside production.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from issuer.db.models import Tenant
from issuer.db.session import make_engine, make_session_factory
from issuer.migrations import upgrade
from issuer.schemas.registry import (
    Parity,
    ResidenceIn,
    ResidenceKind,
    ResidentCreate,
    SegmentIn,
    VehicleCreate,
    VehicleKind,
    ZoneCreate,
)
from issuer.services import clients, registry, tenants
from issuer.services.clock import SystemClock
from issuer.settings import Settings, resolve_key_passphrase
from keys.storage import make_private_dir

log = logging.getLogger(__name__)

DEMO_AGS = "05513000"
DEMO_NAME = "Stadt Gelsenkirchen (Demo)"
DEMO_ISSUER_URL = "https://buergerid.gelsenkirchen.example"
DEV_API_KEY_FILE = "dev-api-key"
ACTOR = "devserver"


@dataclass(frozen=True, slots=True)
class DevInfo:
    """What the bootstrap made or found."""

    base_url: str
    tenant_ags: str
    api_key: str
    seeded: bool  # True on the first start


def _write_private(path: os.PathLike[str], text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")


def _seed(settings: Settings) -> tuple[int, bool]:
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    factory = make_session_factory(engine)
    now = SystemClock().now()
    try:
        with factory() as session, session.begin():
            existing = session.scalars(select(Tenant).where(Tenant.ags == DEMO_AGS)).first()
            tenants.provision_key_ring_for(
                settings, DEMO_AGS, now=now, name=DEMO_NAME, url=DEMO_ISSUER_URL
            )
            tenants.provision_root_ring(settings, now=now)
            if existing is not None or session.scalars(select(Tenant.id)).first() is not None:
                return (existing.id if existing else 0), False
            tenant = tenants.create_tenant(
                session,
                ags=DEMO_AGS,
                name=DEMO_NAME,
                issuer_url=DEMO_ISSUER_URL,
                retention_days=365,
                actor=ACTOR,
                now=now,
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
    upgrade(settings.database_url)
    tenant_id, seeded = _seed(settings)
    if tenant_id == 0:  # a database with other tenants and no demo tenant: no demo key
        return DevInfo(settings.public_base_url, DEMO_AGS, "", seeded)
    return DevInfo(settings.public_base_url, DEMO_AGS, _demo_key(settings, tenant_id), seeded)
