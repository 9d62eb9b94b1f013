"""``buergerid-wallet``: the stub wallet on the command line.

    buergerid-wallet [--wallet-dir DIR] [--server URL] redeem URI|IMAGE --tx-code CODE
    buergerid-wallet ... list [--json]
    buergerid-wallet ... qr ID --out FILE [--svg]
    buergerid-wallet ... pdf ID --out FILE [--page A6|A5]
    buergerid-wallet ... present ID --aud AUD --nonce NONCE [--claim PATH ...]
    buergerid-wallet ... refresh [--force]
    buergerid-wallet ... collect      fetch credentials the issuer deferred (a permit now paid)
    buergerid-wallet ... devices ID | remove-device ID DEVICE_ID

``--wallet-dir`` defaults to $BUERGERID_WALLET_DIR or ~/.local/share/buergerid-wallet;
``--server`` to $BUERGERID_WALLET_SERVER, else the offer's issuer (redeem), else
http://127.0.0.1:8000; ``--cacert FILE`` trusts a development TLS CA
(``BUERGERID_DEV_TLS=1 make run``: var/dev-tls/ca.pem). Exit status: 0 done, 1 refused by
the server, 2 usage error.
Tokens and credentials are never printed except where asked for (``present``).
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from mobile_sdk_stub.client import WalletClient, WalletError, offer_reference, parse_offer_uri

DEFAULT_SERVER = "http://127.0.0.1:8000"


def _wallet_dir(value: str | None) -> Path:
    if value:
        return Path(value)
    if os.environ.get("BUERGERID_WALLET_DIR"):
        return Path(os.environ["BUERGERID_WALLET_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "buergerid-wallet"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="buergerid-wallet", description="stub citizen wallet")
    parser.add_argument("--wallet-dir")
    parser.add_argument("--server")
    parser.add_argument("--cacert", help="a CA certificate (PEM) to trust for https")
    sub = parser.add_subparsers(dest="command", required=True)
    redeem = sub.add_parser("redeem", help="redeem a credential offer (URI or QR image)")
    redeem.add_argument("offer")
    redeem.add_argument("--tx-code", required=True)
    listing = sub.add_parser("list", help="stored credentials")
    listing.add_argument("--json", action="store_true")
    qr = sub.add_parser("qr", help="the permit QR as PNG or SVG")
    qr.add_argument("id")
    qr.add_argument("--out", required=True)
    qr.add_argument("--svg", action="store_true")
    pdf = sub.add_parser("pdf", help="the printable windscreen permit")
    pdf.add_argument("id")
    pdf.add_argument("--out", required=True)
    pdf.add_argument("--page", default="A6", choices=("A6", "A5"))
    present = sub.add_parser("present", help="a presentation with a KB-JWT")
    present.add_argument("id")
    present.add_argument("--aud", required=True)
    present.add_argument("--nonce", required=True)
    present.add_argument("--claim", action="append", default=[], help="e.g. holder.family_name")
    refresh = sub.add_parser("refresh", help="refresh credentials before they expire")
    refresh.add_argument("--force", action="store_true")
    sub.add_parser("collect", help="fetch credentials the issuer deferred (awaiting payment)")
    devices = sub.add_parser("devices", help="the holder's devices")
    devices.add_argument("id", help="a stored credential (for its refresh token)")
    remove = sub.add_parser("remove-device", help="remove a lost phone; revokes its credentials")
    remove.add_argument("id")
    remove.add_argument("device_id")
    return parser


def _server(args: argparse.Namespace) -> str:
    if args.server:
        return str(args.server)
    if os.environ.get("BUERGERID_WALLET_SERVER"):
        return os.environ["BUERGERID_WALLET_SERVER"]
    if args.command == "redeem" and not Path(args.offer).exists():
        reference = offer_reference(args.offer)
        if reference is not None:
            parts = urlsplit(reference)
            return f"{parts.scheme}://{parts.netloc}"
        return parse_offer_uri(args.offer).credential_issuer
    return DEFAULT_SERVER


def _claim_path(text: str) -> tuple[str | int, ...]:
    return tuple(int(p) if p.isdigit() else p for p in text.split("."))


def run(argv: Sequence[str]) -> int:
    """Run one command; returns the exit status."""
    args = _parser().parse_args(list(argv))
    out = sys.stdout
    try:
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=args.cacert) if args.cacert else True
        )
        with WalletClient(_server(args), _wallet_dir(args.wallet_dir), verify=verify) as wallet:
            if args.command == "redeem":
                offer: str | Path = Path(args.offer) if Path(args.offer).exists() else args.offer
                for stored in wallet.redeem(offer, args.tx_code):
                    out.write(f"stored {stored.kind} {stored.id} (expires {stored.expires_at})\n")
                for entry in wallet.pending.entries():
                    out.write(f"pending {entry.kind}: come back in {entry.interval} s (collect)\n")
            elif args.command == "collect":
                for stored in wallet.collect():
                    out.write(f"stored {stored.kind} {stored.id} (expires {stored.expires_at})\n")
                out.write(f"{len(wallet.pending.entries())} still pending\n")
            elif args.command == "list":
                rows = [
                    {
                        "id": c.id,
                        "kind": c.kind,
                        "issuer": c.issuer,
                        "expires_at": c.expires_at,
                        "has_qr": c.qr_text is not None,
                    }
                    for c in wallet.store.list_credentials()
                ]
                if args.json:
                    out.write(json.dumps(rows) + "\n")
                else:
                    for row in rows:
                        qr = " +QR" if row["has_qr"] else ""
                        out.write(f"{row['id']}  {row['kind']}{qr}  expires {row['expires_at']}\n")
            elif args.command == "qr":
                data = wallet.qr_svg(args.id) if args.svg else wallet.qr_png(args.id)
                Path(args.out).write_bytes(data)
                out.write(f"wrote {args.out}\n")
            elif args.command == "pdf":
                Path(args.out).write_bytes(wallet.pdf(args.id, page=args.page))
                out.write(f"wrote {args.out}\n")
            elif args.command == "present":
                paths = [_claim_path(c) for c in args.claim]
                out.write(wallet.present(args.id, paths, aud=args.aud, nonce=args.nonce) + "\n")
            elif args.command == "refresh":
                done = wallet.refresh(force=args.force)
                out.write(f"refreshed {len(done)} credential(s)\n")
            elif args.command == "devices":
                for device in wallet.devices(args.id):
                    gone = " (removed)" if device.get("removed_at") else ""
                    out.write(f"{device['id']}  key {device['thumbprint']}{gone}\n")
            elif args.command == "remove-device":
                revoked = wallet.remove_device(args.id, args.device_id)
                out.write(f"device removed; {revoked} credential(s) revoked\n")
    except WalletError as exc:
        sys.stderr.write(f"buergerid-wallet: {exc.code}\n")
        return 1
    except (KeyError, ValueError, OSError) as exc:
        sys.stderr.write(f"buergerid-wallet: {type(exc).__name__}: {exc}\n")
        return 2
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console script entry point."""
    return run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    raise SystemExit(main())
