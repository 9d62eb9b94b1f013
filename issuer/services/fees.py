"""Fees: effective-dated schedules per tenant and permit type, money as integer cents.

A schedule is one of four kinds (DOMAIN §1):

- ``flat``:      ``{"amount_cents": 26000}`` for a permit of any duration (Münster, Freiburg);
- ``duration``:  ``{"prices": [[months, cents], ...]}``, the first entry whose months cover the
  validity (Köln 12 → 10000, 24 → 17000);
- ``length_bands``: ``{"bands": [[max_length_mm or null, cents_per_year], ...]}`` (Köln 2025);
- ``area``:      ``{"rate_cents": 45, "weeks": 52}``: length × width (m²) × rate × weeks per year
  (Koblenz: L × W × 0.45 € × 52).

Every kind takes ``min_cents`` (Koblenz 100 €) and, except ``flat`` and ``duration``, is pro rata
per started month of validity. A schedule voided by a court (``void_schedule``) is replaced for
new permits only: permits keep their ``fee_schedule_id`` and ``fee_cents``.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, cast

from issuer.errors import Conflict, ErrorCode, InvalidRequest, NotFound
from issuer.services.clock import as_utc

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


class FeeKind(StrEnum):
    """How a schedule prices a permit (the module docstring gives each kind's parameters)."""

    FLAT = "flat"
    DURATION = "duration"
    LENGTH_BANDS = "length_bands"
    AREA = "area"


_FEE_KINDS = frozenset(FeeKind)


@dataclass(frozen=True, slots=True)
class FeeBasis:
    """What a fee depends on."""

    months: int  # started months of validity, at least 1
    length_mm: int | None = None
    width_mm: int | None = None


def months_between(start: datetime, end: datetime) -> int:
    """Started months between two instants (≥ 1): 1 Jan → 1 Feb is 1, 1 Jan → 2 Feb is 2."""
    months = (end.year - start.year) * 12 + (end.month - start.month)
    if (end.day, end.time()) > (start.day, start.time()):
        months += 1
    return max(1, months)


def _div_round(numerator: int, denominator: int) -> int:
    """Integer division rounding half up (commercial rounding, non-negative inputs)."""
    return (2 * numerator + denominator) // (2 * denominator)


def validate_params(kind: str, params: Mapping[str, Any]) -> None:
    """Refuse a malformed schedule (422 fee_schedule_invalid)."""

    def bad(detail: str) -> InvalidRequest:
        return InvalidRequest(ErrorCode.FEE_SCHEDULE_INVALID, detail)

    def is_cents(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    if kind not in _FEE_KINDS:
        raise bad("kind")
    if "min_cents" in params and not is_cents(params["min_cents"]):
        raise bad("min_cents")
    if kind == FeeKind.FLAT:
        if not is_cents(params.get("amount_cents")):
            raise bad("amount_cents")
    elif kind == FeeKind.DURATION:
        prices = params.get("prices")
        if not isinstance(prices, list) or not prices:
            raise bad("prices")
        for entry in prices:
            if not (isinstance(entry, list) and len(entry) == 2 and all(map(is_cents, entry))):
                raise bad("prices")
    elif kind == FeeKind.LENGTH_BANDS:
        bands = params.get("bands")
        if not isinstance(bands, list) or not bands:
            raise bad("bands")
        for entry in bands:
            if not (isinstance(entry, list) and len(entry) == 2 and is_cents(entry[1])):
                raise bad("bands")
            if entry[0] is not None and not is_cents(entry[0]):
                raise bad("bands")
    elif kind == FeeKind.AREA:
        if not is_cents(params.get("rate_cents")) or not is_cents(params.get("weeks", 52)):
            raise bad("rate_cents")


def compute_fee(kind: str, params: Mapping[str, Any], basis: FeeBasis) -> int:
    """The fee in cents; 422 fee_not_applicable when the basis lacks what the kind needs."""
    validate_params(kind, params)
    months = max(1, basis.months)
    amount: int
    if kind == FeeKind.FLAT:
        amount = int(params["amount_cents"])
    elif kind == FeeKind.DURATION:
        prices = sorted((int(m), int(c)) for m, c in params["prices"])
        covering = [cents for max_months, cents in prices if months <= max_months]
        if not covering:
            raise InvalidRequest(ErrorCode.FEE_NOT_APPLICABLE, "duration")
        amount = covering[0]
    elif kind == FeeKind.LENGTH_BANDS:
        if basis.length_mm is None:
            raise InvalidRequest(ErrorCode.FEE_NOT_APPLICABLE, "length")
        annual = None
        for max_mm, cents in sorted(
            params["bands"], key=lambda b: float("inf") if b[0] is None else b[0]
        ):
            if max_mm is None or basis.length_mm <= max_mm:
                annual = int(cents)
                break
        if annual is None:
            raise InvalidRequest(ErrorCode.FEE_NOT_APPLICABLE, "length")
        amount = _div_round(annual * months, 12)
    else:  # area
        if basis.length_mm is None or basis.width_mm is None:
            raise InvalidRequest(ErrorCode.FEE_NOT_APPLICABLE, "dimensions")
        weeks = int(params.get("weeks", 52))
        # mm × mm = 10^-6 m²; per year, pro rata per started month
        numerator = basis.length_mm * basis.width_mm * int(params["rate_cents"]) * weeks * months
        amount = _div_round(numerator, 1_000_000 * 12)
    return max(amount, int(params.get("min_cents", 0)))


# ------------------------------------------------------------------------------ persistence


def create_schedule(
    session: Session,
    *,
    tenant_id: Any,
    permit_type: str,
    kind: str,
    params: Mapping[str, Any],
    effective_from: datetime,
    effective_until: datetime | None,
    actor: str,
    now: datetime,
    replaces_id: int | None = None,
) -> Any:
    """Add a schedule (audited)."""
    from issuer.db.permit_models import FeeSchedule
    from issuer.services import audit

    validate_params(kind, params)
    if effective_until is not None and effective_until <= effective_from:
        raise InvalidRequest(ErrorCode.FEE_SCHEDULE_INVALID, "effective_until")
    schedule = FeeSchedule(
        tenant_id=tenant_id,
        permit_type=permit_type,
        kind=kind,
        params=dict(params),
        effective_from=effective_from,
        effective_until=effective_until,
        replaces_id=replaces_id,
        created_at=now,
    )
    session.add(schedule)
    session.flush()
    audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="fee_schedule.created",
        object_type="fee_schedule",
        object_id=str(schedule.id),
        reason=None,
        now=now,
    )
    return schedule


def void_schedule(
    session: Session,
    *,
    tenant_id: Any,
    schedule_id: int,
    reason: str,
    replacement: Mapping[str, Any] | None,
    actor: str,
    now: datetime,
) -> Any:
    """Void a schedule (e.g. a court ruling) and optionally add its replacement.

    Issued permits are not touched: they keep the voided schedule's id and their amount.
    Returns the replacement schedule or None.
    """
    from issuer.db.permit_models import FeeSchedule
    from issuer.services import audit

    schedule = session.get(FeeSchedule, schedule_id)
    if schedule is None or schedule.tenant_id != tenant_id:
        raise NotFound(ErrorCode.NOT_FOUND, "fee_schedule")
    if schedule.voided_at is not None:
        raise Conflict(ErrorCode.ILLEGAL_TRANSITION, "already voided")
    schedule.voided_at = now
    schedule.void_reason = reason
    audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="fee_schedule.voided",
        object_type="fee_schedule",
        object_id=str(schedule.id),
        reason=reason,
        now=now,
    )
    if replacement is None:
        session.flush()
        return None
    return create_schedule(
        session,
        tenant_id=tenant_id,
        permit_type=replacement.get("permit_type", schedule.permit_type),
        kind=replacement["kind"],
        params=replacement["params"],
        effective_from=replacement.get("effective_from") or now,
        effective_until=replacement.get("effective_until"),
        actor=actor,
        now=now,
        replaces_id=schedule.id,
    )


@functools.cache
def _schedules() -> Any:
    """The statement of `schedule_at`, built once (on first use: the models import this
    module) and run with its values bound: the columns a price needs, read through the
    table (rows, not mapped objects: nothing is changed through them)."""
    from sqlalchemy import Table, bindparam, select

    from issuer.db.permit_models import FeeSchedule

    table = cast(Table, FeeSchedule.__table__)
    return (
        select(
            table.c.id,
            table.c.kind,
            table.c.params,
            table.c.effective_from,
            table.c.effective_until,
        )
        .where(
            table.c.tenant_id == bindparam("tenant"),
            table.c.permit_type == bindparam("kind"),
            table.c.voided_at.is_(None),
        )
        .order_by(table.c.effective_from.desc(), table.c.id.desc())
    )


def schedule_at(session: Session, *, tenant_id: Any, permit_type: str, at: datetime) -> Any:
    """The schedule in force at `at` (latest effective_from, not voided), or None (no fee)."""
    rows = session.execute(_schedules(), {"tenant": tenant_id, "kind": permit_type}).all()
    for row in rows:
        if as_utc(row.effective_from) <= at and (
            row.effective_until is None or at < as_utc(row.effective_until)
        ):
            return row
    return None


def fee_for(
    session: Session, *, tenant_id: Any, permit_type: str, at: datetime, basis: FeeBasis
) -> tuple[int | None, int]:
    """(schedule id or None, amount in cents) for a new permit applied for at `at`."""
    return price(schedule_at(session, tenant_id=tenant_id, permit_type=permit_type, at=at), basis)


def price(schedule: Any, basis: FeeBasis) -> tuple[int | None, int]:
    """(schedule id or None, amount in cents) by a schedule from `schedule_at` (None: no fee)."""
    if schedule is None:
        return None, 0
    return schedule.id, compute_fee(schedule.kind, schedule.params, basis)


def list_schedules(session: Session, *, tenant_id: Any) -> list[Any]:
    """Every schedule of a tenant, voided ones included, newest first."""
    from sqlalchemy import select

    from issuer.db.permit_models import FeeSchedule

    return list(
        session.scalars(
            select(FeeSchedule)
            .where(FeeSchedule.tenant_id == tenant_id)
            .order_by(FeeSchedule.effective_from.desc(), FeeSchedule.id.desc())
        )
    )
