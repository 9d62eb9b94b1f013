"""Database fixtures: every DB test runs on SQLite AND a real throwaway PostgreSQL server.

Fixtures (use them; they are registered through tests/support/plugins.py):

    db_url        function-scoped, parametrized ["sqlite", "postgresql"] (test ids `[sqlite]`,
                  `[postgresql]`): the URL of a fresh database already migrated to head.
                  SQLite: a copy of a migrated template file. PostgreSQL: `CREATE DATABASE
                  ... TEMPLATE` from a template migrated once per worker.
    settings      issuer Settings for db_url, a tmp data dir, cheap argon2 parameters (API
                  secrets and key files), environment "test", passphrase TEST_PASSPHRASE.
                  Other settings: make_test_settings(db_url, data_dir, **overrides).
    app           create_app(settings, clock=clock) (clock: tests/support/clock.py FixedClock);
                  its engine is disposed after the test.
    client        starlette TestClient(app, raise_server_exceptions=False): unexpected
                  exceptions come back as 500 problems, like in production.
    session       a Session on the test database (commit yourself).
    api_client    factory: api_client(scopes=("registry:write",), ags="05513000") ->
                  ApiCredentials(headers=..., tenant_id=..., ags=..., key_id=..., client_id=...);
                  creates the tenant (once per ags, with its key ring and an active ES256 key)
                  and a client with those scopes; ags=None makes an operator client.
    postgres_server  session-scoped: the worker's PostgreSQL server (started on first use).
    pg_admin_url     the server's admin URL (database `postgres`), for tests that need it.

The PostgreSQL server: Debian's binaries (initdb/pg_ctl in PATH or
/usr/lib/postgresql/*/bin), `initdb` + `pg_ctl start` in a temp dir, listening on 127.0.0.1 on a
free port, unix sockets in the temp dir, fsync off. As root (CI) the server commands run as the
`postgres` system user via `runuser`. Missing binaries make the test FAIL, never skip.

Real HTTP: tests/support/http.py `live_server(app)` (context manager → base URL) and the
`live_base_url` fixture. SQLite note: a request's session holds the database write lock
(`BEGIN IMMEDIATE`) until it ends; do not open a second session and write while it is open.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from issuer.app import create_app
from issuer.migrations import upgrade
from issuer.services import clients as clients_service
from issuer.services import tenants as tenants_service
from issuer.services.clock import FixedClock
from issuer.settings import Settings

with warnings.catch_warnings():
    # Starlette 1.x nudges towards httpx2; the pinned environment has httpx
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TEST_PASSPHRASE = "test-passphrase-not-secret"
DB_KINDS = ("sqlite", "postgresql")


def find_pg_bin_dir() -> Path:
    """The directory holding initdb and pg_ctl, or fail with what was searched."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for cand in reversed(candidates):
        if (cand / "initdb").exists() and (cand / "pg_ctl").exists():
            return cand
    pytest.fail(
        "PostgreSQL server binaries not found (initdb/pg_ctl in PATH or "
        "/usr/lib/postgresql/*/bin); install Debian's `postgresql` package (.ci/run does)",
        pytrace=False,
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class PostgresServer:
    """A running throwaway cluster."""

    bin_dir: Path
    root: Path
    port: int
    as_user: list[str]

    def url(self, database: str) -> str:
        """SQLAlchemy URL of `database` on this server (TCP, trust auth, user postgres)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run a server binary (as the postgres user when we are root)."""
        return subprocess.run(
            [*self.as_user, str(self.bin_dir / args[0]), *args[1:]],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )


def _start_postgres() -> PostgresServer:
    bin_dir = find_pg_bin_dir()
    root = Path(tempfile.mkdtemp(prefix="buergerid-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as Debian's postgres user
        runuser = shutil.which("runuser")
        if runuser is None:
            pytest.fail("running as root but `runuser` is missing", pytrace=False)
        shutil.chown(root, user="postgres", group="postgres")
        as_user = [runuser, "-u", "postgres", "--"]
    server = PostgresServer(bin_dir=bin_dir, root=root, port=0, as_user=as_user)
    data = root / "data"
    result = server.run(
        "initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
        "--locale=C", "--no-sync",
    )  # fmt: skip
    if result.returncode != 0:
        pytest.fail(f"initdb failed: {result.stderr[-2000:]}", pytrace=False)
    last_error = ""
    for _attempt in range(5):  # a free port can be taken between probing and binding
        server.port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {server.port} -k {root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        result = server.run(
            "pg_ctl", "start", "-D", str(data), "-w", "-t", "60", "-o", options,
            "-l", str(root / "server.log"),
        )  # fmt: skip
        if result.returncode == 0:
            return server
        last_error = result.stderr + result.stdout
    pytest.fail(f"pg_ctl start failed: {last_error[-2000:]}", pytrace=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The worker's throwaway PostgreSQL server (each xdist worker has its own)."""
    server = _start_postgres()
    try:
        yield server
    finally:
        server.run("pg_ctl", "stop", "-D", str(server.root / "data"), "-m", "immediate", "-w")
        shutil.rmtree(server.root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_admin_url(postgres_server: PostgresServer) -> str:
    """URL of the maintenance database `postgres`."""
    return postgres_server.url("postgres")


def _admin_exec(server: PostgresServer, sql: str) -> None:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=server.port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def pg_template(postgres_server: PostgresServer) -> str:
    """Name of the migrated template database (migrated once per worker)."""
    name = "buergerid_template"
    _admin_exec(postgres_server, f"CREATE DATABASE {name}")
    upgrade(postgres_server.url(name))
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture(
    params=[
        pytest.param(k, marks=[pytest.mark.postgres] if k == "postgresql" else [], id=k)
        for k in DB_KINDS
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh migrated database per test, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server: PostgresServer = request.getfixturevalue("postgres_server")
    template_name: str = request.getfixturevalue("pg_template")
    name = "t_" + uuid.uuid4().hex[:16]
    _admin_exec(server, f"CREATE DATABASE {name} TEMPLATE {template_name}")
    try:
        yield server.url(name)
    finally:
        _admin_exec(server, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def make_test_settings(db_url: str, data_dir: Path, **overrides: object) -> Settings:
    """Settings for tests: cheap argon2, fixed passphrase, no environment reading surprises."""
    values: dict[str, object] = {
        "database_url": db_url,
        "data_dir": data_dir,
        "environment": "test",
        "key_passphrase": TEST_PASSPHRASE,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "argon2_parallelism": 1,
        "key_kdf_time_cost": 1,
        "key_kdf_memory_kib": 8,
        "key_kdf_parallelism": 1,
        "log_format": "json",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings on the test database and a tmp data dir."""
    return make_test_settings(db_url, tmp_path / "data")


@pytest.fixture
def app(settings: Settings, clock: FixedClock) -> Iterator[FastAPI]:
    """The issuer app on the test database with the FixedClock (engine disposed after)."""
    application = create_app(settings, clock=clock)
    try:
        yield application
    finally:
        application.state.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """In-process HTTP client (lifespan runs; server exceptions become 500 problems)."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def session(app: FastAPI) -> Iterator[Session]:
    """A Session on the test database (commit yourself)."""
    with app.state.session_factory() as sess:
        yield sess


@dataclass(frozen=True)
class ApiCredentials:
    """What `api_client` made: use `headers` on requests."""

    headers: dict[str, str]
    token: str
    key_id: str
    client_id: uuid.UUID
    tenant_id: int | None
    ags: str | None


ApiClientFactory = Callable[..., ApiCredentials]


@pytest.fixture
def api_client(app: FastAPI, clock: FixedClock) -> ApiClientFactory:
    """Factory: a client with `scopes` on tenant `ags` (created once); ags=None: operator."""

    def make(
        scopes: tuple[str, ...] | list[str] = ("registry:write",),
        ags: str | None = "05513000",
        name: str = "test client",
    ) -> ApiCredentials:
        settings: Settings = app.state.settings
        factory = app.state.session_factory
        now = clock.now()
        tenant_id: int | None = None
        with factory() as sess, sess.begin():
            if ags is not None:
                try:
                    tenant_id = tenants_service.get_tenant_by_ags(sess, ags).id
                except Exception:
                    tenants_service.provision_key_ring_for(settings, ags, now=now)
                    tenant_id = tenants_service.create_tenant(
                        sess,
                        ags=ags,
                        name=f"Gemeinde {ags}",
                        issuer_url=f"https://{ags}.example.de",
                        actor="test",
                        now=now,
                    ).id
            issued = clients_service.create_client(
                sess,
                app.state.hasher,
                tenant_id=tenant_id,
                name=name,
                scopes=scopes,
                actor="test",
                now=now,
            )
        return ApiCredentials(
            headers={"Authorization": f"Bearer {issued.token}"},
            token=issued.token,
            key_id=issued.key_id,
            client_id=issued.client.id,
            tenant_id=tenant_id,
            ags=ags,
        )

    return make
