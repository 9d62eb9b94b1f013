"""Bulk import of residents and vehicles from NDJSON or CSV: streamed, bounded, idempotent.

- Streamed: the input is read line by line (`readline(max_line_bytes + 1)`), never whole.
- Bounded: total bytes (`max_bytes`) and line length (`max_line_bytes`); a longer line is
  skipped and reported, the rest of the file still imports.
- Idempotent: rows are upserted on the Melderegister / vehicle-register reference; importing
  the same file twice changes nothing the second time (`unchanged`).
- Batches: each batch of `batch_rows` valid rows is one transaction with core
  `INSERT`/`UPDATE ... executemany`, one audit entry and a commit.
- Honest: the report counts committed rows only. Hostile lines (control characters, deep
  nesting, duplicate keys, any JSON) are per-line errors; if an import cannot go on (input
  beyond `max_bytes`, database unavailable, anything unexpected) it stops, rolls back the open
  batch and says in `stopped` from which line on nothing was committed.
- CSV: line 1 is the header (a UTF-8 BOM before it is dropped); an empty, duplicated, unknown
  or missing column refuses the whole import (422 `invalid_header`) before anything is written.
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
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import IO, Any

from pydantic import Field, ValidationError, model_validator
from sqlalchemy import Table, insert, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from issuer.db.models import Residence, Resident, Vehicle
from issuer.errors import ErrorCode, InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from issuer.schemas.common import ApiModel
from issuer.services import audit, registry_events
from issuer.vocabulary import ResidenceKind, VehicleClass, VehicleKind
from verifier import VerifierError, canonical_plate

log = logging.getLogger(__name__)

MAX_REPORTED_ERRORS = 1000
DEFAULT_MAX_LINE_BYTES = 8 * 1024
DEFAULT_BATCH_ROWS = 2000
MAX_JSON_DEPTH = 8  # a row is one flat object; anything nested deeper is refused unparsed


class ImportFormat(StrEnum):
    """Input formats."""

    NDJSON = "ndjson"
    CSV = "csv"


class LineErrorCode(StrEnum):
    """Why a line was not imported."""

    LINE_TOO_LONG = "line_too_long"
    INVALID_ENCODING = "invalid_encoding"
    INVALID_JSON = "invalid_json"
    NESTING_TOO_DEEP = "nesting_too_deep"
    DUPLICATE_FIELD = "duplicate_field"
    NOT_AN_OBJECT = "not_an_object"
    INVALID_CSV = "invalid_csv"
    INVALID_FIELD = "invalid_field"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    INVALID_PLATE = "invalid_plate"
    UNKNOWN_HOLDER = "unknown_holder"


class HeaderErrorCode(StrEnum):
    """Why a CSV header refuses the whole import (422 `invalid_header`, nothing written)."""

    EMPTY_HEADER = "empty_header"  # no header, or a blank line 1
    EMPTY_COLUMN = "empty_column"
    DUPLICATE_COLUMN = "duplicate_column"
    UNKNOWN_COLUMN = "unknown_column"
    MISSING_COLUMN = "missing_column"  # a required field has no column


class StopCode(StrEnum):
    """Why an import stopped before the end of its input."""

    IMPORT_TOO_LARGE = "import_too_large"
    UNAVAILABLE = "unavailable"  # the database refused (down, locked)
    INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True, slots=True)
class ImportStop:
    """The import stopped: no row from `line` on was committed (earlier batches were)."""

    line: int
    code: StopCode


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
    stopped: ImportStop | None = None

    def add_error(self, error: LineError) -> None:
        """Count a failed line; keep at most MAX_REPORTED_ERRORS of them."""
        self.failed += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(error)
        else:
            self.errors_truncated = True

    def merge(self, batch: ImportReport) -> None:
        """Add a committed batch's counts and errors."""
        self.inserted += batch.inserted
        self.updated += batch.updated
        self.unchanged += batch.unchanged
        for error in batch.errors:
            self.add_error(error)
        if batch.failed > len(batch.errors):  # the batch kept only some of its errors
            self.failed += batch.failed - len(batch.errors)
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
            "complete": self.stopped is None,
            "stopped": None
            if self.stopped is None
            else {"line": self.stopped.line, "code": self.stopped.code.value},
        }


class _Row(ApiModel):
    """A flat row: unknown fields and control characters refused, as in the API's bodies."""


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


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__("duplicate key")
        self.key = key


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return obj


def _too_deep(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether JSON text nests arrays/objects deeper than `limit`, judged before parsing."""
    if text.count("[") + text.count("{") <= limit:  # the usual flat row: no scan
        return False
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _ndjson_record(text: str, number: int, fields: frozenset[str]) -> dict[str, Any] | LineError:
    """One NDJSON line as a mapping, or why not."""
    if _too_deep(text):
        return LineError(number, LineErrorCode.NESTING_TOO_DEEP)
    try:
        value = json.loads(text, object_pairs_hook=_unique_object)
    except _DuplicateKey as exc:  # named only when it is one of our fields
        return LineError(
            number, LineErrorCode.DUPLICATE_FIELD, exc.key if exc.key in fields else None
        )
    except (ValueError, RecursionError):
        return LineError(number, LineErrorCode.INVALID_JSON)
    if not isinstance(value, dict):
        return LineError(number, LineErrorCode.NOT_AN_OBJECT)
    return value


def _csv_header(cells: list[str], model: type[_Row]) -> list[str]:
    """The column names of a CSV header line, or InvalidRequest(invalid_header) listing every
    fault (columns by 1-based position; names only where they are our own field names)."""
    fields = model.model_fields
    names = [c.strip() for c in cells]
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for column, name in enumerate(names, start=1):
        if not name:
            errors.append({"code": HeaderErrorCode.EMPTY_COLUMN.value, "column": column})
        elif name not in fields:
            errors.append({"code": HeaderErrorCode.UNKNOWN_COLUMN.value, "column": column})
        elif name in seen:
            errors.append(
                {"code": HeaderErrorCode.DUPLICATE_COLUMN.value, "column": column, "field": name}
            )
        seen.add(name)
    for name, info in fields.items():
        if info.is_required() and name not in seen:
            errors.append({"code": HeaderErrorCode.MISSING_COLUMN.value, "field": name})
    if errors:
        raise InvalidRequest(ErrorCode.INVALID_HEADER, errors=errors)
    return names


def _header_refused(code: str, number: int = 1) -> InvalidRequest:
    return InvalidRequest(ErrorCode.INVALID_HEADER, errors=[{"code": code, "line": number}])


def _records(
    stream: IO[bytes],
    fmt: ImportFormat,
    model: type[_Row],
    report: ImportReport,
    *,
    max_line_bytes: int,
    max_bytes: int | None,
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, mapping) per data line; broken lines go to the report. CSV: line 1 is the
    header, and a header that cannot be read refuses the import (nothing was written yet)."""
    fields = frozenset(model.model_fields)
    header: list[str] | None = None
    for number, raw in _raw_lines(stream, max_line_bytes=max_line_bytes, max_bytes=max_bytes):
        report.lines = number
        is_header = fmt is ImportFormat.CSV and header is None
        if raw is None:
            if is_header:
                raise _header_refused(LineErrorCode.LINE_TOO_LONG.value)
            report.add_error(LineError(number, LineErrorCode.LINE_TOO_LONG))
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            if is_header:
                raise _header_refused(LineErrorCode.INVALID_ENCODING.value) from None
            report.add_error(LineError(number, LineErrorCode.INVALID_ENCODING))
            continue
        if number == 1:
            text = text.removeprefix("\ufeff")  # a UTF-8 BOM, only at the start of the input
        text = text.rstrip("\r\n")
        if not text.strip():
            if is_header:
                raise _header_refused(HeaderErrorCode.EMPTY_HEADER.value)
            continue
        if fmt is ImportFormat.NDJSON:
            record = _ndjson_record(text, number, fields)
            if isinstance(record, LineError):
                report.add_error(record)
                continue
            yield number, record
            continue
        try:
            cells = next(csv.reader([text], strict=True))
        except (csv.Error, StopIteration):
            if is_header:
                raise _header_refused(LineErrorCode.INVALID_CSV.value) from None
            report.add_error(LineError(number, LineErrorCode.INVALID_CSV))
            continue
        if header is None:
            header = _csv_header(cells, model)
            continue
        if len(cells) != len(header):
            report.add_error(LineError(number, LineErrorCode.INVALID_CSV))
            continue
        # an empty cell means "not given"
        yield number, {k: v for k, v in zip(header, cells, strict=True) if v != ""}
    if fmt is ImportFormat.CSV and header is None:
        raise _header_refused(HeaderErrorCode.EMPTY_HEADER.value)


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


def read_rows(
    stream: IO[bytes],
    fmt: ImportFormat,
    report: ImportReport,
    *,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    max_bytes: int | None = None,
) -> Iterator[tuple[int, ResidentRow | VehicleRow]]:
    """The valid rows of an input (`report.kind`: residents or vehicles), with their line
    numbers; every other line becomes exactly one error in `report` (blank lines none).

    Raises only InvalidRequest (a CSV header that cannot be read) and PayloadTooLarge."""
    model: type[_Row] = ResidentRow if report.kind == "residents" else VehicleRow
    records = _records(
        stream, fmt, model, report, max_line_bytes=max_line_bytes, max_bytes=max_bytes
    )
    for number, record in records:
        row = _validate(model, number, record, report)
        if row is not None:
            yield number, row


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
    valid = read_rows(stream, fmt, report, max_line_bytes=max_line_bytes, max_bytes=max_bytes)
    batches = _batches(valid, batch_rows)
    committed_through = 0  # the last line of the last committed batch
    while True:
        try:
            batch = next(batches, None)
        except InvalidRequest:  # the CSV header: raised before anything was written
            raise
        except PayloadTooLarge:
            report.stopped = ImportStop(committed_through + 1, StopCode.IMPORT_TOO_LARGE)
            break
        except Exception as exc:  # the report must still say what was committed
            report.stopped = _stop(session, committed_through + 1, exc)
            break
        if batch is None:
            break
        tally = ImportReport(kind=kind, import_id=report.import_id)
        try:
            _write_batch(kind, session, tenant_id, batch, tally, actor=actor, now=now)
            session.commit()
        except Exception as exc:  # the batch is rolled back; earlier batches stay committed
            report.stopped = _stop(session, committed_through + 1, exc)
            break
        report.merge(tally)
        committed_through = batch[-1][0]
        if progress is not None:
            progress(report.lines)
    return report


def _write_batch(
    kind: str,
    session: Session,
    tenant_id: int,
    batch: list[tuple[int, Any]],
    tally: ImportReport,
    *,
    actor: str,
    now: datetime,
) -> None:
    """Upsert one batch, run the registry hooks for changed rows, audit it (not committed)."""
    if kind == "residents":
        changed = _resident_batch(session, tenant_id, batch, tally, now)
        for rid in changed:
            registry_events.on_resident_changed(
                session, tenant_id=tenant_id, resident_id=rid, now=now
            )
    else:
        changed = _vehicle_batch(session, tenant_id, batch, tally, now)
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
        object_id=tally.import_id,
        reason=f"lines {batch[0][0]}-{batch[-1][0]} rows={len(batch)} changed={len(changed)}",
        now=now,
    )


def _stop(session: Session, line: int, exc: Exception) -> ImportStop:
    """Roll back the open batch; the stop names the first line not committed."""
    log.error("import_stopped", extra={"exc_type": type(exc).__name__, "line": line})
    try:
        session.rollback()
    except Exception as rollback_exc:  # the connection is gone; nothing of the batch remains
        log.error("import_rollback_failed", extra={"exc_type": type(rollback_exc).__name__})
    if isinstance(exc, OperationalError):
        return ImportStop(line, StopCode.UNAVAILABLE)
    return ImportStop(line, StopCode.INTERNAL_ERROR)


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
