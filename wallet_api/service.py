"""The whole service: the composition root, the one place that sees the issuer and the wallet
API together (issuer/ may not import wallet_api/).

- `service_app()`: everything `make run` serves, in one app: the municipal API (tenants,
  registry, permits, offers, enforcement handhelds, publication) and the wallet API
  (OpenID4VCI discovery, token, credential, devices). `municipal_app()` and `wallet_app()`
  serve one side each, for deployments that split intranet and internet.
- `main()`: the `buergerid-issuer` console script: issuer's command line (issuer.cli) with
  these apps handed in, so `buergerid-issuer serve [--workers N]` serves the whole service.

The factories take no arguments and read Settings from the environment: uvicorn calls them
once in every worker process.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from issuer import cli
from issuer.services.registry_events import subscribe_resident_changes
from issuer.settings import Settings
from wallet_api.app import create_combined_app, create_municipal_app, create_wallet_app
from wallet_api.services import residence_events

APPS = {
    "service": "wallet_api.service:service_app",
    "municipal": "wallet_api.service:municipal_app",
    "wallet": "wallet_api.service:wallet_app",
}
DEFAULT_APP = "service"


def service_app() -> FastAPI:
    """The whole service (municipal API and wallet API)."""
    return create_combined_app(Settings())


def municipal_app() -> FastAPI:
    """The municipal API with the wallet functions municipalities call (intranet)."""
    return create_municipal_app(Settings())


def wallet_app() -> FastAPI:
    """The public wallet API alone (internet)."""
    return create_wallet_app(Settings())


def main(argv: Sequence[str] | None = None) -> int:
    """`buergerid-issuer`: every subcommand of issuer.cli; `serve` and `dev` serve the
    whole service unless `--app` says otherwise. Register changes made by its commands (imports)
    revoke stale Bürger-IDs, as they do through the API."""
    subscribe_resident_changes(residence_events.on_resident_changed)
    return cli.main(argv, apps=APPS, default_app=DEFAULT_APP)


if __name__ == "__main__":
    raise SystemExit(main())
