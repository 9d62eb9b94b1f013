"""Control characters in text (issuer/text.py), over real HTTP on SQLite and PostgreSQL.

A NUL used to give 500 on PostgreSQL and be stored as-is on SQLite. The walker below reads
the OpenAPI document of the combined app (municipal + wallet API) and sends, for every
operation, a control character in every query and path parameter and in every value a
request body can hold; each must answer 422 `invalid_field` at that location. The wallet's
OAuth endpoints read their bodies themselves and answer in their protocol's error shape.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from issuer.db.models import Resident, Vehicle, Zone
from issuer.schemas.registry import ResidentCreate
from issuer.services import clients as clients_service
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from issuer.text import check_json_text, has_control_character
from tests.wallet_api.harness import WalletEnv, wallet_env
from tests.wallet_api.support import ProofKey

HOSTILE = "a\x00b"
METHODS = ("get", "post", "put", "patch", "delete")
# one of each kind of refused character, inside otherwise fine text
REFUSED = ["\x00", "\t", "\n", "\r", "\x1b", "\x7f", "\x85", "\x9f", "\u2028", "\u2029"]


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def _token(env: WalletEnv, *, tenant: bool, scopes: tuple[str, ...]) -> dict[str, str]:
    with env.app.state.session_factory() as session, session.begin():
        issued = clients_service.create_client(
            session,
            env.app.state.hasher,
            tenant_id=env.tenant_id if tenant else None,
            name="walker",
            scopes=scopes,
            actor="test",
            now=env.clock.now(),
        )
    return {"Authorization": f"Bearer {issued.token}"}


# ---------------------------------------------------------------- the OpenAPI walker


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def _leaves(
    schema: dict[str, Any], doc: dict[str, Any], path: tuple[Any, ...] = ()
) -> Iterator[tuple[Any, ...]]:
    """Every location in a body where a client can put a value (keys of free objects too)."""
    schema = _resolve(schema, doc)
    branches = schema.get("anyOf") or schema.get("oneOf") or schema.get("allOf")
    if branches:
        for branch in branches:
            if _resolve(branch, doc).get("type") != "null":
                yield from _leaves(branch, doc, path)
        return
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        for name, sub in schema.get("properties", {}).items():
            yield from _leaves(sub, doc, (*path, name))
        extra = schema.get("additionalProperties")
        if extra:
            yield (*path, "k")  # a value under a free key
            yield (*path, HOSTILE)  # a free key itself
        return
    if kind == "array":
        yield from _leaves(schema.get("items", {}), doc, (*path, 0))
        return
    yield path  # string, number, boolean: the hostile text must be refused for its content


def _document(path: tuple[Any, ...]) -> Any:
    """A minimal JSON body holding the hostile text at `path` (a free key gets value "x")."""
    if not path:
        return HOSTILE
    head, rest = path[0], path[1:]
    if head == HOSTILE and not rest:
        return {HOSTILE: "x"}
    if isinstance(head, int):
        return [_document(rest)]
    return {head: _document(rest)}


def _placeholder(param: dict[str, Any], doc: dict[str, Any]) -> str:
    schema = _resolve(param.get("schema", {}), doc)
    for branch in schema.get("anyOf", []):
        if branch.get("type") != "null":
            schema = _resolve(branch, doc)
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("format") == "uuid" or param["name"].endswith("_id"):
        return str(uuid.uuid4())
    if schema.get("type") == "integer":
        return "1"
    if "pattern" in schema and "d{8}" in schema["pattern"]:
        return "05513000"
    return "x"


@dataclass
class Case:
    method: str
    template: str
    where: str  # "query", "path" or "body"
    loc: tuple[Any, ...]
    url: str
    params: dict[str, str]
    body: Any


def _cases(doc: dict[str, Any]) -> Iterator[Case]:
    for template, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = op.get("parameters", [])
            fill = {p["name"]: _placeholder(p, doc) for p in params if p["in"] in ("path", "query")}
            path_params = {
                n for n in fill if any(p["name"] == n and p["in"] == "path" for p in params)
            }

            def url(values: dict[str, str], template: str = template) -> str:
                out = template
                for name, value in values.items():
                    out = out.replace("{" + name + "}", quote(value, safe="")).replace(
                        "{" + name + ":path}", quote(value, safe="")
                    )
                return out

            body_schema = (
                op.get("requestBody", {})
                .get("content", {})
                .get("application/json", {})
                .get("schema")
            )
            base_body = {} if body_schema else None
            for p in params:
                if p["in"] not in ("path", "query"):
                    continue
                values = dict(fill, **{p["name"]: HOSTILE})
                path_values = {n: v for n, v in values.items() if n in path_params}
                query = {n: v for n, v in values.items() if n not in path_params}
                yield Case(
                    method, template, p["in"], (p["name"],), url(path_values), query, base_body
                )
            if body_schema:
                path_values = {n: v for n, v in fill.items() if n in path_params}
                query = {n: v for n, v in fill.items() if n not in path_params}
                for loc in _leaves(body_schema, doc):
                    yield Case(
                        method, template, "body", loc, url(path_values), query, _document(loc)
                    )


def _refused_here(case: Case, response: httpx.Response) -> bool:
    if response.status_code != 422 or response.json().get("code") != "invalid_field":
        return False
    errors = response.json()["errors"]
    if case.where == "path":
        expected = ["path"]
    elif case.where == "query":
        expected = ["query", case.loc[0]]
    else:
        expected = ["body", *(str(p) for p in case.loc if not has_control_character(str(p)))]
    for error in errors:
        loc = error["loc"]
        if error["code"] == "invalid_field" and len(loc) >= 2 and loc == expected[: len(loc)]:
            return True
        if error["code"] == "invalid_field" and case.where == "path" and loc == ["path"]:
            return True
    return False


def test_every_parameter_and_body_value_refuses_control_characters(env: WalletEnv) -> None:
    doc = env.http.get("/openapi.json").json()
    tenant = _token(env, tenant=True, scopes=tuple(s.value for s in clients_service.ALL_SCOPES))
    operator = _token(env, tenant=False, scopes=("admin",))
    seen: set[tuple[str, str, tuple[Any, ...]]] = set()
    failures = []
    for case in _cases(doc):
        kwargs: dict[str, Any] = {"params": case.params}
        if case.body is not None:
            kwargs["json"] = case.body
        response = env.http.request(case.method, case.url, headers=tenant, **kwargs)
        if response.status_code == 403 and response.json().get("code") == "operator_required":
            response = env.http.request(case.method, case.url, headers=operator, **kwargs)
        seen.add((f"{case.method.upper()} {case.template}", case.where, case.loc))
        if not _refused_here(case, response):
            failures.append((case.method, case.template, case.where, case.loc, response.text[:200]))
    assert failures == []
    # the walk reached what it must (a walk over nothing would pass too)
    must = {
        ("POST /api/v1/residents", "body", ("given_name",)),
        ("POST /api/v1/residents", "body", ("residences", 0, "street")),
        ("PATCH /api/v1/residents/{resident_id}", "body", ("family_name",)),
        ("POST /api/v1/vehicles", "body", ("proof_ref",)),
        ("POST /api/v1/zones", "body", ("segments", 0, "street")),
        ("POST /api/v1/permits", "body", ("holder_label",)),
        ("POST /api/v1/permits", "body", ("zones", 0)),
        ("PUT /api/v1/permit-rules/{permit_type}", "body", ("rules", "k")),
        ("PUT /api/v1/permit-rules/{permit_type}", "body", ("rules", HOSTILE)),
        ("POST /api/v1/tenants", "body", ("name",)),
        ("POST /api/v1/offers", "body", ("kind",)),
        ("GET /api/v1/residents", "query", ("external_ref",)),
        ("GET /api/v1/vehicles", "query", ("plate",)),
        ("DELETE /api/v1/devices/{device_id}", "path", ("device_id",)),
        ("DELETE /wallet/devices/{device_id}", "path", ("device_id",)),
        ("GET /status-lists/{ags}/{list_no}", "path", ("ags",)),
    }
    assert must <= seen, must - seen
    assert len(seen) > 150


# ---------------------------------------------------------------- whole, valid bodies


def _count(env: WalletEnv, model: Any, **where: Any) -> int:
    with env.app.state.session_factory() as session:
        stmt = select(func.count()).select_from(model).filter_by(**where)
        return int(session.scalar(stmt) or 0)


def test_a_valid_body_with_one_control_character_is_refused_and_nothing_stored(
    env: WalletEnv,
) -> None:
    headers = _token(env, tenant=True, scopes=("registry:write",))
    for char in REFUSED:
        _refuse_everywhere(env, headers, char)
    assert _count(env, Resident, external_ref="MR-NUL-1") == 0
    assert _count(env, Vehicle) == 0
    assert _count(env, Zone, code="N1") == 0


def _refuse_everywhere(env: WalletEnv, headers: dict[str, str], char: str) -> None:
    resident = {
        "external_ref": "MR-NUL-1",
        "given_name": f"Er{char}ika",
        "family_name": "Mustermann",
        "residences": [
            {"kind": "main", "street": "Bahnhofstraße", "house_number": "1",
             "postcode": "45879", "valid_from": "2020-01-01"}
        ],
    }  # fmt: skip
    response = env.http.post("/api/v1/residents", json=resident, headers=headers)
    assert response.status_code == 422 and response.json()["code"] == "invalid_field"
    assert response.json()["errors"] == [
        {"code": "invalid_field", "loc": ["body", "given_name"], "type": "control_character"}
    ]
    assert "Mustermann" not in response.text  # the problem never echoes the input
    resident["given_name"] = "Erika"
    resident["residences"][0]["street"] = f"Bahnhof{char}straße"  # type: ignore[index]
    response = env.http.post("/api/v1/residents", json=resident, headers=headers)
    assert response.status_code == 422 and response.json()["code"] == "invalid_field"
    vehicle = {"plate": "GE-NU 1", "kind": "leasing", "proof_ref": f"Vertrag{char}1"}
    response = env.http.post("/api/v1/vehicles", json=vehicle, headers=headers)
    assert response.status_code == 422 and response.json()["code"] == "invalid_field"
    zone = {"code": "N1", "name": f"Nord{char}"}
    response = env.http.post("/api/v1/zones", json=zone, headers=headers)
    assert response.status_code == 422 and response.json()["code"] == "invalid_field"
    for path, name in (("/api/v1/residents", "external_ref"), ("/api/v1/vehicles", "plate")):
        response = env.http.get(path, params={name: f"MR{char}"}, headers=headers)
        assert response.status_code == 422 and response.json()["code"] == "invalid_field"


def test_umlauts_other_scripts_and_inner_spaces_stay_allowed(env: WalletEnv) -> None:
    headers = _token(env, tenant=True, scopes=("registry:write",))
    body = {"external_ref": "MR-OK-1", "given_name": "Zoë Ågot", "family_name": "Müller-Łęcka 李"}
    response = env.http.post("/api/v1/residents", json=body, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["family_name"] == "Müller-Łęcka 李"


# ---------------------------------------------------------------- the wallet's own bodies

PRE = "urn:ietf:params:oauth:grant-type:pre-authorized_code"


def test_wallet_oauth_bodies_refuse_control_characters_in_their_error_shape(
    env: WalletEnv,
) -> None:
    offer = env.offer()
    code = offer["credential_offer"]["grants"][PRE]["pre-authorized_code"]
    for form in (
        {"grant_type": PRE, "pre-authorized_code": code, "tx_code": "12\x003456"},
        {"grant_type": PRE, "pre-authorized_code": code + "\x00", "tx_code": offer["tx_code"]},
        {"grant_type": "refresh_token", "refresh_token": "r\x00"},
        {"grant_type": "refresh_token\n", "refresh_token": "r"},
    ):
        response = env.http.post("/wallet/token", data=form)
        assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    # the offer survived the hostile attempts: its tx_code was never checked against them
    token = env.http.post(
        "/wallet/token",
        data={"grant_type": PRE, "pre-authorized_code": code, "tx_code": offer["tx_code"]},
    )
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    nonce = env.http.post("/wallet/nonce").json()["c_nonce"]
    proof = ProofKey().proof(aud=env.base_url, nonce=nonce, iat=int(env.now()))
    # each body below is refused for its control character before anything else is looked at
    credential = {
        "credential_configuration_id": "05513000.parking-permit\x00",
        "proofs": {"jwt": [proof]},
    }
    response = env.http.post("/wallet/credential", json=credential, headers=bearer)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_credential_request"
    response = env.http.post(
        "/wallet/notification",
        json={"notification_id": "n\x00", "event": "credential_accepted"},
        headers=bearer,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_notification_request"
    response = env.http.post("/wallet/devices", json={"proof": proof + "\x00"}, headers=bearer)
    assert response.status_code == 400 and response.json()["error"] == "invalid_proof"


# ---------------------------------------------------------------- the rule itself

_OTHER_REFUSED = {"\u2028", "\u2029"}
ANY_CHAR = st.characters(exclude_categories=())  # surrogates included


def _oracle(text: str) -> bool:
    import unicodedata

    return any(unicodedata.category(c) in ("Cc", "Cs") or c in _OTHER_REFUSED for c in text)


@given(st.text(alphabet=ANY_CHAR, max_size=40))
def test_the_rule_is_exactly_c0_del_c1_surrogates_and_separators(text: str) -> None:
    assert has_control_character(text) is _oracle(text)


@given(
    st.text(alphabet=ANY_CHAR, min_size=1, max_size=40),
    st.text(alphabet=ANY_CHAR, min_size=1, max_size=40),
)
def test_a_request_model_refuses_exactly_what_the_rule_refuses(given: str, family: str) -> None:
    from pydantic import ValidationError

    body = {"external_ref": "MR-1", "given_name": given, "family_name": family}
    try:
        model = ResidentCreate.model_validate(body)
    except ValidationError as exc:
        types = {e["type"] for e in exc.errors()}
        if _oracle(given) or _oracle(family):
            assert "control_character" in types
        else:  # only whitespace-only names fail otherwise (too short after stripping)
            assert types == {"string_too_short"}
        return
    assert not _oracle(given) and not _oracle(family)
    assert (model.given_name, model.family_name) == (given.strip(), family.strip())


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=ANY_CHAR),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet=ANY_CHAR, max_size=4), children, max_size=4)
    ),
    max_leaves=30,
)


@given(json_values)
def test_free_json_is_refused_exactly_when_a_key_or_string_holds_a_control_character(
    value: Any,
) -> None:
    from pydantic_core import PydanticCustomError

    def strings(v: Any) -> Iterator[str]:
        if isinstance(v, str):
            yield v
        elif isinstance(v, list):
            for item in v:
                yield from strings(item)
        elif isinstance(v, dict):
            for key, item in v.items():
                yield key
                yield from strings(item)

    hostile = any(_oracle(s) for s in strings(value))
    try:
        check_json_text(value)
    except PydanticCustomError as exc:
        assert hostile and exc.type == "control_character"
        return
    assert not hostile


def test_free_json_nested_beyond_the_bound_is_refused_without_recursion() -> None:
    from pydantic_core import PydanticCustomError

    value: Any = "x"
    for _ in range(100_000):
        value = [value]
    with pytest.raises(PydanticCustomError) as caught:
        check_json_text({"rules": value})
    assert caught.value.type == "too_deep"
