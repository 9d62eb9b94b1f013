"""Structured logging: JSON lines with a constant event name, ids and the request id.

Never log tokens, bodies, names, birth dates, addresses, plates, keys or passphrases: callers
pass identifiers only, as `extra=` fields.
"""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id_var: ContextVar[str | None] = ContextVar("buergerid_request_id", default=None)

# attributes every LogRecord has; anything else came in through `extra=`
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class RequestIdFilter(logging.Filter):
    """Adds the current request id (if any) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, event, request_id and the extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.msg if isinstance(record.msg, str) else repr(record.msg),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and value is not None:
                body[key] = value if isinstance(value, int | float | bool | str) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            # the exception type only: messages and tracebacks may carry request data
            body["exc_type"] = record.exc_info[0].__name__
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at emit time (survives stream swaps in tests)."""

    is_buergerid = True

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def make_handler(fmt: str = "json") -> logging.Handler:
    """Our stderr handler: JSON lines (or plain text for `fmt="text"`) with the request id."""
    handler = _StderrHandler()
    handler.addFilter(RequestIdFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    return handler


def logging_config(level: str = "INFO", fmt: str = "json") -> dict[str, Any]:
    """`configure_logging` as a `logging.config.dictConfig` dictionary: uvicorn applies it
    first thing in every worker process it starts."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"buergerid": {"()": "issuer.logs.make_handler", "fmt": fmt}},
        "root": {"level": level, "handlers": ["buergerid"]},
        "loggers": {"uvicorn.access": {"handlers": [], "propagate": False}},
    }


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Configure the root logger from the entry point (never at import); replaces only our
    own handler, so calling it twice is harmless."""
    handler = make_handler(fmt)
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "is_buergerid", False):
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn's access log prints query strings; ours (middleware) does not
    logging.getLogger("uvicorn.access").disabled = True
