"""An authentication flood against a real server process, as ratios and figures from one run.

    .venv/bin/python bench/auth_flood.py            # SQLite and a throwaway PostgreSQL
    .venv/bin/python bench/auth_flood.py --quick    # SQLite only, shorter

The server is `buergerid-issuer serve` (one process, production argon2id: t=3, 64 MiB, p=1).
A legitimate client sends `GET /api/v1/zones` with its valid key one request at a time,
first alone (idle), then while 40 attacker threads (in another process, so they do not
share the client's interpreter) send requests with random `bid_…` keys as fast as the
server answers: two thirds well-formed keys with unknown key ids, one third malformed.

Scenarios, each against a fresh server:

- single: all attackers from one address. After `auth_failures_per_address` failures the
  address gets 429 without hashing.
- distributed: the server trusts 127.0.0.1 as a proxy and every bogus request carries a new
  random `X-Forwarded-For` address (a botnet): every well-formed bogus key reaches argon2,
  which runs at most `auth_max_concurrent_hashes` at once.

Printed per scenario and database: `ratio_flood_latency_<scenario>_<db>=` (the client's
median latency under the flood / idle; target < 3), `rss_growth_mib_<scenario>_<db>=` (the
server's largest RSS during the flood minus its RSS before; target < 200) and the attackers'
answers by status.
"""

from __future__ import annotations

# ruff: noqa: E402  (the repository root goes on sys.path before our imports)
import argparse
import multiprocessing
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import httpx

from issuer.migrations import upgrade
from issuer.services import clients, tenants
from issuer.services.clock import SystemClock
from issuer.settings import Settings

AGS = "05513000"
ATTACKERS = 40
PASSPHRASE = "bench-passphrase-not-secret"
SERVER_SECRET = "bench-server-secret-not-secret-0123456789"


def prepare(database_url: str, data_dir: Path) -> str:
    """Migrate, create the tenant (cheap key KDF) and a client; returns the client's token."""
    upgrade(database_url)
    settings = Settings(
        database_url=database_url,
        data_dir=data_dir,
        key_passphrase=PASSPHRASE,
        key_kdf_time_cost=1,
        key_kdf_memory_kib=8,
        key_kdf_parallelism=1,
    )
    from issuer.db.session import make_engine, make_session_factory

    now = SystemClock().now()
    tenants.provision_key_ring_for(settings, AGS, now=now)
    tenants.provision_root_ring(settings, now=now)
    hasher = clients.SecretHasher(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
    )  # the production parameters: the server's defaults
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine).begin() as session:
            tenant = tenants.create_tenant(
                session, ags=AGS, name="Bench", issuer_url="https://bench.example", actor="b",
                now=now,
            )  # fmt: skip
            issued = clients.create_client(
                session, hasher, tenant_id=tenant.id, name="bench", scopes=["registry:write"],
                actor="b", now=now,
            )  # fmt: skip
    finally:
        engine.dispose()
    return issued.token


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    database_url: str, data_dir: Path, port: int, **env: str
) -> subprocess.Popen[bytes]:
    variables = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERID_")} | {
        "BUERGERID_DATABASE_URL": database_url,
        "BUERGERID_DATA_DIR": str(data_dir),
        "BUERGERID_PORT": str(port),
        "BUERGERID_KEY_PASSPHRASE": PASSPHRASE,
        "BUERGERID_SERVER_SECRET": SERVER_SECRET,
        "BUERGERID_LOG_LEVEL": "WARNING",
        **{"BUERGERID_" + k.upper(): v for k, v in env.items()},
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "issuer.cli", "serve"],
        env=variables,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the server did not start")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise SystemExit("no VmRSS")


def latencies(http: httpx.Client, headers: dict[str, str], count: int) -> list[float]:
    out = []
    for _ in range(count):
        start = time.perf_counter()
        response = http.get("/api/v1/zones", headers=headers)
        out.append(time.perf_counter() - start)
        assert response.status_code == 200, response.text
    return out


def bogus_headers(rng: random.Random, distributed: bool) -> dict[str, str]:
    if rng.random() < 1 / 3:
        token = rng.choice(["bid_zz.zz", "bid_" + "A" * 200, "x" * 40, "bid_0123456789abcdef.x"])
    else:
        token = f"bid_{secrets.token_hex(8)}.{secrets.token_urlsafe(32)}"
    headers = {"Authorization": f"Bearer {token}"}
    if distributed:
        headers["X-Forwarded-For"] = (
            f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        )
    return headers


def attack(base: str, distributed: bool, stop: Any, results: Any) -> None:
    """The attacker process: ATTACKERS threads until `stop` is set; counts answers by status."""
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def run(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=base, timeout=60) as http:
            while not stop.is_set():
                try:
                    status = str(
                        http.get(
                            "/api/v1/zones", headers=bogus_headers(rng, distributed)
                        ).status_code
                    )
                except httpx.TransportError as exc:
                    status = type(exc).__name__
                with lock:
                    counts[status] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(ATTACKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(dict(counts))


def forget_counters(database_url: str) -> None:
    """A fresh start for the next scenario: the previous flood's counters would still block."""
    from sqlalchemy import delete

    from issuer.db.models import RateCounter
    from issuer.db.session import make_engine

    engine = make_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(delete(RateCounter))
    finally:
        engine.dispose()


def scenario(
    database_url: str, data_dir: Path, token: str, name: str, samples: int
) -> dict[str, Any]:
    distributed = name == "distributed"
    forget_counters(database_url)
    port = free_port()
    env = {"trusted_proxies": "127.0.0.1"} if distributed else {}
    proc = start_server(database_url, data_dir, port, **env)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            latencies(http, headers, 20)  # warm: one argon2 verification, then the cache
            idle = latencies(http, headers, samples)
            baseline = rss_mib(proc.pid)
            context = multiprocessing.get_context("spawn")
            stop, results = context.Event(), context.Queue()
            attacker = context.Process(target=attack, args=(base, distributed, stop, results))
            peak = [baseline]
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.is_set():
                    peak[0] = max(peak[0], rss_mib(proc.pid))
                    sampling.wait(0.01)

            sampler = threading.Thread(target=sample)
            sampler.start()
            attacker.start()
            time.sleep(2.0)  # the flood is under way before the client measures
            flooded = latencies(http, headers, samples)
            stop.set()
            counts = results.get(timeout=120)
            attacker.join(60)
            sampling.set()
            sampler.join()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    return {
        "idle_ms": statistics.median(idle) * 1000,
        "flood_ms": statistics.median(flooded) * 1000,
        "ratio": statistics.median(flooded) / statistics.median(idle),
        "baseline_mib": baseline,
        "growth_mib": peak[0] - baseline,
        "answers": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="SQLite only, fewer samples")
    args = parser.parse_args()
    samples = 100 if args.quick else 300
    kinds = ["sqlite"] if args.quick else ["sqlite", "postgresql"]
    server = None
    try:
        for kind in kinds:
            data_dir = Path(tempfile.mkdtemp(prefix=f"bench-flood-{kind}-"))
            if kind == "sqlite":
                url = f"sqlite:///{data_dir / 'bench.db'}"
            else:
                from tests.support.db import _admin_exec, _start_postgres

                server = server or _start_postgres()
                _admin_exec(server, "CREATE DATABASE bench_flood")
                url = server.url("bench_flood")
            token = prepare(url, data_dir)
            for name in ("single", "distributed"):
                result = scenario(url, data_dir, token, name, samples)
                answers = " ".join(f"{k}:{v}" for k, v in sorted(result["answers"].items()))
                print(
                    f"{kind} {name}: client median idle {result['idle_ms']:.1f} ms, under flood "
                    f"{result['flood_ms']:.1f} ms; server RSS {result['baseline_mib']:.0f} MiB "
                    f"+ {result['growth_mib']:.0f} MiB; attackers' answers {answers}"
                )
                print(f"ratio_flood_latency_{name}_{kind}={result['ratio']:.2f}")
                print(f"rss_growth_mib_{name}_{kind}={result['growth_mib']:.0f}")
    finally:
        if server is not None:
            server.run("pg_ctl", "stop", "-D", str(server.root / "data"), "-m", "immediate", "-w")
    print("targets: ratio_flood_latency_* < 3, rss_growth_mib_* < 200")


if __name__ == "__main__":
    main()
