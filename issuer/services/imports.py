"""Bulk import of residents and vehicles from NDJSON or CSV: streamed, bounded, idempotent.

- Streamed: the input is read line by line (`readline(max_line_bytes + 1)`), never whole.
- Bounded: total bytes (`max_bytes`) and line length (`max_line_bytes`); a longer line is
  skipped and reported, the rest of the file still imports.
- Idempotent: rows are upserted on the Melderegister / vehicle-register reference; importing
  the same file twice changes nothing the second time (`unchanged`).
- Batches: each batch of `batch_rows` valid rows is one transaction with core
  `INSERT`/`UPDATE ... executemany`, one audit entry and a commit.
- The report names line numbers and codes only; no value from the file is ever echoed.

Row shapes (CSV: a header line with these column names; NDJSON: one flat object per line):
residents: external_ref, given_name, family_name, birth_date, register_block, residence_kind,
street, house_number, postcode, valid_from, valid_until (residence columns optional as a group);
vehicles: external_ref, plate, kind, proof_ref, holder_ref (resident external_ref),
vehicle_class, length_mm, width_mm, valid_until.
"""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import IO, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import Table, insert, select, update
from sqlalchemy.orm import Session

from issuer.db.models import Residence, Resident, Vehicle
from issuer.errors import ErrorCode, PayloadTooLarge, UnsupportedMediaType
from issuer.schemas.registry import ResidenceKind, VehicleClass, VehicleKind
from issuer.services import audit, registry_events
from verifier._errors import VerifierError
from verifier._plates import canonical_plate

MAX_REPORTED_ERRORS = 1000
DEFAULT_MAX_LINE_BYTES = 8 * 1024
DEFAULT_BATCH_ROWS = 2000


class ImportFormat(StrEnum):
    """Input formats."""

    NDJSON = "ndjson"
    CSV = "csv"


class LineErrorCode(StrEnum):
    """Why a line was not imported."""

    LINE_TOO_LONG = "line_too_long"
    INVALID_ENCODING = "invalid_encoding"
    INVALID_JSON = "invalid_json"
    NOT_AN_OBJECT = "not_an_object"
    INVALID_CSV = "invalid_csv"
    INVALID_FIELD = "invalid_field"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    INVALID_PLATE = "invalid_plate"
    UNKNOWN_HOLDER = "unknown_holder"


@dataclass(frozen=True, slots=True)
class LineError:
    """A refused line: number (1-based, header included), code, and the field name if any."""

    line: int
    code: LineErrorCode
    field: str | None = None


@dataclass(slots=True)
class ImportReport:
    """Counts and per-line errors of one import."""

    kind: str
    import_id: str
    lines: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[LineError] = field(default_factory=list)
    errors_truncated: bool = False

    def add_error(self, error: LineError) -> None:
        """Count a failed line; keep at most MAX_REPORTED_ERRORS of them."""
        self.failed += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)
        else:
            self.errors_truncated = True

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kind": self.kind,
            "import_id": self.import_id,
            "lines": self.lines,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "errors": [
                {"line": e.line, "code": e.code.value, **({"field": e.field} if e.field else {})}
                for e in self.errors
            ],
            "errors_truncated": self.errors_truncated,
        }


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ResidentRow(_Row):
    """One resident line."""

    external_ref: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    birth_date: date | None = None
    register_block: bool = False
    residence_kind: ResidenceKind | None = None
    street: str | None = Field(default=None, min_length=1, max_length=200)
    house_number: str | None = Field(default=None, pattern=r"^[0-9]{1,5}( ?[a-zA-Z])?$")
    postcode: str | None = Field(default=None, pattern=r"^[0-9]{5}$")
    valid_from: date | None = None
    valid_until: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ResidentRow:
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise ValueError("valid_until before valid_from")
        return self

    @property
    def has_residence(self) -> bool:
        """The residence columns are all there."""
        return None not in (
            self.residence_kind,
            self.street,
            self.house_number,
            self.postcode,
            self.valid_from,
        )


class VehicleRow(_Row):
    """One vehicle line."""

    external_ref: str = Field(min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
    plate: str = Field(min_length=1, max_length=32)
    kind: VehicleKind = VehicleKind.OWN
    proof_ref: str | None = Field(default=None, min_length=1, max_length=200)
    holder_ref: str | None = Field(default=None, min_length=1, max_length=64)
    vehicle_class: VehicleClass = VehicleClass.PKW
    length_mm: int | None = Field(default=None, ge=500, le=25000)
    width_mm: int | None = Field(default=None, ge=300, le=3000)
    valid_until: date | None = None


# core tables: executemany without the ORM's per-row bookkeeping
_RESIDENTS: Table = Resident.__table__  # type: ignore[assignment]
_RESIDENCES: Table = Residence.__table__  # type: ignore[assignment]
_VEHICLES: Table = Vehicle.__table__  # type: ignore[assignment]


# ---------------------------------------------------------------- reading


def _raw_lines(
    stream: IO[bytes], *, max_line_bytes: int, max_bytes: int | None
) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) with None for a line beyond max_line_bytes; bounded in total."""
    number = 0
    total = 0
    while True:
        raw = stream.readline(max_line_bytes + 1)
        if not raw:
            return
        total += len(raw)
        number += 1
        too_long = len(raw) > max_line_bytes and not raw.endswith(b"\n")
        while too_long:  # skip the rest of the line, still bounded per read
            more = stream.readline(max_line_bytes + 1)
            total += len(more)
            if not more or more.endswith(b"\n"):
                break
            if max_bytes is not None and total > max_bytes:
                raise PayloadTooLarge(ErrorCode.IMPORT_TOO_LARGE)
        if max_bytes is not None and total > max_bytes:
            raise PayloadTooLarge(ErrorCode.IMPORT_TOO_LARGE)
        yield number, (None if too_long else raw)


def _records(
    stream: IO[bytes],
    fmt: ImportFormat,
    report: ImportReport,
    *,
    max_line_bytes: int,
    max_bytes: int | None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, mapping) per data line; broken lines go to the report."""
    header: list[str] | None = None
    for number, raw in _raw_lines(stream, max_line_bytes=max_line_bytes, max_bytes=max_bytes):
        report.lines = number
        if raw is None:
            report.add_error(LineError(number, LineErrorCode.LINE_TOO_LONG))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            report.add_error(LineError(number, LineErrorCode.INVALID_ENCODING))
            continue
        if number == 1:
            text = text.removeprefix("\ufeff")
        text = text.rstrip("\r\n")
        if not text.strip():
            continue
        if fmt is ImportFormat.NDJSON:
            try:
                value = json.loads(text)
            except ValueError:
                report.add_error(LineError(number, LineErrorCode.INVALID_JSON))
                continue
            if not isinstance(value, dict):
                report.add_error(LineError(number, LineErrorCode.NOT_AN_OBJECT))
                continue
            yield number, value
            continue
        try:
            cells = next(csv.reader([text], strict=True))
        except (csv.Error, StopIteration):
            report.add_error(LineError(number, LineErrorCode.INVALID_CSV))
            continue
        if header is None:
            header = [c.strip() for c in cells]
            continue
        if len(cells) != len(header):
            report.add_error(LineError(number, LineErrorCode.INVALID_CSV))
            continue
        # an empty cell means "not given"
        yield number, {k: v for k, v in zip(header, cells, strict=True) if v != ""}


def _validate(
    model: type[_Row], number: int, record: dict[str, Any], report: ImportReport
) -> Any | None:
    try:
        return model.model_validate(record)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = str(first["loc"][0]) if first.get("loc") else None
        kind = first.get("type", "")
        code = (
            LineErrorCode.MISSING_FIELD
            if kind == "missing"
            else LineErrorCode.UNKNOWN_FIELD
            if kind == "extra_forbidden"
            else LineErrorCode.INVALID_FIELD
        )
        # the field name comes from our schema (unknown columns: not echoed)
        report.add_error(
            LineError(number, code, loc if code is not LineErrorCode.UNKNOWN_FIELD else None)
        )
        return None


def _batches(rows: Iterator[tuple[int, Any]], batch_rows: int) -> Iterator[list[tuple[int, Any]]]:
    """Batches of rows with distinct external_ref (a repeated ref starts a new batch)."""
    batch: list[tuple[int, Any]] = []
    refs: set[str] = set()
    for number, row in rows:
        if row.external_ref in refs or len(batch) >= batch_rows:
            yield batch
            batch, refs = [], set()
        batch.append((number, row))
        refs.add(row.external_ref)
    if batch:
        yield batch


# ---------------------------------------------------------------- residents


def _resident_values(row: ResidentRow) -> dict[str, Any]:
    return {
        "given_name": row.given_name,
        "family_name": row.family_name,
        "birth_date": row.birth_date,
        "register_block": row.register_block,
    }


def _residence_values(row: ResidentRow) -> dict[str, Any]:
    assert row.residence_kind is not None
    return {
        "kind": row.residence_kind.value,
        "street": row.street,
        "house_number": row.house_number,
        "postcode": row.postcode,
        "valid_from": row.valid_from,
        "valid_until": row.valid_until,
    }


def _resident_batch(
    session: Session,
    tenant_id: int,
    batch: list[tuple[int, ResidentRow]],
    report: ImportReport,
    now: datetime,
) -> list[uuid.UUID]:
    refs = [row.external_ref for _, row in batch]
    existing = {
        r.external_ref: r
        for r in session.execute(
            select(
                Resident.id,
                Resident.external_ref,
                Resident.given_name,
                Resident.family_name,
                Resident.birth_date,
                Resident.register_block,
                Resident.version,
            ).where(Resident.tenant_id == tenant_id, Resident.external_ref.in_(refs))
        )
    }
    known_ids = [r.id for r in existing.values()]
    residences: dict[tuple[uuid.UUID, str, date], Any] = {}
    if known_ids:
        for res in session.execute(
            select(
                Residence.id,
                Residence.resident_id,
                Residence.kind,
                Residence.valid_from,
                Residence.street,
                Residence.house_number,
                Residence.postcode,
                Residence.valid_until,
            ).where(Residence.resident_id.in_(known_ids))
        ):
            residences[(res.resident_id, res.kind, res.valid_from)] = res

    new_residents: list[dict[str, Any]] = []
    new_residences: list[dict[str, Any]] = []
    resident_updates: list[dict[str, Any]] = []
    residence_updates: list[dict[str, Any]] = []
    changed: list[uuid.UUID] = []
    for _number, row in batch:
        values = _resident_values(row)
        old = existing.get(row.external_ref)
        if old is None:
            rid = uuid.uuid4()
            new_residents.append(
                {
                    "id": rid,
                    "tenant_id": tenant_id,
                    "external_ref": row.external_ref,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                    **values,
                }
            )
            if row.has_residence:
                new_residences.append(
                    {"id": uuid.uuid4(), "tenant_id": tenant_id, "resident_id": rid}
                    | _residence_values(row)
                )
            report.inserted += 1
            continue
        is_changed = any(getattr(old, k) != v for k, v in values.items())
        if row.has_residence:
            res_values = _residence_values(row)
            key = (old.id, res_values["kind"], res_values["valid_from"])
            current = residences.get(key)
            if current is None:
                new_residences.append(
                    {"id": uuid.uuid4(), "tenant_id": tenant_id, "resident_id": old.id} | res_values
                )
                is_changed = True
            elif any(
                getattr(current, k) != res_values[k]
                for k in ("street", "house_number", "postcode", "valid_until")
            ):
                residence_updates.append({"id": current.id} | res_values)
                is_changed = True
        if is_changed:
            resident_updates.append(
                {"id": old.id, "updated_at": now, "version": old.version + 1} | values
            )
            changed.append(old.id)
            report.updated += 1
        else:
            report.unchanged += 1
    if new_residents:
        session.connection().execute(insert(_RESIDENTS), new_residents)
    if new_residences:
        session.connection().execute(insert(_RESIDENCES), new_residences)
    if resident_updates:
        session.execute(update(Resident), resident_updates)
    if residence_updates:
        session.execute(update(Residence), residence_updates)
    return changed


# ---------------------------------------------------------------- vehicles


def _vehicle_batch(
    session: Session,
    tenant_id: int,
    batch: list[tuple[int, VehicleRow]],
    report: ImportReport,
    now: datetime,
) -> list[uuid.UUID]:
    holder_refs = {row.holder_ref for _, row in batch if row.holder_ref}
    holders: dict[str, uuid.UUID] = {}
    if holder_refs:
        holders = {
            ref: rid
            for rid, ref in session.execute(
                select(Resident.id, Resident.external_ref).where(
                    Resident.tenant_id == tenant_id, Resident.external_ref.in_(holder_refs)
                )
            )
        }
    refs = [row.external_ref for _, row in batch]
    existing = {
        v.external_ref: v
        for v in session.execute(
            select(
                Vehicle.id,
                Vehicle.external_ref,
                Vehicle.plate,
                Vehicle.kind,
                Vehicle.proof_ref,
                Vehicle.holder_id,
                Vehicle.vehicle_class,
                Vehicle.length_mm,
                Vehicle.width_mm,
                Vehicle.valid_until,
                Vehicle.version,
            ).where(Vehicle.tenant_id == tenant_id, Vehicle.external_ref.in_(refs))
        )
    }
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    changed: list[uuid.UUID] = []
    for number, row in batch:
        try:
            plate = canonical_plate(row.plate)
        except VerifierError:
            report.add_error(LineError(number, LineErrorCode.INVALID_PLATE, "plate"))
            continue
        if row.kind is not VehicleKind.OWN and not row.proof_ref:
            report.add_error(LineError(number, LineErrorCode.MISSING_FIELD, "proof_ref"))
            continue
        holder_id = None
        if row.holder_ref:
            holder_id = holders.get(row.holder_ref)
            if holder_id is None:  # another tenant's resident looks exactly like a missing one
                report.add_error(LineError(number, LineErrorCode.UNKNOWN_HOLDER, "holder_ref"))
                continue
        values = {
            "plate": plate,
            "kind": row.kind.value,
            "proof_ref": row.proof_ref,
            "holder_id": holder_id,
            "vehicle_class": row.vehicle_class.value,
            "length_mm": row.length_mm,
            "width_mm": row.width_mm,
            "valid_until": row.valid_until,
        }
        old = existing.get(row.external_ref)
        if old is None:
            inserts.append(
                {
                    "id": uuid.uuid4(),
                    "tenant_id": tenant_id,
                    "external_ref": row.external_ref,
                    "created_at": now,
                    "updated_at": now,
                    "version": 1,
                }
                | values
            )
            report.inserted += 1
        elif any(getattr(old, k) != v for k, v in values.items()):
            updates.append({"id": old.id, "updated_at": now, "version": old.version + 1} | values)
            changed.append(old.id)
            report.updated += 1
        else:
            report.unchanged += 1
    if inserts:
        session.connection().execute(insert(_VEHICLES), inserts)
    if updates:
        session.execute(update(Vehicle), updates)
    return changed


# ---------------------------------------------------------------- driver


def _run(
    kind: str,
    session: Session,
    tenant_id: int,
    stream: IO[bytes],
    fmt: ImportFormat | str,
    *,
    actor: str,
    now: datetime | None,
    batch_rows: int,
    max_line_bytes: int,
    max_bytes: int | None,
    progress: Callable[[int], None] | None,
) -> ImportReport:
    try:
        fmt = ImportFormat(fmt)
    except ValueError as exc:
        raise UnsupportedMediaType() from exc
    now = now or datetime.now(UTC)
    report = ImportReport(kind=kind, import_id=uuid.uuid4().hex)
    model: type[_Row] = ResidentRow if kind == "residents" else VehicleRow
    records = _records(stream, fmt, report, max_line_bytes=max_line_bytes, max_bytes=max_bytes)
    valid = (
        (number, row)
        for number, record in records
        if (row := _validate(model, number, record, report)) is not None
    )
    for batch in _batches(valid, batch_rows):
        if kind == "residents":
            changed = _resident_batch(session, tenant_id, batch, report, now)
            hook = registry_events.on_resident_changed
            for rid in changed:
                hook(session, tenant_id=tenant_id, resident_id=rid, now=now)
        else:
            changed = _vehicle_batch(session, tenant_id, batch, report, now)
            for vid in changed:
                registry_events.on_vehicle_changed(
                    session, tenant_id=tenant_id, vehicle_id=vid, now=now
                )
        audit.record(
            session,
            tenant_id=tenant_id,
            actor=actor,
            action=f"{kind}_imported",
            object_type="import",
            object_id=report.import_id,
            reason=f"lines {batch[0][0]}-{batch[-1][0]} rows={len(batch)} changed={len(changed)}",
            now=now,
        )
        session.commit()
        if progress is not None:
            progress(report.lines)
    session.commit()
    return report


def import_residents(
    session: Session,
    tenant_id: int,
    stream: IO[bytes],
    fmt: ImportFormat | str,
    *,
    actor: str = "import",
    now: datetime | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_bytes: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Upsert residents (and their residence) from a binary stream (anything with
    `readline(size)`). Pass a plain Session, not one inside `session.begin()`: the import
    commits after every batch."""
    return _run(
        "residents",
        session,
        tenant_id,
        stream,
        fmt,
        actor=actor,
        now=now,
        batch_rows=batch_rows,
        max_line_bytes=max_line_bytes,
        max_bytes=max_bytes,
        progress=progress,
    )


def import_vehicles(
    session: Session,
    tenant_id: int,
    stream: IO[bytes],
    fmt: ImportFormat | str,
    *,
    actor: str = "import",
    now: datetime | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_bytes: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Upsert vehicles from a binary stream (holder by resident external_ref); commits per batch."""
    return _run(
        "vehicles",
        session,
        tenant_id,
        stream,
        fmt,
        actor=actor,
        now=now,
        batch_rows=batch_rows,
        max_line_bytes=max_line_bytes,
        max_bytes=max_bytes,
        progress=progress,
    )
