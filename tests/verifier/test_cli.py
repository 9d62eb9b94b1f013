"""``buergerid-verify`` exactly as a script calls it: subprocesses, stdout, stderr, exit status.

Covers every subcommand and every exit status of the command line (docs/verifier.md): 0 valid,
1 invalid, 3 indeterminate, 2 usage or operational error (one line on stderr, never a
traceback).
"""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import segno

from tests.support.verifier_stores import REPO, assert_error_line, cli, write_store_files
from tests.vectors import own_vectors_root

VECTORS = json.loads((own_vectors_root() / "verify.json").read_text(encoding="utf-8"))
CASES = {c["name"]: c for c in VECTORS["cases"]}
NOW = CASES["valid_es256"]["now"]
VALID = CASES["valid_es256"]["input"]
REVOKED = CASES["status_revoked"]["input"]
STATUS_UNKNOWN = CASES["status_list_missing"]["input"]
FLEET = CASES["fleet_with_plate"]["input"]
PERMIT_KEYS = {
    "issuer", "type", "zones", "plates", "fleet", "number",
    "iat", "nbf", "exp", "max_stay", "windows",
}  # fmt: skip


@pytest.fixture(scope="module")
def main_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir set up through the CLI itself: add-anchor, then sync bundle and indexes."""
    tmp = tmp_path_factory.mktemp("cli")
    data = tmp / "data"
    anchors, blobs = write_store_files(tmp, "main")
    proc = cli("trust", "add-anchor", str(anchors[0]), data_dir=data)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("pinned: ")
    for blob in blobs:
        proc = cli("sync", str(blob), data_dir=data)
        assert proc.returncode == 0, proc.stderr
    return data


def test_check_valid_json_contract(main_store: Path) -> None:
    proc = cli("check", "--at", str(NOW), "--json", VALID, data_dir=main_store)
    assert proc.returncode == 0, proc.stderr
    verdict = json.loads(proc.stdout)
    assert set(verdict) == {"outcome", "reason", "warnings", "permit", "bundle"}
    assert verdict["outcome"] == "valid" and verdict["reason"] is None
    assert set(verdict["permit"]) == PERMIT_KEYS
    assert set(verdict["bundle"]) == {"seq", "iat", "age_s"}
    assert verdict["bundle"]["age_s"] == NOW - verdict["bundle"]["iat"]


def test_check_invalid_exit_1(main_store: Path) -> None:
    proc = cli("check", "--at", str(NOW), "--json", REVOKED, data_dir=main_store)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["reason"] == "revoked"


def test_check_indeterminate_exit_3(main_store: Path) -> None:
    proc = cli("check", "--at", str(NOW), "--json", STATUS_UNKNOWN, data_dir=main_store)
    assert proc.returncode == 3
    assert json.loads(proc.stdout)["outcome"] == "indeterminate"


def test_check_reads_stdin_and_context(main_store: Path) -> None:
    args = ["check", "--at", str(NOW), "--zone", "05513000:a3", "--plate", "ge ab 1234", "--json"]
    proc = cli(*args, "-", data_dir=main_store, stdin=VALID + "\n")
    assert proc.returncode == 0, proc.stderr
    proc = cli("check", "--at", str(NOW), "--zone", "05513000:B1", "--json", "-",
               data_dir=main_store, stdin=VALID)  # fmt: skip
    assert proc.returncode == 1 and json.loads(proc.stdout)["reason"] == "wrong_zone"


def test_check_human_german(main_store: Path) -> None:
    proc = cli("check", "--at", str(NOW), VALID, data_dir=main_store, lang="de_DE.UTF-8")
    assert proc.returncode == 0
    assert "GÜLTIG" in proc.stdout and "GE-AB 1234" in proc.stdout and "A3" in proc.stdout
    proc = cli("check", "--at", str(NOW), REVOKED, data_dir=main_store, lang="de_DE.UTF-8")
    assert proc.returncode == 1 and "UNGÜLTIG" in proc.stdout and "widerrufen" in proc.stdout
    proc = cli("--lang", "de", "check", "--at", str(NOW), STATUS_UNKNOWN, data_dir=main_store)
    assert proc.returncode == 3 and "NICHT PRÜFBAR" in proc.stdout


def test_check_human_english_with_warning(main_store: Path) -> None:
    proc = cli("check", "--at", str(NOW), "--plate", "GE-XY 1", FLEET, data_dir=main_store)
    assert proc.returncode == 0
    assert "VALID" in proc.stdout and "plate_not_checked" in proc.stdout


def test_check_batch_ndjson(main_store: Path, tmp_path: Path) -> None:
    batch = tmp_path / "batch.txt"
    batch.write_text(f"{VALID}\n{REVOKED}\r\n\n{STATUS_UNKNOWN}\n", encoding="utf-8")
    proc = cli("check", "--at", str(NOW), "--batch", str(batch), data_dir=main_store)
    assert proc.returncode == 1
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [(v["outcome"], v["reason"]) for v in lines] == [
        ("valid", None),
        ("invalid", "revoked"),
        ("invalid", "unsupported_format"),
        ("indeterminate", "status_unknown"),
    ]
    proc = cli("check", "--at", str(NOW), "--batch", "-", data_dir=main_store, stdin=VALID + "\n")
    assert proc.returncode == 0 and len(proc.stdout.splitlines()) == 1


def test_check_without_bundle_is_indeterminate(tmp_path: Path) -> None:
    proc = cli("check", "--json", VALID, data_dir=tmp_path / "empty")
    assert proc.returncode == 3
    verdict = json.loads(proc.stdout)
    assert verdict["reason"] == "no_bundle" and verdict["bundle"] is None


@pytest.mark.parametrize(
    "args",
    [
        ["check"],
        ["check", "--at", "yesterday", VALID],
        ["check", "--plate", "not a plate!", VALID],
        ["check", "--batch", "x.txt", VALID],
        ["frobnicate"],
        ["plate", "%%%"],
        ["scan"],
        ["--lang", "fr", "check", VALID],
    ],
)
def test_usage_errors_exit_2_one_line(args: list[str], tmp_path: Path) -> None:
    assert_error_line(cli(*args, data_dir=tmp_path))


def test_environment_variable_names_the_data_dir(main_store: Path) -> None:
    env = {**os.environ, "BUERGERID_VERIFY_DATA": str(main_store), "LANG": "C"}
    proc = subprocess.run(
        [sys.executable, "-m", "verifier", "status", "--json"],
        capture_output=True, text=True, cwd=REPO, env=env, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0
    assert json.loads(proc.stdout)["data_dir"] == str(main_store)


def test_status(main_store: Path) -> None:
    proc = cli("status", "--at", str(NOW), "--json", data_dir=main_store)
    assert proc.returncode == 0
    info = json.loads(proc.stdout)
    assert info["bundle"]["seq"] == 1 and info["anchors"] == 1
    issuers = {i["id"]: i for i in info["issuers"]}
    assert set(issuers) == {"05513000", "05562032"}
    lists = {s["list"]: s for s in issuers["05513000"]["status"]}
    assert lists[1]["usable"] and lists[1]["size"] == 1024
    assert not lists[2]["usable"] and lists[2]["problem"] == "bad_status_list"
    assert issuers["05513000"]["plate_index"]["plates"] == 7
    human = cli("status", "--at", str(NOW), data_dir=main_store)
    assert human.returncode == 0 and "seq 1" in human.stdout


def test_plate_outcomes(main_store: Path, tmp_path: Path) -> None:
    valid = cli("plate", "--at", str(NOW), "--json", "ge-ab 1234", data_dir=main_store)
    assert valid.returncode == 0 and json.loads(valid.stdout)["permit"]["number"] == 2001
    unknown = cli("plate", "--at", str(NOW), "--json", "GE-ZZ 999", data_dir=main_store)
    assert unknown.returncode == 1 and json.loads(unknown.stdout)["reason"] == "no_permit"
    zone = cli(
        "plate", "--at", str(NOW), "--zone", "05513000:B1", "GE-AB 1234", data_dir=main_store
    )
    assert zone.returncode == 1 and "wrong_zone" in zone.stdout
    none = cli("plate", "--json", "GE-AB 1234", data_dir=tmp_path)
    assert none.returncode == 3 and json.loads(none.stdout)["reason"] == "no_plate_index"


def test_scan_images(main_store: Path, tmp_path: Path) -> None:
    good, bad, blank = tmp_path / "good.png", tmp_path / "revoked.png", tmp_path / "blank.png"
    segno.make(VALID, error="q").save(good, scale=4)
    segno.make(REVOKED, error="q").save(bad, scale=4)
    segno.make("hello", error="q").save(blank, scale=4)
    proc = cli("scan", "--at", str(NOW), "--json", str(good), data_dir=main_store)
    assert proc.returncode == 0, proc.stderr
    verdict = json.loads(proc.stdout)
    assert verdict["outcome"] == "valid"
    assert set(verdict) == {"outcome", "reason", "warnings", "permit", "bundle"}
    both = cli("scan", "--at", str(NOW), "--json", str(good), str(bad), data_dir=main_store)
    assert both.returncode == 1 and len(both.stdout.splitlines()) == 2
    other = cli("scan", "--at", str(NOW), str(blank), data_dir=main_store)
    assert other.returncode == 1 and "unsupported_format" in other.stdout
    (tmp_path / "none.png").write_bytes(b"\x89PNG broken")
    broken = cli("scan", "--at", str(NOW), "--json", str(good), str(tmp_path / "none.png"),
                 data_dir=main_store)  # fmt: skip
    assert broken.returncode == 2
    assert broken.stderr.count("\n") == 1 and "Traceback" not in broken.stderr
    assert json.loads(broken.stdout)["outcome"] == "valid"


def test_anchor_refusals(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.key"
    garbage.write_bytes(b"\xa1\x01\x02")
    assert_error_line(cli("trust", "add-anchor", str(garbage), data_dir=tmp_path / "d"))
    assert_error_line(cli("trust", "add-anchor", str(tmp_path / "missing"), data_dir=tmp_path))


def test_sync_refusals_leave_the_store_unchanged(tmp_path: Path) -> None:
    seq = {s["name"]: s for s in VECTORS["sync"]}["lower_seq"]
    data = tmp_path / "data"
    anchor = tmp_path / "root.key"
    anchor.write_bytes(bytes.fromhex(seq["anchors"][0]))
    assert cli("trust", "add-anchor", str(anchor), data_dir=data).returncode == 0
    newer, older = (tmp_path / "b2.cbor", tmp_path / "b1.cbor")
    newer.write_bytes(bytes.fromhex(seq["steps"][0]["data"]))
    older.write_bytes(bytes.fromhex(seq["steps"][1]["data"]))
    first = cli("sync", str(newer), data_dir=data)
    assert first.returncode == 0 and "seq 2 stored" in first.stdout
    again = cli("sync", str(newer), data_dir=data)
    assert again.returncode == 0 and "unchanged" in again.stdout
    stored = (data / "bundle.cbor").read_bytes()
    refused = cli("sync", str(older), data_dir=data)
    assert_error_line(refused)
    assert "bundle_rollback" in refused.stderr
    assert (data / "bundle.cbor").read_bytes() == stored
    assert_error_line(cli("sync", str(tmp_path / "missing.cbor"), data_dir=data))


def test_corrupt_store_is_an_operational_error(main_store: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "anchors").mkdir(parents=True)
    for path in (main_store / "anchors").iterdir():
        (data / "anchors" / path.name).write_bytes(path.read_bytes())
    (data / "bundle.cbor").write_bytes(b"\xd2\x84garbage")
    assert_error_line(cli("check", VALID, data_dir=data))


class _BundleServer(http.server.BaseHTTPRequestHandler):
    body = b""
    etag = '"v1"'
    seen: list[str | None] = []  # noqa: RUF012 - test handler state, one server per test

    def do_GET(self) -> None:
        self.seen.append(self.headers.get("If-None-Match"))
        if self.headers.get("If-None-Match") == self.etag:
            self.send_response(304)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", self.etag)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def server() -> Iterator[tuple[str, type[_BundleServer]]]:
    handler = type("Handler", (_BundleServer,), {"seen": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/trust-bundle", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_sync_from_url_keeps_the_etag(
    server: tuple[str, type[_BundleServer]], tmp_path: Path
) -> None:
    url, handler = server
    anchors, blobs = write_store_files(tmp_path, "main")
    handler.body = blobs[0].read_bytes()
    data = tmp_path / "data"
    assert cli("trust", "add-anchor", str(anchors[0]), data_dir=data).returncode == 0
    first = cli("sync", url, data_dir=data)
    assert first.returncode == 0, first.stderr
    second = cli("sync", url, data_dir=data)
    assert second.returncode == 0 and "not modified" in second.stdout
    assert handler.seen == [None, '"v1"']
    assert json.loads((data / "state.json").read_text())["etags"][url] == '"v1"'


def test_unreachable_sync_url_is_one_line(tmp_path: Path) -> None:
    proc = cli("sync", "--timeout", "2", "http://127.0.0.1:9/trust-bundle", data_dir=tmp_path)
    assert_error_line(proc)


# --------------------------------------------------------------------------- zones of a city

A_AGS, B_AGS = "05513000", "05562032"  # Gelsenkirchen, Recklinghausen: both use zone "A3"
OTHER_CITY_A3 = CASES["zone_same_code_own_city"]["input"]  # Recklinghausen's permit for its A3


def test_a_zone_code_is_bound_to_its_city(main_store: Path) -> None:
    for tool, subject in (("check", OTHER_CITY_A3), ("plate", "RE-Z 9")):
        wrong = cli(tool, "--at", str(NOW), "--json", "--zone", f"{A_AGS}:A3", subject,
                    data_dir=main_store)  # fmt: skip
        assert (wrong.returncode, json.loads(wrong.stdout)["reason"]) == (1, "wrong_zone")
        right = cli(tool, "--at", str(NOW), "--json", "--zone", f"{B_AGS}:A3", subject,
                    data_dir=main_store)  # fmt: skip
        assert right.returncode == 0, right.stdout
        assert json.loads(right.stdout)["permit"]["issuer"] == B_AGS


def test_a_bare_zone_code_with_two_cities_and_no_municipality_exits_2(main_store: Path) -> None:
    for tool, subject in (("check", OTHER_CITY_A3), ("plate", "RE-Z 9")):
        proc = cli(tool, "--at", str(NOW), "--zone", "A3", subject, data_dir=main_store)
        assert_error_line(proc)
        assert "ambiguous_zone" in proc.stderr


def test_a_bare_zone_code_follows_the_configured_municipality(
    main_store: Path, tmp_path: Path
) -> None:
    import shutil

    data = tmp_path / "handheld"
    shutil.copytree(main_store, data)
    proc = cli("--lang", "de", "config", "--municipality", A_AGS, data_dir=data)
    assert proc.returncode == 0 and f"Gemeinde dieses Geräts: {A_AGS}" in proc.stdout
    for tool, subject in (("check", OTHER_CITY_A3), ("plate", "RE-Z 9")):
        here = cli(tool, "--at", str(NOW), "--json", "--zone", "a3", subject, data_dir=data)
        assert (here.returncode, json.loads(here.stdout)["reason"]) == (1, "wrong_zone")
        # the environment wins over the stored setting
        env = {**os.environ, "BUERGERID_VERIFY_MUNICIPALITY": B_AGS, "LANG": "C"}
        there = subprocess.run(
            [sys.executable, "-m", "verifier", "--data-dir", str(data), tool, "--at", str(NOW),
             "--json", "--zone", "a3", subject],
            capture_output=True, text=True, cwd=REPO, env=env, check=False, timeout=60,
        )  # fmt: skip
        assert there.returncode == 0, there.stderr
    human = cli("--lang", "de", "check", "--at", str(NOW), "--zone", "A3", OTHER_CITY_A3,
                data_dir=data)  # fmt: skip
    assert "UNGÜLTIG" in human.stdout
    assert "geprüfte Zone: A3 – Stadt Gelsenkirchen (05513000)" in human.stdout
    bad = cli("config", "--municipality", "5513", data_dir=data)
    assert_error_line(bad)
    cleared = cli("config", "--municipality", "", data_dir=data)
    assert cleared.returncode == 0 and "(not set)" in cleared.stdout


def test_check_with_a_plate_uses_the_plate_index(main_store: Path) -> None:
    # the windscreen shows another car's code; this car has a digital-only permit
    proc = cli("check", "--at", str(NOW), "--json", "--plate", "ge-ab 1234", "--zone",
               f"{A_AGS}:A3", CASES["plate_e_suffix"]["input"], data_dir=main_store)  # fmt: skip
    assert proc.returncode == 0, proc.stdout
    verdict = json.loads(proc.stdout)
    assert verdict["permit"]["number"] == 2001 and verdict["permit"]["iat"] is None
    # a forged code is always shown as such
    forged = cli("check", "--at", str(NOW), "--json", "--plate", "ge-ab 1234",
                 CASES["signature_flipped_bit"]["input"], data_dir=main_store)  # fmt: skip
    assert (forged.returncode, json.loads(forged.stdout)["reason"]) == (1, "bad_signature")


def test_messages_in_german(main_store: Path, tmp_path: Path) -> None:
    anchors, _ = write_store_files(tmp_path, "main")
    again = cli("--lang", "de", "trust", "add-anchor", str(anchors[0]), data_dir=main_store)
    assert again.returncode == 0 and again.stdout.startswith("bereits hinterlegt: ")
    status = cli("--lang", "de", "status", "--at", str(NOW), data_dir=main_store)
    assert "Vertrauensliste seq 1" in status.stdout and "Kennzeichenverzeichnis" in status.stdout
    blank = tmp_path / "blank.png"
    segno.make("x", error="q").save(blank, scale=4)
    from PIL import Image

    Image.new("L", (64, 64), 255).save(tmp_path / "white.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    for name, words in (("white.png", "kein QR-Code im Bild"), ("broken.png", "keine Bilddatei")):
        proc = cli("--lang", "de", "scan", str(tmp_path / name), data_dir=main_store)
        assert_error_line(proc)
        assert words in proc.stderr
    offline = cli("--lang", "de", "sync", "--timeout", "5", "https://127.0.0.1:9/tb",
                  data_dir=tmp_path / "d")  # fmt: skip
    assert_error_line(offline)
    assert "Server nicht erreichbar" in offline.stderr
    ambiguous = cli("--lang", "de", "check", "--zone", "A3", VALID, data_dir=main_store)
    assert "Zonencode allein ist mehrdeutig" in ambiguous.stderr
    usage = cli("--lang", "de", "plate", data_dir=main_store)
    assert_error_line(usage)
    assert "diese Angaben fehlen: plate" in usage.stderr


def test_valid_from_is_the_permits_start_everywhere(main_store: Path) -> None:
    qr = cli("--lang", "en", "check", "--at", str(NOW), VALID, data_dir=main_store)
    assert "issued" in qr.stdout and "valid from" not in qr.stdout  # the token has no nbf
    by_plate = cli("--lang", "en", "plate", "--at", str(NOW), "GE-AB 1234", data_dir=main_store)
    assert "valid from" in by_plate.stdout and "issued" not in by_plate.stdout
