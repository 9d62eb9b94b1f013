"""Settings: defaults, environment, guards, the development passphrase."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from issuer.settings import Settings, resolve_key_passphrase, resolve_pkcs11_pin


def test_defaults_derive_from_data_dir(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    assert s.database_url == f"sqlite:///{tmp_path / 'd' / 'buergerid.db'}"
    assert (s.host, s.port, s.max_request_bytes) == ("127.0.0.1", 8000, 64 * 1024)
    assert s.public_base_url == "http://127.0.0.1:8000"
    assert s.keys_dir == tmp_path / "d" / "keys"


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BUERGERID_PORT", "9123")
    monkeypatch.setenv("BUERGERID_DATA_DIR", "elsewhere")
    monkeypatch.setenv("BUERGERID_REQUIRE_POSTGRES", "1")  # CI's flag is not a setting
    s = Settings()
    assert s.port == 9123
    assert s.data_dir == Path("elsewhere")


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(no_such_setting=1)  # type: ignore[call-arg]


def test_passphrase_stays_out_of_repr() -> None:
    s = Settings(key_passphrase="hunter2-hunter2")
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())


def test_production_needs_a_passphrase() -> None:
    with pytest.raises(ValidationError):
        Settings(environment="production")
    configured = Settings(
        environment="production",
        key_passphrase="x" * 20,
        server_secret="s" * 32,
        public_base_url="https://wallet.example",
        database_url="postgresql+psycopg://buergerid@db.example/buergerid",
    )
    assert configured.environment == "production"


def test_production_refuses_the_sqlite_fallback() -> None:
    production = {
        "environment": "production",
        "key_passphrase": "x" * 20,
        "server_secret": "s" * 32,
        "public_base_url": "https://wallet.example",
    }
    with pytest.raises(ValidationError, match="database_url is required"):
        Settings(**production)  # type: ignore[arg-type]


def test_a_rotation_lead_shorter_than_the_bundle_freshness_is_refused() -> None:
    with pytest.raises(ValidationError, match="key_rotation_lead_seconds"):
        Settings(key_rotation_lead_seconds=3600, trust_bundle_fresh_seconds=7200)


def test_production_refuses_an_http_public_base_url() -> None:
    # OpenID4VCI 1.0 §12.2.1: the Credential Issuer Identifier is an https URL
    secrets = {"key_passphrase": "x" * 20, "server_secret": "s" * 32}
    with pytest.raises(ValidationError, match="https"):
        Settings(environment="production", public_base_url="http://wallet.example", **secrets)
    with pytest.raises(ValidationError, match="https"):
        Settings(environment="production", **secrets)  # the default is http://host:port
    with pytest.raises(ValidationError, match="dev_tls"):
        Settings(
            environment="production",
            public_base_url="https://wallet.example",
            dev_tls=True,
            **secrets,
        )


def test_tls_makes_the_default_base_url_https(tmp_path: Path) -> None:
    assert Settings(dev_tls=True).public_base_url == "https://127.0.0.1:8000"
    files = {"tls_certfile": tmp_path / "c.pem", "tls_keyfile": tmp_path / "k.pem"}
    assert Settings(**files).public_base_url == "https://127.0.0.1:8000"  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="together"):
        Settings(tls_certfile=tmp_path / "c.pem")


def test_required_attestations_need_trust_anchors(tmp_path: Path) -> None:
    for field in ("wallet_attestation", "wallet_key_attestation"):
        with pytest.raises(ValidationError, match="wallet_trust_anchors"):
            Settings(**{field: "required"})  # type: ignore[arg-type]
        anchors = tmp_path / "anchors.pem"
        assert getattr(Settings(**{field: "required", "wallet_trust_anchors": anchors}), field) == (  # type: ignore[arg-type]
            "required"
        )


def test_dev_passphrase_is_generated_once_with_0600(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "d")
    first = resolve_key_passphrase(s)
    second = resolve_key_passphrase(s)
    assert first == second and len(first) >= 32
    path = tmp_path / "d" / "dev-passphrase"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_configured_passphrase_wins(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, key_passphrase="configured-one")
    assert resolve_key_passphrase(s) == "configured-one"
    assert not (tmp_path / "dev-passphrase").exists()


def test_pkcs11_settings_come_from_the_environment_with_the_pin_never_shown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BUERGERID_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
    monkeypatch.setenv("BUERGERID_PKCS11_TOKEN_LABEL", "buergerid")
    monkeypatch.setenv("BUERGERID_PKCS11_PIN", "4711-0815")
    s = Settings()
    assert (str(s.pkcs11_module), s.pkcs11_token_label) == (
        "/usr/lib/softhsm/libsofthsm2.so",
        "buergerid",
    )
    assert resolve_pkcs11_pin(s) == "4711-0815"
    assert "4711-0815" not in repr(s)


def test_a_token_needs_exactly_one_pin_source(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="needs pkcs11_pin or pkcs11_pin_file"):
        Settings(pkcs11_token_label="buergerid")
    with pytest.raises(ValidationError, match="one or the other"):
        Settings(pkcs11_token_label="t", pkcs11_pin="1", pkcs11_pin_file=tmp_path / "pin")


def test_the_pin_file_must_be_private_and_not_empty(tmp_path: Path) -> None:
    pin = tmp_path / "pin"
    pin.write_text("2468\n")
    pin.chmod(0o600)
    s = Settings(pkcs11_token_label="t", pkcs11_pin_file=pin)
    assert resolve_pkcs11_pin(s) == "2468"
    pin.chmod(0o644)
    with pytest.raises(ValueError, match="readable by others"):
        resolve_pkcs11_pin(s)
    pin.write_text("\n")
    pin.chmod(0o600)
    with pytest.raises(ValueError, match="empty"):
        resolve_pkcs11_pin(s)
    with pytest.raises(ValueError, match="cannot be read"):
        resolve_pkcs11_pin(Settings(pkcs11_token_label="t", pkcs11_pin_file=tmp_path / "none"))


def test_production_with_a_token_needs_no_key_passphrase() -> None:
    s = Settings(
        environment="production",
        database_url="postgresql+psycopg://u@db/b",
        public_base_url="https://bid.example",
        server_secret="s" * 40,
        pkcs11_token_label="buergerid",
        pkcs11_pin="4711",
    )
    assert resolve_key_passphrase(s) == ""  # file keys then refuse: passphrase_required


def test_key_rings_live_in_the_database_in_production_and_in_directories_otherwise(
    tmp_path: Path,
) -> None:
    production = {
        "environment": "production",
        "key_passphrase": "x" * 20,
        "server_secret": "s" * 32,
        "public_base_url": "https://wallet.example",
        "database_url": "postgresql+psycopg://buergerid@db.example/buergerid",
    }
    assert Settings(**production).key_store == "database"  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="production keeps key rings in the database"):
        Settings(**production, key_store="directory")  # type: ignore[arg-type]
    assert Settings(data_dir=tmp_path).key_store == "directory"  # make run: no database server
    with pytest.raises(ValidationError, match="key_store=database needs PostgreSQL"):
        Settings(data_dir=tmp_path, key_store="database")
    assert Settings(database_url=production["database_url"], key_store="database").key_store == (
        "database"
    )
