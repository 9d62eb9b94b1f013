"""``buergerid-verify``: the officer's offline check (the command line of docs/verifier.md).

The only place of the verifier that reads the environment, the wall clock and files given
on the command line, prints, and chooses exit statuses: 0 valid, 1 invalid,
3 indeterminate, 2 usage or operational error (one line on stderr, never a traceback).
Several verdicts in one run (``scan`` of several images, ``check --batch``) exit with
1 if any is invalid, else 3 if any is indeterminate, else 0; ``scan`` exits 2 when an
image could not be read, after printing the verdicts of the others. Every line is worded in
the chosen language (``--lang``, else the locale); codes stay as they are.

Beyond the contract: ``status``, ``check --batch``, ``sync`` without SOURCE (the enrolled
service) and ``sync --every`` (again and again, with backoff), ``enrol`` (a device key for
plate checks) and ``app`` (the officer's screen in the handheld's browser).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, NoReturn
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from verifier._errors import Reason, VerifierError
from verifier._i18n import (
    DAY_WORDS,
    LABELS,
    LANGUAGES,
    NOTICE_WORDS,
    OUTCOME_WORDS,
    PERMIT_TYPE_WORDS,
    Lang,
    message,
    pick_language,
    reason_words,
    usage_words,
)
from verifier._verdict import Context, Outcome, Verdict
from verifier._zones import ZoneError, is_ags

PROG = "buergerid-verify"
ENV_MUNICIPALITY = "BUERGERID_VERIFY_MUNICIPALITY"
EXIT_USAGE = 2
MAX_STDIN_CHARS = 64 * 1024
MAX_BATCH_BYTES = 256 * 1024 * 1024
BERLIN = ZoneInfo("Europe/Berlin")

_STYLES = {
    Outcome.VALID: "bold white on green",
    Outcome.INVALID: "bold white on red",
    Outcome.INDETERMINATE: "bold black on yellow",
}


class UsageError(Exception):
    """A usage or operational error: one line on stderr, exit status 2.

    ``key`` names a line of ``MESSAGES`` (worded in the chosen language); without one the
    text is printed as is (argparse's own messages).
    """

    def __init__(self, text: str = "", *, key: str | None = None, **values: object) -> None:
        super().__init__(text or key or "")
        self.key = key
        self.values = values


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message and exit status 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _unix_time(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        raise argparse.ArgumentTypeError("--at needs integer seconds since the epoch") from None
    if not 0 <= value < 2**40:
        raise argparse.ArgumentTypeError("--at out of range")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the CLI contract (plus ``status`` and ``check --batch``)."""
    common = _Parser(add_help=False)
    common.add_argument("--data-dir", type=Path, default=argparse.SUPPRESS, help="store folder")
    common.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS, help="de or en")

    parser = _Parser(prog=PROG, description="Offline check of buergerid parking permits.")
    parser.add_argument("--data-dir", type=Path, default=None, help="store folder")
    parser.add_argument("--lang", choices=LANGUAGES, default=None, help="de or en")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    trust = sub.add_parser("trust", parents=[common], help="manage pinned root keys")
    trust_sub = trust.add_subparsers(dest="trust_command", required=True, parser_class=_Parser)
    anchor = trust_sub.add_parser("add-anchor", parents=[common], help="pin a root key")
    anchor.add_argument("file", type=Path, help="COSE_Key (CBOR) or JWK (JSON)")

    sync = sub.add_parser("sync", parents=[common], help="fetch, verify and store a bundle")
    sync.add_argument(
        "source",
        nargs="?",
        default=None,
        help="https URL or file of a trust bundle or plate index (default: the enrolled "
        "service, else config --sync-source)",
    )
    sync.add_argument(
        "--timeout", type=float, default=30.0, help="total deadline per attempt, seconds"
    )
    sync.add_argument("--every", default=None, help="sync again every DURATION (30m, 6h, 1d)")
    sync.add_argument("--count", type=int, default=None, help="with --every: stop after N")

    def verdict_options(p: argparse.ArgumentParser, *, plate: bool = True) -> None:
        p.add_argument("--at", type=_unix_time, default=None, help="check at UNIX time")
        p.add_argument("--zone", default=None, help="zone the car is parked in")
        if plate:
            p.add_argument("--plate", default=None, help="plate of the parked car")
        p.add_argument("--json", action="store_true", help="machine-readable verdict")

    check = sub.add_parser("check", parents=[common], help="check a QR text")
    verdict_options(check)
    check.add_argument("--batch", default=None, help="file ('-' stdin): one QR text per line")
    check.add_argument("text", nargs="?", default=None, help="QR text, or '-' for stdin")

    scan = sub.add_parser("scan", parents=[common], help="read QR image(s), then check")
    verdict_options(scan)
    scan.add_argument("images", nargs="+", type=Path, help="PNG or JPEG files")

    plate = sub.add_parser("plate", parents=[common], help="digital-only permit by plate")
    verdict_options(plate, plate=False)
    plate.add_argument("plate", help="the plate as read")

    status = sub.add_parser("status", parents=[common], help="what the store holds")
    status.add_argument("--at", type=_unix_time, default=None, help="ages at UNIX time")
    status.add_argument("--json", action="store_true", help="machine-readable")

    config = sub.add_parser("config", parents=[common], help="the handheld's settings")
    config.add_argument(
        "--municipality", default=None, help="AGS for bare zone codes ('' clears it)"
    )
    config.add_argument("--sync-source", default=None, help="URL sync uses ('' clears it)")
    config.add_argument(
        "--shift-hours", type=int, default=None, help="app: clear the shift log after H hours"
    )

    enrol = sub.add_parser("enrol", parents=[common], help="enrol for plate checks")
    enrol.add_argument("url", help="the service's base URL, e.g. https://bid.example.de")
    enrol.add_argument("--code", default=None, help="the one-time code (default: stdin)")
    enrol.add_argument("--label", default=None, help="a name for this device")
    enrol.add_argument("--timeout", type=float, default=30.0, help="total deadline, seconds")

    app = sub.add_parser("app", parents=[common], help="the officer's screen, on 127.0.0.1")
    app.add_argument("--port", type=int, default=8765, help="port on 127.0.0.1 (0: any)")
    app.add_argument("--sync-every", default="15m", help="background sync interval (0: never)")
    return parser


@dataclass
class _Io:
    stdout: IO[str]
    stderr: IO[str]
    stdin: IO[str]
    environ: Mapping[str, str]
    clock: Callable[[], float]


def main(argv: Sequence[str] | None = None) -> int:
    """Console script entry point; returns the exit status."""
    io = _Io(sys.stdout, sys.stderr, sys.stdin, os.environ, time.time)
    argv_list = sys.argv[1:] if argv is None else list(argv)
    try:
        return run(argv_list, io)
    except KeyboardInterrupt:
        lang = pick_language(_peek_lang(argv_list), io.environ)
        io.stderr.write(f"{PROG}: {message(lang, 'interrupted')}\n")
        return 130


def _peek_lang(argv: Sequence[str]) -> str | None:
    for i, arg in enumerate(argv):
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
    return None


def run(argv: list[str], io: _Io) -> int:
    """Parse ``argv`` and run one command; errors become one stderr line and status 2."""
    peeked = _peek_lang(argv)  # argparse's own errors come before --lang is parsed
    lang = pick_language(peeked if peeked in LANGUAGES else None, io.environ)
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        io.stderr.write(f"{PROG}: error: {usage_words(lang, str(exc))}\n")
        return EXIT_USAGE
    lang = pick_language(args.lang, io.environ)
    try:
        return _dispatch(args, io, lang)
    except Exception as exc:  # the CLI contract: one line on stderr, never a traceback
        io.stderr.write(f"{PROG}: error: {error_line(exc, lang)}\n")
    return EXIT_USAGE


def error_line(exc: BaseException, lang: Lang) -> str:
    """One line, in ``lang``, for an error that ends a command (also the app's sync state)."""
    from verifier._enrol import EnrolmentError
    from verifier._http import FetchError
    from verifier._sync import SyncSetupError

    if isinstance(exc, UsageError):
        return message(lang, exc.key, **exc.values) if exc.key else usage_words(lang, str(exc))
    if isinstance(exc, ZoneError):
        key = "usage_ambiguous_zone" if exc.reason is Reason.AMBIGUOUS_ZONE else "usage_bad_zone"
        return f"{exc.reason}: {message(lang, key)}"
    if isinstance(exc, VerifierError):
        return f"{exc.reason}: {reason_words(lang, exc.reason)}"
    if isinstance(exc, SyncSetupError):
        return message(lang, "usage_no_source")
    if isinstance(exc, EnrolmentError):
        return f"{exc.code}: {message(lang, 'enrol_' + exc.code, detail=exc.detail)}"
    if isinstance(exc, FetchError):
        return f"{exc.code}: {message(lang, 'fetch_' + exc.code, detail=exc.detail)}"
    if isinstance(exc, OSError):
        what = exc.strerror or str(exc) or type(exc).__name__
        where = f" ({Path(exc.filename).name})" if getattr(exc, "filename", None) else ""
        return message(lang, "file_error", detail=what + where)
    if isinstance(exc, UnicodeError):
        return message(lang, "not_utf8")
    return message(lang, "internal", name=type(exc).__name__)


def _data_dir(args: argparse.Namespace, environ: Mapping[str, str]) -> Any:
    from verifier._store import DataDir, default_data_dir

    root = args.data_dir if args.data_dir is not None else default_data_dir(environ)
    return DataDir(Path(root))


def _dispatch(args: argparse.Namespace, io: _Io, lang: Lang) -> int:
    data_dir = _data_dir(args, io.environ)
    if args.command == "trust":
        return _cmd_add_anchor(args, io, data_dir, lang)
    if args.command == "sync":
        return _cmd_sync(args, io, data_dir, lang)
    if args.command == "status":
        return _cmd_status(args, io, data_dir, lang)
    if args.command == "config":
        return _cmd_config(args, io, data_dir, lang)
    if args.command == "enrol":
        return _cmd_enrol(args, io, data_dir, lang)
    if args.command == "app":
        return _cmd_app(args, io, data_dir, lang)
    now = args.at if args.at is not None else int(io.clock())
    if args.command == "check":
        return _cmd_check(args, io, data_dir, lang, now)
    if args.command == "scan":
        return _cmd_scan(args, io, data_dir, lang, now)
    return _cmd_plate(args, io, data_dir, lang, now)


# --------------------------------------------------------------------------- commands


def _cmd_add_anchor(args: argparse.Namespace, io: _Io, data_dir: Any, lang: Lang) -> int:
    from verifier._http import read_regular_file
    from verifier._keys import thumbprint
    from verifier._store import MAX_ANCHOR_BYTES

    data = read_regular_file(Path(args.file), MAX_ANCHOR_BYTES)
    for key, is_new in data_dir.add_anchors(data):
        state = "pinned" if is_new else "already_pinned"
        io.stdout.write(message(lang, state, fp=thumbprint(key).hex()) + "\n")
    return 0


def sync_lines(attempt: Any, lang: Lang) -> list[str]:
    """What one sync attempt did, one line per document."""
    lines = []
    for step in attempt.steps:
        result = step.result
        if result is None:
            lines.append(message(lang, "not_modified", source=step.source))
        elif result.kind == "bundle":
            key = "bundle_stored" if result.changed else "bundle_unchanged"
            line = message(lang, key, seq=result.seq)
            if result.anchors_added:
                line += message(lang, "anchors_added", n=result.anchors_added)
            lines.append(line)
        else:
            key = "plate_index_stored" if result.changed else "plate_index_unchanged"
            lines.append(message(lang, key, issuer=result.issuer))
    return lines


def _cmd_sync(args: argparse.Namespace, io: _Io, data_dir: Any, lang: Lang) -> int:
    from verifier._sync import SyncLoop, parse_duration, sync_once

    def attempt() -> Any:
        return sync_once(data_dir, args.source, now=int(io.clock()), timeout_seconds=args.timeout)

    if args.every is None:
        done = attempt()
        for line in sync_lines(done, lang):
            io.stdout.write(line + "\n")
        if done.error is not None:
            raise done.error
        return 0
    try:
        every = parse_duration(args.every)
    except ValueError:
        raise UsageError(key="usage_bad_duration") from None

    def report(done: Any, delay: float) -> None:
        for line in sync_lines(done, lang):
            io.stdout.write(line + "\n")
        if done.error is not None:
            io.stderr.write(f"{PROG}: {error_line(done.error, lang)}\n")
            io.stdout.write(message(lang, "sync_retry", seconds=round(delay)) + "\n")
        else:
            io.stdout.write(message(lang, "sync_next", seconds=round(delay)) + "\n")
        io.stdout.flush()

    last = SyncLoop(attempt, every, on_attempt=report).run(count=args.count)
    return 0 if last is not None and last.ok else EXIT_USAGE


def _cmd_config(args: argparse.Namespace, io: _Io, data_dir: Any, lang: Lang) -> int:
    config = data_dir.read_config()
    changed = False
    if args.municipality is not None:
        value = args.municipality.strip()
        if value and not is_ags(value):
            raise UsageError(key="usage_bad_municipality")
        config["municipality"] = value or None
        changed = True
    if args.sync_source is not None:
        config["sync_source"] = args.sync_source.strip() or None
        changed = True
    if args.shift_hours is not None:
        config["shift_hours"] = max(1, min(args.shift_hours, 24 * 7))
        changed = True
    if changed:
        data_dir.write_config({k: v for k, v in config.items() if v is not None})
    none = message(lang, "config_none")
    env = io.environ.get(ENV_MUNICIPALITY)
    if env:
        io.stdout.write(
            message(lang, "config_municipality_env", value=env, env=ENV_MUNICIPALITY) + "\n"
        )
    else:
        io.stdout.write(
            message(lang, "config_municipality", value=config.get("municipality") or none) + "\n"
        )
    io.stdout.write(
        message(lang, "config_sync_source", value=config.get("sync_source") or none) + "\n"
    )
    from verifier._enrol import DeviceIdentity, EnrolmentError

    try:
        enrolled = DeviceIdentity(data_dir.root).read_enrolment()
        enrolment = f"{enrolled.service} ({enrolled.device_id})"
    except EnrolmentError:
        enrolment = none
    io.stdout.write(message(lang, "config_enrolment", value=enrolment) + "\n")
    io.stdout.write(message(lang, "config_shift_hours", value=config.get("shift_hours", 12)) + "\n")
    municipality = env or config.get("municipality")
    if municipality:
        store = data_dir.load(plate_indexes=False)
        if store.has_bundle and municipality not in store.issuers:
            io.stdout.write(message(lang, "config_not_in_bundle", ags=municipality) + "\n")
    return 0


def _cmd_enrol(args: argparse.Namespace, io: _Io, data_dir: Any, lang: Lang) -> int:
    from verifier._enrol import DeviceIdentity

    code = args.code if args.code is not None else io.stdin.readline(256).strip()
    if not code:
        raise UsageError(key="usage_no_code")
    enrolment = DeviceIdentity(data_dir.root).enrol(
        args.url, code, now=int(io.clock()), timeout_seconds=args.timeout, label=args.label
    )
    places = ", ".join(enrolment.municipalities) or message(lang, "enrolled_none")
    io.stdout.write(
        message(lang, "enrolled", device=enrolment.device_id, municipalities=places) + "\n"
    )
    return 0


def _cmd_app(args: argparse.Namespace, io: _Io, data_dir: Any, lang: Lang) -> int:
    from verifier._app import serve
    from verifier._sync import parse_duration

    try:
        every = parse_duration(args.sync_every)
    except ValueError:
        raise UsageError(key="usage_bad_duration") from None

    def ready(url: str) -> None:
        io.stdout.write(message(lang, "app_serving", url=url) + "\n")
        io.stdout.flush()

    serve(
        data_dir,
        port=args.port,
        environ=io.environ,
        clock=io.clock,
        sync_every_seconds=every,
        on_ready=ready,
    )
    return 0


def municipality_of(data_dir: Any, environ: Mapping[str, str]) -> str | None:
    """The handheld's municipality: ``$BUERGERID_VERIFY_MUNICIPALITY``, else config."""
    env = environ.get(ENV_MUNICIPALITY, "").strip()
    if env:
        if not is_ags(env):
            raise UsageError(key="usage_bad_municipality")
        return env
    value = data_dir.read_config().get("municipality")
    return value if isinstance(value, str) and is_ags(value) else None


def _read_stdin_text(io: _Io) -> str:
    text = io.stdin.read(MAX_STDIN_CHARS + 1)
    if len(text) > MAX_STDIN_CHARS:
        raise UsageError(key="usage_stdin_too_long")
    return text.strip()


def _context(args: argparse.Namespace, data_dir: Any, io: _Io, store: Any) -> Context | None:
    """The officer's context, checked before anything is verified (exit 2 otherwise)."""
    from verifier._plates import canonical_plate
    from verifier._verify import zone_of

    zone = args.zone
    plate = getattr(args, "plate", None)
    if plate is not None:
        try:
            canonical_plate(plate)
        except VerifierError:
            raise UsageError(key="usage_bad_plate") from None
    if zone is None and plate is None:
        return None
    resolved = None
    if zone is not None:
        resolved = zone_of(zone, municipality_of(data_dir, io.environ), store)
    return Context(zone=resolved, plate=plate)


def _cmd_check(args: argparse.Namespace, io: _Io, data_dir: Any, lang: Lang, now: int) -> int:
    from verifier._verify import verify_car

    if args.batch is not None:
        if args.text is not None:
            raise UsageError(key="usage_text_and_batch")
        return _cmd_batch(args, io, data_dir, now)
    if args.text is None:
        raise UsageError(key="usage_missing_text")
    store = data_dir.load(plate_indexes=args.plate is not None)
    context = _context(args, data_dir, io, store)
    text = _read_stdin_text(io) if args.text == "-" else args.text
    verdict = verify_car(text, store, now, context)
    _emit(verdict, args.json, io, lang, now)
    return verdict.exit_status


def _cmd_batch(args: argparse.Namespace, io: _Io, data_dir: Any, now: int) -> int:
    from verifier._verify import verify_car

    store = data_dir.load(plate_indexes=args.plate is not None)
    context = _context(args, data_dir, io, store)
    outcomes: list[Outcome] = []
    source: IO[str]
    if args.batch == "-":
        source = io.stdin
        close = False
    else:
        path = Path(args.batch)
        if path.stat().st_size > MAX_BATCH_BYTES:
            raise UsageError(key="usage_batch_too_large")
        source = path.open(encoding="utf-8", errors="replace", newline="")
        close = True
    try:
        write = io.stdout.write
        dumps = json.dumps
        for line in source:
            verdict = verify_car(line.rstrip("\r\n"), store, now, context)
            outcomes.append(verdict.outcome)
            write(dumps(verdict.to_json(), ensure_ascii=False) + "\n")
    finally:
        if close:
            source.close()
    return _aggregate(outcomes)


def _aggregate(outcomes: Sequence[Outcome]) -> int:
    if Outcome.INVALID in outcomes:
        return 1
    if Outcome.INDETERMINATE in outcomes:
        return 3
    return 0


def _cmd_scan(args: argparse.Namespace, io: _Io, data_dir: Any, lang: Lang, now: int) -> int:
    from verifier._qr import ScanError, read_qr_texts
    from verifier._verify import verify_car

    store = data_dir.load(plate_indexes=args.plate is not None)
    context = _context(args, data_dir, io, store)
    outcomes: list[Outcome] = []
    had_error = False
    for image in args.images:
        try:
            texts = read_qr_texts(image)
        except ScanError as exc:
            words = message(lang, f"scan_{exc.code}")
            io.stderr.write(f"{PROG}: error: {exc.code}: {words} ({image})\n")
            had_error = True
            continue
        for text in texts:
            verdict = verify_car(text, store, now, context)
            outcomes.append(verdict.outcome)
            if args.json:
                # exactly the check --json object; one line per QR symbol, in image order
                io.stdout.write(json.dumps(verdict.to_json(), ensure_ascii=False) + "\n")
            else:
                io.stdout.write(f"{LABELS[lang]['file']}: {image}\n")
                _emit(verdict, False, io, lang, now)
    if had_error:
        return EXIT_USAGE
    return _aggregate(outcomes)


def _cmd_plate(args: argparse.Namespace, io: _Io, data_dir: Any, lang: Lang, now: int) -> int:
    from verifier._plates import canonical_plate
    from verifier._verify import verify_plate, zone_of

    try:
        canonical_plate(args.plate)
    except VerifierError:
        raise UsageError(key="usage_bad_plate_arg") from None
    store = data_dir.load()
    zone = None
    if args.zone is not None:
        zone = zone_of(args.zone, municipality_of(data_dir, io.environ), store)
    verdict = verify_plate(args.plate, store, now, zone)
    _emit(verdict, args.json, io, lang, now)
    return verdict.exit_status


def _cmd_status(args: argparse.Namespace, io: _Io, data_dir: Any, lang: Lang) -> int:
    now = args.at if args.at is not None else int(io.clock())
    store = data_dir.load()
    info = status_summary(store, now)
    info["data_dir"] = str(data_dir.root)
    last = data_dir.read_state().get("last_sync")
    info["last_sync"] = last if isinstance(last, dict) else None
    if args.json:
        io.stdout.write(json.dumps(info, ensure_ascii=False) + "\n")
        return 0
    console = Console(file=io.stdout, width=100, highlight=False)
    if info["bundle"] is None:
        console.print(message(lang, "status_no_bundle", anchors=info["anchors"]))
        console.print(
            message(lang, "status_roots", anchors=info["anchors"], data_dir=info["data_dir"])
        )
        return 0
    b = info["bundle"]
    console.print(
        message(
            lang,
            "status_bundle",
            seq=b["seq"],
            iat=_fmt_time(b["iat"]),
            age=_fmt_age(b["age_s"]),
            fresh=_fmt_time(b["fresh_until"]),
            exp=_fmt_time(b["exp"]),
        )
    )
    console.print(message(lang, "status_roots", anchors=info["anchors"], data_dir=info["data_dir"]))
    last = info.get("last_sync")
    if last is not None:
        result = message(lang, "status_ok") if last["ok"] else str(last["error"])
        console.print(message(lang, "status_last_sync", at=_fmt_time(last["at"]), result=result))
    table = Table(
        *(message(lang, k) for k in ("status_issuer", "status_name", "status_keys")),
        message(lang, "status_lists"),
        message(lang, "status_plate_index"),
    )
    for iss in info["issuers"]:
        lists = ", ".join(
            f"{s['list']}:{s['size'] if s['usable'] else s['problem']}" for s in iss["status"]
        )
        pi = iss["plate_index"]
        pi_text = (
            "-"
            if pi is None
            else message(lang, "status_plates", n=pi["plates"], exp=_fmt_time(pi["exp"]))
        )
        table.add_row(iss["id"], iss["name"], str(len(iss["keys"])), lists or "-", pi_text)
    console.print(table)
    return 0


def status_summary(store: Any, now: int) -> dict[str, Any]:
    """What ``status`` shows, as a JSON-ready dict."""
    summary: dict[str, Any] = {"anchors": len(store.anchors), "bundle": None, "issuers": []}
    if not store.has_bundle:
        return summary
    summary["bundle"] = {
        "seq": store.seq,
        "iat": store.iat,
        "fresh_until": store.fresh_until,
        "exp": store.exp,
        "age_s": now - store.iat,
        "stale": now >= store.fresh_until,
        "expired": now >= store.exp,
    }
    for iss, info in sorted(store.issuers.items()):
        keys = [
            {
                "kid": k.kid.hex(),
                "alg": k.alg,
                "nbf": k.nbf,
                "sign_until": k.sign_until,
                "exp": k.exp,
                "types": sorted(k.types),
            }
            for k in store.issuer_keys.get(iss, ())
        ]
        lists = []
        for (owner, number), usable in sorted(store.status.items()):
            if owner == iss:
                lists.append(
                    {
                        "list": number,
                        "usable": now < usable.exp and now < usable.key_exp,
                        "size": usable.size,
                        "iat": usable.iat,
                        "exp": usable.exp,
                        "problem": None if now < usable.exp else "expired",
                    }
                )
        for (owner, number), reason in sorted(store.unusable_status.items()):
            if owner == iss:
                lists.append({"list": number, "usable": False, "size": None, "problem": reason})
        pi = store.plate_indexes.get(iss)
        summary["issuers"].append(
            {
                "id": iss,
                "name": info.name,
                "url": info.url,
                "keys": keys,
                "status": lists,
                "plate_index": None
                if pi is None
                else {
                    "iat": pi.iat,
                    "exp": pi.exp,
                    "plates": len(pi.index.entries),
                    "usable": now < pi.exp and now < pi.key_exp,
                },
            }
        )
    return summary


# --------------------------------------------------------------------------- output


def _fmt_time(ts: int | None) -> str:
    if ts is None:
        return "-"
    try:
        return datetime.fromtimestamp(ts, BERLIN).strftime("%d.%m.%Y %H:%M")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def _fmt_age(seconds: int) -> str:
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds < 3600:
        return f"{sign}{seconds // 60} min"
    if seconds < 172800:
        return f"{sign}{seconds // 3600} h"
    return f"{sign}{seconds // 86400} d"


def _fmt_windows(windows: tuple[tuple[int, int, int], ...], lang: Lang) -> str:
    parts = []
    for days, start, end in windows:
        names = [DAY_WORDS[lang][i] for i in range(7) if days & (1 << i)]
        parts.append(
            f"{','.join(names)} {start // 60:02d}:{start % 60:02d}–{end // 60:02d}:{end % 60:02d}"
        )
    return "; ".join(parts)


def _emit(verdict: Verdict, as_json: bool, io: _Io, lang: Lang, now: int) -> None:
    if as_json:
        io.stdout.write(json.dumps(verdict.to_json(), ensure_ascii=False) + "\n")
        return
    render_verdict(verdict, io.stdout, lang)


def render_verdict(verdict: Verdict, out: IO[str], lang: Lang) -> None:
    """The human verdict: one large outcome line, the reason in words, then the permit."""
    words = LABELS[lang]
    console = Console(file=out, width=80, highlight=False)
    headline = Text(OUTCOME_WORDS[lang][verdict.outcome], style=_STYLES[verdict.outcome])
    headline.align("center", 40)
    console.print(Panel(headline, expand=False, style=_STYLES[verdict.outcome]))
    if verdict.reason is not None:
        console.print(f"{words['reason']}: {reason_words(lang, verdict.reason)} ({verdict.reason})")
    if verdict.zone is not None:
        z = verdict.zone
        where = f"{z.name} ({z.municipality})" if z.name else z.municipality
        console.print(f"{message(lang, 'zone_checked')}: {z.code} – {where}")
    p = verdict.permit
    if p is not None:
        table = Table.grid(padding=(0, 2))
        table.add_row(words["type"], PERMIT_TYPE_WORDS[lang].get(p.type, p.type) + f" ({p.type})")
        town = p.issuer_name or p.issuer
        table.add_row(words["zones"], (", ".join(p.zones) or "-") + f" ({town})")
        if p.fleet is not None:
            table.add_row(words["fleet"], p.fleet)
        table.add_row(words["plates"], ", ".join(p.plates) or "-")
        # "valid from" is the permit's start, everywhere: the QR's nbf or the index entry's
        # start; a QR without nbf says only when the code was issued
        if p.nbf is not None:
            table.add_row(words["valid_from"], _fmt_time(p.nbf))
        elif p.iat is not None:
            table.add_row(message(lang, "issued"), _fmt_time(p.iat))
        table.add_row(words["valid_until"], _fmt_time(p.exp))
        if p.max_stay is not None:
            table.add_row(words["max_stay"], f"{p.max_stay} {words['minutes']}")
        if p.windows:
            table.add_row(words["windows"], _fmt_windows(p.windows, lang))
        issuer = p.issuer if p.issuer_name is None else f"{p.issuer_name} ({p.issuer})"
        table.add_row(words["issuer"], issuer)
        table.add_row(words["number"], str(p.number))
        console.print(table)
    for warning in verdict.warnings:
        console.print(f"! {words['warnings']}: {NOTICE_WORDS[lang][warning]} ({warning})")
    if verdict.bundle is not None:
        b = verdict.bundle
        console.print(
            f"{words['bundle_age']}: seq {b.seq}, {words['age']} {_fmt_age(b.age_s)}",
            style="dim",
        )
    else:
        console.print(f"{words['bundle_age']}: {words['bundle_none']}", style="dim")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
