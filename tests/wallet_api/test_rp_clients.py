"""Another municipal application asks "who is this resident, does she live here" through
this service, within the allow-list the municipality's administrator gave it: over real
HTTPS, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from issuer.services import clients as clients_service
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from mobile_sdk_stub.dev_pid import PID_DE, PID_EU
from tests.wallet_api.rp_harness import RpEnv, erika_pid, rp_env
from wallet_api.relying_party.clients import subject_for
from wallet_api.services.credential_types import RESIDENCE
from wallet_api.services.type_metadata import vct_for

RETURN = "https://hunde.gelsenkirchen.example/return"
VCT = vct_for("https://05513000.example.de", RESIDENCE)


@pytest.fixture
def env(settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[RpEnv]:
    with rp_env(settings, clock, tmp_path) as running:
        yield running


def _client(env: RpEnv, name: str, *scopes: str) -> tuple[str, dict[str, str]]:
    """A new API client of the tenant: its id and its Authorization header."""
    with env.app.state.session_factory() as session, session.begin():
        issued = clients_service.create_client(
            session,
            env.app.state.hasher,
            tenant_id=env.tenant_id,
            name=name,
            scopes=scopes,
            actor="test",
            now=env.clock.now(),
        )
        client_id = str(issued.client.id)
    return client_id, {"Authorization": f"Bearer {issued.token}"}


def _query(*paths: list[str], vct: str = VCT) -> dict[str, Any]:
    return {
        "credentials": [
            {
                "id": "bid",
                "format": "dc+sd-jwt",
                "meta": {"vct_values": [vct]},
                "claims": [{"path": p} for p in paths],
            }
        ]
    }


NAME_AND_TOWN = (["given_name"], ["family_name"], ["address", "locality"])


def _dog_office(env: RpEnv, http: httpx.Client) -> dict[str, str]:
    """The dog-registration application, allowed names and town, returning to RETURN."""
    _admin_id, admin = _client(env, "admin", "admin")
    client_id, headers = _client(env, "Hundesteuer", "residents:identify")
    policy = {
        "allowed_claims": {"residence": ["given_name", "family_name", "address.locality"]},
        "redirect_uris": [RETURN],
    }
    answer = http.put(f"/api/v1/rp-clients/{client_id}/policy", json=policy, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["allowed_claims"]["residence"] == [
        "address.locality",
        "family_name",
        "given_name",
    ]
    return {**headers, "X-Client": client_id}


def _auth(headers: dict[str, str]) -> dict[str, str]:
    return {"Authorization": headers["Authorization"]}


def test_a_municipal_service_learns_only_what_it_may_and_that_she_lives_here(env: RpEnv) -> None:
    http = env.browser()
    office = _dog_office(env, http)
    wallet, presenter = env.wallet()
    env.give_buergerid(wallet)
    body = {"dcql_query": _query(*NAME_AND_TOWN), "redirect_uri": RETURN}
    started = http.post("/api/v1/presentations", json=body, headers=_auth(office))
    assert started.status_code == 201, started.text
    tx = started.json()
    redirect = presenter.respond(presenter.resolve(tx["same_device_url"]))
    assert redirect is not None and redirect.startswith(RETURN + "?response_code=")
    code = parse_qs(urlsplit(redirect).query)["response_code"][0]
    path = f"/api/v1/presentations/{tx['transaction_id']}"
    assert http.get(path, headers=_auth(office)).json()["status"] == "verified"
    # without the response code of the return page the result stays closed
    refused = http.post(f"{path}/result", json={}, headers=_auth(office))
    assert refused.status_code == 403
    assert refused.json()["code"] == "response_code_mismatch"
    result = http.post(f"{path}/result", json={"response_code": code}, headers=_auth(office))
    assert result.status_code == 200, result.text
    answer = result.json()
    assert answer["lives_here"] is True
    assert answer["credential"] == "residence"
    assert answer["claims"] == {
        "given_name": "Erika",
        "family_name": "Mustermann",
        "address": {"locality": "Gelsenkirchen"},
    }
    rp = env.app.state.relying_party
    assert answer["subject"] == subject_for(rp, uuid.UUID(office["X-Client"]), str(env.resident_id))
    assert answer["subject"] != subject_for(rp, uuid.uuid4(), str(env.resident_id))
    again = http.post(f"{path}/result", json={"response_code": code}, headers=_auth(office))
    assert again.status_code == 409 and again.json()["code"] == "result_taken"


def test_cross_device_the_service_polls_and_takes_the_result_without_a_code(env: RpEnv) -> None:
    http = env.browser()
    office = _dog_office(env, http)
    wallet, presenter = env.wallet()
    env.give_buergerid(wallet)
    body = {"dcql_query": _query(["family_name"])}
    tx = http.post("/api/v1/presentations", json=body, headers=_auth(office)).json()
    path = f"/api/v1/presentations/{tx['transaction_id']}"
    assert http.get(path, headers=_auth(office)).json()["status"] == "pending"
    assert presenter.respond(presenter.resolve(tx["cross_device_url"])) is None
    state = http.get(path, headers=_auth(office)).json()
    assert state == {"status": "verified", "error": None, "flow": "cross-device"}
    answer = http.post(f"{path}/result", json={}, headers=_auth(office)).json()
    assert answer["claims"] == {"family_name": "Mustermann"}
    # another application of the same municipality cannot see it
    _other_id, other = _client(env, "Abfall", "residents:identify")
    assert http.get(path, headers=other).status_code == 404


def test_what_the_allow_list_does_not_cover_is_refused_before_anything_starts(
    env: RpEnv,
) -> None:
    http = env.browser()
    office = _dog_office(env, http)
    refused = {
        "claims_not_allowed": {"dcql_query": _query(["given_name"], ["birthdate"])},
        "credential_not_allowed": {"dcql_query": _query(["given_name"], vct="urn:eudi:pid:1")},
        "redirect_uri_not_allowed": {
            "dcql_query": _query(["given_name"]),
            "redirect_uri": "https://evil.example/return",
        },
    }
    for code, body in refused.items():
        answer = http.post("/api/v1/presentations", json=body, headers=_auth(office))
        assert answer.status_code == 403, body
        assert answer.json()["code"] == code
    whole = {"dcql_query": {"credentials": [{**_query(["x"])["credentials"][0], "claims": []}]}}
    answer = http.post("/api/v1/presentations", json=whole, headers=_auth(office))
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_query"
    # a client without an allow-list asks for nothing; one without the scope is refused
    _plain_id, plain = _client(env, "Ohne Liste", "residents:identify")
    body = {"dcql_query": _query(["given_name"])}
    answer = http.post("/api/v1/presentations", json=body, headers=plain)
    assert answer.status_code == 403 and answer.json()["code"] == "client_not_allowed"
    answer = http.post("/api/v1/presentations", json=body, headers=env.headers)
    assert answer.status_code == 403


def test_an_allow_list_names_known_claims_and_https_return_addresses(env: RpEnv) -> None:
    http = env.browser()
    _admin_id, admin = _client(env, "admin", "admin")
    client_id, _headers = _client(env, "Hundesteuer", "residents:identify")
    path = f"/api/v1/rp-clients/{client_id}/policy"
    for policy in (
        {"allowed_claims": {"residence": ["tax_id"]}},
        {"allowed_claims": {"pid": ["tax_id"]}},
        {"allowed_claims": {"passport": ["given_name"]}},
        {"allowed_claims": {}},
        {"allowed_claims": {"residence": []}},
        {"allowed_claims": {"residence": [{"given_name": True}]}},
        {"allowed_claims": {"residence": "given_name"}},
        {"allowed_claims": {"residence": ["given_name"]}, "redirect_uris": ["http://a.example/"]},
    ):
        answer = http.put(path, json=policy, headers=admin)
        assert answer.status_code == 400, policy
        assert answer.json()["code"] == "invalid_policy"
    assert http.get(path, headers=admin).status_code == 404
    good = {"allowed_claims": {"residence": ["given_name"]}}
    assert http.put(path, json=good, headers=admin).status_code == 200
    assert http.get(path, headers=admin).json()["redirect_uris"] == []
    assert http.put(path, json=good, headers=env.headers).status_code == 403  # not admin
    assert http.delete(path, headers=admin).status_code == 204
    assert http.get(path, headers=admin).status_code == 404
    unknown = "/api/v1/rp-clients/00000000-0000-0000-0000-000000000000/policy"
    assert http.put(unknown, json=good, headers=admin).status_code == 404


def test_a_service_allowed_the_pid_learns_its_claims_and_whether_she_lives_here(
    env: RpEnv,
) -> None:
    http = env.browser()
    _admin_id, admin = _client(env, "admin", "admin")
    client_id, office = _client(env, "Wahlamt", "residents:identify")
    policy = {
        "allowed_claims": {
            "pid": ["given_name", "family_name", "birthdate", "address"],
            "residence": ["family_name"],
        }
    }
    answer = http.put(f"/api/v1/rp-clients/{client_id}/policy", json=policy, headers=admin)
    assert answer.status_code == 200, answer.text
    assert answer.json()["allowed_claims"]["pid"] == [
        "address",
        "birthdate",
        "family_name",
        "given_name",
    ]
    address = [["address", m] for m in ("street_address", "postal_code", "locality")]
    person = (["given_name"], ["family_name"], ["birthdate"], *address)
    pid_query = _query(*person, vct=PID_DE)
    pid_query["credentials"][0]["meta"]["vct_values"] = [PID_DE, PID_EU]

    def present(wallet_name: str, pid: dict[str, Any]) -> dict[str, Any]:
        wallet, presenter = env.wallet(wallet_name)
        env.give_pid(wallet, person=pid)
        body = {"dcql_query": pid_query}
        started = http.post("/api/v1/presentations", json=body, headers=office)
        assert started.status_code == 201, started.text
        tx = started.json()
        assert presenter.respond(presenter.resolve(tx["cross_device_url"])) is None
        path = f"/api/v1/presentations/{tx['transaction_id']}/result"
        result = http.post(path, json={}, headers=office)
        assert result.status_code == 200, result.text
        return dict(result.json())

    answer = present("erika", erika_pid())
    assert answer["credential"] == "pid" and answer["lives_here"] is True
    expected = {k: erika_pid()[k] for k in ("given_name", "family_name", "birthdate")}
    expected["address"] = {
        m: erika_pid()["address"][m] for m in ("street_address", "postal_code", "locality")
    }
    assert answer["claims"] == expected
    # the same pairwise subject as her Bürger-ID gives this service
    rp = env.app.state.relying_party
    assert answer["subject"] == subject_for(rp, uuid.UUID(client_id), str(env.resident_id))

    # a PID the register does not know: the claims, but she does not live here
    answer = present("stranger", {**erika_pid(), "given_name": "ERIKE"})
    assert answer["lives_here"] is False and answer["subject"] is None
    assert answer["claims"]["given_name"] == "ERIKE"

    # outside the PID's allow-list, or a credential it does not name: nothing starts
    refused = {
        "claims_not_allowed": _query(["given_name"], ["nationalities"], vct=PID_DE),
        "credential_not_allowed": _query(["given_name"], vct="urn:example:passport:1"),
    }
    for code, query in refused.items():
        answer = http.post("/api/v1/presentations", json={"dcql_query": query}, headers=office)
        assert answer.status_code == 403 and answer.json()["code"] == code, query
