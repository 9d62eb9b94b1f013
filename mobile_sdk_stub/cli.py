"""``buergerid-wallet``: the stub wallet on the command line.

    buergerid-wallet [--wallet-dir DIR] [--server URL] redeem URI|IMAGE [--tx-code CODE]
    buergerid-wallet ... list [--json]
    buergerid-wallet ... qr ID --out FILE [--svg]
    buergerid-wallet ... pdf ID --out FILE [--page A6|A5]
    buergerid-wallet ... present ID --aud AUD --nonce NONCE [--claim PATH ...]
    buergerid-wallet ... refresh [--force]
    buergerid-wallet ... collect      fetch credentials the issuer deferred (a permit now paid)
    buergerid-wallet ... devices ID | remove-device ID DEVICE_ID
    buergerid-wallet ... answer LINK|IMAGE --verifier-root PEM [--yes]
                         answer an OpenID4VP request (openid4vp:// link or its QR code)
    buergerid-wallet ... authorize CONFIGURATION_ID|OFFER   start the authorization code flow
    buergerid-wallet ... authorize-finish CALLBACK_URL      the redirect the browser ended on
    buergerid-wallet ... dev-pid [--provider-dir DIR] [--vct de|eu]
                         a test PID of the demo resident from the development PID provider

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

from mobile_sdk_stub import authorization
from mobile_sdk_stub.client import WalletClient, WalletError, offer_reference, parse_offer_uri
from mobile_sdk_stub.openid4vp import PresentationRefused, Presenter
from mobile_sdk_stub.store import write_private_file

PENDING_AUTHORIZATION = "authorization.json"

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
    redeem.add_argument(
        "--tx-code", help="the code of the letter (an offer made after a login carries none)"
    )
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
    answer = sub.add_parser("answer", help="answer an OpenID4VP request (link or QR image)")
    answer.add_argument("link")
    answer.add_argument(
        "--verifier-root",
        action="append",
        required=True,
        help="a CA certificate (PEM) that certifies relying parties' request-signing keys",
    )
    answer.add_argument("--yes", action="store_true", help="send without asking")
    authorize = sub.add_parser("authorize", help="start the authorization code flow")
    authorize.add_argument("start", help="a credential configuration id, or an offer URI")
    finish = sub.add_parser("authorize-finish", help="finish it with the redirect URL")
    finish.add_argument("callback")
    dev_pid = sub.add_parser("dev-pid", help="a test PID from the development PID provider")
    dev_pid.add_argument("--provider-dir")
    dev_pid.add_argument("--vct", choices=("de", "eu"), default="de")
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


def _link(value: str) -> str:
    if Path(value).exists():
        from verifier.handheld import ScanError, read_qr_texts

        try:
            texts = read_qr_texts(Path(value))
        except ScanError as exc:
            raise PresentationRefused("bad_request_object", exc.code) from exc
        for text in texts:
            if text.startswith(("openid4vp://", "haip-vp://")):
                return text
        raise PresentationRefused("bad_request_object", "the image holds no OpenID4VP link")
    return value


def _answer(wallet: WalletClient, args: argparse.Namespace, verify: ssl.SSLContext | bool) -> str:
    from cryptography import x509

    roots = [x509.load_pem_x509_certificate(Path(p).read_bytes()) for p in args.verifier_root]
    presenter = Presenter(
        wallet.device, wallet.store, verifier_roots=roots, clock=wallet.now, verify=verify
    )
    try:
        request = presenter.resolve(_link(args.link))
        chosen = presenter.choose(request)
        lines = [f"{request.client_name or request.client_id} asks for:"]
        for cid, (stored, paths) in chosen.items():
            names = ", ".join(".".join(str(p) for p in path) for path in paths)
            lines.append(f"  {stored.kind} ({cid}): {names}")
        sys.stdout.write("\n".join(lines) + "\n")
        if not args.yes:
            sys.stdout.write("send? [y/N] ")
            sys.stdout.flush()
            if sys.stdin.readline().strip().lower() not in ("y", "yes", "j", "ja"):
                return "not sent"
        redirect = presenter.respond(request, chosen=chosen)
    finally:
        presenter.close()
    return f"sent; open {redirect}" if redirect else "sent; the other device shows the result"


def _pending_path(wallet_dir: Path) -> Path:
    return wallet_dir / PENDING_AUTHORIZATION


def _authorize(wallet: WalletClient, args: argparse.Namespace, wallet_dir: Path) -> str:
    if args.start.startswith("openid-credential-offer://"):
        pending = authorization.start_from_offer(wallet, args.start)
    else:
        pending = authorization.start(wallet, [args.start])
    doc = {
        "authorization_url": pending.authorization_url,
        "configuration_ids": list(pending.configuration_ids),
        "state": pending.state,
        "redirect_uri": pending.redirect_uri,
        "client_id": pending.client_id,
        "code_verifier": pending.code_verifier,
    }
    write_private_file(_pending_path(wallet_dir), json.dumps(doc).encode("utf-8"))
    return (
        f"open in a browser: {pending.authorization_url}\n"
        "then: buergerid-wallet authorize-finish '<the address the browser ended on>'"
    )


def _authorize_finish(wallet: WalletClient, args: argparse.Namespace, wallet_dir: Path) -> str:
    path = _pending_path(wallet_dir)
    if not path.exists():
        raise WalletError("no_authorization", "run authorize first")
    doc = json.loads(path.read_text(encoding="utf-8"))
    pending = authorization.Pending(
        authorization_url=doc["authorization_url"],
        configuration_ids=tuple(doc["configuration_ids"]),
        state=doc["state"],
        redirect_uri=doc["redirect_uri"],
        client_id=doc["client_id"],
        code_verifier=doc["code_verifier"],
    )
    try:
        stored = authorization.finish(wallet, pending, args.callback)
    finally:
        path.unlink(missing_ok=True)  # a code is spent once, right or wrong
    return "\n".join(f"stored {c.kind} {c.id} (expires {c.expires_at})" for c in stored)


def _dev_pid(wallet: WalletClient, args: argparse.Namespace) -> str:
    from mobile_sdk_stub import dev_pid

    base = Path(os.environ.get("BUERGERID_DATA_DIR") or "var")
    provider = Path(args.provider_dir) if args.provider_dir else base / "dev-pid-provider"
    vct = dev_pid.PID_DE if args.vct == "de" else dev_pid.PID_EU
    sd_jwt = dev_pid.sign_with_dev_provider(
        provider,
        dev_pid.erika(vct),
        holder_jwk=wallet.device.public_jwk(),
        vct=vct,
        now=wallet.now(),
    )
    stored = wallet.store.add(
        kind="pid", now=wallet.now(), sd_jwt=sd_jwt, vct=vct, issuer=dev_pid.DEV_PROVIDER_URL
    )
    return f"stored pid {stored.id} ({vct})"


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
        wallet_dir = _wallet_dir(args.wallet_dir)
        with WalletClient(_server(args), wallet_dir, verify=verify) as wallet:
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
            elif args.command == "answer":
                out.write(_answer(wallet, args, verify) + "\n")
            elif args.command == "authorize":
                out.write(_authorize(wallet, args, wallet_dir) + "\n")
            elif args.command == "authorize-finish":
                out.write(_authorize_finish(wallet, args, wallet_dir) + "\n")
            elif args.command == "dev-pid":
                out.write(_dev_pid(wallet, args) + "\n")
    except (WalletError, PresentationRefused) as exc:
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
