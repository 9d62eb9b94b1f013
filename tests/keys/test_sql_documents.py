"""The issuing CA and the relying party's identity in the database (keys/storage/sql.py
`SqlDocuments`), on SQLite and PostgreSQL: what the rows hold, chains that validate to the
root, and two processes creating at once ending with one CA and one identity."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest
from cryptography import x509
from sqlalchemy import Engine, select

from keys.errors import CertificateError, KeysCode
from keys.issuing_ca import IssuingCa, issued_chain, x5c_header
from keys.relying_party import ensure_identity, install_chain, open_identity
from keys.signer import generate_private_key
from keys.storage.file import MAGIC, decrypt_private_key
from keys.storage.sql import (
    SqlDocuments,
    SqlRingStore,
    connect,
    key_directories,
    key_directory_files,
)
from keys.x509 import to_pem
from tests.keys.conftest import CHEAP_KDF, T0
from verifier.formats import Alg, jws_kid, validate_x5c

YEAR = 365 * 86400
BASE = "https://ausweis.gelsenkirchen.example"


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = connect(db_url)
    try:
        yield made
    finally:
        made.dispose()


def _ca(engine: Engine, name: str = "ca") -> IssuingCa:
    return IssuingCa.create(
        SqlRingStore(engine).documents(name),
        common_name="GKD Issuing CA",
        organization="GKD",
        now=T0 - 60,
        valid_seconds=10 * YEAR,
        passphrase="ca pass",
        kdf=CHEAP_KDF,
    )


def _files(engine: Engine, directory: str) -> dict[str, bytes]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(key_directory_files.c.name, key_directory_files.c.data).where(
                key_directory_files.c.directory == directory
            )
        ).all()
    return {str(r.name): bytes(r.data) for r in rows}


def test_a_ca_in_the_database_certifies_and_its_rows_hold_only_the_encrypted_key(
    engine: Engine,
) -> None:
    ca = _ca(engine)
    issuer_key = generate_private_key(Alg.ES256)
    kid = jws_kid(issuer_key.public_key())
    (leaf,) = ca.certify(
        issuer_key.public_key(),
        common_name="Gelsenkirchen",
        issuer_url=BASE,
        not_before=T0,
        not_after=T0 + YEAR,
    )
    again = IssuingCa.open(SqlDocuments(engine, "ca"))
    assert again.certificate == ca.certificate
    assert issued_chain(again.path, kid) == (leaf,)
    assert again.issued() == {kid: (leaf,)}
    validate_x5c(x5c_header((leaf,)), [again.certificate], T0 + 10)
    files = _files(engine, "ca")
    assert sorted(files) == ["ca.json", "ca.key", "ca.pem", f"issued/{kid}.pem"]
    assert files["ca.key"].startswith(MAGIC)  # the key file format, under the passphrase
    assert decrypt_private_key(files["ca.key"], "ca pass").public_key() == (
        ca.certificate.public_key()
    )
    with pytest.raises(CertificateError) as twice:
        _ca(engine)
    assert twice.value.code is KeysCode.CA_EXISTS
    with pytest.raises(CertificateError) as missing:
        IssuingCa.open(SqlDocuments(engine, "other"))
    assert missing.value.code is KeysCode.CA_NOT_FOUND
    with pytest.raises(CertificateError) as locked_out:
        IssuingCa.open(SqlDocuments(engine, "ca")).signer()
    assert locked_out.value.code is KeysCode.PASSPHRASE_REQUIRED


def test_the_relying_party_identity_in_the_database(engine: Engine) -> None:
    ca = _ca(engine)
    where = SqlDocuments(engine, "relying-party")
    before = where.version()
    made = ensure_identity(
        where,
        passphrase="server pass",
        ca=ca,
        base_url=BASE,
        common_name="Bürger-ID",
        now=T0,
        kdf=CHEAP_KDF,
    )
    assert before is None and where.version() == 2  # the key, then its chain
    validate_x5c(made.x5c, [ca.certificate], T0 + 10)
    opened = open_identity(where, passphrase="server pass")
    assert opened.x509_hash == made.x509_hash
    assert opened.signer.public_key == made.signer.public_key
    files = _files(engine, "relying-party")
    assert sorted(files) == ["signing.key", "signing.pem"]
    assert files["signing.key"].startswith(MAGIC)
    # a chain that still fits is kept (no write, the version stays)
    kept = ensure_identity(
        where, passphrase="server pass", ca=ca, base_url=BASE, common_name="x", now=T0 + 5
    )
    assert kept.x509_hash == made.x509_hash and where.version() == 2
    # another base URL: a new certificate for the same key
    moved = ensure_identity(
        where,
        passphrase="server pass",
        ca=ca,
        base_url="https://other.example",
        common_name="x",
        now=T0 + 5,
    )
    assert moved.x509_hash != made.x509_hash and moved.signer.public_key == made.signer.public_key
    assert where.version() == 3
    installed = install_chain(where, to_pem(list(made.chain)), passphrase="server pass")
    assert installed.x509_hash == made.x509_hash and where.version() == 4
    foreign = _ca(engine, "ca2").certificate
    with pytest.raises(CertificateError) as mismatch:
        install_chain(where, to_pem([foreign]), passphrase="server pass")
    assert mismatch.value.code is KeysCode.KEY_MISMATCH
    assert where.version() == 4
    with pytest.raises(CertificateError) as missing:
        open_identity(SqlDocuments(engine, "nobody"), passphrase="server pass")
    assert missing.value.code is KeysCode.RP_NOT_FOUND


def test_document_names_are_checked(engine: Engine) -> None:
    where = SqlDocuments(engine, "ca")
    for bad in ("../ca.key", ".hidden", "a/b/c", "", "x" * 300):
        with pytest.raises(Exception) as refused:
            where.read(bad)
        assert getattr(refused.value, "code", None) is KeysCode.BAD_INPUT


CREATOR = """
import sys
from keys.issuing_ca import IssuingCa
from keys.errors import KeysCode, KeysError
from keys.relying_party import ensure_identity
from keys.storage.file import KdfParams
from keys.storage.sql import SqlDocuments, connect
engine = connect(sys.argv[1])
kdf = KdfParams(time_cost=1, memory_kib=8, parallelism=1)
sys.stdin.readline()  # both processes start here together
try:
    ca = IssuingCa.create(SqlDocuments(engine, "ca"), common_name="CA " + sys.argv[2],
                          organization=None, now=1_800_000_000, valid_seconds=10**8,
                          passphrase="ca pass", kdf=kdf)
    made = "made"
except KeysError as exc:
    assert exc.code is KeysCode.CA_EXISTS, exc
    ca = IssuingCa.open(SqlDocuments(engine, "ca"), passphrase="ca pass")
    made = "opened"
rp = ensure_identity(SqlDocuments(engine, "relying-party"), passphrase="p", ca=ca,
                     base_url="https://rp.example", common_name="rp", now=1_800_000_100,
                     kdf=kdf)
print(made, ca.certificate.serial_number, rp.signer.jws_kid)
"""


def test_two_processes_creating_at_once_end_with_one_ca_and_one_identity(
    engine: Engine, db_url: str
) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CREATOR, db_url, str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(2)
    ]
    outs = [p.communicate("go\n", timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outs]
    lines = sorted(o[0].split() for o in outs)
    assert [line[0] for line in lines] == ["made", "opened"]  # the first writer wins
    assert lines[0][1:] == lines[1][1:]  # the same CA serial and the same RP key
    stored = x509.load_pem_x509_certificate(_files(engine, "ca")["ca.pem"])
    assert str(stored.serial_number) == lines[0][1]
    with engine.connect() as conn:
        names = sorted(conn.scalars(select(key_directories.c.name)))
    assert names == ["ca", "relying-party"]
