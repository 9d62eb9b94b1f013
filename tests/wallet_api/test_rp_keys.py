"""The relying party's memory of its tenants' credential keys, over real HTTPS on SQLite
and PostgreSQL: a key withdrawn through the service's key store is refused at the very next
login, not when the remembered keys would have expired."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from issuer.db.models import Tenant
from issuer.services.clock import FixedClock
from issuer.settings import Settings
from mobile_sdk_stub.openid4vp import PresentationRefused
from tests.wallet_api.rp_harness import AGS, RpEnv, rp_env
from verifier.formats import peek_jws_header


@pytest.fixture
def env(settings: Settings, clock: FixedClock, tmp_path: Path) -> Iterator[RpEnv]:
    with rp_env(settings, clock, tmp_path) as running:
        yield running


def _refused(call: Any) -> str:
    with pytest.raises(PresentationRefused) as info:
        call()
    return info.value.code


def test_a_withdrawn_credential_key_is_refused_at_the_next_login(env: RpEnv) -> None:
    wallet, presenter = env.wallet()
    env.give_buergerid(wallet)
    browser = env.browser()
    # a first login: the relying party now remembers the tenant's published keys
    redirect = presenter.respond(
        presenter.resolve(env.open(browser, f"/rp/login/{AGS}").same_device)
    )
    assert redirect is not None and "Erika Mustermann" in browser.get(redirect).text
    (stored,) = wallet.store.list_credentials("residence")
    assert stored.sd_jwt is not None
    kid = peek_jws_header(stored.sd_jwt.split("~", 1)[0])["kid"]
    with env.app.state.session_factory() as session:
        tenant = session.get(Tenant, env.tenant_id)
        assert tenant is not None
        ring = tenant.key_ring
    env.app.state.relying_party.keys.withdraw(ring, kid, now=env.clock.now())
    started = env.open(env.browser(), f"/rp/login/{AGS}")
    request = presenter.resolve(started.cross_device)
    assert _refused(lambda: presenter.respond(request)) == "untrusted_issuer"
    assert env.transaction(started.transaction_id).error == "untrusted_issuer"
