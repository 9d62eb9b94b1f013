"""Fee computation at its boundaries (pure; the schedule persistence is in test_permits)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from issuer.errors import ErrorCode, InvalidRequest
from issuer.services.fees import FeeBasis, compute_fee, months_between

KOELN = {"bands": [[4109, 10000], [4709, 11000], [None, 12000]]}
KOBLENZ = {"rate_cents": 45, "weeks": 52, "min_cents": 10000}


def test_flat_fee_ignores_duration() -> None:
    assert compute_fee("flat", {"amount_cents": 26000}, FeeBasis(months=6)) == 26000


@pytest.mark.parametrize(("months", "cents"), [(1, 10000), (12, 10000), (13, 17000), (24, 17000)])
def test_duration_prices(months: int, cents: int) -> None:
    params = {"prices": [[24, 17000], [12, 10000]]}
    assert compute_fee("duration", params, FeeBasis(months=months)) == cents


def test_duration_beyond_the_table_is_not_applicable() -> None:
    with pytest.raises(InvalidRequest) as err:
        compute_fee("duration", {"prices": [[12, 10000]]}, FeeBasis(months=13))
    assert err.value.code is ErrorCode.FEE_NOT_APPLICABLE


@pytest.mark.parametrize(
    ("length", "cents"), [(4109, 10000), (4110, 11000), (4709, 11000), (4710, 12000)]
)
def test_length_bands_koeln_per_year(length: int, cents: int) -> None:
    assert compute_fee("length_bands", KOELN, FeeBasis(months=12, length_mm=length)) == cents


def test_length_bands_pro_rata_per_started_month() -> None:
    assert compute_fee("length_bands", KOELN, FeeBasis(months=6, length_mm=4000)) == 5000
    assert compute_fee("length_bands", KOELN, FeeBasis(months=24, length_mm=4000)) == 20000


def test_area_koblenz_and_its_minimum() -> None:
    # 4.70 m × 1.85 m × 0.45 € × 52 = 203.463 € → 20346 cents
    basis = FeeBasis(months=12, length_mm=4700, width_mm=1850)
    assert compute_fee("area", KOBLENZ, basis) == 20346
    # 3.00 m × 1.50 m × 0.45 × 52 = 105.30 €; half a year → 52.65 € → the 100 € minimum
    small = FeeBasis(months=6, length_mm=3000, width_mm=1500)
    assert compute_fee("area", KOBLENZ, small) == 10000


def test_area_needs_dimensions() -> None:
    with pytest.raises(InvalidRequest) as err:
        compute_fee("area", KOBLENZ, FeeBasis(months=12, length_mm=4700))
    assert err.value.code is ErrorCode.FEE_NOT_APPLICABLE


@pytest.mark.parametrize(
    "params", [{}, {"amount_cents": -1}, {"amount_cents": 1.5}, {"amount_cents": True}]
)
def test_malformed_schedules_are_refused(params: dict[str, object]) -> None:
    with pytest.raises(InvalidRequest) as err:
        compute_fee("flat", params, FeeBasis(months=1))
    assert err.value.code is ErrorCode.FEE_SCHEDULE_INVALID


def test_started_months() -> None:
    jan = datetime(2026, 1, 1, tzinfo=UTC)
    assert months_between(jan, datetime(2026, 2, 1, tzinfo=UTC)) == 1
    assert months_between(jan, datetime(2026, 2, 2, tzinfo=UTC)) == 2
    assert months_between(jan, datetime(2027, 1, 1, tzinfo=UTC)) == 12
    assert months_between(jan, jan) == 1
