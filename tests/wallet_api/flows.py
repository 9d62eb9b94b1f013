"""Raw-HTTP steps of the wallet protocol for the tests: token requests with DPoP and
wallet attestations, credential requests by identifier or configuration id. Independent of
the stub wallet, so the tests can send what a broken or hostile wallet would."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.wallet_api.harness import AGS, WalletEnv
from tests.wallet_api.support import ProofKey, dpop_proof

PRE = "urn:ietf:params:oauth:grant-type:pre-authorized_code"
PERMIT_CONFIG = f"{AGS}.parking-permit"
QR_CONFIG = f"{AGS}.parking-permit-qr"
RESIDENCE_CONFIG = f"{AGS}.residence"


def code_of(offer: dict[str, Any]) -> str:
    return str(offer["credential_offer"]["grants"][PRE]["pre-authorized_code"])


def error(response: httpx.Response) -> str:
    return str(response.json()["error"])


def server_nonce(env: WalletEnv) -> str:
    """A DPoP nonce, from the header every nonce response carries."""
    return str(env.http.post("/wallet/nonce").headers["DPoP-Nonce"])


def c_nonce(env: WalletEnv) -> str:
    return str(env.http.post("/wallet/nonce").json()["c_nonce"])


def token_form(offer: dict[str, Any], *, details: list[str] | None = None) -> dict[str, str]:
    form = {"grant_type": PRE, "pre-authorized_code": code_of(offer), "tx_code": offer["tx_code"]}
    if details is not None:
        form["authorization_details"] = json.dumps(
            [{"type": "openid_credential", "credential_configuration_id": c} for c in details]
        )
    return form


def token(
    env: WalletEnv,
    form: dict[str, str],
    *,
    dpop: ProofKey | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST /wallet/token, with a DPoP proof carrying a fresh server nonce when `dpop`."""
    sent = dict(headers or {})
    if dpop is not None:
        sent["DPoP"] = dpop_proof(
            dpop,
            method="POST",
            url=f"{env.base_url}/wallet/token",
            iat=int(env.now()),
            nonce=server_nonce(env),
        )
    return env.http.post("/wallet/token", data=form, headers=sent)


def credential(
    env: WalletEnv,
    access: str,
    body: dict[str, Any],
    *,
    dpop: ProofKey | None = None,
    path: str = "/wallet/credential",
) -> httpx.Response:
    """POST a protected endpoint with the access token (Bearer, or DPoP with a proof)."""
    if dpop is None:
        return env.http.post(path, json=body, headers={"Authorization": f"Bearer {access}"})
    proof = dpop_proof(
        dpop,
        method="POST",
        url=f"{env.base_url}{path}",
        iat=int(env.now()),
        nonce=server_nonce(env),
        access_token=access,
    )
    return env.http.post(
        path, json=body, headers={"Authorization": f"DPoP {access}", "DPoP": proof}
    )


def proofs(env: WalletEnv, key: ProofKey, **extra: Any) -> dict[str, Any]:
    """`proofs.jwt` with one fresh proof of `key`."""
    return {"jwt": [key.proof(aud=env.base_url, nonce=c_nonce(env), iat=int(env.now()), **extra)]}
