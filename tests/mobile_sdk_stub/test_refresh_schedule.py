"""When the wallet refreshes: in a credential's last month (or last third, if shorter), and a
credential that comes back unchanged is not refreshed again at once. No server needed: the
schedule is the client's own decision."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mobile_sdk_stub.client import WalletClient
from mobile_sdk_stub.store import StoredCredential

DAY = 86400
T0 = 1_780_000_000


def _credential(iat: int, exp: int) -> StoredCredential:
    return StoredCredential(
        id="0" * 32, kind="parking-permit", added_at=iat, sd_jwt="a.b.c~", expires_at=exp,
        refresh_token="r", issued_at=iat,
    )  # fmt: skip


def test_a_yearly_permit_is_due_in_its_last_month_only(tmp_path: Path) -> None:
    wallet = WalletClient("http://127.0.0.1:9", tmp_path)
    yearly = _credential(T0, T0 + 365 * DAY)
    assert not wallet.needs_refresh(yearly, T0 + 334 * DAY)
    assert wallet.needs_refresh(yearly, T0 + 336 * DAY)
    monthly = _credential(T0, T0 + 30 * DAY)  # the residence credential: its last third
    assert not wallet.needs_refresh(monthly, T0 + 19 * DAY)
    assert wallet.needs_refresh(monthly, T0 + 21 * DAY)
    without_token = dataclasses.replace(yearly, refresh_token=None)
    assert not wallet.needs_refresh(without_token, T0 + 364 * DAY)  # nothing to refresh with


def test_an_unrenewed_permit_checked_daily_is_refreshed_a_handful_of_times(
    tmp_path: Path,
) -> None:
    wallet = WalletClient("http://127.0.0.1:9", tmp_path)
    exp = T0 + 365 * DAY
    credential = _credential(T0, exp)
    refreshes = 0
    for day in range(366):
        now = T0 + day * DAY
        if wallet.needs_refresh(credential, now):
            refreshes += 1
            credential = _credential(now, exp)  # the server had nothing newer: same expiry
    assert 3 <= refreshes <= 6
