"""Every way of serving, as real processes: `python -m wallet_api` (what `make run` calls),
`buergerid-issuer dev`, `buergerid-issuer serve --workers 2` (the production command: the
whole service in two worker processes) and `python -m wallet_api serve --app wallet`.

- Logs: queries carrying a plate and a resident reference are sent to each; neither appears in
  the process's stdout or stderr, stderr holds only the project's JSON lines (the access line
  names the route template), and no client address is written.
- File modes: the data directories were made under umask 000 and 022; while the servers run
  (so SQLite's -wal and -shm files exist) every directory is 0700 and every file 0600.

The processes are shared by the tests of this module (started once, about 10 s)."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support.processes import (
    BUERGERID_ISSUER,
    Process,
    free_port,
    start,
    stop,
    wait_http,
    wait_logged,
)

PLATE = "GE-EM 1234"  # seeded by the development bootstrap
REFERENCE = "DEMO-0001"
FORBIDDEN = ("GE-EM", "GE%2DEM", "DEMO-0001", "plate=", "external_ref=")


@dataclass
class Server:
    """A server process, its port and data directory."""

    process: Process
    port: int
    data_dir: Path

    @property
    def name(self) -> str:
        return self.process.name

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> tuple[str, str]:
        return self.process.output()


def _start(name: str, args: list[str], data_dir: Path, logs: Path, umask: int) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERID_")} | {
        "BUERGERID_DATA_DIR": str(data_dir),
        "BUERGERID_PORT": str(port),
        "BUERGERID_ARGON2_TIME_COST": "1",
        "BUERGERID_ARGON2_MEMORY_KIB": "8",
        "BUERGERID_KEY_KDF_TIME_COST": "1",
        "BUERGERID_KEY_KDF_MEMORY_KIB": "8",
        "BUERGERID_KEY_KDF_PARALLELISM": "1",
    }
    return Server(start(name, args, env, logs, umask=umask), port, data_dir)


def _wait_ready(server: Server) -> None:
    wait_http(server.process, server.base + "/healthz")


def _stop(servers: list[Server]) -> None:
    stop(s.process for s in servers)


@dataclass
class Deployment:
    servers: dict[str, Server]
    modes: dict[str, dict[str, int]]  # data dir name -> _modes() while the servers ran
    umasks: dict[str, int]


def _modes(root: Path) -> dict[str, int]:
    """Relative path -> the mode it must have had (0o700 directories, 0o600 files) XOR the
    mode it has: 0 everywhere when all is well."""
    found = {}
    for path in (root, *root.rglob("*")):
        info = path.lstat()
        wanted = 0o700 if stat.S_ISDIR(info.st_mode) else 0o600
        found[str(path.relative_to(root))] = stat.S_IMODE(info.st_mode) ^ wanted
    return found


def _municipal_requests(http: httpx.Client, key: str) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    assert http.get("/api/v1/vehicles", params={"plate": PLATE}, headers=auth).status_code < 500
    residents = http.get("/api/v1/residents", params={"external_ref": REFERENCE}, headers=auth)
    assert residents.status_code == 200
    assert http.get(f"/api/v1/vehicles/{PLATE}", headers=auth).status_code < 500
    bad = http.post("/api/v1/residents", json={"external_ref": REFERENCE, "x": PLATE}, headers=auth)
    assert bad.status_code == 422
    bogus = {"Authorization": "Bearer bid_0123456789abcdef." + "A" * 43}
    assert http.get("/api/v1/zones", params={"plate": PLATE}, headers=bogus).status_code == 401


def _wallet_requests(http: httpx.Client) -> None:
    # a wallet deployment alone has its own liveness and readiness too
    assert http.get("/healthz").json() == {"status": "ok"}
    ready = http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready", ready.text
    query = {"plate": PLATE, "ref": REFERENCE}
    assert http.get("/.well-known/openid-credential-issuer", params=query).status_code == 200
    token = http.post(
        "/wallet/token", params=query, data={"grant_type": "refresh_token", "refresh_token": PLATE}
    )
    assert token.status_code == 400


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("serving")
    logs = root / "logs"
    logs.mkdir()
    umasks = {"open": 0o000, "normal": 0o022}
    first = [
        _start("make-run", ["-m", "wallet_api"], root / "open" / "var", logs, umasks["open"]),
        _start("dev", [BUERGERID_ISSUER, "dev"], root / "normal" / "var", logs, umasks["normal"]),
    ]
    servers = list(first)
    try:
        for server in first:
            _wait_ready(server)
        second = [
            _start(  # the production command, two worker processes
                "serve",
                [BUERGERID_ISSUER, "serve", "--workers", "2"],
                root / "open" / "var",
                logs,
                0o022,
            ),
            _start(
                "wallet",
                ["-m", "wallet_api", "serve", "--app", "wallet"],
                root / "normal" / "var",
                logs,
                0o022,
            ),
        ]
        servers += second
        for server in second:
            _wait_ready(server)
        by_name = {s.name: s for s in servers}
        # the first worker may answer while the second still starts: wait for both
        wait_logged(by_name["serve"].process, "Started server process", count=2)
        for name in ("make-run", "dev", "serve"):
            server = by_name[name]
            key = (server.data_dir / "dev-api-key").read_text().strip()
            with httpx.Client(base_url=server.base, timeout=30) as http:
                _municipal_requests(http, key)
        for name in ("wallet", "serve"):  # serve is the whole service: the wallet API too
            with httpx.Client(base_url=by_name[name].base, timeout=30) as http:
                _wallet_requests(http)
        modes = {name: _modes(root / name / "var") for name in umasks}
    finally:
        _stop(servers)
    yield Deployment(by_name, modes, umasks)


@pytest.mark.parametrize("name", ["make-run", "dev", "serve", "wallet"])
def test_no_plate_reference_or_address_in_the_output(deployment: Deployment, name: str) -> None:
    stdout, stderr = deployment.servers[name].output()
    for text in FORBIDDEN:
        assert text not in stdout and text not in stderr, text
    assert "127.0.0.1" not in stderr  # no client address (the banner on stdout names the server)
    events = []
    for line in stderr.splitlines():
        if line.strip():
            record = json.loads(line)  # only the project's JSON lines
            events.append(record)
    routes = {e.get("route") for e in events if e.get("event") == "http_request"}
    expected = "/.well-known/openid-credential-issuer" if name == "wallet" else "/api/v1/residents"
    assert expected in routes  # the access line names the route template


@pytest.mark.parametrize("name", ["open", "normal"])
def test_the_data_directory_is_private_whatever_the_umask(
    deployment: Deployment, name: str
) -> None:
    modes = deployment.modes[name]
    assert {"buergerid.db", "buergerid.db-wal", "buergerid.db-shm", "keys/05513000"} <= set(modes)
    assert {"dev-passphrase", "dev-server-secret", "dev-api-key", "keys/root"} <= set(modes)
    wrong = {path: oct(diff) for path, diff in modes.items() if diff}
    assert wrong == {}, f"umask {deployment.umasks[name]:03o}"


def test_serve_runs_two_workers_and_each_logs_json_only(deployment: Deployment) -> None:
    _stdout, stderr = deployment.servers["serve"].output()
    events = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    started = [e for e in events if e.get("event") == "Started server process [%d]"]
    assert len(started) == 2  # two worker processes, both through the JSON logging
    routes = {e.get("route") for e in events if e.get("event") == "http_request"}
    assert {"/api/v1/residents", "/.well-known/openid-credential-issuer"} <= routes


def test_serve_with_workers_gives_them_the_configured_ping_limit(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """uvicorn's supervisor restarts a worker that misses its ping; the limit is ours."""
    import uvicorn.supervisors

    from issuer import serving
    from issuer.settings import Settings

    seen: list[int] = []

    class Supervisor:
        def __init__(self, config: object, sockets: list[object]) -> None:
            seen.append(config.timeout_worker_healthcheck)  # type: ignore[attr-defined]
            for sock in sockets:
                sock.close()  # type: ignore[attr-defined]

        def run(self) -> None:
            return None

    monkeypatch.setattr(uvicorn.supervisors, "Multiprocess", Supervisor)
    monkeypatch.setattr(serving, "configure_logging", lambda *_: None)  # this process's logs
    for configured in ({}, {"worker_healthcheck_seconds": 90}):
        settings = Settings(data_dir=tmp_path, port=free_port(), **configured)
        serving.serve_factory("wallet_api.service:service_app", settings, workers=2)
    assert seen == [30, 90]
