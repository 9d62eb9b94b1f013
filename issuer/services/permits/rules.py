"""A tenant's rules for its permit types, and the periods, windows and plates they judge.

`rules_for` is what every check uses: the stored rule set of `permit_rule_sets`, or the
defaults of `eligibility.default_rules`. The pure checks themselves live in
`issuer.services.eligibility`.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Table, bindparam, select

from issuer.db.permit_models import PermitRuleSet
from issuer.errors import ErrorCode, InvalidRequest
from issuer.services import audit, eligibility
from issuer.services.clock import as_utc
from issuer.services.eligibility import Rules
from verifier import PermitType, VerifierError, canonical_plate

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from issuer.services.permits.issuance import PermitRequest

_PERMIT_TYPES = frozenset(PermitType)


def parse_permit_type(value: str) -> PermitType:
    """The permit type spelt `value`, else 422 rules_invalid."""
    if value not in _PERMIT_TYPES:
        raise InvalidRequest(ErrorCode.RULES_INVALID, "permit_type")
    return PermitType(value)


_RULE_SETS = cast(Table, PermitRuleSet.__table__)
_RULES = select(_RULE_SETS.c.rules).where(  # built once, run with the values bound, on the table
    _RULE_SETS.c.tenant_id == bindparam("tenant"), _RULE_SETS.c.permit_type == bindparam("kind")
)


def rules_for(session: Session, *, tenant_id: int, permit_type: str) -> Rules:
    """The tenant's rules for a permit type, or the defaults."""
    row = session.scalar(_RULES, {"tenant": tenant_id, "kind": permit_type})
    if row is None:
        return eligibility.default_rules(permit_type)
    return Rules.from_dict(row)


def tenant_rules(session: Session, *, tenant_id: int) -> dict[str, Rules]:
    """Every permit type's rules of a tenant in one statement (the jobs judge many permits)."""
    rows = session.execute(
        select(PermitRuleSet.permit_type, PermitRuleSet.rules).where(
            PermitRuleSet.tenant_id == tenant_id
        )
    )
    stored: dict[str, dict[str, Any]] = {kind: rules for kind, rules in rows}
    return {
        kind.value: (
            Rules.from_dict(stored[kind]) if kind in stored else eligibility.default_rules(kind)
        )
        for kind in PermitType
    }


def set_rules(
    session: Session,
    *,
    tenant_id: int,
    permit_type: str,
    rules: dict[str, Any],
    actor: str,
    now: datetime,
) -> Rules:
    """Store a tenant's rule set for one permit type (audited)."""
    kind = parse_permit_type(permit_type)
    try:
        parsed = Rules.from_dict(rules)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(ErrorCode.RULES_INVALID, str(exc)[:200]) from exc
    row = session.scalar(
        select(PermitRuleSet).where(
            PermitRuleSet.tenant_id == tenant_id, PermitRuleSet.permit_type == kind
        )
    )
    if row is None:
        row = PermitRuleSet(tenant_id=tenant_id, permit_type=kind, rules={}, updated_at=now)
        session.add(row)
    row.rules = parsed.to_dict()
    row.updated_at = now
    session.flush()
    audit.record(
        session,
        tenant_id=tenant_id,
        actor=actor,
        action="permit_rules.set",
        object_type="permit_rules",
        object_id=kind,
        now=now,
    )
    return parsed


def validity(req: PermitRequest, rules: Rules, now: datetime) -> tuple[datetime, datetime]:
    """The period a new permit asks for: as given, provisional, `months`, else the type's."""
    start = as_utc(req.valid_from) if req.valid_from else now
    if req.valid_until is not None:
        return start, as_utc(req.valid_until)
    if req.provisional:
        return start, start + timedelta(days=rules.provisional_days)
    if req.months is not None:
        return start, add_months(start, req.months)
    if req.permit_type == PermitType.BES:
        return start, start + timedelta(days=1)
    if rules.max_validity_days >= 365:
        return start, add_months(start, 12)
    return start, start + timedelta(days=rules.max_validity_days)


def add_months(start: datetime, months: int) -> datetime:
    """The same day `months` later (the month's last day when it is shorter)."""
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def validate_windows(windows: Sequence[Sequence[int]]) -> list[list[int]]:
    """Time windows `[days, from, to]` (days a bit mask 1–127, minutes 0 ≤ from < to ≤ 1440),
    else 422 invalid_windows."""
    out = []
    for window in windows:
        if len(window) != 3:
            raise InvalidRequest(ErrorCode.INVALID_WINDOWS)
        days, start, end = (int(x) for x in window)
        if not (1 <= days <= 127 and 0 <= start < end <= 1440):
            raise InvalidRequest(ErrorCode.INVALID_WINDOWS)
        out.append([days, start, end])
    return out


def canonical_plates(plates: Sequence[str]) -> list[str]:
    """The plates in their canonical form, else 422 invalid_plate."""
    out = []
    for plate in plates:
        try:
            out.append(canonical_plate(plate))
        except VerifierError as exc:
            raise InvalidRequest(ErrorCode.INVALID_PLATE) from exc
    return out
