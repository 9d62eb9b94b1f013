"""The local app defends itself against other web pages, and background sync backs off.

The page itself is tested in a real browser in tests/e2e/test_handheld_app.py.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.verifier_internals import Backoff, parse_duration
from tests.support.verifier_stores import NOW, VALID, cli, data_dir_with, write_store_files
from verifier.handheld import App, AppServer, Attempt, SyncLoop


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[App, AppServer]]:
    data_dir = data_dir_with(tmp_path, "main")
    app = App(data_dir, environ={"BUERGERID_VERIFY_MUNICIPALITY": "05513000"}, clock=lambda: NOW)
    server = AppServer(app, 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, server
    finally:
        server.shutdown()
        server.server_close()


def request(
    server: AppServer, method: str, path: str, body: bytes = b"", **headers: str
) -> tuple[int, dict[str, str], Any]:
    port = server.server_address[1]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sent = {"Host": f"127.0.0.1:{port}", **{k.replace("_", "-"): v for k, v in headers.items()}}
    conn.request(method, path, body=body, headers=sent)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    try:
        parsed: Any = json.loads(data)
    except ValueError:
        parsed = data.decode("utf-8", "replace")
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed


def test_binds_loopback_only(served: tuple[App, AppServer]) -> None:
    assert served[1].server_address[0] == "127.0.0.1"


def test_the_page_carries_a_strict_policy_and_a_token(served: tuple[App, AppServer]) -> None:
    app, server = served
    status, headers, page = request(server, "GET", "/")
    assert status == 200
    assert app.csrf in page
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert "http" not in page.replace("http-equiv", "")  # no asset from outside the package


def test_other_hosts_are_refused(served: tuple[App, AppServer]) -> None:
    _, server = served
    status, _, _ = request(server, "GET", "/api/state", Host="evil.example:80")
    assert status == 421  # DNS rebinding: a foreign name pointing at 127.0.0.1


def test_posts_need_the_token_and_this_origin(served: tuple[App, AppServer]) -> None:
    app, server = served
    body = json.dumps({"plate": "GE-AB 1234"}).encode()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    assert request(server, "POST", "/api/plate", body)[0] == 403
    assert request(server, "POST", "/api/plate", body, X_CSRF_Token="wrong")[0] == 403
    cross = request(server, "POST", "/api/plate", body, X_CSRF_Token=app.csrf,
                    Origin="https://evil.example")  # fmt: skip
    assert cross[0] == 403
    site = request(server, "POST", "/api/plate", body, X_CSRF_Token=app.csrf,
                   Sec_Fetch_Site="cross-site")  # fmt: skip
    assert site[0] == 403
    status, _, verdict = request(server, "POST", "/api/plate", body, X_CSRF_Token=app.csrf,
                                 Origin=origin)  # fmt: skip
    assert status == 200 and verdict["outcome"] == "valid" and verdict["number"] == 2001


def test_checks_zones_and_bounds(served: tuple[App, AppServer]) -> None:
    app, server = served
    token = {"X_CSRF_Token": app.csrf}
    status, _, state = request(
        server, "POST", "/api/settings", json.dumps({"zone": "b1"}).encode(), **token
    )
    assert status == 200 and state["zone"].startswith("B1 – ")  # the handheld's municipality
    status, _, verdict = request(
        server, "POST", "/api/check", json.dumps({"text": VALID}).encode(), **token
    )
    assert (verdict["outcome"], verdict["reason"]) == ("invalid", "wrong_zone")
    bad = request(server, "POST", "/api/settings", json.dumps({"zone": "%%"}).encode(), **token)
    assert bad[0] == 422 and bad[2]["error"] == "bad_zone"
    huge = request(server, "POST", "/api/frame", b"", X_Frame_Width="5000",
                   X_Frame_Height="5000", **token)  # fmt: skip
    assert huge[0] == 413
    blank = request(server, "POST", "/api/frame", bytes(64 * 48), X_Frame_Width="64",
                    X_Frame_Height="48", **token)  # fmt: skip
    assert blank[2] == {"found": False}
    log = (app.data_dir.root / "shift-log.json").stat()
    assert log.st_mode & 0o777 == 0o600


def test_backoff_retries_sooner_and_never_beyond_the_interval() -> None:
    backoff = Backoff(3600, rng=random.Random(1))
    delays = [backoff.next_delay(False) for _ in range(12)]
    assert delays[0] < delays[1] < delays[2]
    assert all(8 <= d <= 3600 * 1.2 for d in delays)
    assert 3600 * 0.8 <= backoff.next_delay(True) <= 3600 * 1.2
    assert backoff.failures == 0


def test_the_loop_attempts_again_after_each_delay() -> None:
    outcomes = iter([OSError("down"), OSError("down"), None])
    seen: list[tuple[bool, float]] = []

    def attempt() -> Attempt:
        return Attempt(at=0, error=next(outcomes))

    loop = SyncLoop(attempt, 600, on_attempt=lambda a, d: (seen.append((a.ok, d)), loop.wake()))
    last = loop.run(count=3)
    assert last is not None and last.ok
    assert [ok for ok, _ in seen] == [False, False, True]
    assert seen[0][1] < seen[1][1] <= 600 * 1.2


def test_durations() -> None:
    assert [parse_duration(t) for t in ("90", "30s", "15m", "6h", "1d")] == [
        90,
        30,
        900,
        21600,
        86400,
    ]
    for bad in ("", "h", "-1h", "1.5h", "1w"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_sync_every_from_the_command_line(tmp_path: Path) -> None:
    anchors, blobs = write_store_files(tmp_path, "main")
    data = tmp_path / "data"
    assert cli("trust", "add-anchor", str(anchors[0]), data_dir=data).returncode == 0
    proc = cli("sync", "--every", "1h", "--count", "1", str(blobs[0]), data_dir=data)
    assert proc.returncode == 0, proc.stderr
    assert "trust bundle seq 1 stored" in proc.stdout and "next sync in" in proc.stdout
    down = cli("--lang", "de", "sync", "--every", "1h", "--count", "1", "--timeout", "2",
               "http://127.0.0.1:9/tb", data_dir=data)  # fmt: skip
    assert down.returncode == 2 and "nächster Versuch in" in down.stdout
    assert "Server nicht erreichbar" in down.stderr
    assert cli("sync", "--every", "soon", str(blobs[0]), data_dir=data).returncode == 2
    state = json.loads((data / "state.json").read_text())
    assert state["last_sync"]["ok"] is False and state["last_sync"]["error"] == "unreachable"


def test_the_app_syncs_in_the_background(tmp_path: Path) -> None:
    from verifier import DataDir

    anchors, blobs = write_store_files(tmp_path, "main")
    data_dir = DataDir(tmp_path / "handheld")
    data_dir.add_anchor(anchors[0].read_bytes())
    data_dir.write_config({"sync_source": str(blobs[0])})
    done = threading.Event()
    app = App(data_dir, environ={}, clock=lambda: NOW, sync_every_seconds=3600)
    try:
        assert app.loop is not None
        app.loop.on_attempt = lambda attempt, delay: done.set()
        app.loop.wake()
        assert done.wait(30)
        assert app.store.has_bundle and app.store.seq == 1
        assert app.state()["sync"]["state"] == "ok"
    finally:
        app.close()
