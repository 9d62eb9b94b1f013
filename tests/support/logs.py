"""The `log_stream` fixture: every log record of the test, as the service writes it (JSON lines
through `issuer.logs.JsonFormatter`, with the request id), at DEBUG, from the root logger."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from issuer.logs import JsonFormatter, RequestIdFilter


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
