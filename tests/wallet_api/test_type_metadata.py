"""Issuer identifiers that resolve and the documents wallets display from: JWT VC Issuer
Metadata for path- and host-based issuer URLs, SD-JWT VC Type Metadata at each `vct` whose
digest the credentials carry as `vct#integrity`, claim metadata that matches what is
selectively disclosable, OpenID4VCI display metadata in German and English, the tenant's
logo and policy through the municipal API. Real HTTP, SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from issuer.services import clients as clients_service
from issuer.services import tenants as tenants_service
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from mobile_sdk_stub.client import WalletClient, unverified_claims
from tests.wallet_api.flows import PERMIT_CONFIG
from tests.wallet_api.harness import AGS, WalletEnv, wallet_env
from verifier.formats import key_from_jwk
from verifier.sdjwt import disclosable_paths, verify_sd_jwt_vc
from wallet_api.services.credential_types import PARKING_PERMIT, RESIDENCE, TYPES

HOST = f"{AGS}.example.de"  # the harness tenant's issuer URL is https://<AGS>.example.de


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def _admin(env: WalletEnv) -> dict[str, str]:
    with env.app.state.session_factory() as sess, sess.begin():
        issued = clients_service.create_client(
            sess,
            env.app.state.hasher,
            tenant_id=env.tenant_id,
            name="admin",
            scopes=("admin",),
            actor="test",
            now=env.clock.now(),
        )
    return {"Authorization": f"Bearer {issued.token}"}


def _credentials(env: WalletEnv, tmp_path: Path) -> dict[str, str]:
    with WalletClient(env.base_url, tmp_path / "phone", clock=env.now) as wallet:
        permit_offer = env.offer()
        residence_offer = env.offer(kind="residence", resident_id=str(env.resident_id))
        (permit,) = wallet.redeem(permit_offer["credential_offer_url"], permit_offer["tx_code"])
        (residence,) = wallet.redeem(
            residence_offer["credential_offer_url"], residence_offer["tx_code"]
        )
    assert permit.sd_jwt is not None and residence.sd_jwt is not None
    return {PARKING_PERMIT: permit.sd_jwt, RESIDENCE: residence.sd_jwt}


def _verified_claims(env: WalletEnv, sd_jwt: str) -> dict[str, Any]:
    """The credential's claims with every Disclosure, verified with the issuer's JWKS."""
    metadata = env.http.get("/.well-known/jwt-vc-issuer", headers={"Host": HOST}).json()
    (key,) = [key_from_jwk(k) for k in metadata["jwks"]["keys"]]
    verified = verify_sd_jwt_vc(
        sd_jwt,
        issuer_key=key,
        now=int(env.now()),
        require_key_binding=False,
        expected_iss=metadata["issuer"],
    )
    return verified.claims


def _sri(data: bytes) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_vct_integrity_is_the_digest_of_the_served_type_metadata(
    env: WalletEnv, tmp_path: Path
) -> None:
    for kind, sd_jwt in _credentials(env, tmp_path).items():
        claims = unverified_claims(sd_jwt)
        assert claims["vct"] == f"https://{HOST}/vct/{kind}"
        served = env.http.get(f"/vct/{kind}", headers={"Host": HOST})
        assert served.status_code == 200
        assert served.headers["content-type"] == "application/json"
        assert claims["vct#integrity"] == _sri(served.content)
        document = served.json()
        assert document["vct"] == claims["vct"]
        assert {d["locale"] for d in document["display"]} == {"de", "en"}
        assert all(d["lang"] == d["locale"] for d in document["display"])


def test_claim_metadata_matches_what_is_selectively_disclosable(
    env: WalletEnv, tmp_path: Path
) -> None:
    for kind, sd_jwt in _credentials(env, tmp_path).items():
        document = env.http.get(f"/vct/{kind}", headers={"Host": HOST}).json()
        always = {tuple(c["path"]) for c in document["claims"] if c["sd"] == "always"}
        assert set(disclosable_paths(sd_jwt)) == always
        claims = _verified_claims(env, sd_jwt)
        for claim in document["claims"]:
            assert {d["locale"] for d in claim["display"]} == {"de", "en"}
            if claim["mandatory"]:  # present in the issued credential (with every Disclosure)
                value: Any = claims
                for step in claim["path"]:
                    value = value[step]
        assert [c["path"] for c in document["claims"]] == [list(c.path) for c in TYPES[kind].claims]


def test_host_based_tenants_are_told_apart_by_the_host(env: WalletEnv) -> None:
    with env.app.state.session_factory() as sess, sess.begin():
        tenants_service.create_tenant(
            sess,
            ags="05562004",
            name="Stadt Marl",
            issuer_url="https://ausweis.marl.example",
            actor="test",
            now=env.clock.now(),
        )
    marl = env.http.get("/vct/residence", headers={"Host": "ausweis.marl.example"})
    assert marl.json()["vct"] == "https://ausweis.marl.example/vct/residence"
    ours = env.http.get("/vct/residence", headers={"Host": HOST})
    assert ours.json()["vct"] == f"https://{HOST}/vct/residence"
    # two tenants share the empty path: an unknown host names neither
    assert env.http.get("/vct/residence", headers={"Host": "stranger.example"}).status_code == 404
    assert env.http.get("/vct/passport", headers={"Host": HOST}).status_code == 404
    assert env.http.get("/issuers/99999999/vct/residence").status_code == 404


def test_jwt_vc_issuer_metadata_for_host_and_path_based_issuer_urls(
    env: WalletEnv, tmp_path: Path
) -> None:
    hosted = env.http.get("/.well-known/jwt-vc-issuer", headers={"Host": HOST})
    assert hosted.status_code == 200
    assert hosted.json()["issuer"] == f"https://{HOST}"
    assert hosted.json()["jwks"]["keys"]
    other = env.http.get("/.well-known/jwt-vc-issuer", headers={"Host": "stranger.example"})
    # a single tenant with the empty path is still found: its issuer value names it
    assert other.json()["issuer"] == f"https://{HOST}"
    assert env.http.get("/.well-known/jwt-vc-issuer/issuers/00000000").status_code == 404


def test_issuer_metadata_displays_each_configuration_in_german_and_english(
    env: WalletEnv,
) -> None:
    metadata = env.http.get("/.well-known/openid-credential-issuer").json()
    assert metadata["deferred_credential_endpoint"] == f"{env.base_url}/wallet/deferred_credential"
    config = metadata["credential_configurations_supported"][PERMIT_CONFIG]
    display = {d["locale"]: d for d in config["credential_metadata"]["display"]}
    assert set(display) == {"de", "en"}
    assert display["de"]["name"].startswith("Bewohnerparkausweis")
    assert display["en"]["logo"]["uri"] == f"{env.base_url}/wallet/logos/{AGS}.png"
    labels = {
        tuple(c["path"]): {d["locale"]: d["name"] for d in c["display"]}
        for c in config["credential_metadata"]["claims"]
    }
    assert labels[("plates",)] == {"de": "Kennzeichen", "en": "Licence plates"}
    assert "key_attestations_required" not in config["proof_types_supported"]["jwt"]
    server = env.http.get("/.well-known/oauth-authorization-server").json()
    assert server["dpop_signing_alg_values_supported"] == ["ES256"]
    assert "attest_jwt_client_auth" in server["token_endpoint_auth_methods_supported"]
    assert server["authorization_details_types_supported"] == ["openid_credential"]


def _png(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def test_the_municipality_sets_its_logo_and_policy(env: WalletEnv, tmp_path: Path) -> None:
    admin = _admin(env)
    default = env.http.get(f"/wallet/logos/{AGS}.png")
    assert default.status_code == 200 and default.headers["content-type"] == "image/png"
    before = _credentials(env, tmp_path)
    put = env.http.put(
        "/api/v1/wallet/logo",
        content=_png((64, 64), (200, 0, 0)),
        headers={**admin, "Content-Type": "image/png"},
    )
    assert put.status_code == 200, put.text
    served = env.http.get(f"/wallet/logos/{AGS}.png")
    assert hashlib.sha256(served.content).hexdigest() == put.json()["sha256"]
    assert Image.open(io.BytesIO(served.content)).getpixel((1, 1))[:3] == (200, 0, 0)
    # a new logo does not change the type metadata: earlier credentials keep their integrity
    again = env.http.get(f"/vct/{PARKING_PERMIT}", headers={"Host": HOST})
    assert unverified_claims(before[PARKING_PERMIT])["vct#integrity"] == _sri(again.content)
    for bad, media in (
        (b"GIF89a", "image/png"),
        (_png((2048, 8), (0, 0, 0)), "image/png"),
        (_png((8, 8), (0, 0, 0)), "image/gif"),
    ):
        refused = env.http.put(
            "/api/v1/wallet/logo", content=bad, headers={**admin, "Content-Type": media}
        )
        assert refused.status_code in (415, 422) and refused.json()["code"] == "invalid_logo"
    assert (
        env.http.put(
            "/api/v1/wallet/logo",
            content=_png((8, 8), (0, 0, 0)),
            headers={**env.headers, "Content-Type": "image/png"},
        ).status_code
        == 403
    )
    assert env.http.delete("/api/v1/wallet/logo", headers=admin).status_code == 204
    assert env.http.get(f"/wallet/logos/{AGS}.png").content == default.content

    policy: Any = env.http.put(
        "/api/v1/wallet/policy", json={"dpop": "required"}, headers=admin
    ).json()
    assert policy["effective"] == {
        "dpop": "required",
        "wallet_attestation": "optional",
        "key_attestation": "optional",
    }
    refused = env.http.post(
        "/wallet/token",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
            "pre-authorized_code": env.offer()["credential_offer"]["grants"][
                "urn:ietf:params:oauth:grant-type:pre-authorized_code"
            ]["pre-authorized_code"],
            "tx_code": "00000000",
        },
    )
    assert refused.json()["error"] == "invalid_dpop_proof"
    lowered = env.http.put("/api/v1/wallet/policy", json={"dpop": "optional"}, headers=admin)
    assert lowered.json()["effective"]["dpop"] == "optional"
    assert (
        env.http.put("/api/v1/wallet/policy", json={"dpop": "sometimes"}, headers=admin).status_code
        == 422
    )
