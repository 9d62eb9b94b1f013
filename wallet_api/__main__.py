"""``python -m wallet_api``: what ``make run`` serves. Bootstraps the development data
(``issuer.devserver.bootstrap_dev``: migrations, keys, issuing CA, demo tenant, demo API
key), then serves the municipal and the wallet API in one process on
BUERGERID_HOST:BUERGERID_PORT, over https when TLS files are configured or with
``BUERGERID_DEV_TLS=1`` (a local CA under the data directory).

``python -m wallet_api serve --app wallet|municipal|combined [--workers N]`` serves one
deployment without any bootstrap, as ``buergerid-issuer serve --app wallet|municipal|service``
does (production: the database migrated with ``buergerid-issuer migrate``, tenants and keys
made by the operator). Every way logs only through the project's JSON logging
(``issuer.serving``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from issuer.cli import workers_argument
from issuer.logs import configure_logging
from issuer.serving import serve, serve_factory
from issuer.settings import Settings
from wallet_api import service
from wallet_api.app import create_combined_app

# the deployments `serve --app` offers: "combined" is the whole service
APPS = {"combined": service.APPS["service"], **service.APPS}
APPS.pop("service")


def _development(settings: Settings) -> int:
    """Bootstrap, print what to do next, serve until interrupted."""
    from issuer.devserver import bootstrap_dev

    info = bootstrap_dev(settings)
    # the relying party trusts the development PID provider here, never in production
    # (Settings refuses rp_dev_pid_provider there)
    settings = settings.model_copy(update={"rp_dev_pid_provider": True})
    base = settings.public_base_url.rstrip("/")
    lines = [
        "buergerid is serving (municipal API + wallet API):",
        f"  municipal API   {base}/api/v1/   (docs: {base}/docs)",
        f"  wallet API      {base}/.well-known/openid-credential-issuer",
        f"  demo issuer     {info.issuer_url}   (keys: {base}/.well-known/jwt-vc-issuer"
        f"{info.issuer_url[len(base) :]})",
        f"  trust bundle    {base}/trust-bundle",
        f"  data directory  {settings.data_dir}",
    ]
    tls: tuple[str, str] | None = None
    if info.tls is not None:
        tls = (str(info.tls.cert), str(info.tls.key))
        lines.append(f"  TLS             trust {info.tls.ca} (curl --cacert, NODE_EXTRA_CA_CERTS)")
    api_key = info.api_key
    if api_key:
        lines.append(f"  demo API key    {api_key}")
    auth = f'-H "Authorization: Bearer {api_key}"' if api_key else '-H "Authorization: ..."'
    if info.tls is not None:
        auth = f"--cacert {info.tls.ca} {auth}"
    lines += [
        "next:",
        "  make demo                      the whole story against this server",
        f"  curl -s {auth} {base}/api/v1/zones",
        f"  curl -s {auth} {base}/api/v1/permits",
        f"  curl -s {'--cacert ' + str(info.tls.ca) + ' ' if info.tls else ''}{base}/trust-bundle"
        " -o bundle.cbor",
        "  .venv/bin/buergerid-verify --help   (trust add-anchor, sync, check, scan, plate)",
        "  .venv/bin/buergerid-wallet --help",
        "Bürger-ID without a letter (a test PID from the development PID provider):",
        f"  .venv/bin/buergerid-wallet --server {base} dev-pid"
        f" --provider-dir {settings.data_dir / 'dev-pid-provider'}",
        f"  open {base}/rp/buergerid/{info.tenant_ags}   then: buergerid-wallet answer LINK"
        f" --verifier-root {settings.keys_dir / settings.issuing_ca_dir / 'ca.pem'}",
        f"  log in: {base}/rp/login/{info.tenant_ags}   (docs/relying-party.md)",
        f"citizen portal:  {base}/portal/{info.tenant_ags}   (docs/citizen-portal.md)",
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    from issuer.worker.runner import in_background

    with in_background(settings):  # development: the periodic jobs run in this process
        serve(create_combined_app(settings), settings, tls=tls)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Development without arguments; ``serve --app NAME`` for one deployment."""
    parser = argparse.ArgumentParser(prog="python -m wallet_api", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("serve", help="serve one deployment (no migration, no seeding)")
    p.add_argument("--app", choices=sorted(APPS), default="combined")
    p.add_argument("--workers", type=workers_argument, default=1, help="worker processes")
    args = parser.parse_args(argv)
    settings = Settings()
    # before any app is built: building one may already log (a generated development secret)
    configure_logging(settings.log_level, settings.log_format)
    if args.command is None:
        return _development(settings)
    serve_factory(APPS[args.app], settings, workers=args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
