"""Fixtures of the tests that serve the issuer on a real port for the handheld's CLI: the
issuer's public URL is that port (token audiences must match), its clock starts at the wall
clock (the CLI reads it). A test module takes them with
`from tests.support.handheld_server import port, served, settings, world`."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.support.db import make_test_settings
from tests.support.handheld import HandheldWorld, handheld_world
from tests.support.http import live_server


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def port() -> int:
    return _free_port()


@pytest.fixture
def settings(db_url: str, tmp_path: Path, port: int) -> Settings:
    """The issuer's public URL is the port it is served on (token audiences must match)."""
    return make_test_settings(db_url, tmp_path / "data", public_base_url=f"http://127.0.0.1:{port}")


@pytest.fixture
def served(app: FastAPI, clock: FixedClock, port: int) -> Iterator[tuple[FastAPI, str]]:
    # the handheld's CLI reads the wall clock: the server's fixed clock starts there too
    clock.set(datetime.now(UTC).replace(microsecond=0))
    with live_server(app, port=port) as base:
        yield app, base


@pytest.fixture
def world(
    served: tuple[FastAPI, str], clock: FixedClock, api_client: Any, tmp_path: Path
) -> HandheldWorld:
    return handheld_world(served[0], clock, api_client, tmp_path)
