"""One key, one identity, over real HTTP: a device key is known by the thumbprint of its
canonical JWK, so a second spelling of a bound key is refused (it never becomes a new device,
never counts twice in a batch, never escapes "bound to another holder"), and a key that does
not decode is ``invalid_proof`` (400), never a 500. Decoding does not depend on the database:
SQLite only."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from issuer.services.clock import FixedClock
from issuer.settings import Settings
from tests.wallet_api.harness import RESIDENCE_CONFIG, WalletEnv, wallet_env
from tests.wallet_api.support import ProofKey, b64
from wallet_api.models import WalletDevice


@pytest.fixture
def env(sqlite_settings: Settings, clock: FixedClock) -> Iterator[WalletEnv]:
    with wallet_env(sqlite_settings, clock) as environment:
        yield environment


def _other_spellings(key: ProofKey) -> list[dict[str, str]]:
    """The same public key as lenient decoders read it: padded, unused low bits set."""
    x = key.jwk["x"]
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    flipped = x[:-1] + last[last.index(x[-1]) ^ 1]  # the lowest (unused) bit of the last char
    return [
        {**key.jwk, "x": x + "="},
        {**key.jwk, "x": flipped},
        {**key.jwk, "y": key.jwk["y"] + "="},
    ]


def _proof(
    env: WalletEnv, key: ProofKey, jwk: dict[str, str] | None = None, nonce: str = ""
) -> str:
    return key.proof(aud=env.base_url, nonce=nonce or env.nonce(), iat=int(env.now()), jwk=jwk)


def _invalid_proof(response: httpx.Response) -> bool:
    return response.status_code == 400 and response.json()["error"] == "invalid_proof"


def _devices(env: WalletEnv) -> int:
    with env.app.state.session_factory() as session:
        return int(session.scalar(select(func.count()).select_from(WalletDevice)) or 0)


def test_a_second_spelling_of_a_bound_key_is_refused(env: WalletEnv) -> None:
    key = ProofKey()
    mine = env.tokens(env.offer())["access_token"]
    assert env.credential(mine, [_proof(env, key)]).status_code == 200
    theirs = env.tokens(env.offer(kind="residence", resident_id=str(env.other_resident_id)))
    for spelling in _other_spellings(key):
        for access, config in ((mine, None), (theirs["access_token"], RESIDENCE_CONFIG)):
            answer = env.credential(
                access, [_proof(env, key, spelling)], *([config] if config else [])
            )
            assert _invalid_proof(answer), answer.text
            registered = env.http.post(
                "/wallet/devices",
                json={"proof": _proof(env, key, spelling)},
                headers={"Authorization": f"Bearer {access}"},
            )
            assert _invalid_proof(registered), registered.text
    assert _devices(env) == 1


def test_one_key_twice_in_a_batch_is_refused(env: WalletEnv) -> None:
    key = ProofKey()
    access = env.tokens(env.offer())["access_token"]
    nonce = env.nonce()
    for spelling in _other_spellings(key):
        batch = [_proof(env, key, nonce=nonce), _proof(env, key, spelling, nonce=nonce)]
        assert _invalid_proof(env.credential(access, batch))
    assert _devices(env) == 0


def test_keys_that_do_not_decode_are_invalid_proof(env: WalletEnv) -> None:
    key = ProofKey()
    x, y = key.jwk["x"], key.jwk["y"]
    y_int = int.from_bytes(base64.urlsafe_b64decode(y + "="), "big")
    broken = [
        {**key.jwk, "y": b64((y_int ^ 1).to_bytes(32, "big"))},  # off the curve
        {**key.jwk, "x": b64(bytes(31))},  # short
        {**key.jwk, "x": x[:-2]},  # short and not whole bytes
        {**key.jwk, "x": "!" * 43},
        {**key.jwk, "x": b64(bytes(32)), "y": b64(bytes(32))},  # the point at the origin
        {**key.jwk, "y": y + y},
    ]
    access = env.tokens(env.offer())["access_token"]
    for jwk in broken:
        assert _invalid_proof(env.credential(access, [_proof(env, key, jwk)]))
        registered = env.http.post(
            "/wallet/devices",
            json={"proof": _proof(env, key, jwk)},
            headers={"Authorization": f"Bearer {access}"},
        )
        assert _invalid_proof(registered)
    assert _devices(env) == 0
