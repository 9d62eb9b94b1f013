"""Citizen portal benchmark, one run, ratios in the same run (not a test).

The server is `make run` itself (``python -m wallet_api``: the demo city on SQLite, one
process) on a fresh temporary data directory and free ports of 127.0.0.1, with three
settings an operator has too: the metrics listener (``BUERGERID_METRICS_PORT``), the
``Server-Timing`` header (``BUERGERID_SERVER_TIMING=1``) and a budget of anonymous login
starts no bench run reaches (``BUERGERID_RP_STARTS_PER_ADDRESS``: the 20 citizens all come
from 127.0.0.1, where real ones would come from 20 addresses of their own). **Server
time** is what the server says it spent: ``Server-Timing: app;dur=`` of each answer (from
the request's arrival in the app, its outermost middleware, to the start of the answer,
waiting for a worker thread included), and for requests the bench cannot see (the stand-in
wallet's own), the sum and count of the request histogram on the metrics listener.

1. **Setup** (not measured): 20 residents of her own each (a car, a main residence in zone
   A3) registered with the demo API key; each gets a PID of the development PID provider.
2. **A whole application**, login to permit in the wallet, by each of the 20 residents one
   after the other, with the stand-in wallet as her phone: start page (the login), the
   wallet's request object and answer, the way back, "Meine Parkausweise" (with the fees),
   apply, the payment provider's page and its confirmation, the permit's page with the
   offer, the wallet's offer, token, nonce and credential requests. Counted: the requests
   it takes and their server time (the histogram's count and sum before and after), against
   the server time of the bare endpoint ``/healthz`` in the same run (200 requests, the same
   way). Median of 10 residents (the wallet's token endpoint allows one address 30 requests
   a minute; the other 10 apply and pay without the wallet step, for the load below).
3. **20 concurrent citizens** (each her own logged-in session), simulated by one asyncio
   process of their own (the load generator never shares the server's interpreter): each
   loops over the start page (arriving, not logged in: a new session and login), "Meine
   Parkausweise", her permit's page, "Besucherausweise" and "Meine Geräte", and ``/healthz``
   beside them. Two models of a citizen, one after the other:
   - **citizen** (the target is judged on it): she reads before she clicks again, a think
     time drawn uniformly from 0.5–1.5 s (mean 1 s) between her requests;
   - **stress**: no think time at all, every citizen requests again the moment the last
     answer arrives (20 requests always in flight).
   Reported per model: server time p50/p95/p99 of every portal page and per page kind, the
   share of pages under 100 ms, the client-observed time, and ``/healthz`` under the same
   load.

    .venv/bin/python bench/portal.py [--citizens 20] [--think-rounds 6] [--stress-rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from cryptography import x509

from mobile_sdk_stub.client import WalletClient
from mobile_sdk_stub.dev_pid import DEV_PROVIDER_URL, PID_DE, sign_with_dev_provider
from mobile_sdk_stub.openid4vp import Presenter

AGS = "05513000"  # the demo city of `make run`
PORTAL = f"/portal/{AGS}"
TARGET_MS = 100.0
APPLICATIONS = 10  # measured whole (the others apply and pay, for the load)
STARTS_PER_ADDRESS = 1_000_000  # every citizen of the bench is 127.0.0.1 (see above)
_LINK = re.compile(r'href="(openid4vp://[^"]+)"')
_OFFER = re.compile(r'href="(openid-credential-offer://[^"]+)"')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')
_PERMIT = re.compile(r"/permits/([0-9a-f-]{36})")
_TIMING = re.compile(r"app;dur=([0-9.]+)")
_HISTOGRAM = re.compile(
    r"^buergerid_http_request_duration_seconds_(sum|count)\{.*\} ([0-9.e+-]+)$", re.M
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _found(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    if match is None:
        raise SystemExit(f"not on the page: {pattern.pattern}\n{text[:400]}")
    return unescape(match.group(1))


def server_ms(response: httpx.Response) -> float:
    """The server's own time of one answer (Server-Timing)."""
    found = _TIMING.search(response.headers.get("server-timing", ""))
    if found is None:
        raise SystemExit("the server sent no Server-Timing (BUERGERID_SERVER_TIMING=1)")
    return float(found.group(1))


class Histogram:
    """The request histogram's sum and count over every route (the metrics listener)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def read(self) -> tuple[float, int]:
        text = httpx.get(self.url, timeout=30).text
        total, count = 0.0, 0
        for kind, value in _HISTOGRAM.findall(text):
            if kind == "sum":
                total += float(value)
            else:
                count += int(float(value))
        return total, count


@dataclass
class Resident:
    """One citizen of the run: her browser, her phone, her permit."""

    n: int
    resident_id: str
    car: str
    browser: httpx.Client
    wallet: WalletClient
    presenter: Presenter
    permit: str = ""

    def close(self) -> None:
        for client in (self.browser, self.wallet, self.presenter):
            client.close()


def _register(api: httpx.Client, n: int) -> tuple[str, str, dict[str, Any]]:
    """A resident of her own (Ringstraße 1-60 lies in zone A3) and her car; her PID claims."""
    family = f"Bench{secrets.token_hex(3).upper()}"
    number = str(1 + n % 60)
    made = api.post(
        "/api/v1/residents",
        json={
            "external_ref": f"BENCH-{secrets.token_hex(6)}",
            "given_name": "Paula",
            "family_name": family,
            "birth_date": "1990-05-17",
            "residences": [
                {
                    "kind": "main",
                    "street": "Ringstraße",
                    "house_number": number,
                    "postcode": "45879",
                    "valid_from": "2024-01-01",
                }
            ],
        },
    )
    assert made.status_code == 201, made.text
    resident = made.json()
    car = api.post(
        "/api/v1/vehicles",
        json={
            "plate": f"GE-BN {100 + n}",
            "holder_id": resident["id"],
            "length_mm": 4200,
            "width_mm": 1790,
        },
    )
    assert car.status_code == 201, car.text
    person = {
        "given_name": "PAULA",
        "family_name": family.upper(),
        "birthdate": "1990-05-17",
        "address": {
            "street_address": f"RINGSTR. {number}",
            "postal_code": "45879",
            "locality": "GELSENKIRCHEN",
            "country": "DE",
        },
    }
    return str(resident["id"]), str(car.json()["id"]), person


def _resident(
    base: str, api: httpx.Client, data_dir: Path, work: Path, n: int, ca: x509.Certificate
) -> Resident:
    resident_id, car, person = _register(api, n)
    wallet = WalletClient(base, work / f"phone-{n}", timeout_seconds=60)
    pid = sign_with_dev_provider(
        data_dir / "dev-pid-provider",
        person,
        holder_jwk=wallet.device.public_jwk(),
        vct=PID_DE,
        now=wallet.now(),
    )
    wallet.store.add(kind="pid", now=wallet.now(), sd_jwt=pid, vct=PID_DE, issuer=DEV_PROVIDER_URL)
    presenter = Presenter(wallet.device, wallet.store, verifier_roots=[ca], clock=wallet.now)
    browser = httpx.Client(base_url=base, timeout=60)
    return Resident(n, resident_id, car, browser, wallet, presenter)


def _application(citizen: Resident, *, into_wallet: bool = True) -> None:
    """Login to permit in the wallet, as in the browser (the same requests)."""
    http = citizen.browser
    start = http.get(PORTAL)
    back = citizen.presenter.respond(citizen.presenter.resolve(_found(_LINK, start.text)))
    assert back is not None
    landed = http.get(back)
    assert landed.status_code == 303, landed.text
    page = http.get(landed.headers["location"])
    applied = http.post(
        f"{PORTAL}/apply", data={"csrf": _found(_CSRF, page.text), "vehicle": citizen.car}
    )
    assert applied.status_code == 303, applied.text
    provider = http.get(applied.headers["location"])
    done = http.post(applied.headers["location"], data={"csrf": _found(_CSRF, provider.text)})
    assert done.status_code == 303, done.text
    permit = http.get(done.headers["location"])
    citizen.permit = _found(_PERMIT, done.headers["location"])
    if into_wallet:
        stored = citizen.wallet.redeem(_found(_OFFER, permit.text), None)
        assert any(c.qr_text for c in stored)


def _bare(base: str, histogram: Histogram, n: int = 200) -> float:
    """Mean server seconds of /healthz, read the same way (histogram sum and count)."""
    before = histogram.read()
    with httpx.Client(base_url=base) as http:
        for _ in range(n):
            assert http.get("/healthz").status_code == 200
    after = histogram.read()
    return (after[0] - before[0]) / (after[1] - before[1])


# ------------------------------------------------------------------- the load process


async def _citizen(
    base: str, who: dict[str, str], think: float, rounds: int, rng: random.Random, out: list[Any]
) -> None:
    """One citizen's loop; samples (kind, server ms, client ms, status)."""
    cookies = {who["cookie"]: who["value"]}
    pages = [
        ("start", PORTAL, False),
        ("permits", f"{PORTAL}/permits", True),
        ("permit", f"{PORTAL}/permits/{who['permit']}", True),
        ("visitors", f"{PORTAL}/visitors", True),
        ("devices", f"{PORTAL}/devices", True),
        ("healthz", "/healthz", False),
    ]
    async with (
        httpx.AsyncClient(base_url=base, cookies=cookies, timeout=60) as mine,
        httpx.AsyncClient(base_url=base, timeout=60) as arriving,
    ):
        for _ in range(rounds):
            for kind, path, logged_in in pages:
                if think:
                    await asyncio.sleep(think * rng.uniform(0.5, 1.5))
                client = mine if logged_in else arriving
                arriving.cookies.clear()  # a new arrival each time
                began = time.perf_counter()
                answer = await client.get(path)
                took = (time.perf_counter() - began) * 1000
                out.append((kind, server_ms(answer), took, answer.status_code))


async def _load(spec: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    rng = random.Random(spec["seed"])
    await asyncio.gather(
        *(
            _citizen(
                spec["base"],
                who,
                spec["think"],
                spec["rounds"],
                random.Random(rng.random()),
                out,
            )
            for who in spec["citizens"]
        )
    )
    return out


def load_worker(spec_path: Path) -> int:
    """``--load SPEC``: run the citizens of SPEC, print the samples as JSON."""
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    samples = asyncio.run(_load(spec))
    sys.stdout.write(json.dumps(samples))
    return 0


# --------------------------------------------------------------------------- figures


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _report(model: str, samples: list[Any]) -> None:
    bad = [s for s in samples if s[3] != 200]
    if bad:
        raise SystemExit(f"{model}: {len(bad)} answers not 200, e.g. {bad[:3]}")
    pages = [s for s in samples if s[0] != "healthz"]
    health = [s[1] for s in samples if s[0] == "healthz"]
    server = [s[1] for s in pages]
    client = [s[2] for s in pages]
    print(
        f"{model}: {len(pages)} pages; server p50 {_p(server, 0.5):.1f} ms, "
        f"p95 {_p(server, 0.95):.1f} ms, p99 {_p(server, 0.99):.1f} ms; "
        f"client p95 {_p(client, 0.95):.1f} ms"
    )
    for q in (0.5, 0.95, 0.99):
        print(f"page_server_ms_p{int(q * 100)}_{model}={_p(server, q):.2f}")
    share = sum(1 for v in server if v < TARGET_MS) / len(server)
    print(f"page_share_under_100ms_{model}={share:.4f}")
    for q in (0.5, 0.95):
        print(f"page_client_ms_p{int(q * 100)}_{model}={_p(client, q):.2f}")
    for kind in sorted({s[0] for s in pages}):
        values = [s[1] for s in pages if s[0] == kind]
        for q in (0.5, 0.95, 0.99):
            print(f"page_server_ms_p{int(q * 100)}_{kind}_{model}={_p(values, q):.2f}")
    print(f"healthz_server_ms_p50_{model}={_p(health, 0.5):.2f}")
    print(f"ratio_page_vs_healthz_p50_{model}={_p(server, 0.5) / _p(health, 0.5):.1f}")


def _run_load(
    base: str, citizens: list[dict[str, str]], think: float, rounds: int, work: Path
) -> list[Any]:
    spec = work / f"load-{think}.json"
    spec.write_text(
        json.dumps(
            {"base": base, "citizens": citizens, "think": think, "rounds": rounds, "seed": 15}
        ),
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, __file__, "--load", str(spec)],
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the load process failed: {done.stderr[-2000:]}")
    samples: list[Any] = json.loads(done.stdout)
    return samples


def _server(work: Path) -> tuple[subprocess.Popen[bytes], str, Histogram, Path]:
    """`make run` (the Makefile's command) on a fresh data directory."""
    data_dir = work / "var"
    port, metrics_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERID_")} | {
        "BUERGERID_DATA_DIR": str(data_dir),
        "BUERGERID_PORT": str(port),
        "BUERGERID_METRICS_PORT": str(metrics_port),
        "BUERGERID_SERVER_TIMING": "1",
        "BUERGERID_RP_STARTS_PER_ADDRESS": str(STARTS_PER_ADDRESS),
    }
    log = (work / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "wallet_api"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    pause = threading.Event()
    for _ in range(2400):
        if proc.poll() is not None:
            raise SystemExit((work / "server.log").read_text()[-2000:])
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        pause.wait(0.05)
    return proc, base, Histogram(f"http://127.0.0.1:{metrics_port}/metrics"), data_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--citizens", type=int, default=20)
    parser.add_argument("--think", type=float, default=1.0, help="mean think time, seconds")
    parser.add_argument("--think-rounds", type=int, default=6)
    parser.add_argument("--stress-rounds", type=int, default=10)
    parser.add_argument("--load", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load is not None:
        return load_worker(args.load)
    with tempfile.TemporaryDirectory(prefix="buergerid-bench-portal-") as tmp:
        work = Path(tmp)
        proc, base, histogram, data_dir = _server(work)
        residents: list[Resident] = []
        try:
            key = (data_dir / "dev-api-key").read_text(encoding="utf-8").strip()
            ca = x509.load_pem_x509_certificate((data_dir / "keys/ca/ca.pem").read_bytes())
            with httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=60
            ) as api:
                residents = [
                    _resident(base, api, data_dir, work, n, ca) for n in range(args.citizens)
                ]
            _bare(base, histogram, 50)  # warm-up
            bare_before = _bare(base, histogram)
            runs = []
            for citizen in residents[:APPLICATIONS]:
                before = histogram.read()
                _application(citizen)
                after = histogram.read()
                runs.append((after[1] - before[1], after[0] - before[0]))
            for citizen in residents[APPLICATIONS:]:  # the wallet's token endpoint allows an
                _application(citizen, into_wallet=False)  # address 30 a minute
            bare = (bare_before + _bare(base, histogram)) / 2
            requests = statistics.median(r for r, _ in runs)
            server = statistics.median(s for _, s in runs)
            print(
                f"application: {requests:.0f} requests, server {server * 1000:.1f} ms "
                f"(median of {len(runs)}); /healthz server {bare * 1e6:.0f} µs"
            )
            print(f"application_requests={requests:.0f}")
            print(f"application_server_ms={server * 1000:.2f}")
            print(f"healthz_server_ms={bare * 1000:.3f}")
            print(f"ratio_application_server_vs_healthz={server / bare:.1f}")

            citizens = []
            for citizen in residents:
                [(name, value)] = list(citizen.browser.cookies.items())
                citizens.append({"cookie": name, "value": value, "permit": citizen.permit})
            think = _run_load(base, citizens, args.think, args.think_rounds, work)
            _report("citizen", think)
            stress = _run_load(base, citizens, 0.0, args.stress_rounds, work)
            _report("stress", stress)
        finally:
            for citizen in residents:
                citizen.close()
            proc.terminate()
            proc.wait(timeout=60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
