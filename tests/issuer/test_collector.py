"""The garbage collector's freeze while a server or a job runs (issuer.collector)."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from issuer import collector
from issuer.app import create_app
from issuer.migrations import upgrade
from tests.support.db import make_test_settings
from wallet_api.app import create_wallet_app


@pytest.fixture(autouse=True)
def nothing_frozen() -> None:
    assert gc.get_freeze_count() == 0, "a test before this one left objects frozen"


def test_the_first_holder_freezes_and_the_last_unfreezes() -> None:
    with collector.frozen():
        first = gc.get_freeze_count()
        assert first > 0
        made_since = [[n] for n in range(1000)]  # garbage to be, alive when the next one starts
        with collector.frozen():
            assert gc.get_freeze_count() == first  # a later holder freezes nothing more
        assert gc.get_freeze_count() == first  # the first holder still holds
        assert len(made_since) == 1000
    assert gc.get_freeze_count() == 0


def test_an_error_in_the_block_still_unfreezes() -> None:
    with pytest.raises(RuntimeError), collector.frozen():
        assert gc.get_freeze_count() > 0
        raise RuntimeError("the job failed")
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_keeps_its_freeze() -> None:
    gc.freeze()  # e.g. before forking workers
    try:
        own = gc.get_freeze_count()
        with collector.frozen():
            assert gc.get_freeze_count() == own
        assert gc.get_freeze_count() == own
    finally:
        gc.unfreeze()


def test_running_servers_keep_what_they_started_with_out_of_collections(tmp_path: Path) -> None:
    """An issuer and a wallet app in one process: frozen while either runs, given back when
    both have ended, whichever ends first."""
    url = f"sqlite:///{tmp_path / 'c.db'}"
    upgrade(url)
    settings = make_test_settings(url, tmp_path / "data")
    issuer_app, wallet_app = create_app(settings), create_wallet_app(settings)
    try:
        with TestClient(issuer_app) as issuer:
            assert gc.get_freeze_count() > 0
            assert issuer.get("/healthz").status_code == 200
            with TestClient(wallet_app):
                assert gc.get_freeze_count() > 0
            assert gc.get_freeze_count() > 0  # the issuer still runs
        assert gc.get_freeze_count() == 0
    finally:
        for app in (issuer_app, wallet_app):
            app.state.engine.dispose()
