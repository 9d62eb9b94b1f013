"""``python -m wallet_api``: what ``make run`` serves. Bootstraps the development data
(``issuer.devserver.bootstrap_dev``: migrations, keys, demo tenant, demo API key), then
serves the municipal and the wallet API in one process on BUERGERID_HOST:BUERGERID_PORT.

``python -m wallet_api serve --app wallet|municipal|combined`` serves one deployment without
any bootstrap (production: the database migrated with ``buergerid-issuer migrate``, tenants
and keys made by the operator). Every way logs only through the project's JSON logging
(``issuer.serving``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from fastapi import FastAPI

from issuer.serving import serve
from issuer.settings import Settings
from wallet_api.app import create_combined_app, create_municipal_app, create_wallet_app

APPS: dict[str, Callable[[Settings], FastAPI]] = {
    "combined": create_combined_app,
    "wallet": create_wallet_app,
    "municipal": create_municipal_app,
}


def _development(settings: Settings) -> int:
    """Bootstrap, print what to do next, serve until interrupted."""
    from issuer.devserver import bootstrap_dev
    from issuer.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)
    info = bootstrap_dev(settings)
    base = settings.public_base_url.rstrip("/")
    lines = [
        "buergerid is serving (municipal API + wallet API):",
        f"  municipal API   {base}/api/v1/   (docs: {base}/docs)",
        f"  wallet API      {base}/.well-known/openid-credential-issuer",
        f"  trust bundle    {base}/trust-bundle",
        f"  data directory  {settings.data_dir}",
    ]
    api_key = info.api_key
    if api_key:
        lines.append(f"  demo API key    {api_key}")
    auth = f'-H "Authorization: Bearer {api_key}"' if api_key else '-H "Authorization: ..."'
    lines += [
        "next:",
        "  make demo                      the whole story against this server",
        f"  curl -s {auth} {base}/api/v1/zones",
        f"  curl -s {auth} {base}/api/v1/permits",
        f"  curl -s {base}/trust-bundle -o bundle.cbor",
        "  .venv/bin/buergerid-verify --help   (trust add-anchor, sync, check, scan, plate)",
        "  .venv/bin/buergerid-wallet --help",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    serve(create_combined_app(settings), settings)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Development without arguments; ``serve --app NAME`` for one deployment."""
    parser = argparse.ArgumentParser(prog="python -m wallet_api", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("serve", help="serve one deployment (no migration, no seeding)")
    p.add_argument("--app", choices=sorted(APPS), default="combined")
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command is None:
        return _development(settings)
    serve(APPS[args.app](settings), settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
