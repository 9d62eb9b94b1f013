"""Fixtures of the issuer tests: `world`, a tenant with keys and zones (tests/support/world.py)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from issuer.services.clock import FixedClock
from tests.support.world import World, make_world


@pytest.fixture
def world(app: FastAPI, client: TestClient, clock: FixedClock, api_client: Any) -> World:
    """A tenant with an all-scopes API client, key rings and the zones A3 and B1."""
    return make_world(app, client, clock, api_client)
