"""`buergerid-keys`: key rings, rotation, withdrawal, public key export and trust bundles.

The only module of `keys/` that reads the environment, the wall clock, prompts and prints.
Secrets never come from arguments: the key-file passphrase from `BUERGERID_KEY_PASSPHRASE`
or a prompt, the PKCS#11 PIN from `BUERGERID_PKCS11_PIN`, the file named by
`BUERGERID_PKCS11_PIN_FILE` or a prompt; the PKCS#11 module from `BUERGERID_PKCS11_MODULE`
(default: Debian's SoftHSM2), the token label from `--token-label`,
`BUERGERID_PKCS11_TOKEN_LABEL` (the issuer's setting) or `BUERGERID_PKCS11_TOKEN`.
`--at UNIX` replaces the wall clock.

Rings are directories (`RING` is a path), or rows of the shared database (`RING` is the
ring's name: a tenant's AGS, `root`) with `--store database` or `BUERGERID_KEY_STORE=database`
(the default when `BUERGERID_ENVIRONMENT=production`, as for the issuer). The database URL
comes from `BUERGERID_DATABASE_URL` (the issuer's variable) or `--database-url`; a URL with a
password belongs in the environment, not on a command line. `import-rings KEYS_DIR` copies
directory rings, the issuing CA and the relying party's identity into the database once (the
upgrade path).

The relying party's access certificate (`rp show|request|install`) follows it too: its `DIR`
is `relying-party` (the issuer's `rp_dir`) in the database. `rp request` makes the key when
there is none and prints a certificate request for a registrar of relying parties; `rp
install` installs the chain the registrar issued for that key.

The issuing CA (`ca ...`) follows the same store: with the database store its `DIR` is the
CA's name (`ca`, the issuer's `issuing_ca_dir`); an argument with a `/` in it is always a
directory, e.g. an offline CA that certifies database rings.

Exit status: 0 done, 2 usage or operational error (one line on stderr, never a traceback).
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from cryptography import x509
from rich.console import Console
from rich.table import Table

from keys import relying_party
from keys.bundle import IssuerSource, build_trust_bundle, issuer_from_ring
from keys.errors import KeyRingError, KeysCode, KeysError
from keys.issuing_ca import IssuingCa, describe
from keys.lifecycle import KeyState, RotationPolicy
from keys.ring import Backend, KeyInfo, KeyRing, RingKind
from keys.storage._atomic import write_atomic
from keys.storage.documents import DirectoryDocuments
from keys.storage.file import DEFAULT_KDF, KdfParams
from keys.storage.pkcs11 import Pkcs11Token, module_path
from keys.storage.rings import DirectoryRingStore, RingStorage

if TYPE_CHECKING:
    from keys.storage.sql import SqlDocuments, SqlRingStore
from verifier import VerifierError
from verifier.formats import JOSE_NAMES, Alg, cbor_dumps, key_to_cose, key_to_jwk

PROG = "buergerid-keys"
EXIT_OK = 0
EXIT_ERROR = 2
DAY = 86_400
PASSPHRASE_ENV = "BUERGERID_KEY_PASSPHRASE"
PIN_ENV = "BUERGERID_PKCS11_PIN"
PIN_FILE_ENV = "BUERGERID_PKCS11_PIN_FILE"
TOKEN_ENV = "BUERGERID_PKCS11_TOKEN"
TOKEN_LABEL_ENV = "BUERGERID_PKCS11_TOKEN_LABEL"
STORE_ENV = "BUERGERID_KEY_STORE"
DATABASE_URL_ENV = "BUERGERID_DATABASE_URL"
ENVIRONMENT_ENV = "BUERGERID_ENVIRONMENT"
MAX_STATUS_FILE_BYTES = 4 * 1024 * 1024

# defaults: issuer keys sign 180 days; the longest token (a printed permit) lives 2 years
ISSUER_SIGN_SECONDS = 180 * DAY
ISSUER_MAX_TOKEN_SECONDS = 731 * DAY
# root keys sign bundles for 2 years; a bundle lives at most BUNDLE_VALID_SECONDS
ROOT_SIGN_SECONDS = 731 * DAY
BUNDLE_FRESH_SECONDS = DAY
# a new root key is announced (anchors_next) this long before it signs: handhelds offline
# for longer must be given the new anchor by hand
ROOT_PENDING_SECONDS = 30 * DAY
BUNDLE_VALID_SECONDS = 7 * DAY
ALGS = {"es256": Alg.ES256, "ed25519": Alg.EDDSA}
# the issuing CA's root certificate lives ten years; it is pinned by wallets and verifiers
CA_VALID_DAYS = 3650
DEFAULT_KEY_DIRS = ("ca", "relying-party")
CA_DIR_HELP = "the CA's directory, or its name in the database store (a path has a /)"
RP_DIR_HELP = (
    "the relying party's directory, or its name in the database store (the issuer's rp_dir, "
    "default relying-party; a path has a /)"
)
MAX_CHAIN_FILE_BYTES = 64 * 1024


class UsageError(Exception):
    """A usage or operational error: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _unix(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected integer seconds") from None
    return value


def _positive(text: str) -> int:
    value = _unix(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("expected a positive number of seconds")
    return value


def _parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    common.add_argument("--at", type=_unix, metavar="UNIX", help="use this time instead of now")
    hsm = _Parser(add_help=False)
    hsm.add_argument("--token-label", help=f"PKCS#11 token (default ${TOKEN_ENV})")
    new_key = _Parser(add_help=False)
    new_key.add_argument("--alg", choices=sorted(ALGS), help="default es256 (rotate: as current)")
    new_key.add_argument("--backend", choices=[b.value for b in Backend])
    new_key.add_argument("--types", help="comma-separated, e.g. BEW,BES,status")
    new_key.add_argument("--kdf-time-cost", type=_positive, default=DEFAULT_KDF.time_cost)
    new_key.add_argument("--kdf-memory-kib", type=_positive, default=DEFAULT_KDF.memory_kib)
    new_key.add_argument("--kdf-parallelism", type=_positive, default=DEFAULT_KDF.parallelism)
    store = _Parser(add_help=False)
    store.add_argument(
        "--store",
        choices=["directory", "database"],
        help=f"where rings live (default ${STORE_ENV}; database in production, else directory)",
    )
    store.add_argument("--database-url", help=f"default ${DATABASE_URL_ENV}")

    parser = _Parser(prog=PROG, description="Key rings and trust bundles of buergerid.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "create", parents=[common, store, hsm, new_key], help="create a ring and/or a key"
    )
    p.add_argument("ring", type=Path)
    p.add_argument("--issuer", help="issuer id (AGS) or operator name; creates the ring")
    p.add_argument("--root", action="store_true", help="the ring signs trust bundles")
    p.add_argument("--name", default="", help="display name published in the bundle")
    p.add_argument("--url", default="", help="https issuer URL published in the bundle")
    p.add_argument("--no-key", action="store_true", help="only create the ring")
    p.add_argument("--nbf", type=_unix, help="start signing at (default: now)")
    p.add_argument("--sign-seconds", type=_positive, help="how long the key signs")
    p.add_argument("--max-token-seconds", type=_positive, help="longest token it signs")

    p = sub.add_parser("list", parents=[common, store], help="list the keys of a ring")
    p.add_argument("ring", type=Path)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "rotate", parents=[common, store, hsm, new_key], help="plan and add the next key"
    )
    p.add_argument("ring", type=Path)
    p.add_argument(
        "--fresh-seconds",
        type=_positive,
        help="publish the new key this long before it signs (issuer: 1 day, root: 30 days)",
    )
    p.add_argument("--max-token-seconds", type=_positive)
    p.add_argument("--sign-seconds", type=_positive)
    p.add_argument("--force", action="store_true", help="rotate now (e.g. after a withdrawal)")

    p = sub.add_parser(
        "withdraw",
        parents=[common, store, hsm],
        help="withdraw a compromised key (destroyed in a token)",
    )
    p.add_argument("ring", type=Path)
    p.add_argument(
        "kid", help="JWS kid or a unique prefix (≥ 6 characters); put -- before one starting with -"
    )

    p = sub.add_parser("export-public", parents=[common, store], help="export public keys")
    p.add_argument("ring", type=Path)
    p.add_argument(
        "--kid", help="one key (write --kid=VALUE if it starts with -); default: every published"
    )
    p.add_argument("--format", choices=["jwk", "cose"], default="jwk")
    p.add_argument("--out", type=Path, help="file to write (default stdout)")

    p = sub.add_parser("bundle", parents=[common, store, hsm], help="build and sign a trust bundle")
    p.add_argument("--root", type=Path, required=True, help="the root ring")
    p.add_argument("--issuer", type=Path, action="append", default=[], help="an issuer ring")
    p.add_argument(
        "--status",
        action="append",
        default=[],
        metavar="ISSUER:LIST=FILE",
        help="a Status List Token (CWT) file for an issuer's list number",
    )
    p.add_argument("--seq", type=_unix, help="default: the root ring's last seq + 1")
    p.add_argument("--fresh-seconds", type=_positive, default=BUNDLE_FRESH_SECONDS)
    p.add_argument("--valid-seconds", type=_positive, default=BUNDLE_VALID_SECONDS)
    p.add_argument("--out", type=Path, required=True)

    p = sub.add_parser(
        "import-rings",
        parents=[common, store],
        help="copy the directory rings under KEYS_DIR into the database (once, idempotent)",
    )
    p.add_argument("keys_dir", type=Path, metavar="KEYS_DIR")
    p.add_argument(
        "--key-dir",
        action="append",
        default=None,
        metavar="NAME",
        help="a key directory to copy besides the rings (default: ca and relying-party)",
    )

    p = sub.add_parser("ca", help="the issuing CA: x5c certificates of issuer keys")
    ca = p.add_subparsers(dest="ca_command", required=True, parser_class=_Parser)
    c = ca.add_parser("create", parents=[common, store, hsm], help="create the CA and its root")
    c.add_argument("dir", help=CA_DIR_HELP)
    c.add_argument("--name", required=True, help="root certificate CN, e.g. 'GKD Issuing CA'")
    c.add_argument("--org", help="organization name in the root certificate")
    c.add_argument("--valid-days", type=_positive, default=CA_VALID_DAYS)
    c.add_argument("--backend", choices=[b.value for b in Backend], default="file")
    c.add_argument("--kdf-time-cost", type=_positive, default=DEFAULT_KDF.time_cost)
    c.add_argument("--kdf-memory-kib", type=_positive, default=DEFAULT_KDF.memory_kib)
    c.add_argument("--kdf-parallelism", type=_positive, default=DEFAULT_KDF.parallelism)
    c = ca.add_parser("certify", parents=[common, store, hsm], help="certify every published key")
    c.add_argument("dir", help=CA_DIR_HELP)
    c.add_argument("ring", type=Path, nargs="+", help="issuer rings (their name and url)")
    c.add_argument("--renew", action="store_true", help="replace existing certificates")
    c = ca.add_parser("show", parents=[common, store], help="the root and every issued certificate")
    c.add_argument("dir", help=CA_DIR_HELP)
    c.add_argument("--json", action="store_true")
    c = ca.add_parser("export", parents=[common, store], help="the root certificate (PEM)")
    c.add_argument("dir", help=CA_DIR_HELP)
    c.add_argument("--out", type=Path, help="file to write (default stdout)")

    p = sub.add_parser("rp", help="the relying party's access certificate (OpenID4VP)")
    rp = p.add_subparsers(dest="rp_command", required=True, parser_class=_Parser)
    c = rp.add_parser("show", parents=[common, store], help="client identifiers and validity")
    c.add_argument("dir", help=RP_DIR_HELP)
    c.add_argument("--json", action="store_true")
    c = rp.add_parser(
        "request", parents=[common, store], help="a certificate request for a registrar (PEM)"
    )
    c.add_argument("dir", help=RP_DIR_HELP)
    c.add_argument("--base-url", required=True, help="the public base URL, https://host")
    c.add_argument("--name", required=True, help="the certificate's CN, e.g. 'Stadt Gelsenkirchen'")
    c.add_argument("--out", type=Path, help="file to write (default stdout)")
    c = rp.add_parser(
        "install", parents=[common, store], help="install the chain a registrar issued"
    )
    c.add_argument("dir", help=RP_DIR_HELP)
    c.add_argument("chain", type=Path, help="PEM file: the access certificate first")
    return parser


# --------------------------------------------------------------------------- secrets


def _passphrase(environ: Mapping[str, str], *, confirm: bool) -> Callable[[], str]:
    def ask() -> str:
        value = environ.get(PASSPHRASE_ENV)
        if value:
            return value
        if not sys.stdin.isatty():
            raise KeyRingError(KeysCode.PASSPHRASE_REQUIRED, f"set {PASSPHRASE_ENV}")
        first = getpass.getpass("Key passphrase: ")
        if confirm and getpass.getpass("Repeat passphrase: ") != first:
            raise KeyRingError(KeysCode.PASSPHRASE_REQUIRED, "the passphrases differ")
        return first

    return ask


def _token(args: argparse.Namespace, environ: Mapping[str, str]) -> Pkcs11Token | None:
    label = (
        getattr(args, "token_label", None) or environ.get(TOKEN_LABEL_ENV) or environ.get(TOKEN_ENV)
    )
    if not label:
        return None
    pin = environ.get(PIN_ENV)
    if not pin and environ.get(PIN_FILE_ENV):
        try:
            pin = Path(environ[PIN_FILE_ENV]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise KeyRingError(KeysCode.PKCS11_LOGIN, f"cannot read ${PIN_FILE_ENV}") from exc
    if not pin:
        if not sys.stdin.isatty():
            raise KeyRingError(KeysCode.PKCS11_REQUIRED, f"set {PIN_ENV}")
        pin = getpass.getpass("PKCS#11 user PIN: ")
    return Pkcs11Token.open(token_label=label, pin=pin, module=module_path(environ))


# --------------------------------------------------------------------------- where rings live


class _Rings:
    """The rings of one command: directories, or the database (its engine made on first use
    and disposed by `close`)."""

    def __init__(self, args: argparse.Namespace, environ: Mapping[str, str]) -> None:
        default = "database" if environ.get(ENVIRONMENT_ENV) == "production" else "directory"
        self.kind = getattr(args, "store", None) or environ.get(STORE_ENV) or default
        if self.kind not in ("directory", "database"):
            raise UsageError(f"{STORE_ENV} must be directory or database")
        self._url = getattr(args, "database_url", None) or environ.get(DATABASE_URL_ENV)
        self._engine: Any = None

    def database(self) -> SqlRingStore:
        """The database's rings; a usage error without a URL."""
        from keys.storage.sql import SqlRingStore, connect

        if not self._url:
            raise UsageError(f"set {DATABASE_URL_ENV} (or --database-url)")
        if self._engine is None:
            self._engine = connect(self._url)
        return SqlRingStore(self._engine)

    def key_directory(self, where: str) -> Path | SqlDocuments:
        """The issuing CA's `DIR`: a directory, or (database store, no `/` in it) its name."""
        if self.kind == "directory" or "/" in where:
            return Path(where)
        return self.database().documents(where)

    def __call__(self, ring: Path) -> Path | RingStorage:
        """`ring` as given: a directory, or the name of a database ring."""
        return ring if self.kind == "directory" else self.database().ring(str(ring))

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


# --------------------------------------------------------------------------- output


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _write_out(path: Path | None, data: bytes) -> None:
    """Public data (keys, certificates, requests) to ``path``, or standard output without one."""
    if path is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    else:
        write_atomic(path, data, overwrite=True, mode=0o644)


def _err(line: str) -> None:
    sys.stderr.write(line.replace("\n", " ") + "\n")


def _time(value: int) -> str:
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%MZ")


def _info_json(k: KeyInfo) -> dict[str, Any]:
    return {
        "kid": k.kid,
        "alg": JOSE_NAMES[k.alg],
        "state": k.state.value,
        "backend": k.backend.value,
        "nbf": k.window.nbf,
        "sign_until": k.window.sign_until,
        "exp": k.window.exp,
        "types": [t.value for t in k.types],
        "withdrawn_at": k.withdrawn_at,
    }


_STATE_STYLE = {
    KeyState.PENDING: "cyan",
    KeyState.ACTIVE: "bold green",
    KeyState.RETIRED: "yellow",
    KeyState.EXPIRED: "dim",
    KeyState.WITHDRAWN: "bold red",
}


def _print_table(ring: KeyRing, records: Sequence[KeyInfo], console: Console) -> None:
    table = Table(title=f"{ring.kind.value} ring {ring.issuer_id}")
    for column in ("state", "alg", "kid", "backend", "nbf", "sign_until", "exp", "types"):
        table.add_column(column, no_wrap=column in {"kid", "nbf", "sign_until", "exp"})
    for k in records:
        table.add_row(
            f"[{_STATE_STYLE[k.state]}]{k.state.value}[/]",
            JOSE_NAMES[k.alg],
            k.kid,
            k.backend.value,
            _time(k.window.nbf),
            _time(k.window.sign_until),
            _time(k.window.exp),
            ",".join(t.value for t in k.types),
        )
    console.print(table)


# --------------------------------------------------------------------------- commands


def _kdf(args: argparse.Namespace) -> KdfParams:
    kdf = KdfParams(args.kdf_time_cost, args.kdf_memory_kib, args.kdf_parallelism)
    kdf.check()
    return kdf


def _types(args: argparse.Namespace) -> list[str] | None:
    if not args.types:
        return None
    return [t.strip() for t in args.types.split(",") if t.strip()]


def _cmd_create(args: argparse.Namespace, now: int, environ: Mapping[str, str]) -> int:
    token = _token(args, environ)
    try:
        passphrase = _passphrase(environ, confirm=True)
        kdf = _kdf(args)
        if args.issuer is not None:
            kind = RingKind.ROOT if args.root else RingKind.ISSUER
            ring = KeyRing.create(
                args.rings(args.ring),
                args.issuer,
                kind=kind,
                name=args.name,
                url=args.url,
                passphrase=passphrase,
                pkcs11=token,
                kdf=kdf,
            )
        else:
            ring = KeyRing.open(args.rings(args.ring), passphrase=passphrase, pkcs11=token, kdf=kdf)
        if args.no_key:
            _out(f"ring {ring.issuer_id} created")
            return EXIT_OK
        is_root = ring.kind is RingKind.ROOT
        sign = args.sign_seconds or (ROOT_SIGN_SECONDS if is_root else ISSUER_SIGN_SECONDS)
        tail = args.max_token_seconds or (
            BUNDLE_VALID_SECONDS if is_root else ISSUER_MAX_TOKEN_SECONDS
        )
        nbf = now if args.nbf is None else args.nbf
        backend = args.backend or (Backend.PKCS11 if token is not None else Backend.FILE)
        info = ring.add_key(
            nbf=nbf,
            sign_until=nbf + sign,
            exp=nbf + sign + tail,
            alg=ALGS[args.alg or "es256"],
            backend=backend,
            types=_types(args),
            now=now,
        )
    finally:
        if token is not None:
            token.close()
    _out(f"{info.state.value} {JOSE_NAMES[info.alg]} {info.kid}")
    return EXIT_OK


def _cmd_list(args: argparse.Namespace, now: int, environ: Mapping[str, str]) -> int:
    ring = KeyRing.open(args.rings(args.ring))
    records = ring.records(now)
    if args.json:
        _out(json.dumps([_info_json(k) for k in records], indent=2))
    else:
        # a pipe gets the full table rather than one squeezed to 80 columns
        _print_table(ring, records, Console(width=None if sys.stdout.isatty() else 200))
    return EXIT_OK


def _cmd_rotate(args: argparse.Namespace, now: int, environ: Mapping[str, str]) -> int:
    token = _token(args, environ)
    try:
        ring = KeyRing.open(
            args.rings(args.ring),
            passphrase=_passphrase(environ, confirm=False),
            pkcs11=token,
            kdf=_kdf(args),
        )
        is_root = ring.kind is RingKind.ROOT
        policy = RotationPolicy(
            fresh_seconds=args.fresh_seconds
            or (ROOT_PENDING_SECONDS if is_root else BUNDLE_FRESH_SECONDS),
            max_token_seconds=args.max_token_seconds
            or (BUNDLE_VALID_SECONDS if is_root else ISSUER_MAX_TOKEN_SECONDS),
            sign_seconds=args.sign_seconds
            or (ROOT_SIGN_SECONDS if is_root else ISSUER_SIGN_SECONDS),
        )
        info = ring.rotate(
            now,
            policy,
            force=args.force,
            alg=ALGS[args.alg] if args.alg else None,
            backend=args.backend,
            types=_types(args),
        )
    finally:
        if token is not None:
            token.close()
    if info is None:
        _out("a successor key is already published; nothing to do")
    else:
        _out(f"{info.state.value} {JOSE_NAMES[info.alg]} {info.kid} signs from {info.window.nbf}")
    return EXIT_OK


def _cmd_withdraw(args: argparse.Namespace, now: int, environ: Mapping[str, str]) -> int:
    token = _token(args, environ)
    try:
        info = KeyRing.open(args.rings(args.ring), pkcs11=token).withdraw(args.kid, now)
    finally:
        if token is not None:
            token.close()
    _out(f"withdrawn {info.kid} at {info.withdrawn_at}; rebuild and publish the trust bundle")
    return EXIT_OK


def _cmd_export(args: argparse.Namespace, now: int, environ: Mapping[str, str]) -> int:
    ring = KeyRing.open(args.rings(args.ring))
    keys = [ring.find(args.kid, now)] if args.kid else ring.published(now)
    data: bytes
    if args.format == "jwk":
        jwks = [
            {**key_to_jwk(k.public_key), "kid": k.kid, "alg": JOSE_NAMES[k.alg], "use": "sig"}
            for k in keys
        ]
        doc: object = jwks[0] if args.kid else {"keys": jwks}
        data = (json.dumps(doc, indent=2) + "\n").encode("utf-8")
    else:
        cose = [key_to_cose(k.public_key) for k in keys]
        data = cbor_dumps(cose[0] if args.kid else cose)
    _write_out(args.out, data)
    return EXIT_OK


def _cmd_ca(args: argparse.Namespace, now: int, environ: Mapping[str, str]) -> int:
    if args.ca_command == "create":
        token = _token(args, environ) if args.backend == Backend.PKCS11.value else None
        created = IssuingCa.create(
            args.rings.key_directory(args.dir),
            common_name=args.name,
            organization=args.org,
            now=now,
            valid_seconds=args.valid_days * DAY,
            backend=Backend(args.backend),
            passphrase=None if token else _passphrase(environ, confirm=True)(),
            pkcs11=token,
            kdf=_kdf(args),
        )
        _out(json.dumps(describe(created.certificate)))
        return EXIT_OK
    if args.ca_command == "certify":
        token = _token(args, environ)
        secret = None if token else _passphrase(environ, confirm=False)()
        ca = IssuingCa.open(args.rings.key_directory(args.dir), passphrase=secret, pkcs11=token)
        for ring_path in args.ring:
            ring = KeyRing.open(args.rings(ring_path))
            if not ring.url:
                raise UsageError(f"ring {ring.issuer_id} has no url to certify")
            for key in ring.published(now):
                (leaf,) = ca.certify(
                    key.public_key,
                    common_name=(ring.name or ring.issuer_id)[:64],
                    issuer_url=ring.url,
                    not_before=key.window.nbf,
                    not_after=key.window.exp,
                    replace=args.renew,
                )
                _out(json.dumps({"kid": key.kid, **describe(leaf)}))
        return EXIT_OK
    ca = IssuingCa.open(args.rings.key_directory(args.dir))
    if args.ca_command == "export":
        _write_out(args.out, ca.certificate_pem())
        return EXIT_OK
    issued = {kid: describe(chain[0]) for kid, chain in ca.issued().items()}
    if args.json:
        _out(json.dumps({"root": describe(ca.certificate), "issued": issued}, indent=2))
    else:
        root = describe(ca.certificate)
        _out(f"root  {root['subject']}  until {_time(root['not_after'])}")
        for kid, info in issued.items():
            _out(f"{kid}  {info['subject']}  until {_time(info['not_after'])}")
    return EXIT_OK


def _rp_summary(chain: Sequence[x509.Certificate], now: int) -> dict[str, Any]:
    """What an operator checks of the access certificate (no key material)."""
    leaf = chain[0]
    info = describe(leaf)
    try:
        names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        names = x509.SubjectAlternativeName([])
    return {
        "client_ids": relying_party.client_ids(tuple(chain)),
        **info,
        "valid_now": info["not_before"] <= now < info["not_after"],
        "names": [str(name.value) for name in names],
        "chain": len(chain),
    }


def _cmd_rp(args: argparse.Namespace, now: int, environ: Mapping[str, str]) -> int:
    where = args.rings.key_directory(args.dir)
    if args.rp_command == "show":
        summary = _rp_summary(relying_party.read_chain(where), now)
        if args.json:
            _out(json.dumps(summary, indent=2))
        else:
            for prefix, client_id in summary["client_ids"].items():
                _out(f"{prefix:<13} {client_id}")
            _out(f"subject       {summary['subject']}")
            _out(f"issuer        {summary['issuer']}")
            _out(f"names         {', '.join(summary['names'])}")
            state = "valid" if summary["valid_now"] else "NOT valid now"
            _out(f"until         {_time(summary['not_after'])} ({state})")
        return EXIT_OK
    if args.rp_command == "request":
        pem = relying_party.certificate_request(
            where,
            passphrase=_passphrase(environ, confirm=False)(),
            common_name=args.name,
            base_url=args.base_url,
        )
        _write_out(args.out, pem)
        return EXIT_OK
    try:
        with args.chain.open("rb") as fh:
            chain_pem = fh.read(MAX_CHAIN_FILE_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {str(args.chain)!r}: {exc.strerror}") from None
    identity = relying_party.install_chain(
        where, chain_pem, passphrase=_passphrase(environ, confirm=False)()
    )
    _out(json.dumps(_rp_summary(identity.chain, now)))
    return EXIT_OK


def _status_inputs(values: Sequence[str]) -> dict[str, dict[int, bytes]]:
    result: dict[str, dict[int, bytes]] = {}
    for value in values:
        issuer, sep, rest = value.partition(":")
        number_text, sep2, file_name = rest.partition("=")
        if not (sep and sep2 and issuer and number_text.isdigit() and file_name):
            raise UsageError(f"--status expects ISSUER:LIST=FILE, got {value!r}")
        path = Path(file_name)
        try:
            with path.open("rb") as fh:
                token = fh.read(MAX_STATUS_FILE_BYTES + 1)
        except OSError as exc:
            raise UsageError(f"cannot read {file_name!r}: {exc.strerror}") from None
        if len(token) > MAX_STATUS_FILE_BYTES:
            raise UsageError(f"{file_name!r} is too large for a status list token")
        number = int(number_text)
        if number in result.setdefault(issuer, {}):
            raise UsageError(f"status list {issuer}:{number} given twice")
        result[issuer][number] = token
    return result


def _cmd_bundle(args: argparse.Namespace, now: int, environ: Mapping[str, str]) -> int:
    status = _status_inputs(args.status)
    token = _token(args, environ)
    try:
        root = KeyRing.open(
            args.rings(args.root), passphrase=_passphrase(environ, confirm=False), pkcs11=token
        )
        if root.kind is not RingKind.ROOT:
            raise UsageError("--root must be a root ring (create --root)")
        sources: list[IssuerSource] = []
        for path in args.issuer:
            ring = KeyRing.open(args.rings(path))
            if ring.kind is not RingKind.ISSUER:
                raise UsageError(f"{path.name!r} is not an issuer ring")
            sources.append(issuer_from_ring(ring, status.pop(ring.issuer_id, {})))
        if status:
            raise UsageError(f"status lists for issuers not given: {', '.join(sorted(status))}")

        def make(seq: int) -> bytes:
            return build_trust_bundle(
                issuers=sources,
                seq=seq,
                now=now,
                fresh_seconds=args.fresh_seconds,
                valid_seconds=args.valid_seconds,
                root=root,
            )

        make(0)  # a refusal must not use up a seq: build once before reserving it
        seq = root.next_bundle_seq(args.seq)
        blob = make(seq)
    finally:
        if token is not None:
            token.close()
    write_atomic(args.out, blob, overwrite=True, mode=0o644)
    keys = sum(len(s.keys.bundle_keys(now)) for s in sources if isinstance(s.keys, KeyRing))
    _out(f"bundle seq {seq}: {len(sources)} issuer(s), {keys} key(s), {len(blob)} bytes")
    return EXIT_OK


def _cmd_import(args: argparse.Namespace, now: int, environ: Mapping[str, str]) -> int:
    """Copy each directory ring under KEYS_DIR (its ring.json and key files, bytes as they
    are) into the database in one transaction per ring. A ring already there with the same
    metadata is left as it is (running again is harmless); one that differs is never
    touched and makes the exit status 2. Rings it did not copy are never changed."""
    database = args.rings.database()
    directories = DirectoryRingStore(args.keys_dir)
    names = directories.names()
    key_dirs = {
        n: DirectoryDocuments(args.keys_dir / n).everything()
        for n in (args.key_dir or DEFAULT_KEY_DIRS)
        if "/" not in n and (args.keys_dir / n).is_dir()
    }
    if not names and not any(key_dirs.values()):
        raise UsageError(f"no ring under {str(args.keys_dir)!r}")
    conflicts = 0
    for name in names:
        source = directories.ring(name)
        ring = KeyRing.open(source)  # a malformed ring refuses before anything is copied
        found = source.read_if_changed(None)
        assert found is not None
        metadata = found[0]
        blobs = {f: source.read_key(f) for f in _key_files(metadata)}
        target = database.ring(name)
        if target.exists():
            stored = target.read_if_changed(None)
            if stored is not None and stored[0] == metadata:
                _out(f"{name}: already in the database")
            else:
                conflicts += 1
                _out(f"{name}: a different ring of that name is in the database; left alone")
            continue
        target.import_ring(ring.issuer_id, metadata, blobs)
        _out(f"{name}: copied ({len(ring.records(now))} key(s), {len(blobs)} key file(s))")
    for name, documents in key_dirs.items():
        if not documents:
            continue
        done = database.documents(name).import_documents(documents)
        if done == "copied":
            _out(f"{name}/: copied ({len(documents)} file(s))")
        elif done == "same":
            _out(f"{name}/: already in the database")
        else:
            conflicts += 1
            _out(f"{name}/: a different {name} is in the database; left alone")
    return EXIT_ERROR if conflicts else EXIT_OK


def _key_files(metadata: bytes) -> list[str]:
    doc = json.loads(metadata)
    return sorted(k["ref"]["file"] for k in doc["keys"] if k["backend"] == Backend.FILE.value)


COMMANDS: dict[str, Callable[[argparse.Namespace, int, Mapping[str, str]], int]] = {
    "create": _cmd_create,
    "list": _cmd_list,
    "rotate": _cmd_rotate,
    "withdraw": _cmd_withdraw,
    "export-public": _cmd_export,
    "bundle": _cmd_bundle,
    "import-rings": _cmd_import,
    "ca": _cmd_ca,
    "rp": _cmd_rp,
}


def run(argv: Sequence[str], environ: Mapping[str, str], clock: Callable[[], float]) -> int:
    """Parse `argv` and run one command; returns the exit status (errors: one line, 2)."""
    rings: _Rings | None = None
    try:
        args = _parser().parse_args(argv)
        now = int(clock()) if args.at is None else args.at
        args.rings = rings = _Rings(args, environ)
        if args.command == "import-rings":
            rings.kind = "database"
        return COMMANDS[args.command](args, now, environ)
    except UsageError as exc:
        _err(f"{PROG}: error: {exc}")
    except KeysError as exc:
        _err(f"{PROG}: error: {exc.code}: {exc.detail}")
    except VerifierError as exc:
        _err(f"{PROG}: error: {exc.reason}: {exc.detail}")
    except OSError as exc:
        _err(f"{PROG}: error: {exc.strerror or type(exc).__name__}")
    except KeyboardInterrupt:
        _err(f"{PROG}: interrupted")
    finally:
        if rings is not None:
            rings.close()
    return EXIT_ERROR


def main() -> NoReturn:
    """Console script entry point."""
    sys.exit(run(sys.argv[1:], os.environ, time.time))


if __name__ == "__main__":
    main()
