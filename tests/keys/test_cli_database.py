"""`buergerid-keys` against rings in the database (SQLite and PostgreSQL): the operator's
steps (root ring, tenant ring, rotation, withdrawal, listing, export, a bundle) and the
one-time copy of directory rings into the database."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from keys.cli import run
from keys.ring import KeyRing
from keys.storage.sql import SqlRingStore, connect, key_rings
from tests.keys.conftest import CHEAP_KDF, T0
from verifier.formats import TYP_TRUST_BUNDLE, decode_sign1, verify_signature

PASS = "cli passphrase"
KDF = ["--kdf-time-cost", "1", "--kdf-memory-kib", "8", "--kdf-parallelism", "1"]
AT = ["--at", str(T0)]
SCRIPT = Path(sys.executable).parent / "buergerid-keys"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = connect(db_url)
    try:
        yield made
    finally:
        made.dispose()


def _env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUERGERID_")}
    env |= {"BUERGERID_KEY_PASSPHRASE": PASS, "BUERGERID_DATABASE_URL": db_url}
    return {**env, **extra}


def _run(argv: list[str], env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> str:
    code = run(argv, env, lambda: float(T0))
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_the_operator_steps_on_database_rings(
    db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    env = _env(db_url, BUERGERID_KEY_STORE="database")
    # the console script itself, the URL from the environment only
    made = subprocess.run(
        [str(SCRIPT), "create", "root", "--issuer", "GKD", "--root", *KDF, *AT],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    _run(["create", "05513000", "--issuer", "05513000", "--name", "Gemeinde",
          "--url", "https://g.example", *KDF, *AT],
         env, capsys)  # fmt: skip
    listed = json.loads(_run(["list", "05513000", "--json", *AT], env, capsys))
    assert [k["state"] for k in listed] == ["active"]
    first = listed[0]["kid"]
    rotated = _run(["rotate", "05513000", "--force", *KDF, *AT], env, capsys)
    assert rotated.startswith("pending ES256 ")
    _run(["withdraw", "05513000", first, *AT], env, capsys)
    states = {k["kid"]: k["state"] for k in json.loads(_run(["list", "05513000", "--json", *AT],
                                                           env, capsys))}  # fmt: skip
    assert states[first] == "withdrawn" and sorted(states.values()) == ["pending", "withdrawn"]
    jwks = json.loads(_run(["export-public", "05513000", *AT], env, capsys))
    assert [k["kid"] for k in jwks["keys"]] != [first] and len(jwks["keys"]) == 1
    # the issuing CA (files) certifies the database ring's published key
    ca_dir = str(tmp_path / "ca")
    _run(["ca", "create", ca_dir, "--name", "GKD Issuing CA", *KDF, *AT], env, capsys)
    certified = [json.loads(line) for line in _run(
        ["ca", "certify", ca_dir, "05513000", *AT], env, capsys).splitlines()]  # fmt: skip
    assert [c["kid"] for c in certified] == [k["kid"] for k in jwks["keys"]]
    out = tmp_path / "out" / "bundle.cbor"
    out.parent.mkdir()
    cwd_before = sorted(Path.cwd().iterdir())
    said = _run(["bundle", "--root", "root", "--issuer", "05513000", "--out", str(out), *AT],
                env, capsys)  # fmt: skip
    assert said.startswith("bundle seq 1:")
    assert decode_sign1(out.read_bytes()).content_type == TYP_TRUST_BUNDLE
    # everything is in the database, nothing on disk
    assert SqlRingStore(engine).names() == ["05513000", "root"]
    assert [p.name for p in out.parent.iterdir()] == ["bundle.cbor"]
    assert sorted(Path.cwd().iterdir()) == cwd_before
    with engine.connect() as conn:
        root = conn.scalar(select(key_rings.c.metadata).where(key_rings.c.name == "root"))
    assert root is not None and json.loads(root)["bundle_seq"] == 1


def test_production_means_the_database_and_a_url_is_needed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = {"BUERGERID_ENVIRONMENT": "production", "BUERGERID_KEY_PASSPHRASE": PASS}
    assert run(["list", "root", *AT], env, lambda: float(T0)) == 2
    assert "set BUERGERID_DATABASE_URL" in capsys.readouterr().err


def _dir_ring(keys_dir: Path, name: str) -> KeyRing:
    ring = KeyRing.create(keys_dir / name, name, passphrase=PASS, kdf=CHEAP_KDF)
    ring.add_key(nbf=T0, sign_until=T0 + 86_400, exp=T0 + 2 * 86_400)
    return ring


def test_import_rings_copies_once_and_never_touches_other_rings(
    db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    keys_dir = tmp_path / "keys"
    a, b = _dir_ring(keys_dir, "05513000"), _dir_ring(keys_dir, "05562032")
    (keys_dir / "ca").mkdir()  # an issuing CA directory is no ring
    # already in the database under a name of the directory, but another ring: left alone
    other = KeyRing.create(SqlRingStore(engine).ring("05562032"), "05562032", passphrase=PASS,
                           kdf=CHEAP_KDF)  # fmt: skip
    elsewhere = KeyRing.create(SqlRingStore(engine).ring("root"), "root", passphrase=PASS,
                               kdf=CHEAP_KDF)  # fmt: skip
    with engine.connect() as conn:
        before = dict(conn.execute(select(key_rings.c.name, key_rings.c.metadata)).all())
    env = _env(db_url)
    assert run(["import-rings", str(keys_dir), *AT], env, lambda: float(T0)) == 2
    out = capsys.readouterr().out
    assert "05513000: copied (1 key(s), 1 key file(s))" in out
    assert "05562032: a different ring of that name is in the database; left alone" in out
    with engine.connect() as conn:
        after = dict(conn.execute(select(key_rings.c.name, key_rings.c.metadata)).all())
    assert after["05562032"] == before["05562032"] and after["root"] == before["root"]
    assert other.records(T0) == [] and elsewhere.records(T0) == []
    # the copied ring signs with the same key, decrypted from the copied key file
    copied = KeyRing.open(SqlRingStore(engine).ring("05513000"), passphrase=PASS)
    signer = copied.signer_for(T0, "BEW")
    assert signer.jws_kid == a.records(T0)[0].kid
    verify_signature(a.records(T0)[0].public_key, signer.alg, b"m", signer.sign(b"m"))
    # again: nothing changes
    assert run(["import-rings", str(keys_dir), *AT], env, lambda: float(T0)) == 2
    assert "05513000: already in the database" in capsys.readouterr().out
    with engine.connect() as conn:
        again = dict(conn.execute(select(key_rings.c.name, key_rings.c.metadata)).all())
    assert again == after
    assert b.records(T0)  # the directory rings are left as they were
    assert (keys_dir / "05513000" / "ring.json").is_file()


def test_the_issuing_ca_by_name_in_the_database(
    db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from cryptography import x509

    from keys.issuing_ca import IssuingCa
    from keys.storage.sql import SqlDocuments
    from verifier.formats import validate_x5c

    env = _env(db_url, BUERGERID_KEY_STORE="database")
    cwd_before = sorted(Path.cwd().iterdir())
    _run(["create", "05513000", "--issuer", "05513000", "--url", "https://gk.example", *KDF,
          *AT], env, capsys)  # fmt: skip
    _run(["ca", "create", "ca", "--name", "GKD Issuing CA", *KDF, *AT], env, capsys)
    assert run(["ca", "create", "ca", "--name", "Another", *KDF, *AT], env, lambda: T0) == 2
    assert "ca_exists" in capsys.readouterr().err  # the first CA stays the only one
    (cert,) = [json.loads(line) for line in _run(
        ["ca", "certify", "ca", "05513000", *AT], env, capsys).splitlines()]  # fmt: skip
    shown = json.loads(_run(["ca", "show", "ca", "--json", *AT], env, capsys))
    assert list(shown["issued"]) == [cert["kid"]]
    root = x509.load_pem_x509_certificate(_run(["ca", "export", "ca"], env, capsys).encode())
    ca = IssuingCa.open(SqlDocuments(engine, "ca"))
    assert ca.certificate == root
    (chain,) = ca.issued().values()
    validate_x5c([c for c in _x5c(chain)], [root], T0 + 10)
    assert sorted(Path.cwd().iterdir()) == cwd_before and not (Path.cwd() / "ca").exists()


def _x5c(chain: tuple[object, ...]) -> list[str]:
    from keys.issuing_ca import x5c_header

    return x5c_header(chain)  # type: ignore[arg-type]


def test_import_rings_copies_the_ca_and_the_relying_party_once(
    db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from keys.issuing_ca import IssuingCa
    from keys.relying_party import ensure_identity, open_identity
    from keys.storage.sql import SqlDocuments

    keys_dir = tmp_path / "keys"
    _dir_ring(keys_dir, "05513000")
    ca = IssuingCa.create(keys_dir / "ca", common_name="CA", organization=None, now=T0,
                          valid_seconds=10**8, passphrase=PASS, kdf=CHEAP_KDF)  # fmt: skip
    rp = ensure_identity(keys_dir / "relying-party", passphrase=PASS, ca=ca,
                         base_url="https://rp.example", common_name="rp", now=T0 + 60,
                         kdf=CHEAP_KDF)  # fmt: skip
    # a different relying party already in the database under that name: left alone
    other_ca = IssuingCa.create(SqlDocuments(engine, "other-ca"), common_name="other",
                                organization=None, now=T0, valid_seconds=10**8, passphrase=PASS,
                                kdf=CHEAP_KDF)  # fmt: skip
    theirs = ensure_identity(SqlDocuments(engine, "relying-party"), passphrase=PASS,
                             ca=other_ca, base_url="https://rp.example", common_name="rp",
                             now=T0 + 60, kdf=CHEAP_KDF)  # fmt: skip
    env = _env(db_url)
    assert run(["import-rings", str(keys_dir), *AT], env, lambda: float(T0)) == 2
    out = capsys.readouterr().out
    assert "ca/: copied (3 file(s))" in out
    assert "relying-party/: a different relying-party is in the database; left alone" in out
    kept = open_identity(SqlDocuments(engine, "relying-party"), passphrase=PASS)
    assert kept.x509_hash == theirs.x509_hash != rp.x509_hash
    copied = IssuingCa.open(SqlDocuments(engine, "ca"), passphrase=PASS)
    assert copied.certificate == ca.certificate
    assert copied.signer().public_key == ca.signer().public_key
    assert run(["import-rings", str(keys_dir), "--key-dir", "ca", *AT], env,
               lambda: float(T0)) == 0  # fmt: skip
    assert "ca/: already in the database" in capsys.readouterr().out
    assert (keys_dir / "ca" / "ca.key").is_file()  # the directories stay as they were


def test_a_registrar_certifies_the_relying_party_through_the_cli(
    db_url: str, engine: Engine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import base64
    import hashlib

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from keys.issuing_ca import IssuingCa
    from keys.relying_party import open_identity
    from keys.storage.sql import SqlDocuments
    from keys.x509 import access_certificate, to_pem

    env = _env(db_url, BUERGERID_KEY_STORE="database")
    assert run(["rp", "show", "relying-party", *AT], env, lambda: T0) == 2
    assert "rp_not_found" in capsys.readouterr().err
    base = "https://buergerid.gelsenkirchen.example"
    ask = ["rp", "request", "relying-party", "--base-url", base, "--name", "Stadt GE"]
    request = x509.load_pem_x509_csr(_run(ask, env, capsys).encode())
    assert request.is_signature_valid
    names = request.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["buergerid.gelsenkirchen.example"]
    assert names.get_values_for_type(x509.UniformResourceIdentifier) == [base]
    # a second request is for the same key: the key is made once
    again = x509.load_pem_x509_csr(_run(ask, env, capsys).encode())
    assert again.public_key() == request.public_key()

    # the registrar (its own CA, elsewhere) certifies the requested key
    registrar = IssuingCa.create(tmp_path / "registrar", common_name="Registrar",
                                 organization=None, now=T0, valid_seconds=10**8, passphrase="r",
                                 kdf=CHEAP_KDF)  # fmt: skip
    requested = request.public_key()
    assert isinstance(requested, ec.EllipticCurvePublicKey)
    leaf = access_certificate(registrar.signer(), registrar.certificate, requested,
                              common_name="Stadt GE", base_url=base, not_before=T0,
                              not_after=T0 + 10**7)  # fmt: skip
    chain_file = tmp_path / "chain.pem"
    chain_file.write_bytes(to_pem([leaf]))
    installed = json.loads(_run(["rp", "install", "relying-party", str(chain_file), *AT],
                                env, capsys))  # fmt: skip
    digest = hashlib.sha256(leaf.public_bytes(serialization.Encoding.DER)).digest()
    x509_hash = "x509_hash:" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert installed["client_ids"] == {
        "x509_hash": x509_hash,
        "x509_san_dns": "x509_san_dns:buergerid.gelsenkirchen.example",
    }
    shown = json.loads(_run(["rp", "show", "relying-party", "--json", *AT], env, capsys))
    assert shown["client_ids"] == installed["client_ids"] and shown["valid_now"] is True
    assert shown["issuer"] == registrar.certificate.subject.rfc4514_string()
    text = _run(["rp", "show", "relying-party", "--at", str(T0 + 10**7 + 1)], env, capsys)
    assert x509_hash in text and "NOT valid now" in text
    identity = open_identity(SqlDocuments(engine, "relying-party"), passphrase=PASS)
    assert identity.client_id("x509_hash") == x509_hash

    # a chain for another key is refused, and the installed one stays
    stranger = registrar.signer().public_key
    other = access_certificate(registrar.signer(), registrar.certificate, stranger,
                               common_name="x", base_url=base, not_before=T0,
                               not_after=T0 + 10**7)  # fmt: skip
    chain_file.write_bytes(to_pem([other]))
    assert run(["rp", "install", "relying-party", str(chain_file), *AT], env, lambda: T0) == 2
    assert "key_mismatch" in capsys.readouterr().err
    kept = json.loads(_run(["rp", "show", "relying-party", "--json", *AT], env, capsys))
    assert kept["client_ids"] == installed["client_ids"]
