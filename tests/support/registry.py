"""Sample registry payloads shared by the issuer tests (fictional people), and a walk over
the API routes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.routing import APIRoute

ZONE: dict[str, Any] = {
    "code": "A3",
    "name": "Altstadt Nord",
    "segments": [
        {"street": "Bahnhofstraße", "number_from": 1, "number_to": 99, "parity": "odd"},
        {"street": "Bahnhofstraße", "number_from": 2, "number_to": 40, "parity": "even"},
    ],
}


def resident(
    ref: str = "MR-1", *, block: bool = False, family: str = "Mustermann"
) -> dict[str, Any]:
    """A resident with a main residence."""
    return {
        "external_ref": ref,
        "given_name": "Erika",
        "family_name": family,
        "birth_date": "1980-02-29",
        "register_block": block,
        "residences": [
            {
                "kind": "main",
                "street": "Bahnhofstraße",
                "house_number": "13",
                "postcode": "45879",
                "valid_from": "2020-04-01",
            }
        ],
    }


def vehicle(
    holder_id: str | None, plate: str = "ge ab 1234", ref: str | None = "ZF-1"
) -> dict[str, Any]:
    """A leased car."""
    return {
        "external_ref": ref,
        "plate": plate,
        "kind": "leasing",
        "proof_ref": "Vertrag 17",
        "holder_id": holder_id,
        "length_mm": 4300,
        "width_mm": 1800,
    }


def iter_api_routes(app: Any) -> Iterator[tuple[str, APIRoute]]:
    """(full path, APIRoute) of every API route, through included routers of any depth."""

    def walk(routes: Any, prefix: str) -> Iterator[tuple[str, APIRoute]]:
        for route in routes:
            if isinstance(route, APIRoute):
                yield prefix + route.path, route
            elif hasattr(route, "original_router"):
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)

    yield from walk(app.routes, "")
