"""Relying-party benchmark, one run, ratios in the same run (not a test).

1. SD-JWT VC presentation verification (the Bürger-ID as a wallet presents it to log in)
   as the relying party's response endpoint runs it: ``read_presentation`` (the text read
   once) and ``check_presentation`` (the tenant's key chosen by the header's ``kid`` from
   the published keys, issuer signature, Disclosures, SD-JWT VC rules, KB-JWT with aud,
   nonce, iat and sd_hash, the holder's key id), against a bare ES256 verify of the SAME
   bytes (the credential's own signing input and signature, the key pre-parsed, the
   signature pre-converted to DER). Two signatures are checked, so 2.0 is the floor.
   Printed as ``ratio_sd_jwt_vc_presentation_vs_bare_verify_same_bytes=``. Left out of
   the timing and timed in 2.: the database lookups of ``verify_presentation`` (the
   tenant's row by ``iss``, the status entry and the credential's row); their cost is
   printed alone as ``rp_verify_presentation_with_db_us=`` (SQLite). The same
   verification through ``verify_sd_jwt_vc`` alone (the key given) is printed as
   ``ratio_sd_jwt_vc_library_verify_vs_bare_verify_same_bytes=``. The holder's key is
   decoded once per holder and remembered; a wallet seen for the first time costs one
   point check more (about a signature check). The JWS headers are decoded once per
   header text and remembered too (the issuer's is the same for every credential of one
   key, the KB-JWT's for every wallet); a new issuer key costs one header decode more
   (about 5 µs with its ``x5c``). Payload, Disclosures, KB-JWT claims and both signatures
   are decoded, hashed and checked on every call.
2. The server side of a whole login, without HTTP: start the transaction, sign the request
   object, decrypt and verify the response (trust, status, DCQL), hand out the result once;
   on SQLite, the wallet's work (presentation, encryption) done outside the timing. Printed
   as milliseconds and as ``ratio_login_server_vs_bare_verify=``.

    .venv/bin/python bench/relying_party.py [--verifications N] [--logins N]
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bench.wallet import _interleaved
from issuer.db.models import Tenant
from issuer.migrations import upgrade
from issuer.services.clock import FixedClock
from mobile_sdk_stub.openid4vp import Presenter, Request
from mobile_sdk_stub.presentation import build_presentation
from tests.support.db import make_test_settings
from tests.wallet_api.rp_harness import rp_env
from verifier.formats import key_from_jwk
from verifier.sdjwt import verify_sd_jwt_vc
from wallet_api.relying_party import dcql
from wallet_api.relying_party import presentations as rp_presentations
from wallet_api.relying_party import transactions as tx
from wallet_api.services.credential_types import RESIDENCE
from wallet_api.services.type_metadata import vct_for

PATHS = [("given_name",), ("family_name",), ("birthdate",)]


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--verifications", type=int, default=2000)
    parser.add_argument("--logins", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        db = root / "bench.db"
        upgrade(f"sqlite:///{db}")
        settings = make_test_settings(f"sqlite:///{db}", root / "data")
        clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
        with rp_env(settings, clock, root / "rp") as env:
            wallet, _presenter = env.wallet()
            env.give_buergerid(wallet)
            (stored,) = wallet.store.list_credentials("residence")
            assert stored.sd_jwt is not None
            rp = env.app.state.relying_party
            jwks = env.browser().get("/.well-known/jwt-vc-issuer").json()["jwks"]["keys"]
            now = env.now()
            # our client identifier is known before a response arrives; what is timed is
            # the verification itself
            client_id = rp.client_id
            presentation = build_presentation(
                stored.sd_jwt,
                PATHS,
                device=wallet.device,
                aud=client_id,
                nonce="n" * 43,
                iat=now,
                include_subtree=False,
            )
            issuer_key = key_from_jwk({k: jwks[0][k] for k in ("kty", "crv", "x", "y")})

            nonce = "n" * 43
            session = env.app.state.session_factory()
            tenant = session.get(Tenant, env.tenant_id)
            assert tenant is not None

            def verify_presentation() -> None:
                rp_presentations.check_presentation(
                    rp_presentations.read_presentation(presentation),
                    tenant=tenant,
                    keys=rp.keys,
                    trust=rp.trust,
                    client_id=client_id,
                    nonce=nonce,
                    now=clock.now(),
                )

            def verify_library() -> None:
                verify_sd_jwt_vc(
                    presentation,
                    issuer_key=issuer_key,
                    now=now,
                    require_key_binding=True,
                    expected_aud=client_id,
                    expected_nonce=nonce,
                )

            def verify_with_db() -> None:
                rp_presentations.verify_presentation(
                    session,
                    settings=rp.settings,
                    keys=rp.keys,
                    trust=rp.trust,
                    presentation=presentation,
                    client_id=client_id,
                    nonce=nonce,
                    now=clock.now(),
                    timeout_seconds=rp.settings.rp_status_fetch_timeout_seconds,
                )

            # the same bytes: the credential's signing input and its signature
            header, payload, signature = presentation.split("~")[0].split(".")
            signing_input = f"{header}.{payload}".encode("ascii")
            raw = _b64(signature)
            der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
            assert isinstance(issuer_key, ec.EllipticCurvePublicKey)

            def bare_verify() -> None:
                issuer_key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))

            sd, bare = _interleaved(verify_presentation, bare_verify, args.verifications)
            library, bare_again = _interleaved(verify_library, bare_verify, args.verifications)
            with_db, _ = _interleaved(verify_with_db, bare_verify, args.verifications // 4)
            session.close()

            # the server side of whole logins
            tenant_vct = vct_for("https://05513000.example.de", RESIDENCE)
            query = dcql.residence_query([tenant_vct])
            login_seconds = 0.0
            for _ in range(args.logins):
                server = 0.0
                with env.app.state.session_factory() as session:
                    begin = time.perf_counter()
                    started = tx.start(
                        session,
                        rp,
                        purpose=tx.Purpose.LOGIN,
                        query=query,
                        binding="b" * 43,
                        return_url=None,
                        now=clock.now(),
                        tenant_id=env.tenant_id,
                    )
                    token = started.same_device_url.split("rp%2Frequest%2F")[1].split("%3F")[0]
                    jws = tx.request_object(
                        session, rp, token=token, flow="same-device", now=clock.now()
                    )
                    session.commit()
                    server += time.perf_counter() - begin
                    claims: dict[str, Any] = json.loads(_b64(jws.split(".")[1]))
                    request = Request(client_id=claims["client_id"], claims=claims, client_name="")
                    vp = build_presentation(
                        stored.sd_jwt,
                        [p for p in dcql.PERSON_CLAIMS + dcql.ADDRESS_CLAIMS],
                        device=wallet.device,
                        aud=claims["client_id"],
                        nonce=claims["nonce"],
                        iat=env.now(),
                        include_subtree=False,
                    )
                    body = {"vp_token": {"buergerid": [vp]}, "state": claims["state"]}
                    form = {"response": Presenter.encrypt(request, body)}
                    begin = time.perf_counter()
                    tx.receive_response(
                        session, rp, transaction_id=started.id, form=form, now=clock.now()
                    )
                    tx.take_result(
                        session,
                        rp,
                        transaction_id=started.id,
                        binding="b" * 43,
                        response_code=None,
                        now=clock.now(),
                    )
                    session.commit()
                    server += time.perf_counter() - begin
                login_seconds += server
    login = login_seconds / args.logins
    print(f"SD-JWT VC presentation verify: {sd * 1e6:.0f} µs; bare ES256 verify of the same "
          f"bytes: {bare * 1e6:.0f} µs (CPU time, interleaved, best of 9 rounds)")  # fmt: skip
    print(f"ratio_sd_jwt_vc_presentation_vs_bare_verify_same_bytes={sd / bare:.2f}")
    print(f"ratio_sd_jwt_vc_library_verify_vs_bare_verify_same_bytes={library / bare_again:.2f}")
    print(f"verify_presentation with its database lookups (tenant, status entry, credential; "
          f"SQLite): {with_db * 1e6:.0f} µs")  # fmt: skip
    print(f"rp_verify_presentation_with_db_us={with_db * 1e6:.0f}")
    print(f"login on the server side (request object, response, verification, result; "
          f"SQLite, no HTTP): {login * 1000:.2f} ms ({args.logins} logins)")  # fmt: skip
    print(f"login_server_ms={login * 1000:.2f}")
    print(f"ratio_login_server_vs_bare_verify={login / bare:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
