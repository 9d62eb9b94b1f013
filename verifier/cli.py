"""``buergerid-verify``: the officer's offline check (DESIGN §4 CLI contract).

The only place of the verifier that reads the environment, the wall clock and files given
on the command line, prints, and chooses exit statuses: 0 valid, 1 invalid,
3 indeterminate, 2 usage or operational error (one line on stderr, never a traceback).
Several verdicts in one run (``scan`` of several images, ``check --batch``) exit with
1 if any is invalid, else 3 if any is indeterminate, else 0; ``scan`` exits 2 when an
image could not be read, after printing the verdicts of the others.
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
    pick_language,
    reason_words,
)
from verifier._verdict import Context, Outcome, Verdict

PROG = "buergerid-verify"
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
    """A usage or operational error: one line on stderr, exit status 2."""


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
    sync.add_argument("source", help="https URL or file of a trust bundle or plate index")
    sync.add_argument("--timeout", type=float, default=30.0, help="seconds (URL only)")

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
    try:
        return run(sys.argv[1:] if argv is None else list(argv), io)
    except KeyboardInterrupt:
        io.stderr.write(f"{PROG}: interrupted\n")
        return 130


def run(argv: list[str], io: _Io) -> int:
    """Parse ``argv`` and run one command; errors become one stderr line and status 2."""
    try:
        args = build_parser().parse_args(argv)
    except UsageError as exc:
        io.stderr.write(f"{PROG}: error: {exc}\n")
        return EXIT_USAGE
    lang = pick_language(args.lang, io.environ)
    try:
        return _dispatch(args, io, lang)
    except UsageError as exc:
        io.stderr.write(f"{PROG}: error: {exc}\n")
    except VerifierError as exc:
        io.stderr.write(f"{PROG}: error: {exc.reason}: {reason_words(lang, exc.reason)}\n")
    except OSError as exc:
        what = exc.strerror or str(exc) or type(exc).__name__
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        io.stderr.write(f"{PROG}: error: {what}{where}\n")
    except UnicodeError:
        io.stderr.write(f"{PROG}: error: input is not valid UTF-8 text\n")
    except Exception as exc:  # the CLI contract: one line on stderr, never a traceback
        io.stderr.write(f"{PROG}: error: internal error ({type(exc).__name__})\n")
    return EXIT_USAGE


def _data_dir(args: argparse.Namespace, environ: Mapping[str, str]) -> Any:
    from verifier._store import DataDir, default_data_dir

    root = args.data_dir if args.data_dir is not None else default_data_dir(environ)
    return DataDir(Path(root))


def _dispatch(args: argparse.Namespace, io: _Io, lang: Lang) -> int:
    data_dir = _data_dir(args, io.environ)
    if args.command == "trust":
        return _cmd_add_anchor(args, io, data_dir)
    if args.command == "sync":
        return _cmd_sync(args, io, data_dir)
    if args.command == "status":
        return _cmd_status(args, io, data_dir, lang)
    now = args.at if args.at is not None else int(io.clock())
    if args.command == "check":
        return _cmd_check(args, io, data_dir, lang, now)
    if args.command == "scan":
        return _cmd_scan(args, io, data_dir, lang, now)
    return _cmd_plate(args, io, data_dir, lang, now)


# --------------------------------------------------------------------------- commands


def _cmd_add_anchor(args: argparse.Namespace, io: _Io, data_dir: Any) -> int:
    from verifier._keys import thumbprint

    for key, is_new in data_dir.add_anchors(Path(args.file).read_bytes()):
        state = "pinned" if is_new else "already pinned"
        io.stdout.write(f"{state}: {thumbprint(key).hex()}\n")
    return 0


def _cmd_sync(args: argparse.Namespace, io: _Io, data_dir: Any) -> int:
    from verifier._store import fetch, is_url

    source: str = args.source
    state = data_dir.read_state()
    etags: dict[str, str] = state.get("etags", {}) if isinstance(state.get("etags"), dict) else {}
    fetched = fetch(
        source, etag=etags.get(source) if is_url(source) else None, timeout_seconds=args.timeout
    )
    if fetched.data is None:
        io.stdout.write("not modified\n")
        return 0
    result = data_dir.sync_bytes(fetched.data)
    if is_url(source) and fetched.etag:
        etags[source] = fetched.etag
        state["etags"] = etags
        data_dir.write_state(state)
    if result.kind == "bundle":
        what = "stored" if result.changed else "unchanged"
        line = f"trust bundle seq {result.seq} {what}"
        if result.anchors_added:
            line += f"; {result.anchors_added} new root key(s) pinned"
    else:
        what = "stored" if result.changed else "unchanged"
        line = f"plate index of {result.issuer} {what}"
    io.stdout.write(line + "\n")
    return 0


def _read_stdin_text(io: _Io) -> str:
    text = io.stdin.read(MAX_STDIN_CHARS + 1)
    if len(text) > MAX_STDIN_CHARS:
        raise UsageError("stdin too long for one QR text")
    return text.strip()


def _check_zone(zone: str | None) -> None:
    from verifier._plates import canonical_zone

    if zone is not None:
        try:
            canonical_zone(zone)
        except VerifierError:
            raise UsageError("--zone is not a zone code") from None


def _context(args: argparse.Namespace) -> Context | None:
    zone = args.zone
    plate = getattr(args, "plate", None)
    _check_zone(zone)
    if plate is not None:
        from verifier._plates import canonical_plate

        try:
            canonical_plate(plate)
        except VerifierError:
            raise UsageError("--plate is not a plate") from None
    if zone is None and plate is None:
        return None
    return Context(zone=zone, plate=plate)


def _cmd_check(args: argparse.Namespace, io: _Io, data_dir: Any, lang: Lang, now: int) -> int:
    from verifier._verify import verify

    if args.batch is not None:
        if args.text is not None:
            raise UsageError("give either TEXT or --batch, not both")
        return _cmd_batch(args, io, data_dir, now)
    if args.text is None:
        raise UsageError("missing TEXT (or '-' for stdin)")
    context = _context(args)
    text = _read_stdin_text(io) if args.text == "-" else args.text
    store = data_dir.load(plate_indexes=False)
    verdict = verify(text, store, now, context)
    _emit(verdict, args.json, io, lang, now)
    return verdict.exit_status


def _cmd_batch(args: argparse.Namespace, io: _Io, data_dir: Any, now: int) -> int:
    from verifier._verify import verify

    context = _context(args)
    store = data_dir.load(plate_indexes=False)
    outcomes: list[Outcome] = []
    source: IO[str]
    if args.batch == "-":
        source = io.stdin
        close = False
    else:
        path = Path(args.batch)
        if path.stat().st_size > MAX_BATCH_BYTES:
            raise UsageError("batch file too large")
        source = path.open(encoding="utf-8", errors="replace", newline="")
        close = True
    try:
        write = io.stdout.write
        dumps = json.dumps
        for line in source:
            verdict = verify(line.rstrip("\r\n"), store, now, context)
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
    from verifier._verify import verify

    context = _context(args)
    store = data_dir.load(plate_indexes=False)
    outcomes: list[Outcome] = []
    had_error = False
    for image in args.images:
        try:
            texts = read_qr_texts(image)
        except ScanError as exc:
            io.stderr.write(f"{PROG}: error: {exc.code} ({image})\n")
            had_error = True
            continue
        for text in texts:
            verdict = verify(text, store, now, context)
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
    from verifier._verify import verify_plate

    try:
        canonical_plate(args.plate)
    except VerifierError:
        raise UsageError("PLATE is not a plate") from None
    _check_zone(args.zone)
    store = data_dir.load()
    verdict = verify_plate(args.plate, store, now, zone=args.zone)
    _emit(verdict, args.json, io, lang, now)
    return verdict.exit_status


def _cmd_status(args: argparse.Namespace, io: _Io, data_dir: Any, lang: Lang) -> int:
    now = args.at if args.at is not None else int(io.clock())
    store = data_dir.load()
    info = status_summary(store, now)
    info["data_dir"] = str(data_dir.root)
    if args.json:
        io.stdout.write(json.dumps(info, ensure_ascii=False) + "\n")
        return 0
    console = Console(file=io.stdout, width=100, highlight=False)
    if info["bundle"] is None:
        console.print(f"{info['anchors']} root key(s) pinned; no trust bundle synced")
        console.print(f"data dir: {info['data_dir']}")
        return 0
    b = info["bundle"]
    console.print(
        f"trust bundle seq {b['seq']}, issued {_fmt_time(b['iat'])}, age {_fmt_age(b['age_s'])}, "
        f"fresh until {_fmt_time(b['fresh_until'])}, expires {_fmt_time(b['exp'])}"
    )
    console.print(f"root keys pinned: {info['anchors']}; data dir: {info['data_dir']}")
    table = Table("issuer", "name", "keys", "status lists", "plate index")
    for iss in info["issuers"]:
        lists = ", ".join(
            f"{s['list']}:{s['size'] if s['usable'] else s['problem']}" for s in iss["status"]
        )
        pi = iss["plate_index"]
        pi_text = "-" if pi is None else f"{pi['plates']} plates, exp {_fmt_time(pi['exp'])}"
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
    p = verdict.permit
    if p is not None:
        table = Table.grid(padding=(0, 2))
        table.add_row(words["type"], PERMIT_TYPE_WORDS[lang].get(p.type, p.type) + f" ({p.type})")
        table.add_row(words["zones"], ", ".join(p.zones) or "-")
        if p.fleet is not None:
            table.add_row(words["fleet"], p.fleet)
        table.add_row(words["plates"], ", ".join(p.plates) or "-")
        start = p.nbf if p.nbf is not None else p.iat
        if start is not None:
            table.add_row(words["valid_from"], _fmt_time(start))
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


_ = Reason  # re-exported for callers matching on codes
