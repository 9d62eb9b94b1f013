"""OpenAPI: every platform/registry operation shows an example for its body and its answer."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI

from issuer.app import create_app
from issuer.settings import Settings
from tests.support.registry import iter_api_routes

PLATFORM_ROUTES = {
    f"issuer.routes.{m}"
    for m in ("health", "tenants", "clients", "residents", "vehicles", "zones", "audit", "imports")
}


def _has_example(node: Any, spec: dict[str, Any]) -> bool:
    text = json.dumps(node)
    if '"example' in text:
        return True
    for part in text.split('"'):
        if part.startswith("#/components/schemas/"):
            schema = spec["components"]["schemas"][part.rsplit("/", 1)[1]]
            if '"example' in json.dumps(schema):
                return True
    return False


def test_every_operation_has_examples(tmp_path: Any) -> None:
    app: FastAPI = create_app(Settings(data_dir=tmp_path))
    spec = app.openapi()
    missing = []
    seen = 0
    for path, route in iter_api_routes(app):
        if route.endpoint.__module__ not in PLATFORM_ROUTES:
            continue
        for method in route.methods:
            op = spec["paths"][path][method.lower()]
            seen += 1
            ok = [
                code
                for code, resp in op["responses"].items()
                if code.startswith("2") and _has_example(resp, spec)
            ]
            if not ok:
                missing.append(f"{method} {path} (answer)")
            if "requestBody" in op and not _has_example(op["requestBody"], spec):
                missing.append(f"{method} {path} (body)")
    app.state.engine.dispose()
    assert seen >= 20
    assert missing == []
