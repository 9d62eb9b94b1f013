"""Citizen portal benchmark, one run, ratios in the same run (not a test).

1. A whole application, from "log in" to "permit in the wallet", over real HTTP (uvicorn on
   127.0.0.1, the combined app on a temporary SQLite database) with the stub wallet: login
   with the PID (request object, response, return), apply check, apply, pay (development
   provider), the wallet offer, the wallet's token, nonce and credential requests. Counted:
   the requests it takes and the server time they cost (measured inside the app), against
   the server time of the bare endpoint `/healthz` measured in the same run.
2. Pages at 20 concurrent citizens (each its own logged-in session): server time of
   "Meine Parkausweise" and of one permit's page, against `/healthz` under the same load.

    .venv/bin/python bench/portal.py [--applications N] [--rounds N]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

import tests.support.portal as portal_support
from issuer.db.models import Tenant
from issuer.migrations import upgrade
from issuer.services import permits
from issuer.services.clock import FixedClock
from tests.support.clock import T0
from tests.support.db import make_test_settings
from tests.support.portal import AGS, CAR, Citizen, PortalEnv, permit_id_of, portal_env

SAMPLES: list[tuple[str, float]] = []
_LOCK = threading.Lock()
BREAKDOWN = "--breakdown" in sys.argv


class ServerTimer:
    """ASGI middleware: the time each request spends inside the app, by path."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            with _LOCK:
                SAMPLES.append((scope["path"], time.perf_counter() - start))


def _timed_app(original: Callable[..., Any]) -> Callable[..., Any]:
    def create(*args: Any, **kwargs: Any) -> Any:
        app = original(*args, **kwargs)
        app.add_middleware(ServerTimer)
        return app

    return create


def _taken() -> list[tuple[str, float]]:
    with _LOCK:
        out = list(SAMPLES)
        SAMPLES.clear()
    return out


def _healthz(env: PortalEnv, n: int) -> float:
    """Mean server seconds of /healthz (n sequential requests)."""
    _taken()
    with httpx.Client(base_url=env.base_url) as http:
        for _ in range(n):
            http.get("/healthz")
    samples = _taken()
    return statistics.fmean(s for _, s in samples)


def _give_back(env: PortalEnv, permit_id: str) -> None:
    import uuid

    with env.app.state.session_factory() as session:
        permits.revoke(
            session,
            tenant_id=env.tenant_id,
            permit_id=uuid.UUID(permit_id),
            reason="returned",
            actor="bench",
            now=env.clock.now(),
        )
        session.commit()


def _application(env: PortalEnv, wallet: Any, presenter: Any) -> tuple[int, float]:
    """One application, login to permit in the wallet: (requests, server seconds)."""
    citizen = Citizen(env, env.browser(), presenter)
    _taken()
    assert citizen.login("pid").status_code == 303
    form = citizen.get("/apply")
    checked = citizen.post("/apply/check", form.text, vehicle=str(env.vehicles[CAR]))
    applied = citizen.post("/apply", checked.text, vehicle=str(env.vehicles[CAR]))
    permit = permit_id_of(applied.headers["location"])
    citizen.pay(permit)
    stored = citizen.into_wallet(wallet, permit)
    assert any(c.qr_text for c in stored)
    samples = _taken()
    if BREAKDOWN:
        by_path: dict[str, float] = {}
        for path, seconds in samples:
            key = path.split("/")[1] + "/" + path.rsplit("/", 1)[-1][:12]
            by_path[key] = by_path.get(key, 0.0) + seconds
        for key, seconds in sorted(by_path.items(), key=lambda kv: -kv[1])[:8]:
            print(f"  {key:40s} {seconds * 1000:7.1f} ms")
    _give_back(env, permit)
    citizen.http.close()
    return len(samples), sum(s for _, s in samples)


def _concurrent(env: PortalEnv, citizens: list[Citizen], permit: str, rounds: int) -> None:
    """Every citizen loads her permits and one permit page `rounds` times, all at once."""
    barrier = threading.Barrier(len(citizens))

    def run(citizen: Citizen) -> None:
        barrier.wait()
        for _ in range(rounds):
            assert citizen.get("/permits").status_code == 200
            assert citizen.get(f"/permits/{permit}").status_code == 200
            assert citizen.http.get("/healthz").status_code == 200

    threads = [threading.Thread(target=run, args=(c,)) for c in citizens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--applications", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--citizens", type=int, default=20)
    parser.add_argument("--breakdown", action="store_true", help="server time by path")
    args = parser.parse_args()
    portal_support.create_combined_app = _timed_app(portal_support.create_combined_app)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = root / "bench.db"
        upgrade(f"sqlite:///{db}")
        settings = make_test_settings(f"sqlite:///{db}", root / "data")
        clock = FixedClock(T0)
        with portal_env(settings, clock, root / "portal") as env:
            wallet, presenter = env.wallet()
            env.give_pid(wallet)
            _application(env, wallet, presenter)  # warm-up
            bare = _healthz(env, 200)
            runs = [_application(env, wallet, presenter) for _ in range(args.applications)]
            bare_after = _healthz(env, 200)
            bare = (bare + bare_after) / 2
            requests = statistics.median(r for r, _ in runs)
            server = statistics.median(s for _, s in runs)
            print(
                f"application: {requests:.0f} requests, server {server * 1000:.1f} ms "
                f"(median of {args.applications}); /healthz server {bare * 1e6:.0f} µs"
            )
            print(f"application_requests={requests:.0f}")
            print(f"application_server_ms={server * 1000:.2f}")
            print(f"ratio_application_server_vs_healthz={server / bare:.1f}")

            # 20 concurrent citizens, each logged in (her own session), one permit to show
            first = Citizen(env, env.browser(), presenter)
            first.login("pid")
            form = first.get("/apply")
            applied = first.post("/apply", form.text, vehicle=str(env.vehicles[CAR]))
            permit = permit_id_of(applied.headers["location"])
            citizens = [first]
            for _ in range(args.citizens - 1):
                citizen = Citizen(env, env.browser(), presenter)
                citizen.login("pid")
                citizens.append(citizen)
            _taken()
            _concurrent(env, citizens, permit, args.rounds)
            samples = _taken()
            pages = [s for path, s in samples if path.startswith(f"/portal/{AGS}/permits")]
            health = [s for path, s in samples if path == "/healthz"]
            p50, p95 = _p(pages, 0.5), _p(pages, 0.95)
            print(
                f"{args.citizens} concurrent citizens: page server time p50 {p50 * 1000:.1f} ms, "
                f"p95 {p95 * 1000:.1f} ms ({len(pages)} pages); /healthz p50 "
                f"{_p(health, 0.5) * 1000:.1f} ms under the same load"
            )
            print(f"page_server_ms_p50_20_concurrent={p50 * 1000:.2f}")
            print(f"page_server_ms_p95_20_concurrent={p95 * 1000:.2f}")
            print(f"ratio_page_vs_healthz_p50_20_concurrent={p50 / _p(health, 0.5):.1f}")
            with env.app.state.session_factory() as session:
                assert session.get(Tenant, env.tenant_id) is not None
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
