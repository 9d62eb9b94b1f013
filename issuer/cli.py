"""`buergerid-issuer`: operate the issuer (argparse). Reads Settings from the environment.

Exit codes: 0 ok, 1 a check failed (verify-audit, a job of `worker --once`), 2 usage,
3 refused (problem code on stderr).
A subcommand is one `add_parser` + `set_defaults(func=)` in `build_parser()`.

`serve` and `dev` serve apps named by import strings of factories (`module:function`, no
arguments). This module knows only the municipal API; the console script
(`wallet_api.service:main`, the composition root, which may see the issuer and the wallet API)
hands in the whole service, so that `serve` serves everything while issuer/ never imports
wallet_api/.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from issuer.db.session import make_engine, make_session_factory
from issuer.errors import ErrorCode, InvalidRequest, IssuerError
from issuer.logs import configure_logging
from issuer.migrations import upgrade
from issuer.schemas.tenants import TenantCreate
from issuer.services import audit, clients, imports, tenants
from issuer.services.clock import SystemClock
from issuer.settings import Settings

EXIT_OK, EXIT_CHECK_FAILED, EXIT_USAGE, EXIT_REFUSED = 0, 1, 2, 3
OPERATOR_ACTOR = "operator-cli"

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


@contextmanager
def _db(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()


def _hasher(settings: Settings) -> clients.SecretHasher:
    return clients.SecretHasher(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> int:
    """Upgrade the database to head (or --revision)."""
    upgrade(settings.database_url, args.revision)
    out.print(f"database migrated to {args.revision}")
    return EXIT_OK


# the apps `serve --app` offers when nothing was handed in: the municipal API alone
MUNICIPAL_APPS: dict[str, str] = {"municipal": "issuer.app:app_from_environment"}
MAX_WORKERS = 64


def workers_argument(value: str) -> int:
    """`--workers`: a number of processes between 1 and MAX_WORKERS."""
    workers = int(value)
    if not 1 <= workers <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_WORKERS}")
    return workers


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    """Serve the chosen app in N worker processes (no migration, no seeding)."""
    from issuer.serving import serve_factory

    serve_factory(args.apps[args.app], settings, workers=args.workers)
    return EXIT_OK


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Run the periodic jobs: until stopped, or each due job once (`--once`, exit 1 when one
    failed)."""
    from issuer.worker import jobs, runner

    try:
        jobs.select_jobs(args.job)
    except ValueError as exc:
        err.print(str(exc))
        return EXIT_USAGE
    if not args.once:
        runner.forever(settings, args.job)
        return EXIT_OK
    outcomes = runner.once(settings, args.job)
    for outcome in outcomes:
        counts = " ".join(f"{k}={v}" for k, v in sorted(outcome.counts.items()))
        errors = " ".join(":".join(e.values()) for e in outcome.errors)
        out.print(
            f"{outcome.job}: {outcome.status}"
            + (f" {counts}" if counts else "")
            + (f" errors: {errors}" if errors else "")
        )
    return EXIT_CHECK_FAILED if any(o.status == "failed" for o in outcomes) else EXIT_OK


def cmd_dev(settings: Settings, args: argparse.Namespace) -> int:
    """Migrate, create keys, seed the demo tenant once, print what to do next, serve."""
    from issuer.devserver import bootstrap_dev

    info = bootstrap_dev(settings)
    base = settings.public_base_url.rstrip("/")
    key = info.api_key or "<no demo key: the database has other tenants>"
    out.print(
        "\n".join(
            [
                "[bold]buergerid issuer (development)[/bold]",
                f"  municipal API   {base}/api/v1/   (OpenAPI docs: {base}/docs)",
                f"  health          {base}/healthz   {base}/readyz",
                f"  data directory  {settings.data_dir}",
                f"  demo tenant     {info.tenant_ags}",
                f"  demo API key    {key}",
                "next:",
                f'  export BID_KEY="{key}"',
                f'  curl -s -H "Authorization: Bearer $BID_KEY" {base}/api/v1/zones',
                f'  curl -s -H "Authorization: Bearer $BID_KEY" {base}/api/v1/residents',
                f'  curl -s -H "Authorization: Bearer $BID_KEY" "{base}/api/v1/audit?limit=5"',
                "  .venv/bin/buergerid-issuer verify-audit",
            ]
        ),
        soft_wrap=True,
    )
    sys.stdout.flush()  # before uvicorn takes over (stdout may be a pipe)
    from issuer.serving import serve_factory
    from issuer.worker.runner import in_background

    with in_background(settings):  # development: the periodic jobs run in this process
        serve_factory(args.apps[args.default_app], settings)
    return EXIT_OK


def cmd_tenant_create(settings: Settings, args: argparse.Namespace) -> int:
    """Create a tenant and its key ring (or adopt a prepared ring), all or nothing."""
    try:  # the rules of POST /api/v1/tenants, checked before anything is made
        data = TenantCreate(
            ags=args.ags,
            name=args.name,
            issuer_url=args.issuer_url,
            retention_days=args.retention_days,
            adopt_key_ring=args.adopt_key_ring,
        )
    except ValidationError as exc:
        fields = sorted({str(e["loc"][0]) for e in exc.errors() if e.get("loc")})
        raise InvalidRequest(ErrorCode.INVALID_REQUEST, "invalid " + ", ".join(fields)) from exc
    with _db(settings) as factory:
        tenant = tenants.register_tenant(
            factory, settings, data, actor=OPERATOR_ACTOR, now=SystemClock().now()
        )
    out.print(f"tenant {tenant.ags} created")
    return EXIT_OK


def cmd_tenant_list(settings: Settings, _args: argparse.Namespace) -> int:
    """List tenants."""
    with _db(settings) as factory, factory() as session:
        for tenant in tenants.list_tenants(session):
            out.print(f"{tenant.ags}  {tenant.name}  {tenant.issuer_url}")
    return EXIT_OK


def _tenant_id(session: Any, args: argparse.Namespace) -> int | None:
    if getattr(args, "operator", False):
        return None
    if not args.tenant:
        raise SystemExit("--tenant AGS or --operator is required")
    return tenants.get_tenant_by_ags(session, args.tenant).id


def _print_secret(issued: clients.IssuedCredential) -> None:
    out.print(f"client_id {issued.client.id}")
    out.print(f"key_id    {issued.key_id}")
    out.print(f"token     {issued.token}")
    err.print("[yellow]the token is shown once; store it now[/yellow]")


def cmd_client_create(settings: Settings, args: argparse.Namespace) -> int:
    """Create an API client (tenant or operator) and print its token once."""
    with _db(settings) as factory, factory() as session, session.begin():
        issued = clients.create_client(
            session,
            _hasher(settings),
            tenant_id=_tenant_id(session, args),
            name=args.name,
            scopes=[s.strip() for s in args.scopes.split(",") if s.strip()],
            actor=OPERATOR_ACTOR,
            now=SystemClock().now(),
        )
        _print_secret(issued)
    return EXIT_OK


def cmd_client_rotate(settings: Settings, args: argparse.Namespace) -> int:
    """Rotate a client's secret."""
    grace = (
        settings.client_rotation_grace_seconds if args.grace_seconds is None else args.grace_seconds
    )
    with _db(settings) as factory, factory() as session, session.begin():
        issued = clients.rotate_client(
            session,
            _hasher(settings),
            tenant_id=_tenant_id(session, args),
            client_id=uuid.UUID(args.client_id),
            grace_seconds=grace,
            actor=OPERATOR_ACTOR,
            now=SystemClock().now(),
        )
        _print_secret(issued)
    return EXIT_OK


def cmd_client_revoke(settings: Settings, args: argparse.Namespace) -> int:
    """Revoke a client and all its secrets."""
    with _db(settings) as factory, factory() as session, session.begin():
        clients.revoke_client(
            session,
            tenant_id=_tenant_id(session, args),
            client_id=uuid.UUID(args.client_id),
            actor=OPERATOR_ACTOR,
            now=SystemClock().now(),
        )
    out.print(f"client {args.client_id} revoked")
    return EXIT_OK


def cmd_import(settings: Settings, args: argparse.Namespace) -> int:
    """Import residents or vehicles from an NDJSON or CSV file with a progress bar."""
    path = Path(args.file)
    fmt = args.format or ("csv" if path.suffix.lower() == ".csv" else "ndjson")
    run = imports.import_residents if args.kind == "residents" else imports.import_vehicles
    total = path.stat().st_size
    progress = Progress(
        TextColumn(f"importing {args.kind}"),
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    with _db(settings) as factory, path.open("rb") as fh, progress, factory() as session:
        tenant_id = tenants.get_tenant_by_ags(session, args.tenant).id
        session.rollback()
        task = progress.add_task("import", total=total)
        report = run(
            session,
            tenant_id,
            fh,
            fmt,
            actor=OPERATOR_ACTOR,
            now=SystemClock().now(),
            batch_rows=settings.import_batch_rows,
            max_line_bytes=settings.max_import_line_bytes,
            max_bytes=settings.max_import_bytes,
            progress=lambda _lines: progress.update(task, completed=fh.tell()),
        )
    out.print(
        f"{report.kind}: lines={report.lines} inserted={report.inserted} updated={report.updated} "
        f"unchanged={report.unchanged} failed={report.failed}"
    )
    for error in report.errors[:50]:
        out.print(
            f"  line {error.line}: {error.code}" + (f" ({error.field})" if error.field else "")
        )
    if report.stopped is not None:
        err.print(
            f"stopped: {report.stopped.code} - nothing from line {report.stopped.line} on was "
            "imported; the counts above are what was committed"
        )
        return EXIT_REFUSED
    return EXIT_OK if report.failed == 0 else EXIT_CHECK_FAILED


def cmd_verify_audit(settings: Settings, args: argparse.Namespace) -> int:
    """Recompute every audit chain; exit 1 naming the chain and sequence of the first break."""
    with _db(settings) as factory, factory() as session:
        chain = None
        if args.tenant:
            chain = audit.chain_for(tenants.get_tenant_by_ags(session, args.tenant).id)
        breaks = audit.verify_chains(session, chain=chain)
    if not breaks:
        out.print("audit chains verified")
        return EXIT_OK
    for b in breaks:
        err.print(f"audit chain {b.chain} broken at sequence {b.seq}: {b.problem}")
    return EXIT_CHECK_FAILED


def cmd_retention_run(settings: Settings, args: argparse.Namespace) -> int:
    """Erase or pseudonymise personal data past the tenants' retention periods (audited)."""
    from issuer.middleware import purge_idempotency_records
    from issuer.services import retention

    now = SystemClock().now()
    with _db(settings) as factory, factory() as session, session.begin():
        tenant_id = tenants.get_tenant_by_ags(session, args.tenant).id if args.tenant else None
        reports = retention.run(session, now=now, tenant_id=tenant_id)
        # stored Idempotency-Key answers serve retries only; they hold sealed request answers
        purged = purge_idempotency_records(
            session, before=now - timedelta(hours=args.idempotency_hours)
        )
    for report in reports:
        counts = " ".join(f"{k}={v}" for k, v in report.counts().items())
        out.print(f"tenant {report.tenant_id}: {counts}")
    out.print(f"idempotency records purged: {purged}")
    return EXIT_OK


def cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> int:
    """Rotate the tenants' (or the root's) signing keys per the rotation policy."""
    from issuer.services.signing import KeyStore

    with _db(settings) as factory, factory() as session:
        rows = tenants.list_tenants(session)
        if args.tenant:
            rows = [t for t in rows if t.ags == args.tenant]
    now = SystemClock().now()
    targets = [settings.root_key_ring] if args.root else [t.key_ring for t in rows]
    keys = KeyStore(settings)
    try:
        for relative in targets:
            info = keys.rotate(relative, now=now, force=args.force)
            out.print(f"{relative}: " + (f"new pending key {info}" if info else "nothing to do"))
    finally:
        keys.close()
    return EXIT_OK


def cmd_enforcement(settings: Settings, args: argparse.Namespace) -> int:
    """Enforcement clients and handhelds: create, issue enrolment codes, list, withdraw."""
    from issuer.services import enforcement

    now = SystemClock().now()
    with _db(settings) as factory, factory() as session, session.begin():
        if args.action == "client-create":
            client = enforcement.create_client(
                session,
                name=args.name,
                municipalities=[a.strip() for a in args.municipalities.split(",") if a.strip()],
                actor=OPERATOR_ACTOR,
                now=now,
            )
            out.print(f"client_id {client.id}")
        elif args.action == "clients":
            for client in enforcement.list_clients(session):
                places = ",".join(enforcement.client_municipalities(session, client))
                state = "revoked" if client.revoked_at else "active"
                out.print(f"{client.id}  {state}  {places}  {client.name}")
        elif args.action == "code":
            issued = enforcement.issue_code(
                session,
                client_id=uuid.UUID(args.client_id),
                label=args.label,
                ttl_seconds=settings.enrolment_code_ttl_seconds,
                actor=OPERATOR_ACTOR,
                now=now,
            )
            out.print(f"device_id {issued.device.id}")
            out.print(f"code      {issued.code}")
            out.print(f"expires   {issued.device.code_expires_at.isoformat()}")
            err.print("[yellow]the code is shown once and works once[/yellow]")
        elif args.action == "devices":
            for device in enforcement.list_devices(session, uuid.UUID(args.client_id)):
                state = (
                    "withdrawn"
                    if device.withdrawn_at
                    else "enrolled"
                    if device.enrolled_at
                    else "waiting"
                )
                out.print(f"{device.id}  {state}  {device.label}")
        elif args.action == "withdraw":
            enforcement.withdraw_device(
                session, device_id=uuid.UUID(args.device_id), actor=OPERATOR_ACTOR, now=now
            )
            out.print(f"device {args.device_id} withdrawn")
        else:  # client-revoke
            enforcement.revoke_client(
                session, client_id=uuid.UUID(args.client_id), actor=OPERATOR_ACTOR, now=now
            )
            out.print(f"client {args.client_id} revoked; its devices are withdrawn")
    return EXIT_OK


Handler = Callable[[Settings, argparse.Namespace], int]


def build_parser(
    apps: dict[str, str] | None = None, default_app: str | None = None
) -> argparse.ArgumentParser:
    """The argument parser; each subcommand sets `func`. `apps`: name → app factory import
    string for `serve --app` (default: the municipal API), `default_app` the one served."""
    apps = dict(apps or MUNICIPAL_APPS)
    default_app = default_app or next(iter(apps))
    parser = argparse.ArgumentParser(prog="buergerid-issuer", description=__doc__)
    parser.set_defaults(apps=apps, default_app=default_app)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="upgrade the database schema")
    p.add_argument("--revision", default="head")
    p.set_defaults(func=cmd_migrate)
    p = sub.add_parser("serve", help="serve the service (production: no migration, no seeding)")
    p.add_argument(
        "--workers",
        type=workers_argument,
        default=1,
        help="worker processes (each a full copy of the service; default 1)",
    )
    p.add_argument(
        "--app",
        choices=sorted(apps),
        default=default_app,
        help=f"what to serve (default {default_app})",
    )
    p.set_defaults(func=cmd_serve)
    sub.add_parser("dev", help="development: migrate, seed, serve").set_defaults(func=cmd_dev)
    p = sub.add_parser("worker", help="run the periodic jobs (expiry, renewal, publication, …)")
    p.add_argument("--once", action="store_true", help="run each due job once, then exit")
    p.add_argument("--job", action="append", metavar="NAME", help="only this job (repeatable)")
    p.set_defaults(func=cmd_worker)

    tenant = sub.add_parser("tenant", help="tenants").add_subparsers(dest="action", required=True)
    p = tenant.add_parser("create", help="create a tenant and its key ring")
    p.add_argument("--ags", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--issuer-url", required=True)
    p.add_argument("--retention-days", type=int, default=365)
    p.add_argument(
        "--adopt-key-ring",
        action="store_true",
        help="use the ring a key custodian made at keys/<ags>/ (checked: issuer, URL, keys load)",
    )
    p.set_defaults(func=cmd_tenant_create)
    tenant.add_parser("list", help="list tenants").set_defaults(func=cmd_tenant_list)

    client = sub.add_parser("client", help="API clients").add_subparsers(
        dest="action", required=True
    )
    for name, func, help_text in (
        ("create", cmd_client_create, "create a client, print its token once"),
        ("rotate", cmd_client_rotate, "new secret; old one valid for a grace period"),
        ("revoke", cmd_client_revoke, "revoke a client"),
    ):
        p = client.add_parser(name, help=help_text)
        who = p.add_mutually_exclusive_group(required=True)
        who.add_argument("--tenant", metavar="AGS")
        who.add_argument("--operator", action="store_true", help="operator-level client")
        if name == "create":
            p.add_argument("--name", required=True)
            p.add_argument("--scopes", required=True, help="comma-separated scopes")
        else:
            p.add_argument("client_id")
        if name == "rotate":
            p.add_argument("--grace-seconds", type=int, default=None)
        p.set_defaults(func=func)

    p = sub.add_parser("import", help="import residents or vehicles (NDJSON or CSV)")
    p.add_argument("--tenant", required=True, metavar="AGS")
    p.add_argument("--kind", choices=["residents", "vehicles"], default="residents")
    p.add_argument("--format", choices=["ndjson", "csv"], default=None)
    p.add_argument("file")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("verify-audit", help="verify the hash chains of the audit log")
    p.add_argument("--tenant", metavar="AGS", default=None)
    p.set_defaults(func=cmd_verify_audit)

    retention = sub.add_parser("retention", help="retention of personal data").add_subparsers(
        dest="action", required=True
    )
    p = retention.add_parser("run", help="erase/pseudonymise data past the retention period")
    p.add_argument("--tenant", metavar="AGS", default=None)
    p.add_argument(
        "--idempotency-hours",
        type=int,
        default=24,
        help="purge stored Idempotency-Key answers older than this (default 24)",
    )
    p.set_defaults(func=cmd_retention_run)
    keys_cmd = sub.add_parser("keys", help="signing keys").add_subparsers(
        dest="action", required=True
    )
    p = keys_cmd.add_parser("rotate", help="add the next key ahead of time, retire the old one")
    p.add_argument("--tenant", metavar="AGS", default=None)
    p.add_argument("--root", action="store_true", help="rotate the operator's root ring")
    p.add_argument("--force", action="store_true")
    p.set_defaults(func=cmd_keys_rotate)

    enf = sub.add_parser("enforcement", help="enforcement clients and handhelds")
    enf_sub = enf.add_subparsers(dest="action", required=True)
    p = enf_sub.add_parser("client-create", help="a client covering municipalities")
    p.add_argument("--name", required=True)
    p.add_argument("--municipalities", required=True, help="comma-separated AGS")
    enf_sub.add_parser("clients", help="list enforcement clients")
    p = enf_sub.add_parser("code", help="a one-time enrolment code for a new handheld")
    p.add_argument("client_id")
    p.add_argument("--label", required=True, help="how you will recognise the handheld")
    p = enf_sub.add_parser("devices", help="a client's handhelds")
    p.add_argument("client_id")
    p = enf_sub.add_parser("withdraw", help="withdraw a handheld (lost, stolen, retired)")
    p.add_argument("device_id")
    p = enf_sub.add_parser("client-revoke", help="revoke a client and all its handhelds")
    p.add_argument("client_id")
    enf.set_defaults(func=cmd_enforcement)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    apps: dict[str, str] | None = None,
    default_app: str | None = None,
) -> int:
    """Entry point of `buergerid-issuer` (see the module docstring for `apps`)."""
    args = build_parser(apps, default_app).parse_args(argv)
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    handler: Handler = args.func
    try:
        return handler(settings, args)
    except IssuerError as exc:
        err.print(f"refused: {exc.code}" + (f" ({exc.detail})" if exc.detail else ""))
        for entry in exc.errors:  # codes, fields and positions only
            err.print("  " + " ".join(f"{k}={v}" for k, v in entry.items()))
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
