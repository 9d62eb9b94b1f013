"""The facts an application is judged on, read from the registry and the permits.

`gather_many` answers many applications of one tenant with one statement per kind of fact,
whatever their number (the jobs judge thousands); `gather` is the same for one. Each loader
reads one kind:

    residences_of     the residents' registered residences (none: the resident is not ours)
    zones_of          the zones' street segments (by canonical zone code)
    vehicles_of       the registry's vehicles: plate, basis of use, class, size, end
    holders_of        live permits that already hold a resident's or a plate's slot
    visitor_counts    BES permits each resident had this calendar year

A live permit found past its end while judging is marked expired on the way (the change
protocol, as the job would), so it no longer holds a slot.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Select, Table, bindparam, func, literal_column, select, union_all
from sqlalchemy.orm import selectinload

from issuer.db.models import Residence as ResidenceRow
from issuer.db.models import Resident, Vehicle, Zone, ZoneSegment
from issuer.db.permit_models import Permit, PermitPlate
from issuer.errors import ErrorCode, IssuerError, NotFound
from issuer.services import eligibility
from issuer.services.clock import as_utc
from issuer.services.eligibility import Residence, Rules, Segment
from issuer.services.permits.changes import expire
from issuer.services.permits.rules import canonical_plates
from issuer.services.permits.vocabulary import LIVE_STATES
from issuer.vocabulary import VehicleKind
from verifier import PermitType, VerifierError, canonical_zone

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from issuer.services.permits.issuance import PermitRequest

CHUNK = 500  # ids per IN (...) list: well inside every database's parameter limit
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Question:
    """One application to judge: the request, the rules, the period, and for a change of an
    existing permit which permit that is (it never conflicts with itself)."""

    request: PermitRequest
    rules: Rules
    valid_from: datetime
    valid_until: datetime
    exclude_permit: uuid.UUID | None = None
    renewal_of_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """An application's facts: what the rules judge, and what a permit row takes over."""

    application: eligibility.Application
    plates: tuple[tuple[str, uuid.UUID | None], ...]  # canonical plate, registry vehicle
    zone_codes: tuple[str, ...]
    use_kind: str | None = None  # of the first vehicle
    proof_ref: str | None = None
    length_mm: int | None = None
    width_mm: int | None = None


@dataclass(slots=True)
class Holders:
    """Live permits holding slots: per (type, resident) and per (type, plate) their ids."""

    by_resident: dict[tuple[str, uuid.UUID], set[uuid.UUID]] = field(default_factory=dict)
    by_plate: dict[tuple[str, str], set[uuid.UUID]] = field(default_factory=dict)
    plates_of: dict[uuid.UUID, set[str]] = field(default_factory=dict)  # its locked plates


def _chunks(values: Iterable[T]) -> Iterator[list[T]]:
    items = list(dict.fromkeys(values))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _day(value: date | None) -> datetime | None:
    return None if value is None else datetime.combine(value, time(0), tzinfo=UTC)


# ----------------------------------------------------------------------------- loaders
#
# The statements are built once, here, and run with their values bound (`ids` expands to the
# chunk): an application is judged in a few milliseconds, and building a statement anew for
# each would cost more than running it. Each statement looks rows up by their key alone; the
# tenant is checked on the rows read (with a condition on it, a planner without statistics
# may walk the tenant's whole index instead of looking the keys up). They are built on the
# tables (Core): rows of plain columns, without the ORM's statement handling.

_RESIDENTS = cast(Table, Resident.__table__)
_RESIDENCE_ROWS = cast(Table, ResidenceRow.__table__)
_VEHICLE_ROWS = cast(Table, Vehicle.__table__)
_ZONE_ROWS = cast(Table, Zone.__table__)
_SEGMENTS = cast(Table, ZoneSegment.__table__)
_PERMITS = cast(Table, Permit.__table__)
_PLATES = cast(Table, PermitPlate.__table__)
_RESIDENCES = (
    select(
        _RESIDENTS.c.id,
        _RESIDENTS.c.tenant_id,
        _RESIDENCE_ROWS.c.kind,
        _RESIDENCE_ROWS.c.street,
        _RESIDENCE_ROWS.c.house_number,
        _RESIDENCE_ROWS.c.valid_from,
        _RESIDENCE_ROWS.c.valid_until,
    )
    .select_from(_RESIDENTS)
    .outerjoin(_RESIDENCE_ROWS, _RESIDENCE_ROWS.c.resident_id == _RESIDENTS.c.id)
    .where(_RESIDENTS.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_RESIDENTS.c.id, _RESIDENCE_ROWS.c.id)
)
_ZONES = (
    select(
        _ZONE_ROWS.c.code,
        _SEGMENTS.c.street,
        _SEGMENTS.c.number_from,
        _SEGMENTS.c.number_to,
        _SEGMENTS.c.parity,
    )
    .select_from(_ZONE_ROWS)
    .outerjoin(_SEGMENTS, _SEGMENTS.c.zone_id == _ZONE_ROWS.c.id)
    .where(
        _ZONE_ROWS.c.tenant_id == bindparam("tenant"),
        _ZONE_ROWS.c.code.in_(bindparam("ids", expanding=True)),
    )
    .order_by(_ZONE_ROWS.c.code, _SEGMENTS.c.position)
)
_VEHICLES = select(
    _VEHICLE_ROWS.c.id,
    _VEHICLE_ROWS.c.tenant_id,
    _VEHICLE_ROWS.c.plate,
    _VEHICLE_ROWS.c.kind,
    _VEHICLE_ROWS.c.proof_ref,
    _VEHICLE_ROWS.c.holder_id,
    _VEHICLE_ROWS.c.vehicle_class,
    _VEHICLE_ROWS.c.length_mm,
    _VEHICLE_ROWS.c.width_mm,
    _VEHICLE_ROWS.c.valid_until,
).where(_VEHICLE_ROWS.c.id.in_(bindparam("ids", expanding=True)))
_HOLDER_COLUMNS = (
    _PERMITS.c.id,
    _PERMITS.c.tenant_id,
    _PERMITS.c.permit_type,
    _PERMITS.c.resident_id,
    _PERMITS.c.state,
    _PERMITS.c.valid_until,
    _PLATES.c.lock_key,
)
_HOLDING = _PLATES.alias("holding")


def _residents_holders(ids: str, *extra: Any) -> Select[Any]:
    """The permits (with their plates) of the residents in the list bound as `ids`."""
    return (
        select(*_HOLDER_COLUMNS, *extra)
        .select_from(_PERMITS)
        .outerjoin(_PLATES, _PLATES.c.permit_id == _PERMITS.c.id)
        .where(_PERMITS.c.resident_id.in_(bindparam(ids, expanding=True)))
    )


def _plates_holders(ids: str, *extra: Any) -> Select[Any]:
    """The permits (with their plates) holding a plate lock key in the list bound as `ids`."""
    return (
        select(*_HOLDER_COLUMNS, *extra)
        .select_from(_HOLDING)
        .join(_PERMITS, _PERMITS.c.id == _HOLDING.c.permit_id)
        .outerjoin(_PLATES, _PLATES.c.permit_id == _PERMITS.c.id)
        .where(
            _HOLDING.c.tenant_id == bindparam("tenant"),
            _HOLDING.c.permit_type.in_(bindparam("kinds", expanding=True)),
            _HOLDING.c.lock_key.in_(bindparam(ids, expanding=True)),
        )
    )


_RESIDENTS_PERMITS = _residents_holders("ids")
_PLATES_PERMITS = _plates_holders("ids")
# both in one statement when each list fits one chunk (an application): each part keeps its
# own key look-up; `by_plate` tells the rows of the second part
_BOTH_HOLDERS = union_all(
    _residents_holders("resident_ids", literal_column("0").label("by_plate")),
    _plates_holders("plate_ids", literal_column("1").label("by_plate")),
)


def residences_of(
    session: Session, *, tenant_id: int, resident_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[Residence, ...]]:
    """Every resident of this tenant among `resident_ids` with its residences (maybe none);
    a resident of another tenant, or none, is absent."""
    found: dict[uuid.UUID, list[Residence]] = {}
    for chunk in _chunks(resident_ids):
        rows = session.execute(_RESIDENCES, {"ids": chunk})
        for resident_id, tenant, kind, street, number, since, until in rows:
            if tenant != tenant_id:
                continue
            items = found.setdefault(resident_id, [])
            if kind is not None:
                items.append(Residence(kind, street, number, _day(since), _day(until)))
    return {k: tuple(v) for k, v in found.items()}


def zones_of(
    session: Session, *, tenant_id: int, codes: Iterable[str]
) -> dict[str, tuple[Segment, ...]]:
    """The street segments of each zone of this tenant among `codes` (canonical codes; a code
    that is no zone code, or no zone of ours, is absent)."""
    canonical = []
    for code in codes:
        try:
            canonical.append(canonical_zone(code))
        except VerifierError:
            continue
    found: dict[str, list[Segment]] = {}
    for chunk in _chunks(canonical):
        rows = session.execute(_ZONES, {"tenant": tenant_id, "ids": chunk})
        for code, street, number_from, number_to, parity in rows:
            items = found.setdefault(code, [])
            if street is not None:
                items.append(Segment(street, number_from, number_to, parity))
    return {k: tuple(v) for k, v in found.items()}


def vehicles_of(
    session: Session, *, tenant_id: int, vehicle_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, Any]:
    """The registry's vehicles of this tenant among `vehicle_ids` (rows with plate, kind,
    proof_ref, holder_id, vehicle_class, length_mm, width_mm, valid_until)."""
    found: dict[uuid.UUID, Any] = {}
    for chunk in _chunks(vehicle_ids):
        rows = session.execute(_VEHICLES, {"ids": chunk})
        found.update((row.id, row) for row in rows if row.tenant_id == tenant_id)
    return found


def holders_of(
    session: Session,
    *,
    tenant_id: int,
    types: Iterable[str],
    resident_ids: Iterable[uuid.UUID],
    plates: Iterable[str],
    now: datetime,
    changing: Iterable[uuid.UUID] = (),
) -> Holders:
    """Live permits of these types that hold a slot of one of the residents or plates.

    A live permit found past its end is marked expired here, and then holds nothing; the
    permits `changing` (renewed, replaced, finalised right now) are left as they are."""
    kinds = sorted(set(types))
    residents, locked = list(dict.fromkeys(resident_ids)), list(dict.fromkeys(plates))
    rows: list[Any] = []

    def by_resident(found: Iterable[Any]) -> Iterator[Any]:
        for row in found:
            if row.tenant_id == tenant_id and row.permit_type in kinds and row.state in LIVE_STATES:
                yield row

    if 0 < len(residents) <= CHUNK and 0 < len(locked) <= CHUNK:
        both = session.execute(
            _BOTH_HOLDERS,
            {"resident_ids": residents, "tenant": tenant_id, "kinds": kinds, "plate_ids": locked},
        ).all()
        rows.extend(by_resident(row for row in both if not row.by_plate))
        rows.extend(row for row in both if row.by_plate)
        residents, locked = [], []
    for chunk in _chunks(residents):
        rows.extend(by_resident(session.execute(_RESIDENTS_PERMITS, {"ids": chunk})))
    for some_plates in _chunks(locked):
        rows.extend(
            session.execute(
                _PLATES_PERMITS, {"tenant": tenant_id, "kinds": kinds, "ids": some_plates}
            )
        )
    keep = set(changing)
    due = {
        r.id
        for r in rows
        if r.state in LIVE_STATES and as_utc(r.valid_until) <= now and r.id not in keep
    }
    if due:
        expire(
            session,
            list(
                session.scalars(
                    select(Permit).where(Permit.id.in_(due)).options(selectinload(Permit.plates))
                )
            ),
            now=now,
        )
    holders = Holders()
    for row in rows:
        if row.state not in LIVE_STATES or row.id in due:
            continue
        if row.resident_id is not None:
            holders.by_resident.setdefault((row.permit_type, row.resident_id), set()).add(row.id)
        if row.lock_key is not None:
            holders.by_plate.setdefault((row.permit_type, row.lock_key), set()).add(row.id)
            holders.plates_of.setdefault(row.id, set()).add(row.lock_key)
    return holders


def visitor_counts(
    session: Session, *, tenant_id: int, resident_ids: Iterable[uuid.UUID], now: datetime
) -> dict[uuid.UUID, int]:
    """Visitor (BES) permits created for each resident since 1 January of `now`'s year."""
    year_start = datetime(now.year, 1, 1, tzinfo=UTC)
    counts: dict[uuid.UUID, int] = {}
    for chunk in _chunks(resident_ids):
        rows = session.execute(
            select(Permit.resident_id, func.count(Permit.id))
            .where(
                Permit.tenant_id == tenant_id,
                Permit.resident_id.in_(chunk),
                Permit.permit_type == PermitType.BES,
                Permit.created_at >= year_start,
            )
            .group_by(Permit.resident_id)
        )
        counts.update((resident, int(n)) for resident, n in rows if resident is not None)
    return counts


# ----------------------------------------------------------------------------- gathering


def gather(session: Session, *, tenant_id: int, question: Question, now: datetime) -> Facts:
    """The facts of one application; 404 not_found (resident, zone, vehicle) or 422
    invalid_plate when the request names what is not there."""
    (outcome,) = gather_many(session, tenant_id=tenant_id, questions=[question], now=now)
    if isinstance(outcome, IssuerError):
        raise outcome
    return outcome


def gather_many(
    session: Session, *, tenant_id: int, questions: Sequence[Question], now: datetime
) -> list[Facts | IssuerError]:
    """The facts of each application, or why it cannot be judged, in the same order."""
    requests = [q.request for q in questions]
    residences = residences_of(
        session,
        tenant_id=tenant_id,
        resident_ids=(r.resident_id for r in requests if r.resident_id is not None),
    )
    zones = zones_of(
        session, tenant_id=tenant_id, codes=(c for r in requests for c in r.zone_codes)
    )
    vehicles = vehicles_of(
        session, tenant_id=tenant_id, vehicle_ids=(v for r in requests for v in r.vehicle_ids)
    )
    named: list[list[str] | IssuerError] = []
    for request in requests:
        try:
            named.append(canonical_plates(request.plates))
        except IssuerError as exc:
            named.append(exc)
    plates = [v.plate for v in vehicles.values()]
    plates += [p for n in named if not isinstance(n, IssuerError) for p in n]
    residents = [r.resident_id for r in requests if r.resident_id is not None]
    holders = holders_of(
        session,
        tenant_id=tenant_id,
        types=(r.permit_type for r in requests),
        resident_ids=residents,
        plates=plates,
        now=now,
        changing=(q.exclude_permit for q in questions if q.exclude_permit is not None),
    )
    visitors = residents if any(r.permit_type == PermitType.BES for r in requests) else []
    counts = visitor_counts(session, tenant_id=tenant_id, resident_ids=visitors, now=now)
    out: list[Facts | IssuerError] = []
    for question, free_plates in zip(questions, named, strict=True):
        try:
            out.append(
                _facts(question, residences, zones, vehicles, free_plates, holders, counts, now)
            )
        except IssuerError as exc:
            out.append(exc)
    return out


def _facts(
    question: Question,
    residences: dict[uuid.UUID, tuple[Residence, ...]],
    zones: dict[str, tuple[Segment, ...]],
    vehicles: dict[uuid.UUID, Any],
    free_plates: list[str] | IssuerError,
    holders: Holders,
    visitor_counts: dict[uuid.UUID, int],
    now: datetime,
) -> Facts:
    req, rules = question.request, question.rules
    lived: tuple[Residence, ...] = ()
    if req.resident_id is not None:
        found = residences.get(req.resident_id)
        if found is None:
            raise NotFound(ErrorCode.NOT_FOUND, "resident")
        lived = found
    elif rules.requires_residence:
        raise NotFound(ErrorCode.NOT_FOUND, "resident")

    segments: list[Segment] = []
    zone_codes: list[str] = []
    for code in req.zone_codes:
        try:
            canonical = canonical_zone(code)
        except VerifierError:
            canonical = ""
        if canonical not in zones:
            raise NotFound(ErrorCode.NOT_FOUND, "zone")
        zone_codes.append(canonical)
        segments.extend(zones[canonical])
    if not zone_codes:
        raise NotFound(ErrorCode.NOT_FOUND, "zone")

    rows = []
    judged: list[eligibility.Vehicle] = []
    plates: list[tuple[str, uuid.UUID | None]] = []
    for vehicle_id in req.vehicle_ids:
        row = vehicles.get(vehicle_id)
        if row is None:
            raise NotFound(ErrorCode.NOT_FOUND, "vehicle")
        rows.append(row)
        is_holder = req.resident_id is not None and row.holder_id == req.resident_id
        judged.append(
            eligibility.Vehicle(
                plate=row.plate,
                is_holder=is_holder and row.kind == VehicleKind.OWN,
                use_kind=row.kind,
                proof_ref=row.proof_ref if is_holder or row.kind != VehicleKind.OWN else None,
                vehicle_class=row.vehicle_class,
                length_mm=row.length_mm,
                width_mm=row.width_mm,
                valid_until=_day(row.valid_until),
            )
        )
        plates.append((row.plate, row.id))
    if isinstance(free_plates, IssuerError):
        raise free_plates
    for plate in free_plates:
        judged.append(eligibility.Vehicle(plate=plate, is_holder=False, use_kind=VehicleKind.HIRE))
        plates.append((plate, None))
    if rules.requires_vehicle and req.plates and not req.vehicle_ids:
        # a resident permit names registry vehicles, never free plates
        judged = [
            eligibility.Vehicle(plate=p, is_holder=False, use_kind=VehicleKind.OWN)
            for p, _ in plates
        ]

    others = {question.exclude_permit}
    resident_has_permit = False
    if req.resident_id is not None:
        held = holders.by_resident.get((req.permit_type, req.resident_id), set())
        resident_has_permit = bool(held - others)
    taken: set[str] = set()
    for plate, _ in plates:
        for holder in holders.by_plate.get((req.permit_type, plate), set()) - others:
            taken.update(holders.plates_of[holder])
    visitors = 0
    if req.permit_type == PermitType.BES and req.resident_id is not None:
        visitors = visitor_counts.get(req.resident_id, 0)

    first = rows[0] if rows else None
    application = eligibility.Application(
        permit_type=req.permit_type,
        now=now,
        valid_from=question.valid_from,
        valid_until=question.valid_until,
        residences=lived,
        segments=tuple(segments),
        vehicles=tuple(judged),
        fleet=req.fleet,
        windows=tuple((w[0], w[1], w[2]) for w in req.windows),
        resident_has_permit=resident_has_permit,
        plates_with_permit=frozenset(taken),
        renewal_of_until=question.renewal_of_until,
        visitor_permits_this_year=visitors,
        is_provisional=req.provisional,
    )
    return Facts(
        application=application,
        plates=tuple(plates),
        zone_codes=tuple(zone_codes),
        use_kind=first.kind if first else None,
        proof_ref=first.proof_ref if first else None,
        length_mm=first.length_mm if first else None,
        width_mm=first.width_mm if first else None,
    )
