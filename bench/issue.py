"""Speed of the issuer, as ratios taken in one run (SQLite and a throwaway PostgreSQL server).

    .venv/bin/python bench/issue.py            # full run
    .venv/bin/python bench/issue.py --quick    # smaller sizes, for a smoke test
    .venv/bin/python bench/issue.py --issuing-only   # only POST /api/v1/permits and auto_renew
    .venv/bin/python bench/issue.py --post-only      # only POST /api/v1/permits

Over real HTTP (uvicorn on 127.0.0.1 in this process, 8 client threads), per database:

1. requests/s of the bare endpoint `/healthz` (the ratio base);
2. `POST /api/v1/permits`: authentication, eligibility, fee, DB write, index, audit, signing;
3. `GET /trust-bundle` without and with `If-None-Match` (200 vs 304; nothing is re-signed).

The API client uses the PRODUCTION argon2id parameters (Settings defaults: t=3, 64 MiB, p=1,
~0.1 s per verification): the first request verifies once, later ones hit the in-process
verification cache (issuer/services/clients.py), exactly as in production. Each endpoint is
called once before it is timed (that first verification, FastAPI's preparation of a route),
so the rates are the steady ones.

PostgreSQL, `buergerid-issuer serve --workers N` as a real process for N = 1, 2 and 4:
`POST /api/v1/permits` (16 client threads) as ratios of the 1-worker rate
(`ratio_post_permit_<N>_workers_vs_1_postgresql`). `--workers-only` runs just this part.
Likewise N separate `buergerid-issuer serve` instances (one worker each) on one database, the
client spreading requests over them (`ratio_post_permit_<N>_instances_vs_1_postgresql`);
`--instances-only` runs just that.

Signing in a PKCS#11 token against software keys (`signing_bench`; `--signing-only` runs
just this, no database): ES256 signatures of a permit-sized message with a SoftHSM2 key
(a fresh token in a temporary directory) and with a software key, in interleaved rounds in
this process; `ratio_sign_softhsm_vs_software` is the median SoftHSM2 time per signature over
the median software one.

In process, per database: `issuer.services.imports.import_residents` of 100,000 residents;
rebuilding (read statuses, pack, sign CWT + JWT) a 2^20-entry status list with 100,000
allocated entries of which 1/4 are revoked; collecting and signing a plate index of
100,000 plates.
"""

from __future__ import annotations

# ruff: noqa: E402  (the repository root goes on sys.path before our imports)
import argparse
import io
import json
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx
from sqlalchemy import insert

from issuer.app import create_app
from issuer.db.models import Tenant
from issuer.db.permit_models import Permit, PermitPlate, PermitToken, StatusEntry, StatusList
from issuer.migrations import upgrade
from issuer.services import clients, imports, plate_index, status_lists, tenants
from issuer.services.clock import SystemClock
from issuer.settings import Settings
from keys.storage.file import KdfParams

CHEAP_KDF = KdfParams(time_cost=1, memory_kib=8, parallelism=1)
AGS = "05513000"
THREADS = 8


def rate(count: int, fn: Callable[[int], Any]) -> float:
    """Requests per second of `count` calls of fn(i) on THREADS threads."""
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(fn, range(count)))
    return count / (time.perf_counter() - start)


def setup_tenant(app: Any, settings: Settings, residents: int) -> tuple[dict[str, str], list[Any]]:
    now = SystemClock().now()
    factory = app.state.session_factory
    with factory() as session, session.begin():
        tenant = tenants.create_tenant(
            session, ags=AGS, name="Bench", issuer_url="https://bench.example.de", actor="b",
            now=now,
        )  # fmt: skip
        ring = tenant.key_ring
        issued = clients.create_client(
            session, app.state.hasher, tenant_id=tenant.id, name="bench",
            scopes=["registry:write", "permits:issue", "permits:revoke"], actor="b", now=now,
        )  # fmt: skip
        tenant_id = tenant.id
    keys = app.state.keys
    keys.ensure_ring(ring, AGS, root=False, now=now, kdf=CHEAP_KDF)
    keys.ensure_ring(settings.root_key_ring, "op", root=True, now=now, kdf=CHEAP_KDF)
    headers = {"Authorization": f"Bearer {issued.token}"}
    rows = "".join(
        json.dumps(
            {
                "external_ref": f"MR-{n}", "given_name": "E", "family_name": "M",
                "residence_kind": "main", "street": "Markt", "house_number": str(n % 900 + 1),
                "postcode": "45879", "valid_from": "2020-01-01",
            }
        ) + "\n"
        for n in range(residents)
    )  # fmt: skip
    cars = "".join(
        json.dumps({"external_ref": f"K-{n}", "plate": f"GE-B {n + 1}", "holder_ref": f"MR-{n}"})
        + "\n"
        for n in range(residents)
    )
    with factory() as session:
        imports.import_residents(session, tenant_id, io.BytesIO(rows.encode()), "ndjson", now=now)
    with factory() as session:
        imports.import_vehicles(session, tenant_id, io.BytesIO(cars.encode()), "ndjson", now=now)
    from issuer.db.models import Resident, Vehicle, Zone, ZoneSegment

    with factory() as session, session.begin():
        zone = Zone(tenant_id=tenant_id, code="A3", name="Z", created_at=now, updated_at=now)
        zone.segments = [ZoneSegment(street="Markt", number_from=1, number_to=9999, parity="all")]
        session.add(zone)
    with factory() as session:
        by_ref = dict(session.query(Resident.external_ref, Resident.id).all())
        car_by_ref = dict(session.query(Vehicle.external_ref, Vehicle.id).all())
    jobs = [
        {"resident_id": str(by_ref[f"MR-{n}"]), "zones": ["A3"],
         "vehicle_ids": [str(car_by_ref[f"K-{n}"])]}
        for n in range(residents)
    ]  # fmt: skip
    return headers, jobs


def http_bench(settings: Settings, n: int) -> dict[str, float]:
    from tests.support.http import live_server

    app = create_app(settings)
    headers, jobs = setup_tenant(app, settings, n + 1)
    out: dict[str, float] = {}
    with live_server(app) as base, httpx.Client(base_url=base, timeout=60) as http:
        http.get("/healthz")
        out["healthz"] = rate(2 * n, lambda i: http.get("/healthz"))

        def post(i: int) -> None:
            r = http.post("/api/v1/permits", json=jobs[i], headers=headers)
            assert r.status_code == 201, r.text

        # warmed like /healthz above: the first request verifies the API secret (argon2,
        # then remembered) and the first POST lets FastAPI prepare the route; both once
        # per process, so neither belongs to the steady rate
        post(n)
        out["post_permit"] = rate(n, post)
        first = http.get("/trust-bundle")
        assert first.status_code == 200
        etag = first.headers["etag"]
        out["trust_bundle_200"] = rate(n, lambda i: http.get("/trust-bundle"))

        def cached(i: int) -> None:
            assert http.get("/trust-bundle", headers={"If-None-Match": etag}).status_code == 304

        out["trust_bundle_304"] = rate(n, cached)
    app.state.engine.dispose()
    return out


def big_bench(settings: Settings, residents: int, plates: int) -> dict[str, float]:
    """Import time, 2^20 status list rebuild, plate index of `plates` plates (in process)."""
    app = create_app(settings)
    factory = app.state.session_factory
    now = datetime.now(UTC)
    with factory() as session, session.begin():
        tenant = tenants.create_tenant(
            session, ags="05562000", name="Big", issuer_url="https://big.example.de", actor="b",
            now=now,
        )  # fmt: skip
        tenant_id = tenant.id
        ring = tenant.key_ring
    app.state.keys.ensure_ring(ring, "05562000", root=False, now=now, kdf=CHEAP_KDF)
    out: dict[str, float] = {}
    body = "".join(
        json.dumps(
            {
                "external_ref": f"B-{n}", "given_name": "E", "family_name": "M",
                "residence_kind": "main", "street": "Markt", "house_number": str(n % 900 + 1),
                "postcode": "45879", "valid_from": "2020-01-01",
            }
        ) + "\n"
        for n in range(residents)
    ).encode()  # fmt: skip
    start = time.perf_counter()
    with factory() as session:
        report = imports.import_residents(session, tenant_id, io.BytesIO(body), "ndjson", now=now)
    out["import_residents_s"] = time.perf_counter() - start
    assert report.inserted == residents, report

    # a 2^20-entry list with `plates` allocated entries, a quarter revoked
    size = 2**20
    indices = secrets.SystemRandom().sample(range(size), plates)
    with factory() as session, session.begin():
        row = StatusList(
            tenant_id=tenant_id, list_no=1, size=size, bits=2, allocated=plates, version=2,
            created_at=now,
        )  # fmt: skip
        session.add(row)
        session.flush()
        session.execute(
            insert(StatusEntry),
            [
                {"tenant_id": tenant_id, "list_no": 1, "idx": idx, "status": int(i % 4 == 0),
                 "allocated_at": now}
                for i, idx in enumerate(indices)
            ],
        )  # fmt: skip
    with factory() as session, session.begin():
        tenant_row = session.get(Tenant, tenant_id)
        row = session.query(StatusList).filter_by(tenant_id=tenant_id).one()
        start = time.perf_counter()
        status_lists.ensure_built(session, app.state.keys, tenant=tenant_row, row=row, now=now)
        out["status_list_2p20_rebuild_s"] = time.perf_counter() - start
        assert row.cwt is not None

    # `plates` active permits, one plate and one token each
    until = now + timedelta(days=300)
    permit_rows, plate_rows, token_rows = [], [], []
    for n, idx in enumerate(indices):
        pid = uuid.uuid4()
        permit_rows.append(
            {"id": pid, "tenant_id": tenant_id, "number": n + 1, "permit_type": "BEW",
             "state": "active", "zone_codes": ["A3"], "valid_from": now, "valid_until": until,
             "is_provisional": False, "auto_renew": False, "display_required": False,
             "legal_basis": "x", "version": 1, "created_at": now, "updated_at": now}
        )  # fmt: skip
        plate_rows.append(
            {"permit_id": pid, "tenant_id": tenant_id, "permit_type": "BEW", "position": 0,
             "plate": _plate(n)}
        )  # fmt: skip
        token_rows.append(
            {"tenant_id": tenant_id, "permit_id": pid, "permit_version": 1, "list_no": 1,
             "idx": idx, "kind": "qr", "iat": int(now.timestamp()),
             "exp": int(until.timestamp()), "created_at": now}
        )  # fmt: skip
    with factory() as session, session.begin():
        for table, rows in (
            (Permit, permit_rows),
            (PermitPlate, plate_rows),
            (PermitToken, token_rows),
        ):
            for start_at in range(0, len(rows), 10_000):
                session.execute(insert(table), rows[start_at : start_at + 10_000])
    with factory() as session:
        tenant_row = session.get(Tenant, tenant_id)
        start = time.perf_counter()
        entries = plate_index.collect_entries(session, tenant_id=tenant_id, now=now)
        body_bytes, _iat, _exp = plate_index.build(
            app.state.keys,
            tenant=tenant_row,  # type: ignore[arg-type]
            entries=entries,
            now=now,
        )
        out["plate_index_rebuild_s"] = time.perf_counter() - start
        out["plate_index_plates"] = float(len(entries))
        out["plate_index_bytes"] = float(len(body_bytes))
    app.state.engine.dispose()
    return out


def renew_bench(settings: Settings, count: int) -> dict[str, float]:
    """`permits.auto_renew` over `count` active BEW permits due for renewal (in process): each
    is judged against the registry for its new year, charged, extended, audited and signed a
    new QR token."""
    from issuer.db.models import Resident, Vehicle, Zone, ZoneSegment
    from issuer.services import permits

    app = create_app(settings)
    factory = app.state.session_factory
    now = datetime.now(UTC)
    with factory() as session, session.begin():
        tenant = tenants.create_tenant(
            session, ags="05515000", name="Renew", issuer_url="https://renew.example.de",
            actor="b", now=now,
        )  # fmt: skip
        tenant_id, ring = tenant.id, tenant.key_ring
        zone = Zone(tenant_id=tenant_id, code="A3", name="Z", created_at=now, updated_at=now)
        zone.segments = [ZoneSegment(street="Markt", number_from=1, number_to=9999, parity="all")]
        session.add(zone)
    app.state.keys.ensure_ring(ring, "05515000", root=False, now=now, kdf=CHEAP_KDF)
    people = "".join(
        json.dumps(
            {
                "external_ref": f"R-{n}", "given_name": "E", "family_name": "M",
                "residence_kind": "main", "street": "Markt", "house_number": str(n % 900 + 1),
                "postcode": "45879", "valid_from": "2020-01-01",
            }
        ) + "\n"
        for n in range(count)
    ).encode()  # fmt: skip
    cars = "".join(
        json.dumps({"external_ref": f"C-{n}", "plate": _plate(n), "holder_ref": f"R-{n}"}) + "\n"
        for n in range(count)
    ).encode()
    with factory() as session:
        imports.import_residents(session, tenant_id, io.BytesIO(people), "ndjson", now=now)
    with factory() as session:
        imports.import_vehicles(session, tenant_id, io.BytesIO(cars), "ndjson", now=now)
    with factory() as session:
        resident_of = dict(session.query(Resident.external_ref, Resident.id).all())
        vehicles = {ref: (vid, plate) for ref, vid, plate in session.query(
            Vehicle.external_ref, Vehicle.id, Vehicle.plate).all()}  # fmt: skip
    start_at, until = now - timedelta(days=355), now + timedelta(days=10)
    permit_rows, plate_rows = [], []
    for n in range(count):
        pid, resident_id = uuid.uuid4(), resident_of[f"R-{n}"]
        vehicle_id, plate = vehicles[f"C-{n}"]
        permit_rows.append(
            {"id": pid, "tenant_id": tenant_id, "number": n + 1, "permit_type": "BEW",
             "state": "active", "resident_id": resident_id, "zone_codes": ["A3"],
             "use_kind": "own", "valid_from": start_at, "valid_until": until,
             "is_provisional": False, "auto_renew": True, "display_required": True,
             "legal_basis": "§45 Abs. 1b StVO", "exclusive_key": str(resident_id),
             "version": 1, "created_at": now, "updated_at": now}
        )  # fmt: skip
        plate_rows.append(
            {"permit_id": pid, "tenant_id": tenant_id, "permit_type": "BEW", "position": 0,
             "plate": plate, "vehicle_id": vehicle_id, "lock_key": plate}
        )  # fmt: skip
    with factory() as session, session.begin():
        for table, rows in ((Permit, permit_rows), (PermitPlate, plate_rows)):
            for first in range(0, len(rows), 10_000):
                session.execute(insert(table), rows[first : first + 10_000])
    start, cpu_start = time.perf_counter(), time.process_time()
    with factory() as session, session.begin():
        counts = permits.auto_renew(
            session, app.state.keys, tenant_id=tenant_id, actor="system", now=now
        )
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    assert counts == {"renewed": count, "refused": 0}, counts
    app.state.engine.dispose()
    return {"auto_renew_s": seconds, "auto_renew_cpu_s": cpu}


WORKER_COUNTS = (1, 2, 4)
WORKER_THREADS = 16


def _post_rate(bases: list[str], headers: dict[str, str], jobs: list[Any]) -> float:
    """`POST /api/v1/permits` per second of `jobs` on WORKER_THREADS threads, request i sent
    to bases[i % len(bases)], after every worker of every base verified the key once (argon2,
    on fresh connections)."""
    limits = httpx.Limits(max_connections=WORKER_THREADS * 2)
    warm = {"Connection": "close", **headers}
    https = [httpx.Client(base_url=b, timeout=60, limits=limits) for b in bases]
    try:
        with ThreadPoolExecutor(max_workers=WORKER_THREADS) as pool:
            list(pool.map(lambda i: https[i % len(https)].get("/api/v1/zones", headers=warm),
                          range(64 * len(https))))  # fmt: skip

        def post(i: int) -> None:
            r = https[i % len(https)].post("/api/v1/permits", json=jobs[i], headers=headers)
            assert r.status_code == 201, r.text

        start_at = time.perf_counter()
        with ThreadPoolExecutor(max_workers=WORKER_THREADS) as pool:
            list(pool.map(post, range(len(jobs))))
        return len(jobs) / (time.perf_counter() - start_at)
    finally:
        for http in https:
            http.close()


def serve_bench(settings: Settings, n: int, *, instances: bool) -> dict[int, float]:
    """`POST /api/v1/permits` per second for each N of WORKER_COUNTS: N separate
    `buergerid-issuer serve` instances (one worker each; the client spreads requests over
    them) when `instances`, else one `buergerid-issuer serve --workers N`."""
    from tests.support import processes

    app = create_app(settings)
    headers, jobs = setup_tenant(app, settings, n * len(WORKER_COUNTS))
    app.state.engine.dispose()
    logs = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    out: dict[int, float] = {}
    for round_no, count in enumerate(WORKER_COUNTS):
        layout = [["serve"]] * count if instances else [["serve", "--workers", str(count)]]
        servers, bases = [], []
        try:
            for k, args in enumerate(layout):
                port = processes.free_port()
                env = processes.settings_env(settings, BUERGERID_PORT=str(port))
                argv = [processes.BUERGERID_ISSUER, *args]
                servers.append(processes.start(f"serve-{round_no}-{k}", argv, env, logs))
                bases.append(f"http://127.0.0.1:{port}")
            for server, base in zip(servers, bases, strict=True):
                processes.wait_http(server, base + "/healthz")
            out[count] = _post_rate(bases, headers, jobs[round_no * n : (round_no + 1) * n])
        finally:
            processes.stop(servers)
    return out


def _plate(n: int) -> str:
    """A distinct canonical plate for each n < 259,974."""
    return f"RE-{chr(65 + n // 9999 % 26)} {n % 9999 + 1}"


def make_settings(url: str, data_dir: Path) -> Settings:
    return Settings(
        database_url=url, data_dir=data_dir, environment="test",
        key_passphrase="bench-passphrase",  # type: ignore[arg-type]
        log_level="WARNING",  # argon2 for API secrets: the production defaults
    )  # fmt: skip


def signing_bench(signatures: int) -> dict[str, float] | None:
    """Median seconds per ES256 signature: SoftHSM2 and software (None without SoftHSM2)."""
    import os
    import shutil
    import statistics

    from keys.signer import SoftwareSigner, generate_private_key
    from keys.storage.pkcs11 import DEFAULT_MODULE, MODULE_ENV, Pkcs11Token
    from verifier.formats import Alg

    module = os.environ.get(MODULE_ENV) or DEFAULT_MODULE
    if not os.path.isfile(module) or shutil.which("softhsm2-util") is None:
        return None
    from tests.support.softhsm import init_token

    with tempfile.TemporaryDirectory(prefix="bench-softhsm-") as tmp:
        hsm = init_token(Path(tmp))
        os.environ["SOFTHSM2_CONF"] = str(hsm.conf)  # read once, when the module loads
        message = secrets.token_bytes(300)  # about a permit QR's signed part
        software = SoftwareSigner(generate_private_key(Alg.ES256))
        with Pkcs11Token.open(token_label=hsm.token_label, pin=hsm.pin, module=module) as token:
            in_token = token.generate_key(Alg.ES256, label="bench")
            rounds = 10
            per_round = max(1, signatures // rounds)
            times: dict[str, list[float]] = {"softhsm": [], "software": []}
            for _ in range(rounds):  # interleaved: a load change hits both alike
                for name, signer in (("softhsm", in_token), ("software", software)):
                    started = time.perf_counter()
                    for _ in range(per_round):
                        signer.sign(message)
                    times[name].append((time.perf_counter() - started) / per_round)
    return {name: statistics.median(values) for name, values in times.items()}


def print_signing(res: dict[str, float] | None) -> None:
    """The signing figures and their ratio line."""
    if res is None:
        print("signing: SoftHSM2 not installed (Debian package softhsm2); not measured")
        return
    print("[ES256 signature, median per signature]")
    for name in ("software", "softhsm"):
        print(f"  {name:<9} {res[name] * 1e6:9.1f} µs")
    print(f"ratio_sign_softhsm_vs_software={res['softhsm'] / res['software']:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--workers-only", action="store_true", help="only serve --workers N")
    parser.add_argument(
        "--instances-only", action="store_true", help="only N separate serve instances"
    )
    parser.add_argument(
        "--signing-only", action="store_true", help="only SoftHSM2 against software signing"
    )
    parser.add_argument(
        "--issuing-only",
        action="store_true",
        help="only the issuing write path: POST /api/v1/permits against /healthz, and auto_renew",
    )
    parser.add_argument(
        "--post-only",
        action="store_true",
        help="only POST /api/v1/permits against /healthz (SQLite and PostgreSQL)",
    )
    args = parser.parse_args()
    n_signatures = 500 if args.quick else 5000
    if args.signing_only:
        print_signing(signing_bench(n_signatures))
        return
    n_http = 200 if args.quick else 1000
    n_import = 10_000 if args.quick else 100_000
    n_plates = 10_000 if args.quick else 100_000
    n_renew = 10_000 if args.quick else 100_000
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-issue-") as tmp:
        root = Path(tmp)
        from tests.support.db import _admin_exec, _start_postgres

        server = _start_postgres()
        try:
            urls = {"sqlite": f"sqlite:///{root / 'a.db'}"}
            _admin_exec(server, "CREATE DATABASE bench_a")
            urls["postgresql"] = server.url("bench_a")
            big_urls = {"sqlite": f"sqlite:///{root / 'b.db'}"}
            _admin_exec(server, "CREATE DATABASE bench_b")
            big_urls["postgresql"] = server.url("bench_b")
            renew_urls = {"sqlite": f"sqlite:///{root / 'c.db'}"}
            _admin_exec(server, "CREATE DATABASE bench_c")
            renew_urls["postgresql"] = server.url("bench_c")
            _admin_exec(server, "CREATE DATABASE bench_w")
            upgrade(server.url("bench_w"))
            _admin_exec(server, "CREATE DATABASE bench_i")
            upgrade(server.url("bench_i"))
            # the serve rounds, import, status list and plate index: not in the issuing runs
            everything = not (args.issuing_only or args.post_only)
            per_instances: dict[int, float] = {}
            if everything:
                per_instances = serve_bench(
                    make_settings(server.url("bench_i"), root / "d-instances"),
                    n_http // 2,
                    instances=True,
                )
            per_workers: dict[int, float] = {}
            if everything and not args.instances_only:
                per_workers = serve_bench(
                    make_settings(server.url("bench_w"), root / "d-workers"),
                    n_http // 2,
                    instances=False,
                )
            only = args.workers_only or args.instances_only
            for kind in () if only else ("sqlite", "postgresql"):
                upgrade(urls[kind])
                upgrade(big_urls[kind])
                upgrade(renew_urls[kind])
                res = http_bench(make_settings(urls[kind], root / f"d-{kind}"), n_http)
                if everything:
                    big_settings = make_settings(big_urls[kind], root / f"e-{kind}")
                    res.update(big_bench(big_settings, n_import, n_plates))
                if not args.post_only:
                    renew_settings = make_settings(renew_urls[kind], root / f"r-{kind}")
                    res.update(renew_bench(renew_settings, n_renew))
                results[kind] = res
        finally:
            server.run("pg_ctl", "stop", "-D", str(server.root / "data"), "-m", "immediate", "-w")
    for kind, res in results.items():
        base = res["healthz"]
        print(f"[{kind}]")
        for name in ("healthz", "post_permit", "trust_bundle_200", "trust_bundle_304"):
            print(f"  {name:<18} {res[name]:9.1f} req/s   ratio to healthz {res[name] / base:6.3f}")
        if "import_residents_s" not in res:
            continue
        print(f"  import {n_import} residents        {res['import_residents_s']:8.2f} s")
        print(f"  status list 2^20 rebuild            {res['status_list_2p20_rebuild_s']:8.3f} s")
        print(
            f"  plate index {int(res['plate_index_plates'])} plates rebuild "
            f"{res['plate_index_rebuild_s']:8.3f} s ({int(res['plate_index_bytes'])} bytes)"
        )
    for kind, res in results.items():
        if "auto_renew_s" not in res:
            continue
        print(f"auto_renew_{n_renew}_permits_seconds_{kind}={res['auto_renew_s']:.1f}")
        # the process's CPU time alone (the database server's is not in it on PostgreSQL):
        # on a shared machine the wall time above also counts other processes' turns
        print(f"  (auto_renew {kind}: {res['auto_renew_cpu_s']:.1f} s of this process's CPU)")
    for kind, res in results.items():
        print(f"ratio_permits_post_vs_healthz_{kind}={res['post_permit'] / res['healthz']:.4f}")
    if not per_instances:
        return
    print("[postgresql, N instances of buergerid-issuer serve, one worker each]")
    for count, value in per_instances.items():
        print(f"  POST /api/v1/permits, {count} instance(s)  {value:9.1f} req/s")
    for count in WORKER_COUNTS[1:]:
        ratio = per_instances[count] / per_instances[1]
        print(f"ratio_post_permit_{count}_instances_vs_1_postgresql={ratio:.3f}")
    if per_workers:
        print("[postgresql, buergerid-issuer serve --workers N]")
        for workers, value in per_workers.items():
            print(f"  POST /api/v1/permits, {workers} worker(s)  {value:9.1f} req/s")
        for workers in WORKER_COUNTS[1:]:
            ratio = per_workers[workers] / per_workers[1]
            print(f"ratio_post_permit_{workers}_workers_vs_1_postgresql={ratio:.3f}")
    print_signing(signing_bench(n_signatures))


if __name__ == "__main__":
    main()
