"""Servers and commands as real processes, configured from a test's Settings.

    env = settings_env(settings, BUERGERID_PORT=str(port))
    server = start("serve", [BUERGERID_ISSUER, "serve", "--workers", "2"], env, logs)
    wait_http(server, f"http://127.0.0.1:{port}/healthz")
    ...
    stop([server])                       # SIGINT, then a bounded wait (kill after 30 s)
    stdout, stderr = server.output()

Readiness is polled with a bounded number of short waits that end as soon as the server
answers (no fixed sleeps); a process that exits while starting fails the test at once.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from issuer.settings import Settings

BIN = Path(sys.executable).parent
BUERGERID_ISSUER = str(BIN / "buergerid-issuer")
STARTUP_STEPS = 1200  # x 0.05 s


def free_port() -> int:
    """A port free on 127.0.0.1 now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _env_value(value: Any) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, tuple):  # trusted_proxies: comma-separated
        return ",".join(str(v) for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def settings_env(settings: Settings, **extra: str) -> dict[str, str]:
    """This process's environment without BUERGERID_* variables, plus every setting the test
    chose (as BUERGERID_* variables) and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERID_")}
    for name in sorted(settings.model_fields_set | {"database_url", "data_dir"}):
        value = getattr(settings, name)
        if value is not None:
            env[f"BUERGERID_{name.upper()}"] = _env_value(value)
    env.update(extra)
    return env


@dataclass
class Process:
    """A started process and the files its output goes to."""

    name: str
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    def output(self) -> tuple[str, str]:
        """Its stdout and stderr so far."""
        return self.out.read_text("utf-8", "replace"), self.err.read_text("utf-8", "replace")


def start(
    name: str, argv: list[str], env: dict[str, str], logs: Path, *, umask: int = 0o022
) -> Process:
    """Start `argv` (its first item a program, or "-m"/a script run by this Python)."""
    command = argv if os.path.isabs(argv[0]) else [sys.executable, *argv]
    out, err = logs / f"{name}.out", logs / f"{name}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(command, env=env, stdout=stdout, stderr=stderr, umask=umask)
    return Process(name, proc, out, err)


def wait_http(process: Process, url: str) -> None:
    """Poll `url` until it answers 200 (bounded); fail when the process exits first."""
    pause = threading.Event()
    for _ in range(STARTUP_STEPS):
        if process.proc.poll() is not None:
            raise AssertionError(f"{process.name} exited: {process.output()[1][-3000:]}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        pause.wait(0.05)
    raise AssertionError(f"{process.name} did not answer {url}")


def wait_logged(process: Process, text: str, count: int = 1) -> None:
    """Poll the process's stderr until `text` appears `count` times (bounded), e.g. every
    worker of `serve --workers N` saying it started; fail when the process exits first."""
    pause = threading.Event()
    for _ in range(STARTUP_STEPS):
        if process.output()[1].count(text) >= count:
            return
        if process.proc.poll() is not None:
            raise AssertionError(f"{process.name} exited: {process.output()[1][-3000:]}")
        pause.wait(0.05)
    raise AssertionError(f"{process.name} did not log {text!r} {count} times")


def stop(processes: Iterable[Process]) -> None:
    """Ctrl-C every process, then wait (bounded); kill what does not end."""
    processes = list(processes)
    for process in processes:
        if process.proc.poll() is None:
            process.proc.send_signal(signal.SIGINT)
    for process in processes:
        try:
            process.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.proc.kill()
            process.proc.wait(timeout=30)


def run_script(lines: list[str], *, home: Path, path_first: Path | None = None) -> str:
    """Run `lines` as one bash script (a docs page's commands) with only PATH, HOME and LANG
    set; fails the test with the end of its output unless it exits 0; returns its stdout."""
    search = os.environ.get("PATH", "")
    env = {
        "PATH": f"{path_first}:{search}" if path_first else search,
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    proc = subprocess.run(
        ["bash", "-c", "\n".join(lines)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout
