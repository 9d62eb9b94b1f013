"""docs/verifier.md works as written: every `$ ` command of its console blocks runs, in order,
in one shell on an empty handheld (a fresh venv, an empty HOME), against a live issuer.

Only the page's placeholders are replaced: the service URL, the enrolment code, the QR text
and the paths of the root key and the photo (which the operator or the camera provides).
The venv the page installs is the handheld's alone: `check`, `scan` and `app` run in it, and
no server package is importable there.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
import segno

from tests.support.clock import WallClock
from tests.support.handheld import GE, RE, HandheldWorld

# the live issuer whose public URL is its own port (shared with the enrolment test)
from tests.support.handheld_server import port, served, settings, world  # noqa: F401
from tests.support.processes import run_script

REPO = Path(__file__).resolve().parents[2]
SERVER_MODULES = (
    "fastapi", "starlette", "uvicorn", "sqlalchemy", "alembic", "psycopg", "argon2",
    "fpdf", "pkcs11", "pydantic", "qrcode", "segno",
)  # fmt: skip
DOC = REPO / "docs" / "verifier.md"


@pytest.fixture
def clock() -> WallClock:
    """The CLI reads the wall clock and the page's commands take a while on a loaded machine
    (longer than the server's leeway for a handheld's assertion): the server's clock runs on
    with the wall clock."""
    return WallClock()


@pytest.fixture
def db_url(sqlite_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "issuer.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


def doc_commands() -> list[str]:
    """The `$ ` lines of every ```console block, in order."""
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```console\n(.*?)```", text, flags=re.S)
    return [line[2:] for block in blocks for line in block.splitlines() if line.startswith("$ ")]


def test_the_page_lists_the_whole_way() -> None:
    commands = " ; ".join(doc_commands())
    for step in ("pip install", "trust add-anchor", "enrol", "config --municipality", " sync",
                 "status", "check", "scan", "plate"):  # fmt: skip
        assert step in commands


def test_every_command_of_the_page_runs(
    served: tuple[object, str],  # noqa: F811
    world: HandheldWorld,  # noqa: F811
    tmp_path: Path,
) -> None:
    _, base = served
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(world.anchor, home / "root.jwk")
    qr = world.permits[GE]["qr"]
    segno.make(qr, error="q").save(home / "permit.png", scale=4)
    code = world.enrolment_code(world.enforcement_client(GE, RE))["code"]
    script = ["set -eu", f"cd {shlex.quote(str(home))}"]
    for command in doc_commands():
        command = (
            command.replace("https://bid.example.de", base)
            .replace("BIDE-K7Q2M-XW4PA-9RT3E-LN6HB", code)
            .replace("BID1:…", shlex.quote(qr))
            .replace("-c constraints.txt .", f"-c {REPO}/constraints.txt {REPO}")
        )
        script.append(command)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    out = run_script(script, home=home)
    assert "pinned: " in out
    assert f"plate indexes of {GE}, {RE}" in out
    assert f"plate index of {GE} stored" in out and f"plate index of {RE} stored" in out
    assert out.count("VALID") >= 3  # check, scan and plate, each in zone A3 of 05513000
    data = home / ".local" / "share" / "buergerid-verify"
    assert (data / "device-key.pem").stat().st_mode & 0o777 == 0o600

    venv = home / "buergerid" / "bin"
    probe = "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])"
    found = subprocess.run([str(venv / "python"), "-c", probe, *SERVER_MODULES],
                           capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    assert found.stdout.strip() == "[]"
    app = subprocess.Popen(
        [str(venv / "buergerid-verify"), "app", "--port", "0", "--sync-every", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        assert app.stdout is not None
        url = app.stdout.readline().split()[2]
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(url, timeout=60) as page:
            assert page.status == 200 and b"/app.js" in page.read()
    finally:
        app.terminate()
        app.communicate(timeout=30)
