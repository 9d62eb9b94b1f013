"""Offers by reference (OpenID4VCI 1.0 §4.1.3) over real HTTP, SQLite and PostgreSQL: the
municipal API's link holds an https credential_offer_uri, fetched once as application/json
with a fresh pre-authorized code; a second fetch is refused and kills the offer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.wallet_api.flows import PRE, error, token
from tests.wallet_api.harness import WalletEnv, wallet_env


@pytest.fixture
def env(settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(settings, clock) as environment:
        yield environment


def _by_reference(env: WalletEnv) -> dict[str, Any]:
    return env.offer(kind="permit", permit_id=str(env.permit_id), delivery="reference")


def _uri_path(offer: dict[str, Any]) -> str:
    link = urlsplit(offer["credential_offer_url"])
    assert link.scheme == "openid-credential-offer"
    (uri,) = parse_qs(link.query)["credential_offer_uri"]
    assert uri == offer["credential_offer_uri"] and uri.startswith("http")
    return urlsplit(uri).path


def _redeem_form(fetched: dict[str, Any], tx_code: str) -> dict[str, str]:
    code = fetched["grants"][PRE]["pre-authorized_code"]
    return {"grant_type": PRE, "pre-authorized_code": code, "tx_code": tx_code}


def test_by_value_is_the_default_and_names_no_uri(env: WalletEnv) -> None:
    offer = env.offer()
    assert offer["delivery"] == "value" and offer["credential_offer_uri"] is None
    link = parse_qs(urlsplit(offer["credential_offer_url"]).query)
    assert set(link) == {"credential_offer"}


def test_an_offer_by_reference_is_fetched_once_and_redeemed(env: WalletEnv) -> None:
    offer = _by_reference(env)
    assert offer["credential_offer"] is None
    fetched = env.http.get(_uri_path(offer))
    assert fetched.status_code == 200
    assert fetched.headers["content-type"] == "application/json"
    assert fetched.headers["cache-control"] == "no-store"
    body = fetched.json()
    assert body["credential_issuer"] == env.base_url
    assert token(env, _redeem_form(body, offer["tx_code"])).status_code == 200


def test_an_offer_uri_fetched_twice_is_refused_and_the_offer_dies(env: WalletEnv) -> None:
    offer = _by_reference(env)
    path = _uri_path(offer)
    first = env.http.get(path).json()
    second = env.http.get(path)
    assert second.status_code == 404 and second.json()["code"] == "offer_not_found"
    # whoever fetched first cannot redeem either: the link was seen twice
    refused = token(env, _redeem_form(first, offer["tx_code"]))
    assert refused.status_code == 400 and error(refused) == "invalid_grant"


def test_an_expired_offer_uri_is_refused(env: WalletEnv) -> None:
    offer = _by_reference(env)
    env.clock.advance(seconds=16 * 60)
    assert env.http.get(_uri_path(offer)).status_code == 404


def test_unknown_offer_uris_are_404(env: WalletEnv) -> None:
    for token_value in ("unknown", "x" * 65):
        response = env.http.get(f"/wallet/credential-offer/{token_value}")
        assert response.status_code == 404
