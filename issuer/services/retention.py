"""Retention: erase or pseudonymise personal data after the tenant's retention period
(`Tenant.retention_days`, DOMAIN §5), and record what was done in the audit log.

- Permits that ended (expired, revoked, replaced) more than the period ago are pseudonymised:
  the link to the resident and vehicle, the holder label, the proof reference, the plates and
  the stored QR texts are erased, and so is every link that could lead back to a person: the
  predecessor/successor chain to the resident's other permits, and every optional reference
  another table holds to the permit (a wallet offer's or credential record's `permit_id`).
  Number, type, zones, validity, state and the fee records stay (fee records are kept for
  accounting).
- Residents who left (every residence ended more than the period ago) and hold no permit that
  is still within its period are deleted with their residences. The vehicles they hold are
  deleted where no live permit names them, and otherwise lose their holder, whether or not
  the resident row can go. Their wallet offers, grants, devices and issued-credential records
  go with them (ON DELETE CASCADE, migration 0006). Should another table still refer to a
  resident, they are pseudonymised instead (names, birth date, address, register reference
  erased) and nothing else stays linked to the pseudonym.
- Stored Idempotency-Key answers of the tenant are deleted whenever a run erased anything:
  they are sealed copies of earlier answers (a resident, a permit with its plates), kept only
  for retries.

One audit entry per tenant and run lists the counts and the ids (ids only, no personal data).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Uuid, column, delete, inspect, select, table, update
from sqlalchemy.exc import IntegrityError

from issuer.db.models import IdempotencyRecord, Resident, Tenant, Vehicle
from issuer.db.permit_models import Permit, PermitPlate, PermitToken
from issuer.services import audit
from issuer.services.permits.vocabulary import END_STATES, LIVE_STATES

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

ERASED = "-"


@dataclass(slots=True)
class RetentionReport:
    """What one run did for one tenant."""

    tenant_id: int
    permits_pseudonymised: list[uuid.UUID] = field(default_factory=list)
    residents_deleted: list[uuid.UUID] = field(default_factory=list)
    residents_pseudonymised: list[uuid.UUID] = field(default_factory=list)
    vehicles_deleted: list[uuid.UUID] = field(default_factory=list)
    vehicles_unlinked: list[uuid.UUID] = field(default_factory=list)
    idempotency_answers_deleted: int = 0

    def counts(self) -> dict[str, int]:
        """Counts per kind."""
        return {
            "permits_pseudonymised": len(self.permits_pseudonymised),
            "residents_deleted": len(self.residents_deleted),
            "residents_pseudonymised": len(self.residents_pseudonymised),
            "vehicles_deleted": len(self.vehicles_deleted),
            "vehicles_unlinked": len(self.vehicles_unlinked),
            "idempotency_answers_deleted": self.idempotency_answers_deleted,
        }


def run(
    session: Session, *, now: datetime, tenant_id: int | None = None, actor: str = "retention"
) -> list[RetentionReport]:
    """Apply retention to one tenant or all; each tenant's work is audited in this transaction."""
    from issuer.services.permits import expire_due

    stmt = select(Tenant).order_by(Tenant.id)
    if tenant_id is not None:
        stmt = stmt.where(Tenant.id == tenant_id)
    reports = []
    for tenant in session.scalars(stmt).all():
        expire_due(session, tenant_id=tenant.id, now=now)
        cutoff = now - timedelta(days=tenant.retention_days)
        report = RetentionReport(tenant_id=tenant.id)
        _pseudonymise_permits(session, tenant.id, cutoff, now, report)
        _departed_residents(session, tenant.id, cutoff, now, report)
        erased = (
            report.permits_pseudonymised,
            report.residents_deleted,
            report.residents_pseudonymised,
        )
        if any(erased):
            report.idempotency_answers_deleted = _delete_stored_answers(session, tenant.id)
        counts = report.counts()
        if any(counts.values()):
            ids = [
                *(f"p:{i}" for i in report.permits_pseudonymised),
                *(f"r:{i}" for i in report.residents_deleted + report.residents_pseudonymised),
                *(f"v:{i}" for i in report.vehicles_deleted + report.vehicles_unlinked),
            ]
            audit.record(
                session,
                tenant_id=tenant.id,
                actor=actor,
                action="retention.run",
                object_type="tenant",
                object_id=str(tenant.id),
                reason=" ".join(f"{k}={v}" for k, v in counts.items()) + "; " + " ".join(ids),
                now=now,
            )
        reports.append(report)
    return reports


def _pseudonymise_permits(
    session: Session, tenant_id: int, cutoff: datetime, now: datetime, report: RetentionReport
) -> None:
    rows = session.scalars(
        select(Permit).where(
            Permit.tenant_id == tenant_id,
            Permit.state.in_(END_STATES),
            Permit.pseudonymised_at.is_(None),
            # ended_at when known, else the end of validity
            ((Permit.ended_at.is_not(None)) & (Permit.ended_at < cutoff))
            | ((Permit.ended_at.is_(None)) & (Permit.valid_until < cutoff)),
        )
    ).all()
    for permit in rows:
        permit.resident_id = None
        permit.holder_label = None
        permit.proof_ref = None
        permit.pseudonymised_at = now
        permit.updated_at = now
        for plate in permit.plates:
            plate.plate = ERASED
            plate.vehicle_id = None
            plate.lock_key = None
        report.permits_pseudonymised.append(permit.id)
    if rows:
        session.flush()
        ids = [p.id for p in rows]
        session.execute(update(PermitToken).where(PermitToken.permit_id.in_(ids)).values(text=None))
        _unlink_permits(session, ids)


def _unlink_permits(session: Session, ids: list[uuid.UUID]) -> None:
    """Cut every link between pseudonymised permits and anything that names a person."""
    # the chain of renewals and replacements leads to the resident's newer permits
    for col in (Permit.predecessor_id, Permit.successor_id):
        session.execute(update(Permit).where(Permit.id.in_(ids)).values({col.key: None}))
        session.execute(update(Permit).where(col.in_(ids)).values({col.key: None}))
    # optional references from other tables (a wallet offer or credential record names its
    # permit next to its resident): found in the live schema, so none can be forgotten
    schema = inspect(session.connection())
    for name in schema.get_table_names():
        nullable = {c["name"] for c in schema.get_columns(name) if c["nullable"]}
        for fk in schema.get_foreign_keys(name):
            cols = fk["constrained_columns"]
            if fk["referred_table"] == "permits" and len(cols) == 1 and cols[0] in nullable:
                ref = column(cols[0], Uuid())  # as permits.id: hex text on SQLite
                session.execute(update(table(name, ref)).where(ref.in_(ids)).values({ref: None}))


def _delete_stored_answers(session: Session, tenant_id: int) -> int:
    """The tenant's stored Idempotency-Key answers (sealed copies of earlier answers)."""
    result = session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.tenant_id == tenant_id, IdempotencyRecord.status_code.is_not(None)
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _departed_residents(
    session: Session, tenant_id: int, cutoff: datetime, now: datetime, report: RetentionReport
) -> None:
    cutoff_day: date = cutoff.date()
    residents = session.scalars(
        select(Resident).where(Resident.tenant_id == tenant_id, Resident.given_name != ERASED)
    ).all()
    for resident in residents:
        residences = resident.residences
        if not residences or any(
            r.valid_until is None or r.valid_until >= cutoff_day for r in residences
        ):
            continue
        held = session.scalar(
            select(Permit.id)
            .where(Permit.resident_id == resident.id, Permit.pseudonymised_at.is_(None))
            .limit(1)
        )
        if held is not None:
            continue  # a permit of theirs is still within its period
        _release_vehicles(session, resident.id, report)
        try:
            with session.begin_nested():
                session.delete(resident)  # wallet rows cascade (migration 0006)
                session.flush()
            report.residents_deleted.append(resident.id)
        except IntegrityError:
            # another table still refers to the resident: keep a pseudonym, linked to nothing
            session.refresh(resident)
            resident.given_name = ERASED
            resident.family_name = ERASED
            resident.birth_date = None
            resident.external_ref = f"erased:{resident.id}"
            resident.updated_at = now
            for residence in resident.residences:
                residence.street = ERASED
                residence.house_number = "0"
                residence.postcode = "00000"
            session.flush()
            report.residents_pseudonymised.append(resident.id)


def _release_vehicles(session: Session, resident_id: uuid.UUID, report: RetentionReport) -> None:
    """Delete a departed resident's vehicles that no live permit names; the rest lose their
    holder. Done before, and whatever becomes of, the resident row."""
    vehicles = session.scalars(select(Vehicle).where(Vehicle.holder_id == resident_id)).all()
    for vehicle in vehicles:
        in_use = session.scalar(
            select(PermitPlate.id)
            .join(Permit, Permit.id == PermitPlate.permit_id)
            .where(PermitPlate.vehicle_id == vehicle.id, Permit.state.in_(LIVE_STATES))
            .limit(1)
        )
        if in_use is None:
            session.execute(
                update(PermitPlate)
                .where(PermitPlate.vehicle_id == vehicle.id)
                .values(vehicle_id=None)
            )
            session.delete(vehicle)
            report.vehicles_deleted.append(vehicle.id)
        else:  # another resident's live permit names it (family use): keep it, unlinked
            vehicle.holder_id = None
            report.vehicles_unlinked.append(vehicle.id)
    session.flush()
