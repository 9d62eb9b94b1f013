"""The verifier installs alone: a fresh venv, `pip install -c constraints.txt` of the project
without extras, then `check`, `scan` and `app` work and no server package is importable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import segno

from tests.verifier.test_cli import NOW, VALID, write_store_files

REPO = Path(__file__).resolve().parents[2]
SERVER_MODULES = (
    "fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "argon2",
    "fpdf", "pkcs11", "pydantic", "qrcode", "segno",
)  # fmt: skip


def run(*args: str, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    proc = subprocess.run(
        args, capture_output=True, text=True, check=False, timeout=timeout, env=env, cwd=REPO
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def handheld_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("handheld-install")
    wheels = tmp / "wheels"
    # the project as a wheel, built offline from this checkout
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
        "-w", str(wheels), str(REPO))  # fmt: skip
    venv = tmp / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    wheel = next(wheels.glob("buergerid-*.whl"))
    run(str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
        "--disable-pip-version-check", "-c", str(REPO / "constraints.txt"), str(wheel))  # fmt: skip
    return venv


def test_the_handheld_install_pulls_no_server_package(handheld_venv: Path) -> None:
    probe = "import importlib.util as u, json, sys; print(json.dumps([m for m in sys.argv[1:] " \
            "if u.find_spec(m)]))"  # fmt: skip
    found = run(str(handheld_venv / "bin" / "python"), "-c", probe, *SERVER_MODULES)
    assert json.loads(found) == []
    installed = run(str(handheld_venv / "bin" / "python"), "-m", "pip", "list", "--format=json")
    names = {p["name"].lower() for p in json.loads(installed)}
    assert {"cryptography", "cbor2", "httpx", "pillow", "zxing-cpp"} <= names
    assert not names & {"fastapi", "sqlalchemy", "psycopg", "argon2-cffi", "uvicorn", "fpdf2",
                        "python-pkcs11"}  # fmt: skip


def test_check_scan_and_app_run_in_it(handheld_venv: Path, tmp_path: Path) -> None:
    tool = str(handheld_venv / "bin" / "buergerid-verify")
    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "HOME": str(tmp_path)}
    data = tmp_path / "data"
    anchors, blobs = write_store_files(tmp_path, "main")
    run(tool, "--data-dir", str(data), "trust", "add-anchor", str(anchors[0]), env=env)
    for blob in blobs:
        run(tool, "--data-dir", str(data), "sync", str(blob), env=env)
    verdict = json.loads(run(tool, "--data-dir", str(data), "check", "--at", str(NOW), "--json",
                             VALID, env=env))  # fmt: skip
    assert verdict["outcome"] == "valid"
    image = tmp_path / "permit.png"
    segno.make(VALID, error="q").save(image, scale=4)
    scanned = json.loads(run(tool, "--data-dir", str(data), "scan", "--at", str(NOW), "--json",
                             str(image), env=env))  # fmt: skip
    assert scanned["outcome"] == "valid"
    app = subprocess.Popen(
        [tool, "--data-dir", str(data), "app", "--port", "0", "--sync-every", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        assert app.stdout is not None
        line = app.stdout.readline()
        url = line.split()[2]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200 and b"/app.js" in page.read()
    finally:
        app.terminate()
        app.communicate(timeout=30)  # closes both pipes
