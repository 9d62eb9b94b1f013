"""`make demo`'s portal story against a fresh `make run` (``python -m wallet_api``, a real
process on SQLite): one line per step, with its own demo resident; the permits that were
there before are left exactly as they were."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from pathlib import Path

import httpx

from mobile_sdk_stub import portal_demo
from tests.support.db import make_test_settings
from tests.support.processes import free_port, settings_env, start, stop, wait_http


def test_the_portal_story_runs_on_make_run_and_touches_nothing_else(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    settings = make_test_settings(f"sqlite:///{data_dir / 'buergerid.db'}", data_dir)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = settings_env(
        settings,
        BUERGERID_PORT=str(port),
        BUERGERID_PUBLIC_BASE_URL=base,
        BUERGERID_ENVIRONMENT="development",
    )
    server = start("make-run", ["-m", "wallet_api"], env, tmp_path)
    try:
        wait_http(server, f"{base}/healthz")
        key = (data_dir / "dev-api-key").read_text().strip()
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"})
        before = api.get("/api/v1/permits").json()
        out = io.StringIO()
        with redirect_stdout(out):
            portal_demo.run(base, key, data_dir)
        lines = out.getvalue().splitlines()
        assert [line.split("]")[0] for line in lines] == [f"[portal {n}" for n in range(1, 8)]
        assert "Bürger-ID without a letter" in lines[1] and "revoked" in lines[5]
        after = api.get("/api/v1/permits").json()
        items = after["items"] if isinstance(after, dict) else after
        old = before["items"] if isinstance(before, dict) else before
        mine = {p["id"]: p for p in items}
        for permit in old:  # what the demo did not create is as it was
            assert mine[permit["id"]] == permit
        created = [p for p in items if p["id"] not in {q["id"] for q in old}]
        assert [p["state"] for p in created] == ["revoked"]
        api.close()
    finally:
        stop([server])
