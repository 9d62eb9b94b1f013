"""The relying party with the database key store (PostgreSQL): the issuing CA and the
request-signing identity are rows of the database, not files. Over real HTTPS a wallet
resolves a request object signed by that identity (its x5c chain validates to the CA's
root read from the database), the server decrypts the encrypted response, and the issued
Bürger-ID carries an x5c chain certified by the CA in the database; a second
instance with its own empty data directory uses the very same identity, and no data
directory holds key material."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from sqlalchemy import select

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from keys.storage.file import MAGIC
from keys.storage.sql import connect, key_directory_files
from tests.support.db import make_test_settings
from tests.support.key_material import key_material
from tests.wallet_api.rp_harness import AGS, rp_env
from verifier.formats import peek_jws_header, validate_x5c
from wallet_api.app import create_combined_app

HARNESS_TLS = "dev-tls"
"""The harness's own HTTPS certificate and key (not the application's signing keys)."""


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return make_test_settings(db_url, tmp_path / "data-a", key_store="database")


def test_the_key_material_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.key").write_bytes(MAGIC + b"\x01rest")
    (tmp_path / "b.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    (tmp_path / "c").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "keys").mkdir()
    (tmp_path / "ring.json").write_bytes(b"{}")
    (tmp_path / "plain.txt").write_bytes(b"nothing")
    (tmp_path / "dev-tls").mkdir()
    (tmp_path / "dev-tls" / "server.key").write_bytes(b"-----BEGIN PRIVATE KEY-----\n")
    assert key_material(tmp_path, skip=(HARNESS_TLS,)) == [
        "a/x.key",
        "b.pem",
        "c",
        "keys",
        "ring.json",
    ]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_ca_and_rp_identity_from_the_database_sign_and_decrypt_over_https(
    settings: Settings, clock: FixedClock, tmp_path: Path, db_url: str
) -> None:
    with rp_env(settings, clock, tmp_path) as env:
        wallet, presenter = env.wallet()
        env.give_pid(wallet)
        browser = env.browser()
        started = env.open(browser, f"/rp/buergerid/{AGS}")
        # the request object: signed by the identity in the database, x5c valid to the root
        request = presenter.resolve(started.same_device)
        first = env.app.state.relying_party.identity()
        assert request.client_id == f"x509_hash:{first.x509_hash}"
        # the response: encrypted to the transaction's key, decrypted by the server
        redirect = presenter.respond(request)
        assert redirect is not None and "response_code=" in redirect
        page = browser.get(redirect)
        assert page.status_code == 200, page.text
        assert "Ihre Bürger-ID liegt bereit" in page.text
        stored = wallet.redeem(env.offer_link(page), tx_code=None)
        assert [c.kind for c in stored] == ["residence"]
        # the root the server publishes is the CA's in the database, and the Bürger-ID's
        # x5c chain (certified by that CA on first use) validates to it
        root = browser.get("/wallet/issuing-ca.pem")
        assert root.status_code == 200
        anchor = x509.load_pem_x509_certificate(root.content)
        sd_jwt = stored[0].sd_jwt
        assert sd_jwt is not None
        header = peek_jws_header(sd_jwt.split("~", 1)[0])
        validate_x5c(header["x5c"], [anchor], int(clock.now().timestamp()))
        engine = connect(db_url)
        try:
            with engine.connect() as conn:
                rows = dict(
                    conn.execute(
                        select(
                            key_directory_files.c.directory + "/" + key_directory_files.c.name,
                            key_directory_files.c.data,
                        )
                    ).all()
                )
        finally:
            engine.dispose()
        assert {"ca/ca.json", "ca/ca.key", "ca/ca.pem"} <= set(rows)
        assert any(name.startswith("ca/issued/") for name in rows)
        assert {"relying-party/signing.key", "relying-party/signing.pem"} <= set(rows)
        assert bytes(rows["ca/ca.pem"]) == root.content
        assert bytes(rows["relying-party/signing.key"]).startswith(MAGIC)
        # a second instance, its own empty data directory: the same identity, not a new one
        other_dir = tmp_path / "data-b"
        other = create_combined_app(
            env.settings.model_copy(update={"data_dir": other_dir}), clock=clock
        )
        try:
            second = other.state.relying_party.identity()
        finally:
            other.state.keys.close()
        assert second.x509_hash == first.x509_hash
        assert second.signer.public_key == first.signer.public_key
        scanned = [d for d in (settings.data_dir, other_dir) if d.exists()]
        assert settings.data_dir in scanned  # the scan looks at a real directory
        assert [key_material(d, skip=(HARNESS_TLS,)) for d in scanned] == [[] for _ in scanned]
