"""`buergerid-keys`: every subcommand, exit codes, one-line errors.

The console script is exercised through subprocesses once per subcommand (the flow tests);
the variations call `keys.cli.run(argv, environ, clock)` in process, which is what `main()`
runs, so the suite stays fast.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import cbor2
import pytest

from keys.cli import run
from keys.lifecycle import Purpose
from keys.ring import KeyRing
from keys.status_list import sign_status_list_cwt
from tests.keys.conftest import CHEAP_KDF, T0, SoftHsm
from verifier.formats import (
    TYP_TRUST_BUNDLE,
    StatusList,
    StatusListToken,
    decode_bundle_payload,
    decode_sign1,
    key_from_cose,
    key_from_jwk,
    thumbprint,
    verify_sign1,
)

PASS = "cli passphrase"
KDF = [
    "--kdf-time-cost",
    str(CHEAP_KDF.time_cost),
    "--kdf-memory-kib",
    str(CHEAP_KDF.memory_kib),
    "--kdf-parallelism",
    str(CHEAP_KDF.parallelism),
]
AT = ["--at", str(T0)]
DAY = 86_400
SCRIPT = Path(sys.executable).parent / "buergerid-keys"


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERID_")}
    env["BUERGERID_KEY_PASSPHRASE"] = PASS
    return {**env, **(extra or {})}


def _never() -> float:
    raise AssertionError("the clock must not be read when --at is given")


Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture()
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run the CLI in process: (exit status, stdout, stderr)."""

    def call(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        code = run(list(args), env if env is not None else _env(), _never)
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return call


def ok(cli: Cli, *args: str, env: dict[str, str] | None = None) -> str:
    code, out, err = cli(*args, env=env)
    assert code == 0, err
    return out


def failed(cli: Cli, *args: str, env: dict[str, str] | None = None) -> str:
    code, out, err = cli(*args, env=env)
    assert code == 2, out + err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("buergerid-keys: "), err
    return lines[0]


def sub(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(SCRIPT), *args],
        capture_output=True,
        env=env or _env(),
        stdin=subprocess.DEVNULL,
        check=False,
        timeout=60,
    )


def sub_ok(*args: str, env: dict[str, str] | None = None) -> bytes:
    result = sub(*args, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture()
def rings(tmp_path: Path, cli: Cli) -> tuple[Path, Path]:
    issuer, root = tmp_path / "05513000", tmp_path / "root"
    ok(
        cli,
        "create",
        str(issuer),
        "--issuer",
        "05513000",
        "--name",
        "Gelsenkirchen",
        "--url",
        "https://id.example/05513000",
        *KDF,
        *AT,
    )
    ok(cli, "create", str(root), "--issuer", "gkd", "--root", *KDF, *AT)
    return issuer, root


def _records(cli: Cli, ring: Path, at: int = T0) -> list[dict[str, object]]:
    return json.loads(ok(cli, "list", str(ring), "--json", "--at", str(at)))  # type: ignore[no-any-return]


def _status_file(issuer: Path, tmp_path: Path) -> Path:
    ring = KeyRing.open(issuer, passphrase=PASS)
    token = StatusListToken(
        sub="https://id.example/05513000/status/1",
        iat=T0,
        exp=T0 + DAY,
        ttl=3600,
        status_list=StatusList.from_values(2, 64, {}),
    )
    path = tmp_path / "list1.cwt"
    path.write_bytes(sign_status_list_cwt(ring.signer_for(T0, Purpose.STATUS), token))
    return path


# --------------------------------------------------------------- the console script itself


def test_console_script_every_subcommand(tmp_path: Path) -> None:
    issuer, root = tmp_path / "05513000", tmp_path / "root"
    out = sub_ok(
        "create",
        str(issuer),
        "--issuer",
        "05513000",
        "--name",
        "GE",
        "--url",
        "https://ge.example",
        *KDF,
        *AT,
    )
    assert out.startswith(b"active ES256 ")
    sub_ok("create", str(root), "--issuer", "gkd", "--root", *KDF, *AT)
    table = sub_ok("list", str(issuer), *AT).decode()
    assert "active" in table and "issuer ring 05513000" in table
    assert sub_ok("rotate", str(issuer), *KDF, *AT).startswith(b"pending ES256 ")
    kid = out.split()[2].decode()
    assert b"withdrawn" in sub_ok("withdraw", str(issuer), "--at", str(T0), "--", kid)
    cose_keys = cbor2.loads(sub_ok("export-public", str(issuer), "--format", "cose", *AT))
    assert len(cose_keys) == 1  # the withdrawn key is not exported
    bundle = tmp_path / "bundle.cbor"
    assert sub_ok(
        "bundle", "--root", str(root), "--issuer", str(issuer), "--out", str(bundle), *AT
    ).startswith(b"bundle seq 1:")
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o644
    failure = sub("withdraw", str(issuer), "nosuchkid", *AT)
    assert failure.returncode == 2 and failure.stdout == b""
    assert (
        failure.stderr == b"buergerid-keys: error: unknown_key: no key (or several) with that kid\n"
    )


def test_module_entry_point(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "keys.cli", "list", str(tmp_path / "none")],
        capture_output=True,
        env=_env(),
        check=False,
        timeout=60,
    )
    assert result.returncode == 2 and b"ring_not_found" in result.stderr


def test_console_script_pkcs11(cli: Cli, softhsm: SoftHsm, tmp_path: Path) -> None:
    env = _env(
        {
            **softhsm.env(),
            "BUERGERID_PKCS11_PIN": softhsm.pin,
            "BUERGERID_PKCS11_TOKEN": softhsm.token_label,
        }
    )
    del env["BUERGERID_KEY_PASSPHRASE"]  # nothing of this ring is in a file
    ring, root = tmp_path / "hsm", tmp_path / "root"
    out = sub_ok(
        "create",
        str(ring),
        "--issuer",
        "05562004",
        "--name",
        "Marl",
        "--url",
        "https://id.example/05562004",
        "--backend",
        "pkcs11",
        *AT,
        env=env,
    )
    assert out.startswith(b"active ES256 ")
    # the rest in process (the same token, already initialised in this process)
    assert ok(cli, "rotate", str(ring), *AT, env=env).startswith("pending ES256 ")
    assert list((ring / "keys").iterdir()) == []
    ok(cli, "create", str(root), "--issuer", "gkd", "--root", "--backend", "pkcs11", *AT, env=env)
    ok(
        cli,
        "bundle",
        "--root",
        str(root),
        "--issuer",
        str(ring),
        "--out",
        str(tmp_path / "b"),
        *AT,
        env=env,
    )
    bad_pin = {**env, "BUERGERID_PKCS11_PIN": "000000"}
    assert "pkcs11_login" in failed(cli, "rotate", str(ring), "--force", *AT, env=bad_pin)


# --------------------------------------------------------------- behaviour, in process


def test_create_and_list(cli: Cli, rings: tuple[Path, Path]) -> None:
    issuer, root = rings
    (record,) = _records(cli, issuer)
    assert record["state"] == "active" and record["alg"] == "ES256"
    assert record["nbf"] == T0 and record["backend"] == "file"
    assert "BEW" in record["types"] and "status" in record["types"]  # type: ignore[operator]
    (root_record,) = _records(cli, root)
    assert root_record["types"] == ["bundle"]
    key_file = issuer / "keys" / f"{record['kid']}.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert str(record["kid"]) in ok(cli, "list", str(issuer), *AT)


def test_create_ed25519_key_with_window_and_types(cli: Cli, rings: tuple[Path, Path]) -> None:
    issuer, _ = rings
    out = ok(
        cli,
        "create",
        str(issuer),
        "--alg",
        "ed25519",
        "--types",
        "status",
        "--nbf",
        str(T0 + 10),
        "--sign-seconds",
        "100",
        "--max-token-seconds",
        "50",
        *KDF,
        *AT,
    )
    assert out.startswith("pending EdDSA ")
    (new,) = [r for r in _records(cli, issuer) if r["alg"] == "EdDSA"]
    assert (new["nbf"], new["sign_until"], new["exp"]) == (T0 + 10, T0 + 110, T0 + 160)
    assert new["types"] == ["status"]


def test_create_ring_only(cli: Cli, tmp_path: Path) -> None:
    assert "created" in ok(cli, "create", str(tmp_path / "r"), "--issuer", "x", "--no-key", *AT)
    assert _records(cli, tmp_path / "r") == []
    assert "ring_exists" in failed(cli, "create", str(tmp_path / "r"), "--issuer", "x", *AT)


def test_rotate_then_nothing_to_do(cli: Cli, rings: tuple[Path, Path]) -> None:
    issuer, _ = rings
    out = ok(cli, "rotate", str(issuer), "--fresh-seconds", str(DAY), *KDF, *AT)
    assert out.startswith("pending ES256 ")
    assert "nothing to do" in ok(cli, "rotate", str(issuer), *KDF, *AT)
    states = sorted(str(r["state"]) for r in _records(cli, issuer))
    assert states == ["active", "pending"]
    forced = ok(cli, "rotate", str(issuer), "--force", "--fresh-seconds", "60", *KDF, *AT)
    assert f"signs from {T0 + 60}" in forced


def test_withdraw(cli: Cli, rings: tuple[Path, Path]) -> None:
    issuer, _ = rings
    (record,) = _records(cli, issuer)
    assert "withdrawn" in ok(cli, "withdraw", str(issuer), *AT, "--", str(record["kid"])[:10])
    assert _records(cli, issuer)[0]["state"] == "withdrawn"
    line = failed(cli, "withdraw", str(issuer), "nosuchkid", *AT)
    assert line.endswith("unknown_key: no key (or several) with that kid")


def test_export_public_jwk_and_cose(cli: Cli, rings: tuple[Path, Path], tmp_path: Path) -> None:
    issuer, root = rings
    (record,) = _records(cli, root)
    jwks = json.loads(ok(cli, "export-public", str(issuer), *AT))
    assert len(jwks["keys"]) == 1 and "d" not in jwks["keys"][0]
    one = json.loads(ok(cli, "export-public", str(root), f"--kid={record['kid']}", *AT))
    assert one["kid"] == record["kid"] and one["alg"] == "ES256"
    anchor = tmp_path / "anchor.cbor"
    ok(
        cli,
        "export-public",
        str(root),
        "--format",
        "cose",
        "--out",
        str(anchor),
        f"--kid={record['kid']}",
        *AT,
    )
    cose_key = key_from_cose(cbor2.loads(anchor.read_bytes()))
    assert thumbprint(cose_key) == thumbprint(key_from_jwk(one))


def test_bundle_with_auto_seq_and_status(
    cli: Cli, rings: tuple[Path, Path], tmp_path: Path
) -> None:
    issuer, root = rings
    status_file = _status_file(issuer, tmp_path)
    out_file = tmp_path / "bundle.cbor"
    args = [
        "bundle",
        "--root",
        str(root),
        "--issuer",
        str(issuer),
        "--status",
        f"05513000:1={status_file}",
        "--out",
        str(out_file),
        *AT,
    ]
    assert ok(cli, *args).startswith("bundle seq 1:")
    assert ok(cli, *args).startswith("bundle seq 2:")
    root_key = key_from_jwk(json.loads(ok(cli, "export-public", str(root), *AT))["keys"][0])
    msg = decode_sign1(out_file.read_bytes())
    assert msg.content_type == TYP_TRUST_BUNDLE
    verify_sign1(msg, root_key)
    bundle = decode_bundle_payload(msg.payload)
    assert bundle.seq == 2 and bundle.issuers["05513000"].name == "Gelsenkirchen"
    assert bundle.issuers["05513000"].status == {1: status_file.read_bytes()}
    assert (bundle.fresh_until - bundle.iat, bundle.exp - bundle.iat) == (DAY, 7 * DAY)
    assert ok(cli, *args, "--seq", "10").startswith("bundle seq 10:")
    assert "seq_not_increasing" in failed(cli, *args, "--seq", "10")


def test_refused_bundle_uses_no_seq(cli: Cli, rings: tuple[Path, Path], tmp_path: Path) -> None:
    issuer, root = rings
    status_file = tmp_path / "garbage.cwt"
    status_file.write_bytes(b"\x00")
    args = ["bundle", "--root", str(root), "--issuer", str(issuer), "--out", str(tmp_path / "b")]
    assert "bad_input" in failed(cli, *args, "--status", f"05513000:1={status_file}", *AT)
    assert not (tmp_path / "b").exists()
    assert ok(cli, *args, *AT).startswith("bundle seq 1:")
    assert "not given" in failed(cli, *args, "--status", f"09999999:1={status_file}", *AT)


def test_bundle_announces_the_next_root(cli: Cli, rings: tuple[Path, Path], tmp_path: Path) -> None:
    issuer, root = rings
    out = ok(cli, "rotate", str(root), "--force", *KDF, *AT)
    assert f"signs from {T0 + 30 * DAY}" in out  # root keys are announced 30 days ahead
    out_file = tmp_path / "bundle.cbor"
    ok(cli, "bundle", "--root", str(root), "--issuer", str(issuer), "--out", str(out_file), *AT)
    bundle = decode_bundle_payload(decode_sign1(out_file.read_bytes()).payload)
    (pending,) = [r for r in _records(cli, root) if r["state"] == "pending"]
    exported = json.loads(ok(cli, "export-public", str(root), f"--kid={pending['kid']}", *AT))
    assert [thumbprint(k) for k in bundle.anchors_next] == [thumbprint(key_from_jwk(exported))]


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["list", "{tmp}/missing"], "ring_not_found"),
        (["create", "{tmp}/r", "--issuer", "x", "--types", "bundle", *KDF], "bad_types"),
        (["create", "{tmp}/r", "--issuer", "x", "--kdf-memory-kib", "1"], "key_file_format"),
        (["create", "{tmp}/r", "--issuer", "x", "--backend", "pkcs11", *KDF], "pkcs11_required"),
        (["bundle", "--root", "{tmp}/missing", "--out", "{tmp}/b"], "ring_not_found"),
        (["bundle", "--root", "{tmp}/r", "--out", "{tmp}/b", "--status", "x"], "ISSUER:LIST=FILE"),
        (["bundle", "--root", "{tmp}/r", "--out", "{tmp}/b", "--status", "x:1={tmp}/no"], "read"),
        (["rotate"], "required"),
        (["frobnicate"], "invalid choice"),
        (["list", "{tmp}/r", "--at", "soon"], "integer seconds"),
        (["rotate", "{tmp}/r", "--fresh-seconds", "0"], "positive"),
    ],
)
def test_errors_are_one_line_exit_2(cli: Cli, tmp_path: Path, args: list[str], code: str) -> None:
    line = failed(cli, *(a.format(tmp=tmp_path) for a in args), *AT)
    assert code in line


def test_bundle_needs_a_root_ring(cli: Cli, rings: tuple[Path, Path], tmp_path: Path) -> None:
    issuer, root = rings
    line = failed(cli, "bundle", "--root", str(issuer), "--out", str(tmp_path / "b"), *AT)
    assert "root ring" in line
    line = failed(
        cli, "bundle", "--root", str(root), "--issuer", str(root), "--out", str(tmp_path / "b"), *AT
    )
    assert "not an issuer ring" in line


def test_passphrase_is_required_without_a_terminal(cli: Cli, tmp_path: Path) -> None:
    env = _env()
    del env["BUERGERID_KEY_PASSPHRASE"]
    line = failed(cli, "create", str(tmp_path / "r"), "--issuer", "x", *KDF, *AT, env=env)
    assert "passphrase_required" in line


def test_wrong_passphrase(cli: Cli, rings: tuple[Path, Path], tmp_path: Path) -> None:
    issuer, root = rings
    env = _env({"BUERGERID_KEY_PASSPHRASE": "wrong"})
    line = failed(
        cli,
        "bundle",
        "--root",
        str(root),
        "--issuer",
        str(issuer),
        "--out",
        str(tmp_path / "b"),
        *AT,
        env=env,
    )
    assert "key_file_decrypt" in line and not (tmp_path / "b").exists()
    assert "bundle seq 1:" in ok(
        cli,
        "bundle",
        "--root",
        str(root),
        "--issuer",
        str(issuer),
        "--out",
        str(tmp_path / "b"),
        *AT,
    )


def test_wall_clock_is_used_without_at(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = run(["create", str(tmp_path / "r"), "--issuer", "x", *KDF], _env(), lambda: T0 + 0.9)
    assert code == 0
    capsys.readouterr()
    assert run(["list", str(tmp_path / "r"), "--json"], _env(), lambda: T0) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["nbf"] == T0
