"""Independently written libraries against a `make run`-like server: the development
bootstrap (issuing CA, demo tenant whose issuer URL this server answers, local TLS CA),
served by uvicorn on 127.0.0.1 over https, embedded SQLite.

- @openid4vc/openid4vci (Node.js) is the wallet: it resolves offers (by value and by
  reference), the metadata, gets tokens and the permit, its QR token and the Bürger-ID,
  waits for a permit awaiting payment (deferred issuance);
- @sd-jwt/sd-jwt-vc verifies the SD-JWT VCs with keys discovered from their `iss`, reads
  their Type Metadata and their status (@sd-jwt/jwt-status-list), and presents them; our
  verifier checks the presentation; python-cwt verifies the `BID1:` token from the
  published keys;
- with the HAIP settings (DPoP and wallet attestations required, x5c required), the same
  wallet with DPoP and a wallet attestation succeeds and one without is refused.

The libraries run without any of their lenient options (https only). Node.js and the
modules (`npm ci` in tests/interop/node) are required: missing, the tests fail when
BUERGERID_REQUIRE_NODE=1 (CI) and are skipped otherwise.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from issuer.devserver import bootstrap_dev
from issuer.settings import Settings
from tests.support.http import live_server
from tests.wallet_api.support import ProofKey, Provider
from verifier.formats import key_from_jwk
from verifier.sdjwt import verify_sd_jwt_vc
from wallet_api.app import create_combined_app

NODE_DIR = Path(__file__).resolve().parent / "node"
PRE = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
CLIENT_ID = "https://interop-wallet.example"


def _node() -> str:
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node not on PATH (Debian package nodejs)"
    elif not (NODE_DIR / "node_modules" / "@openid4vc" / "openid4vci").is_dir():
        missing = f"npm modules missing: run `npm ci` in {NODE_DIR}"
    if missing is not None:
        if os.environ.get("BUERGERID_REQUIRE_NODE") == "1":
            pytest.fail(f"BUERGERID_REQUIRE_NODE=1 but {missing}", pytrace=False)
        pytest.skip(missing)
    assert node is not None
    return node


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A served development deployment and a municipal client of it."""

    base_url: str
    ca: Path
    http: httpx.Client
    headers: dict[str, str]
    node: str

    def node_env(self) -> dict[str, str]:
        return {**os.environ, "NODE_EXTRA_CA_CERTS": str(self.ca)}

    def run(self, command: str, request: dict[str, Any]) -> dict[str, Any]:
        """One Node.js command: a JSON request in, the JSON answer out."""
        proc = subprocess.run(
            [self.node, "interop.mjs", command],
            input=json.dumps(request) + "\n",
            cwd=NODE_DIR,
            env=self.node_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        lines = proc.stdout.strip().splitlines()
        assert lines, proc.stderr[-2000:]
        answer: dict[str, Any] = json.loads(lines[-1])
        return answer

    def resident(self, given_name: str) -> dict[str, Any]:
        """A demo resident by given name (Erika, Max, Aylin)."""
        listed = self.http.get("/api/v1/residents", headers=self.headers).json()["items"]
        return dict(next(r for r in listed if r["given_name"] == given_name))

    def permit(self, given_name: str, *, awaiting_payment: bool = False) -> dict[str, Any]:
        """A resident permit applied for through the municipal API: active (its fee paid at
        the counter), or left awaiting payment."""
        if awaiting_payment:
            self.http.put(
                "/api/v1/permit-rules/BEW",
                json={"rules": {"awaiting_payment": True}},
                headers=self.headers,
            ).raise_for_status()
            self.http.post(
                "/api/v1/fee-schedules",
                json={
                    "kind": "flat",
                    "params": {"amount_cents": 3000},
                    "effective_from": "2020-01-01T00:00:00Z",
                },
                headers=self.headers,
            ).raise_for_status()
        vehicles = self.http.get("/api/v1/vehicles", headers=self.headers).json()["items"]
        person = self.resident(given_name)
        vehicle = next(v for v in vehicles if v.get("holder_id") == person["id"])
        applied = self.http.post(
            "/api/v1/permits",
            json={
                "permit_type": "BEW",
                "resident_id": person["id"],
                "zones": ["A3"],
                "vehicle_ids": [vehicle["id"]],
                "months": 12,
            },
            headers=self.headers,
        )
        assert applied.status_code == 201, applied.text
        permit = dict(applied.json())
        if not awaiting_payment and permit["state"] == "awaiting_payment":
            # the demo city asks for its fee first: paid at the counter, as a clerk records it
            due = sum(c["amount_cents"] for c in permit["charges"] if c["paid_at"] is None)
            paid = self.http.post(
                f"/api/v1/permits/{permit['id']}/payment",
                json={"amount_cents": due, "payment_ref": "COUNTER-1"},
                headers=self.headers,
            )
            assert paid.status_code == 200, paid.text
            permit = dict(paid.json())
        return permit

    def offer(self, **body: Any) -> dict[str, Any]:
        response = self.http.post("/api/v1/offers", json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        return dict(response.json())


@contextmanager
def dev_server(tmp: Path, node: str, **overrides: Any) -> Iterator[Server]:
    port = _free_port()
    values: dict[str, Any] = {
        "environment": "development",
        "data_dir": tmp / "var",
        "port": port,
        "dev_tls": True,
        "argon2_time_cost": 1,
        "argon2_memory_kib": 8,
        "key_kdf_time_cost": 1,
        "key_kdf_memory_kib": 8,
        "key_kdf_parallelism": 1,
        **overrides,
    }
    settings = Settings(**values)
    info = bootstrap_dev(settings)
    assert info.tls is not None
    assert info.issuer_url == f"https://127.0.0.1:{port}/issuers/05513000"
    app = create_combined_app(settings)
    with (
        live_server(
            app, port=port, ssl_certfile=str(info.tls.cert), ssl_keyfile=str(info.tls.key)
        ) as base_url,
        httpx.Client(
            base_url=base_url, verify=ssl.create_default_context(cafile=info.tls.ca), timeout=60
        ) as http,
    ):
        yield Server(
            base_url=base_url,
            ca=info.tls.ca,
            http=http,
            headers={"Authorization": f"Bearer {info.api_key}"},
            node=node,
        )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    node = _node()
    with dev_server(tmp_path_factory.mktemp("interop"), node) as running:
        yield running


def _request(offer: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"offer_url": offer["credential_offer_url"], "tx_code": offer["tx_code"], **extra}


def _issuer_key(server: Server, iss: str) -> Any:
    """The issuer's key as a relying party discovers it (SD-JWT VC §5)."""
    prefix = server.base_url
    assert iss.startswith(prefix + "/")
    metadata = server.http.get(f"/.well-known/jwt-vc-issuer{iss[len(prefix) :]}").json()
    assert metadata["issuer"] == iss
    (key,) = metadata["jwks"]["keys"]
    return key_from_jwk(key)


def test_the_wallet_library_gets_verifies_and_presents_a_permit(server: Server) -> None:
    permit = server.permit("Erika")
    offer = server.offer(kind="permit", permit_id=permit["id"])
    issued = server.run(
        "issue", {"offer_url": offer["credential_offer_url"], "tx_code": offer["tx_code"]}
    )
    assert issued["ok"], issued
    assert issued["token_type"] == "Bearer" and issued["authorization_details"] is None
    (sd_jwt,) = issued["credentials"]["05513000.parking-permit"]
    (qr,) = issued["credentials"]["05513000.parking-permit-qr"]
    assert qr.startswith("BID1:")

    verified = server.run("verify", {"credential": sd_jwt})
    assert verified["ok"], verified
    payload = verified["payload"]
    assert payload["iss"] == f"{server.base_url}/issuers/05513000"
    assert payload["holder"]["family_name"] == "Mustermann"
    assert verified["status"] == 0 and verified["status_again"] == 0
    assert verified["status_list_content_type"] == "application/statuslist+jwt"
    display = {d["locale"]: d["name"] for d in verified["type_metadata"]["display"]}
    assert display == {"de": "Bewohnerparkausweis", "en": "Resident parking permit"}
    # @sd-jwt/sd-jwt-vc 0.19.0 compares the SRI digest as hex, the specification sends
    # base64 (draft-ietf-oauth-sd-jwt-vc §7, W3C SRI §3.1): its own check refuses a correct
    # vct#integrity, so the fetcher above checks it as specified (docs/wallet.md)
    assert "Integrity check" in verified["library_integrity_check"]

    presented = server.run(
        "present",
        {
            "credential": sd_jwt,
            "holder_private_jwk": issued["holder_private_jwk"],
            "frame": {"holder": {"family_name": True}},
            "aud": "https://officer.example",
            "nonce": "n-1234",
        },
    )
    assert presented["ok"], presented
    checked = verify_sd_jwt_vc(
        presented["presentation"],
        issuer_key=_issuer_key(server, payload["iss"]),
        now=payload["iat"] + 5,
        require_key_binding=True,
        expected_aud="https://officer.example",
        expected_nonce="n-1234",
        expected_iss=payload["iss"],
        kb_max_age_seconds=3600,
    )
    assert checked.key_bound and checked.claims["holder"] == {"family_name": "Mustermann"}
    assert "given_name" not in checked.claims["holder"]

    _verify_bid1_with_python_cwt(server, qr)

    revoked = server.http.post(
        f"/api/v1/permits/{permit['id']}/revoke", json={"reason": "misuse"}, headers=server.headers
    )
    assert revoked.status_code == 200, revoked.text
    after = server.run("verify", {"credential": sd_jwt})
    assert after["ok"] and after["status"] == 1 and after["status_again"] == 1


def _verify_bid1_with_python_cwt(server: Server, qr: str) -> None:
    """python-cwt verifies the BID1: token with a key from the published JWKS, as COSE_Key
    (RFC 9052 §7) with the 8-byte COSE kid (docs/formats.md)."""
    import base45
    import cwt

    def b64d(text: str) -> bytes:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

    keys = [
        cwt.COSEKey.new(
            {1: 2, -1: 1, -2: b64d(k["x"]), -3: b64d(k["y"]), 2: b64d(k["kid"])[:8], 3: -7}
        )
        for k in server.http.get("/.well-known/jwks.json").json()["keys"]
    ]
    claims = cwt.decode(base45.b45decode(qr[len("BID1:") :]), keys)
    assert claims[1] == "05513000" and claims[-65537][2] == ["A3"]


def test_the_wallet_library_gets_a_buerger_id_offered_by_reference(server: Server) -> None:
    max_ = server.resident("Max")
    offer = server.offer(kind="residence", resident_id=max_["id"], delivery="reference")
    issued = server.run(
        "issue", {"offer_url": offer["credential_offer_url"], "tx_code": offer["tx_code"]}
    )
    assert issued["ok"], issued
    (sd_jwt,) = issued["credentials"]["05513000.residence"]
    verified = server.run("verify", {"credential": sd_jwt})
    assert verified["ok"], verified
    assert verified["payload"]["given_name"] == "Max" and verified["status"] == 0
    # the offer URI was spent by the wallet
    again = server.run(
        "issue", {"offer_url": offer["credential_offer_url"], "tx_code": offer["tx_code"]}
    )
    assert not again["ok"]


def test_the_wallet_library_collects_a_permit_once_it_is_paid(server: Server) -> None:
    permit = server.permit("Aylin", awaiting_payment=True)
    assert permit["state"] == "awaiting_payment"
    offer = server.offer(kind="permit", permit_id=permit["id"])
    request = {
        "offer_url": offer["credential_offer_url"],
        "tx_code": offer["tx_code"],
        "collect_after_marker": True,
    }
    with subprocess.Popen(
        [server.node, "interop.mjs", "issue"],
        cwd=NODE_DIR,
        env=server.node_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(request) + "\n")
        proc.stdin.flush()
        waiting = json.loads(proc.stdout.readline())
        assert sorted(waiting["waiting"]) == [
            "05513000.parking-permit",
            "05513000.parking-permit-qr",
        ]
        paid = server.http.post(
            f"/api/v1/permits/{permit['id']}/payment",
            json={"amount_cents": 3000, "payment_ref": "INTEROP-1"},
            headers=server.headers,
        )
        assert paid.status_code == 200, paid.text
        proc.stdin.write("go\n")
        proc.stdin.flush()
        result = json.loads(proc.stdout.readline())
    assert result["ok"], result
    # @openid4vc/openid4vci 0.4.6 refuses a deferred credential response that carries a
    # notification_id next to its credentials (an inverted check; OpenID4VCI 1.0 §9.2 allows
    # it, §8.3 forbids it only without credentials): docs/wallet.md. The response it refused
    # is the one the specification describes, and its credential verifies.
    refused = result["deferred_library_errors"]
    assert sorted(refused) == ["05513000.parking-permit", "05513000.parking-permit-qr"]
    for entry in refused.values():
        assert any("notification_id" in issue for issue in entry["issues"]), entry
        assert set(entry["response"]) == {"credentials", "notification_id"}
    qr_response = refused["05513000.parking-permit-qr"]["response"]
    assert qr_response["credentials"][0]["credential"].startswith("BID1:")
    (sd_jwt,) = [
        c["credential"] for c in refused["05513000.parking-permit"]["response"]["credentials"]
    ]
    verified = server.run("verify", {"credential": sd_jwt})
    assert verified["ok"] and verified["status"] == 0


# --------------------------------------------------------------------------- HAIP


@pytest.fixture(scope="module")
def provider() -> Provider:
    import time

    return Provider("Interop Wallet Provider", now=int(time.time()))


@pytest.fixture(scope="module")
def haip(tmp_path_factory: pytest.TempPathFactory, provider: Provider) -> Iterator[Server]:
    node = _node()
    tmp = tmp_path_factory.mktemp("haip")
    anchors = tmp / "wallet-anchors.pem"
    anchors.write_bytes(provider.anchors_pem())
    with dev_server(
        tmp,
        node,
        wallet_dpop="required",
        wallet_attestation="required",
        wallet_trust_anchors=anchors,
        credential_x5c="required",
    ) as running:
        yield running


def _private_jwk(key: ProofKey) -> dict[str, str]:
    d = key.private.private_numbers().private_value.to_bytes(32, "big")
    return {**key.jwk, "d": base64.urlsafe_b64encode(d).rstrip(b"=").decode()}


def _attestation(provider: Provider) -> dict[str, Any]:
    return {
        "provider": provider.issuer,
        "provider_private_jwk": _private_jwk(provider.key),
        "x5c": provider.x5c,
        "client_id": CLIENT_ID,
    }


def test_haip_a_wallet_with_dpop_and_an_attestation_gets_its_credentials(
    haip: Server, provider: Provider
) -> None:
    permit = haip.permit("Erika")
    offer = haip.offer(kind="permit", permit_id=permit["id"])
    issued = haip.run(
        "issue",
        {
            "offer_url": offer["credential_offer_url"],
            "tx_code": offer["tx_code"],
            "dpop": True,
            "attestation": _attestation(provider),
        },
    )
    assert issued["ok"], issued
    assert issued["token_type"] == "DPoP"
    (sd_jwt,) = issued["credentials"]["05513000.parking-permit"]
    header = json.loads(base64.urlsafe_b64decode(sd_jwt.split(".")[0] + "=="))
    assert len(header["x5c"]) == 1  # the end-entity certificate; the root is published
    verified = haip.run("verify", {"credential": sd_jwt})
    assert verified["ok"] and verified["status"] == 0


def test_haip_a_wallet_without_attestation_or_dpop_is_refused(
    haip: Server, provider: Provider
) -> None:
    permit = haip.permit("Max")
    offer = haip.offer(kind="permit", permit_id=permit["id"])
    request = {"offer_url": offer["credential_offer_url"], "tx_code": offer["tx_code"]}
    plain = haip.run("issue", request)
    assert not plain["ok"] and plain["detail"]["error"] == "invalid_client"
    no_dpop = haip.run("issue", {**request, "attestation": _attestation(provider)})
    assert not no_dpop["ok"] and no_dpop["detail"]["error"] == "invalid_dpop_proof"
    # neither refusal spent the code
    fine = haip.run("issue", {**request, "dpop": True, "attestation": _attestation(provider)})
    assert fine["ok"], fine


def test_a_key_attestation_made_by_the_library_is_refused_for_its_typ(
    haip: Server, provider: Provider
) -> None:
    # OpenID4VCI 1.0 Appendix D.1: typ key-attestation+jwt; @openid4vc/openid4vci 0.4.6
    # writes keyattestation+jwt (docs/wallet.md), which a strict issuer refuses
    holder = ProofKey()
    nonce = haip.http.post("/wallet/nonce").json()["c_nonce"]
    made = haip.run(
        "library-key-attestation",
        {
            "provider_private_jwk": _private_jwk(provider.key),
            "holder_private_jwk": _private_jwk(holder),
            "x5c": provider.x5c,
            "nonce": nonce,
        },
    )
    assert made["ok"], made
    header = json.loads(base64.urlsafe_b64decode(made["key_attestation"].split(".")[0] + "=="))
    assert header["typ"] == "keyattestation+jwt"
    from wallet_api.errors import CredentialError
    from wallet_api.services.attestations import verify_key_attestation

    with pytest.raises(CredentialError) as refused:
        verify_key_attestation(
            made["key_attestation"],
            anchors=[provider.root],
            accepted_storage=(),
            now=json.loads(base64.urlsafe_b64decode(made["key_attestation"].split(".")[1] + "=="))[
                "iat"
            ],
            refuse=lambda d: CredentialError("invalid_proof", d),
        )
    assert refused.value.code == "invalid_proof"
