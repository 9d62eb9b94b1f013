"""The API documentation a person opens: Swagger UI at `/docs` and a start page at `/`.

Swagger UI's files come from the pinned `fastapi-offline` package (Swagger UI 5, Apache-2.0;
the package's own code is MIT and is not used) and are served by the service itself: the page
works on a machine without internet and loads nothing from elsewhere (no CDN, no validator).
Only the three files the page needs are served, by name. The OpenAPI document declares the
API key as an HTTP bearer security scheme (`issuer.deps.API_KEY`), so "Authorize" takes a
`bid_…` key and "Try it out" sends it.
"""

from __future__ import annotations

import html
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

DOCS_PATH = "/docs"
ASSETS_PATH = "/docs/assets"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon.png": "image/png",
}
_SWAGGER_PARAMETERS = {
    "validatorUrl": None,  # no request to the public validator
    "persistAuthorization": False,  # the key is not written to the browser's storage
    "displayRequestDuration": True,
    "tryItOutEnabled": False,
}


def assets_directory() -> Path:
    """Where the pinned package keeps Swagger UI's files."""
    return Path(str(files("fastapi_offline") / "static"))


def _start_page(app: FastAPI, links: list[tuple[str, str]]) -> str:
    title = html.escape(app.title)
    items = "\n".join(
        f'    <li><a href="{html.escape(href)}">{html.escape(text)}</a></li>'
        for href, text in links
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title}</title>
</head>
<body>
  <h1>{title}</h1>
  <ul>
{items}
  </ul>
</body>
</html>
"""


def install_docs(app: FastAPI, *, extra_links: tuple[tuple[str, str], ...] = ()) -> None:
    """Serve `/docs` (Swagger UI), its assets and `/` (links) on `app`, built with
    `docs_url=None, redoc_url=None` so that nothing refers to a CDN."""
    directory = assets_directory()
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        page = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} – API documentation",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon.png",
            swagger_ui_parameters=_SWAGGER_PARAMETERS,
        )
        page.headers["Cache-Control"] = "no-cache"
        return page

    @app.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    def swagger_asset(name: str) -> FileResponse:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise HTTPException(status_code=404)
        return FileResponse(
            directory / name,
            media_type=media_type,
            headers={"Cache-Control": "public, max-age=86400"},
        )

    links = [
        (DOCS_PATH, "API documentation (Swagger UI)"),
        (openapi_url, "OpenAPI document"),
        *extra_links,
    ]
    page = _start_page(app, links)

    @app.get("/", include_in_schema=False)
    def start_page(_request: Request) -> HTMLResponse:
        return HTMLResponse(page)
