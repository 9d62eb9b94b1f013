"""``python -m wallet_api``: what ``make run`` serves. Bootstraps the development data
(``issuer.devserver.bootstrap_dev``: migrations, keys, issuing CA, demo tenant, demo API
key), then serves the municipal and the wallet API in one process on
BUERGERID_HOST:BUERGERID_PORT, over https when TLS files are configured or with
``BUERGERID_DEV_TLS=1`` (a local CA under the data directory)."""

from __future__ import annotations

import sys

import uvicorn

from issuer.settings import Settings
from wallet_api.app import create_combined_app


def main() -> int:
    """Bootstrap, print what to do next, serve until interrupted."""
    settings = Settings()
    from issuer.devserver import bootstrap_dev

    info = bootstrap_dev(settings)
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
    certfile: str | None = None
    keyfile: str | None = None
    if info.tls is not None:
        certfile, keyfile = str(info.tls.cert), str(info.tls.key)
        lines.append(f"  TLS             trust {info.tls.ca} (curl --cacert, NODE_EXTRA_CA_CERTS)")
    elif settings.tls_certfile is not None and settings.tls_keyfile is not None:
        certfile, keyfile = str(settings.tls_certfile), str(settings.tls_keyfile)
    api_key = getattr(info, "api_key", None) if info is not None else None
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
    ]
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()
    uvicorn.run(
        create_combined_app(settings),
        host=settings.host,
        port=settings.port,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
