"""The running service signs in a PKCS#11 token (SoftHSM2), on PostgreSQL.

As an operator sets it up: a token, `BUERGERID_PKCS11_*` settings (the PIN in a 0600 file),
the root ring made with `buergerid-keys create --backend pkcs11`, a tenant and an API client
made with `buergerid-issuer`, then `serve` and `worker --once` as processes of their own, each
logged in to the token.

Over real HTTP: a permit is issued (its QR signed in the token), offered and redeemed by
the phone's stand-in (an SD-JWT VC signed in the token), the trust bundle (root key in the
token), status lists and the plate index (signed in the token) are synced by the officer's
`buergerid-verify`, which finds the permit valid; it is revoked, the handheld re-syncs and
finds it revoked, and the SD-JWT VC's status list says so too. The server's signing metric
counts PKCS#11 signatures only. The job runner's key_rotation job and `keys rotate` make the
next keys in the token; withdrawing one destroys it there. With a wrong PIN the service is
not ready (`pkcs11_login`) and issuing answers 503 `no_signing_key`. The rings live in the
database (`key_store=database`, as in production). Afterwards no private key is on disk nor
in the database's key store: no key file or blob, no PEM, PKCS#8 or SEC1 encoding, no raw
scalar of any of the rings' keys.
"""

from __future__ import annotations

import base64
import binascii
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, select

from issuer.settings import Settings
from keys.issuing_ca import IssuingCa
from keys.ring import KeyRing
from keys.storage.sql import (
    SqlRingStore,
    connect,
    key_directories,
    key_directory_files,
    key_ring_blobs,
    key_rings,
)
from mobile_sdk_stub.client import WalletClient
from tests.support.db import make_test_settings
from tests.support.handheld import verify
from tests.support.http import HTTP_TIMEOUT
from tests.support.processes import (
    BUERGERID_ISSUER,
    free_port,
    settings_env,
    start,
    stop,
    wait_http,
)
from tests.support.softhsm import SoftHsm, init_token
from verifier.formats import (
    PublicKey,
    decode_status_list_jwt,
    key_to_jwk,
    peek_jws_header,
    validate_x5c,
)
from verifier.sdjwt import verify_sd_jwt_vc

AGS = "05562032"
BIN = Path(sys.executable).parent
KEYS = str(BIN / "buergerid-keys")
OFFICER = "https://handheld.example"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
PRIVATE_ENCODINGS = {
    b"PRIVATE KEY-----": "PEM private key",
    b"\x02\x01\x00\x30\x13\x06\x07\x2a\x86\x48\xce\x3d\x02\x01": "PKCS#8 EC key",
    b"\x30\x05\x06\x03\x2b\x65\x70\x04\x22\x04\x20": "PKCS#8 Ed25519 key",
    b"\x02\x01\x01\x04\x20": "SEC1 EC private key",
    b"BIDKEY": "encrypted key file",
}


def _run(argv: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def _public_of(candidate: bytes, ed: bool) -> bytes | None:
    """The public key (raw point) whose P-256 scalar or Ed25519 seed `candidate` would be."""
    if ed:
        private = ed25519.Ed25519PrivateKey.from_private_bytes(candidate)
        return private.public_key().public_bytes_raw()
    value = int.from_bytes(candidate, "big")
    if not 0 < value < P256_ORDER:
        return None
    public = ec.derive_private_key(value, ec.SECP256R1()).public_key()
    return public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _raw(public: PublicKey) -> tuple[bool, bytes]:
    if isinstance(public, ed25519.Ed25519PublicKey):
        return True, public.public_bytes_raw()
    return False, public.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def _strings(doc: Any) -> Iterator[str]:
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for key, value in doc.items():
            yield key
            yield from _strings(value)
    elif isinstance(doc, list):
        for item in doc:
            yield from _strings(item)


def _decoded(text: str) -> Iterator[bytes]:
    """`text` read as hex and as base64url, where it is either."""
    try:
        yield bytes.fromhex(text)
    except ValueError:
        pass
    try:
        yield base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, binascii.Error):
        pass


def private_key_traces(root: Path, publics: list[PublicKey]) -> list[str]:
    """Every file under `root` holding a private key encoding, or a raw (or hex/base64url in
    JSON) 32-byte scalar of one of `publics`."""
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path.name}: {what}" for marker, what in PRIVATE_ENCODINGS.items()
                  if marker in data]  # fmt: skip
        candidates = {data[i : i + 32] for i in range(max(0, len(data) - 31))}
        try:
            candidates |= {b for s in _strings(json.loads(data)) for b in _decoded(s)}
        except ValueError:
            pass
        wanted = {_raw(k) for k in publics}
        found += [
            f"{path.name}: raw private key"
            for c in candidates
            for ed in {ed for ed, _ in wanted}
            if len(c) == 32 and (ed, _public_of(c, ed)) in wanted
        ]
    return found


def export_key_store(engine: Engine, out: Path) -> list[Path]:
    """Every ring's metadata, every key blob and every document of the key directories (the
    issuing CA, the relying party's identity) of the database, one file each (for the scan
    above)."""
    out.mkdir(parents=True)
    files = []
    with engine.connect() as conn:
        for n, row in enumerate(conn.execute(select(key_rings.c.metadata))):
            files.append(out / f"ring{n}.json")
            files[-1].write_text(row.metadata)
        for n, row in enumerate(conn.execute(select(key_ring_blobs.c.data))):
            files.append(out / f"blob{n}.bin")
            files[-1].write_bytes(bytes(row.data))
        for n, row in enumerate(conn.execute(select(key_directory_files.c.data))):
            files.append(out / f"document{n}.bin")
            files[-1].write_bytes(bytes(row.data))
    return files


def test_the_key_scan_of_the_database_finds_a_private_key(tmp_path: Path) -> None:
    """The database half of the scan finds a key planted in a blob, in ring metadata or in a
    key directory's document."""
    from issuer.migrations import upgrade

    url = f"sqlite:///{tmp_path / 'k.db'}"
    upgrade(url)
    engine = connect(url)
    try:
        private = ec.generate_private_key(ec.SECP256R1())
        scalar = private.private_numbers().private_value.to_bytes(32, "big")
        with engine.begin() as conn:
            conn.execute(
                key_rings.insert().values(
                    name="r", issuer_id="r", version=1, metadata=json.dumps({"d": scalar.hex()})
                )
            )
            conn.execute(key_ring_blobs.insert().values(ring="r", name="k", data=b"z" + scalar))
            conn.execute(key_directories.insert().values(name="ca", version=1))
            conn.execute(
                key_directory_files.insert().values(directory="ca", name="ca.json", data=scalar)
            )
        export_key_store(engine, tmp_path / "export")
    finally:
        engine.dispose()
    traces = private_key_traces(tmp_path / "export", [private.public_key()])
    assert traces == [
        "blob0.bin: raw private key",
        "document0.bin: raw private key",
        "ring0.json: raw private key",
    ]


def test_the_key_scan_finds_a_private_key(tmp_path: Path) -> None:
    """The scan of the end-to-end test below finds what it looks for."""
    private = ec.generate_private_key(ec.SECP256R1())
    scalar = private.private_numbers().private_value.to_bytes(32, "big")
    (tmp_path / "a.bin").write_bytes(b"x" * 7 + scalar + b"y" * 5)
    (tmp_path / "b.json").write_text(json.dumps({"d": scalar.hex()}))
    (tmp_path / "c.json").write_text(json.dumps({"x": "only public"}))
    traces = private_key_traces(tmp_path, [private.public_key()])
    assert traces == ["a.bin: raw private key", "b.json: raw private key"]


def _token_key_ids(hsm: SoftHsm) -> set[str]:
    """The CKA_IDs (hex) of the private keys on the token, read by a process of its own."""
    program = (
        "import sys, pkcs11\n"
        "from pkcs11 import Attribute, ObjectClass\n"
        "token = pkcs11.lib(sys.argv[1]).get_token(token_label=sys.argv[2])\n"
        "with token.open(user_pin=sys.argv[3]) as s:\n"
        "    for k in s.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY}):\n"
        "        print(bytes(k[Attribute.ID]).hex())\n"
    )
    out = _run([sys.executable, "-c", program, hsm.module, hsm.token_label, hsm.pin], hsm.env())
    return set(out.split())


def _sync(http: httpx.Client, handheld: Path, path: str, name: str, **kw: Any) -> None:
    r = http.get(path, **kw)
    assert r.status_code == 200, r.text
    (handheld.parent / name).write_bytes(r.content)
    code, out = verify(handheld, "sync", str(handheld.parent / name))
    assert code == 0, out


def _applicant(http: httpx.Client, plate: str) -> dict[str, Any]:
    """A new resident of zone A3 with a car: the body of their permit application."""
    residence = {"kind": "main", "street": "Hauptstraße", "house_number": "13",
                 "postcode": "45657", "valid_from": "2020-01-01"}  # fmt: skip
    person = {"given_name": "Erika", "family_name": "Mustermann", "residences": [residence]}
    r = http.post("/api/v1/residents", json={"external_ref": plate.replace(" ", "-"), **person})
    assert r.status_code == 201, r.text
    resident = r.json()["id"]
    r = http.post("/api/v1/vehicles", json={"plate": plate, "holder_id": resident})
    assert r.status_code == 201, r.text
    return {"resident_id": resident, "zones": ["A3"], "vehicle_ids": [r.json()["id"]],
            "display_required": False}  # fmt: skip


@pytest.fixture
def hsm_settings(db_url: str, tmp_path: Path) -> tuple[Settings, SoftHsm]:
    hsm = init_token(tmp_path / "softhsm")
    pin_file = tmp_path / "pkcs11-pin"
    pin_file.write_text(hsm.pin + "\n")
    pin_file.chmod(0o600)
    port = free_port()
    settings = make_test_settings(
        db_url,
        tmp_path / "data",
        port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        pkcs11_module=hsm.module,
        pkcs11_token_label=hsm.token_label,
        pkcs11_pin_file=pin_file,
        key_store="database",
    )
    return settings, hsm


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)  # the production engine
def test_the_whole_story_signed_in_softhsm_with_no_private_key_on_disk(
    hsm_settings: tuple[Settings, SoftHsm], tmp_path: Path
) -> None:
    settings, hsm = hsm_settings
    base = settings.public_base_url
    env = {**settings_env(settings), "SOFTHSM2_CONF": str(hsm.conf)}
    metrics_port = free_port()
    root_ring, tenant_ring = "root", AGS
    _run([BUERGERID_ISSUER, "migrate"], env)
    # buergerid-keys: the database from BUERGERID_DATABASE_URL, as BUERGERID_KEY_STORE says
    assert env["BUERGERID_KEY_STORE"] == "database"
    _run([KEYS, "create", root_ring, "--issuer", "GKD", "--root", "--backend", "pkcs11"], env)
    # the issuing CA: its key in the token, its certificate and handle in the database
    _run([KEYS, "ca", "create", "ca", "--name", "GKD Issuing CA", "--backend", "pkcs11"], env)
    created = _run(
        [BUERGERID_ISSUER, "tenant", "create", "--ags", AGS, "--name", "Stadt Recklinghausen",
         "--issuer-url", f"https://bid.gkd.example/issuers/{AGS}"], env,
    )  # fmt: skip
    assert f"tenant {AGS} created" in created
    client = _run(
        [BUERGERID_ISSUER, "client", "create", "--tenant", AGS, "--name", "Fachverfahren",
         "--scopes", "registry:write,permits:issue,permits:revoke,enforcement:read"], env,
    )  # fmt: skip
    token = next(line.split()[1] for line in client.splitlines() if line.startswith("token"))
    now = int(datetime.now(UTC).timestamp())
    engine = connect(settings.database_url)
    cleanup = ExitStack()
    cleanup.callback(engine.dispose)
    store = SqlRingStore(engine)
    rings = {name: KeyRing.open(store.ring(name)) for name in (root_ring, tenant_ring)}
    for ring in rings.values():
        assert {k.backend.value for k in ring.records(now)} == {"pkcs11"}
    assert len(_token_key_ids(hsm)) == 3  # root, tenant, issuing CA
    ca = IssuingCa.open(store.documents("ca"))
    assert ca.backend.value == "pkcs11"

    logs = tmp_path / "logs"
    logs.mkdir()
    serve_env = {**env, "BUERGERID_METRICS_PORT": str(metrics_port)}
    server = start("serve", [BUERGERID_ISSUER, "serve"], serve_env, logs)
    handheld = tmp_path / "handheld" / "store"
    handheld.parent.mkdir()
    with ExitStack() as stack:
        stack.callback(stop, [server])
        wait_http(server, f"{base}/healthz")
        headers = {"Authorization": f"Bearer {token}"}
        http = httpx.Client(base_url=base, timeout=60, headers=headers)
        stack.callback(http.close)
        assert http.get("/readyz").status_code == 200, http.get("/readyz").text
        r = http.post(
            "/api/v1/zones",
            json={
                "code": "A3",
                "name": "Altstadt",
                "segments": [{"street": "Hauptstraße", "number_from": 1, "number_to": 99}],
            },
        )
        assert r.status_code == 201, r.text
        r = http.post("/api/v1/permits", json=_applicant(http, "RE-HS 11"))
        assert r.status_code == 201, r.text  # 503 no_signing_key before the token was used
        permit = r.json()
        offer = http.post("/api/v1/offers", json={"kind": "permit", "permit_id": permit["id"]})
        assert offer.status_code == 201, offer.text
        with WalletClient(base, tmp_path / "phone") as wallet:
            (stored,) = wallet.redeem(offer.json()["credential_offer_url"], offer.json()["tx_code"])
            presentation = wallet.present(stored.id, [("plates",)], aud=OFFICER, nonce="n-1")
        assert stored.sd_jwt is not None and stored.qr_text is not None
        # the CA key in the token certified the tenant key on first use: x5c to the root
        x5c = peek_jws_header(stored.sd_jwt.split("~", 1)[0])["x5c"]
        validate_x5c(x5c, [ca.certificate], int(datetime.now(UTC).timestamp()))
        assert store.documents("ca").names("issued")  # the certificate is in the database

        # the worker signs the trust bundle (root key) and the plate index in the token, and
        # its key_rotation job makes the successor of a key that stops signing within the
        # lead (here: the tenant's, which signs 365 days) in the token too
        lead = {"BUERGERID_KEY_ROTATION_LEAD_SECONDS": str(400 * 86400)}
        worked = _run([BUERGERID_ISSUER, "worker", "--once"], {**env, **lead})
        assert "trust_bundle: ok" in worked and "plate_indexes: ok built=1" in worked
        assert "key_rotation: ok rotated=1" in worked
        assert len(_token_key_ids(hsm)) == 4  # root, tenant, its successor, issuing CA

        # the officer's handheld: pin the root, sync, check the QR and the plate
        anchor = tmp_path / "root.jwk"
        anchor.write_text(json.dumps(key_to_jwk(rings[root_ring].records(now)[0].public_key)))
        assert verify(handheld, "trust", "add-anchor", str(anchor))[0] == 0
        _sync(http, handheld, "/trust-bundle", "bundle1.cbor")
        _sync(http, handheld, "/api/v1/enforcement/plate-index", "index1.cbor")
        at = str(int(datetime.now(UTC).timestamp()))
        for qr in (permit["qr"], stored.qr_text):
            code, out = verify(handheld, "check", "--json", "--at", at, "--zone", "A3", qr)
            assert (code, out["outcome"]) == (0, "valid"), out
        code, out = verify(handheld, "plate", "--json", "--at", at, "--zone", "A3", "RE-HS 11")
        assert (code, out["outcome"]) == (0, "valid"), out

        # the SD-JWT VC and its status list, verified with the tenant's public keys
        issuer_keys = {k.kid: k.public_key for k in rings[tenant_ring].published(now)}
        verified = verify_sd_jwt_vc(
            presentation, issuer_key=issuer_keys[peek_jws_header(stored.sd_jwt)["kid"]],
            now=int(at), require_key_binding=True, expected_aud=OFFICER, expected_nonce="n-1",
        )  # fmt: skip
        assert verified.claims["plates"] == ["RE-HS 11"] and verified.status is not None

        def credential_status() -> int:
            assert verified.status is not None
            served = httpx.get(
                verified.status.uri,
                headers={"Accept": "application/statuslist+jwt"},
                timeout=HTTP_TIMEOUT,
            ).text
            signed = decode_status_list_jwt(served, issuer_keys[peek_jws_header(served)["kid"]])
            return int(signed.status_list.get(verified.status.idx))

        assert credential_status() == 0

        # revoke → re-sync → revoked, on the handheld and in the credential's status list
        r = http.post(f"/api/v1/permits/{permit['id']}/revoke", json={"reason": "misuse"})
        assert r.status_code == 200, r.text
        _sync(http, handheld, "/trust-bundle", "bundle2.cbor")
        code, out = verify(handheld, "check", "--json", "--at", at, permit["qr"])
        assert (code, out["reason"]) == (1, "revoked"), out
        assert credential_status() == 1

        # the server's own count: every signature it made was made in the token
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=HTTP_TIMEOUT).text
        signatures = {
            s.labels["backend"]: s.value
            for family in text_string_to_metric_families(scraped)
            if family.name == "buergerid_signing_duration_seconds"
            for s in family.samples
            if s.name.endswith("_count")
        }
        assert signatures.get("pkcs11", 0) >= 3 and signatures.get("software", 0) == 0, signatures
    assert server.proc.returncode == 0, server.output()[1][-3000:]

    # `keys rotate` makes the next key in the token; withdrawing it destroys it there
    before = _token_key_ids(hsm)
    rotated = _run([BUERGERID_ISSUER, "keys", "rotate", "--tenant", AGS, "--force"], env)
    assert "new pending key" in rotated
    records = rings[tenant_ring].records(now)
    assert len(records) == 3 and {k.backend.value for k in records} == {"pkcs11"}
    with engine.connect() as conn:
        metadata = conn.scalar(select(key_rings.c.metadata).where(key_rings.c.name == AGS))
    ids = {e["kid"]: e["ref"]["id"] for e in json.loads(str(metadata))["keys"]}
    [new] = [k for k in records if ids[k.kid] not in before]
    assert _token_key_ids(hsm) == before | {ids[new.kid]}
    _run([KEYS, "withdraw", tenant_ring, new.kid], env)
    assert _token_key_ids(hsm) == before
    assert rings[tenant_ring].find(new.kid, now).withdrawn_at is not None

    # a refused PIN: not ready, with the reason, and issuing answers 503, not 500
    pin_file = settings.pkcs11_pin_file
    assert pin_file is not None
    pin_file.write_text("000000\n")
    refused = start("serve-wrong-pin", [BUERGERID_ISSUER, "serve"], env, logs)
    try:
        wait_http(refused, f"{base}/healthz")
        ready = httpx.get(f"{base}/readyz", timeout=HTTP_TIMEOUT)
        assert ready.status_code == 503
        assert {"check": "root_ring", "code": "pkcs11_login"} in ready.json()["errors"]
        with httpx.Client(base_url=base, timeout=60, headers=headers) as http:
            r = http.post("/api/v1/permits", json=_applicant(http, "RE-HS 12"))
        assert r.status_code == 503 and r.json()["code"] == "no_signing_key", r.text
    finally:
        stop([refused])
    assert "000000" not in "".join(refused.output())

    # no private key bytes in the database's key store nor anywhere under the data directory
    publics = [k.public_key for ring in rings.values() for k in ring.records(now)]
    assert len(publics) == 4
    publics.append(ca.certificate.public_key())
    with cleanup:
        assert store.names() == [AGS, "root"] and store.count_blobs() == 0  # no key file
        assert "ca.key" not in store.documents("ca").everything()
        exported = export_key_store(engine, tmp_path / "key-store")
    assert len(exported) >= 4  # two rings, the CA's ca.json and ca.pem (and what it issued)
    assert private_key_traces(tmp_path / "key-store", publics) == []
    assert not settings.keys_dir.exists()
    for path in (p for p in settings.data_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        assert not [what for marker, what in PRIVATE_ENCODINGS.items() if marker in data], path
