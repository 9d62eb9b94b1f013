"""Publication: status lists (CWT/JWT), trust bundle, JWKS, plate index; ETags, caching, scopes,
rebuilt on change and never re-signed per request."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from issuer.db.models import Tenant
from issuer.db.permit_models import StatusList
from issuer.services import plate_index
from tests.support.jobs import run_jobs
from tests.support.world import World, bundle_of, live_world, make_world, verify_qr


def _tenant_keys(world: World) -> list[Any]:
    with world.app.state.session_factory() as session:
        tenant = session.get(Tenant, world.tenant_id)
        ring = world.app.state.keys.tenant_ring(tenant)
    return [k.public_key for k in ring.published(int(world.clock.now().timestamp()))]


def test_status_list_cwt_and_jwt_follow_revocation(world: World) -> None:
    from verifier.formats import decode_status_list_cwt, decode_status_list_jwt

    out = world.issue()
    with world.app.state.session_factory() as session:
        list_no = session.scalars(select(StatusList.list_no)).one()
    url = f"/status-lists/{world.ags}/{list_no}"
    cwt_only = {"Accept": "application/statuslist+cwt"}
    first = world.client.get(url, headers=cwt_only)
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/statuslist+cwt"
    assert "public" in first.headers["cache-control"]
    _msg, token = decode_status_list_cwt(first.content)
    assert token.sub.endswith(url) and token.status_list.size == 2**17
    # served from the cache: byte-identical, and 304 for the same ETag
    assert world.client.get(url, headers=cwt_only).content == first.content
    cached = world.client.get(url, headers={"If-None-Match": first.headers["etag"], **cwt_only})
    assert cached.status_code == 304 and cached.content == b""

    jwt = world.client.get(url)  # no Accept: the JWT form (SD-JWT VC relying parties)
    assert jwt.headers["content-type"] == "application/statuslist+jwt"
    assert world.client.get(url, headers={"Accept": "application/statuslist+jwt"}).content == (
        jwt.content
    )
    assert jwt.headers["etag"] != first.headers["etag"]
    key = _tenant_keys(world)[0]
    assert decode_status_list_jwt(jwt.text, key).status_list.size == 2**17

    world.post(f"/api/v1/permits/{out['id']}/revoke", {"reason": "misuse"})
    after = world.client.get(url, headers={"If-None-Match": first.headers["etag"], **cwt_only})
    assert after.status_code == 200 and after.headers["etag"] != first.headers["etag"]
    _msg, revoked = decode_status_list_cwt(after.content)
    claims = _qr_claims(out["qr"])
    assert revoked.status_list.get(claims.status_idx) == 1

    assert world.client.get(f"/status-lists/{world.ags}/99").status_code == 404
    assert world.client.get("/status-lists/99999999/1").status_code == 404


def _qr_claims(text: str) -> Any:
    from verifier.formats import b45decode, decode_claims_map, decode_permit_claims, decode_sign1

    return decode_permit_claims(decode_claims_map(decode_sign1(b45decode(text[5:])).payload))


def test_trust_bundle_is_rebuilt_only_on_change_with_increasing_seq(world: World) -> None:
    out = world.issue()
    first = world.client.get("/trust-bundle")
    assert first.status_code == 200
    assert first.headers["content-type"] == "application/vnd.buergerid.trust-bundle+cbor"
    bundle = bundle_of(first.content)
    issuer = bundle.issuers[world.ags]
    assert issuer.url == f"https://{world.ags}.example.de"
    assert list(issuer.status) == [1] and issuer.keys
    # root signature
    from verifier.formats import decode_sign1, verify_sign1

    settings = world.app.state.settings
    root = world.app.state.keys.root_ring()
    root_key = root.records(int(world.clock.now().timestamp()))[0].public_key
    verify_sign1(decode_sign1(first.content), root_key)

    again = world.client.get("/trust-bundle")
    assert again.content == first.content  # no change: the same bytes, not re-signed
    not_modified = world.client.get(
        "/trust-bundle", headers={"If-None-Match": first.headers["etag"]}
    )
    assert not_modified.status_code == 304

    world.post(f"/api/v1/permits/{out['id']}/suspend", {"reason": "investigation"})
    changed = world.client.get("/trust-bundle", headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200
    assert bundle_of(changed.content).seq == bundle.seq + 1
    # time alone (past half the freshness period) also brings a new bundle
    world.clock.advance(settings.trust_bundle_fresh_seconds)
    later = bundle_of(world.client.get("/trust-bundle").content)
    assert later.seq == bundle.seq + 2 and later.iat > bundle.iat


def test_jwks_lists_every_tenant_key(world: World, api_client: Any) -> None:
    make_world(world.app, world.client, world.clock, api_client, ags="05562000")
    r = world.client.get("/.well-known/jwks.json")
    assert r.status_code == 200 and r.headers["etag"]
    keys = r.json()["keys"]
    assert {k["iss"] for k in keys} == {
        "https://05513000.example.de",
        "https://05562000.example.de",
    }
    assert all(len(k["kid"]) == 43 and "d" not in k for k in keys)


def test_plate_index_for_enforcement_only_never_cached(world: World, api_client: Any) -> None:
    from verifier.formats import decode_plate_index_payload, decode_sign1, verify_sign1

    out = world.issue(display_required=False)
    officer = api_client(scopes=("enforcement:read",), ags=world.ags)
    assert world.get("/api/v1/enforcement/plate-index").status_code == 403
    assert world.client.get("/api/v1/enforcement/plate-index").status_code == 401
    # never built in a request: until the job runner built it, a clear 503
    unbuilt = world.client.get("/api/v1/enforcement/plate-index", headers=officer.headers)
    assert unbuilt.status_code == 503 and unbuilt.headers["retry-after"] == "60"
    assert unbuilt.json()["code"] == "plate_index_not_built"
    assert run_jobs(world.app, "plate_indexes")["plate_indexes"].counts == {"built": 1}
    r = world.client.get("/api/v1/enforcement/plate-index", headers=officer.headers)
    assert r.status_code == 200
    assert "no-store" in r.headers["cache-control"] and "private" in r.headers["cache-control"]
    assert "public" not in r.headers["cache-control"]
    msg = decode_sign1(r.content)
    assert msg.content_type == "application/vnd.buergerid.plate-index+cbor"
    verify_sign1(msg, _tenant_keys(world)[0])
    index = decode_plate_index_payload(msg.payload)
    assert index.iss == world.ags
    entries = index.lookup("GE-AB 100")
    claims = _qr_claims(out["qr"])
    assert [(e.number, e.status_list, e.status_idx, e.zones, e.type) for e in entries] == [
        (out["number"], claims.status_list, claims.status_idx, ("A3",), "BEW")
    ]
    assert run_jobs(world.app, "plate_indexes")["plate_indexes"].counts == {"built": 0}
    again = world.client.get("/api/v1/enforcement/plate-index", headers=officer.headers)
    assert again.content == r.content  # nothing changed: the same build
    world.post(f"/api/v1/permits/{out['id']}/revoke", {"reason": "misuse"})
    second = world.issue(display_required=False)
    # within the debounce period the job builds nothing; after it, a rebuild
    run_jobs(world.app, "plate_indexes")
    soon = world.client.get("/api/v1/enforcement/plate-index", headers=officer.headers)
    assert soon.content == r.content
    world.clock.advance(plate_index.MIN_REBUILD_SECONDS)
    fresh = world.client.get("/api/v1/enforcement/plate-index", headers=officer.headers)
    assert fresh.content == r.content  # a request never builds
    assert run_jobs(world.app, "plate_indexes")["plate_indexes"].counts == {"built": 1}
    fresh = world.client.get("/api/v1/enforcement/plate-index", headers=officer.headers)
    rebuilt = decode_plate_index_payload(decode_sign1(fresh.content).payload)
    assert rebuilt.salt != index.salt
    # still indexed until its end: the status list makes it "revoked" on the handheld
    assert [e.number for e in rebuilt.lookup("GE-AB 100")] == [out["number"]]
    assert rebuilt.lookup("GE-ZZ 1") == ()
    assert [e.number for e in rebuilt.lookup(second["plates"][0])] == [second["number"]]


def test_plate_index_leaves_out_permits_that_must_be_displayed(
    app: Any, clock: Any, api_client: Any
) -> None:
    from verifier.formats import decode_plate_index_payload, decode_sign1

    with live_world(app, clock, api_client) as world:
        displayed = world.issue()  # the default: display required
        digital = world.issue(display_required=False)
        assert (displayed["display_required"], digital["display_required"]) == (True, False)
        officer = api_client(scopes=("enforcement:read",), ags=world.ags)
        run_jobs(app, "plate_indexes")
        r = world.client.get("/api/v1/enforcement/plate-index", headers=officer.headers)
        assert r.status_code == 200, r.text
        index = decode_plate_index_payload(decode_sign1(r.content).payload)
        assert index.lookup(displayed["plates"][0]) == ()
        assert [e.number for e in index.lookup(digital["plates"][0])] == [digital["number"]]
        # the permit itself is fine: its QR (shown behind the windscreen) verifies
        claims = verify_qr(world, displayed["qr"])
        assert (claims.number, claims.plates) == (displayed["number"], tuple(displayed["plates"]))


def test_bundle_seq_survives_a_new_database(world: World) -> None:
    from issuer.db.permit_models import TrustBundleRecord

    first = bundle_of(world.client.get("/trust-bundle").content)
    with world.app.state.session_factory() as session, session.begin():
        session.query(TrustBundleRecord).delete()  # as if the database had been rebuilt
    again = bundle_of(world.client.get("/trust-bundle").content)
    assert again.seq > first.seq  # the root ring remembers the last seq


def test_key_rotation_republishes_bundle_and_jwks(world: World) -> None:
    before = bundle_of(world.client.get("/trust-bundle").content)
    jwks_before = world.client.get("/.well-known/jwks.json").json()["keys"]
    with world.app.state.session_factory() as session:
        tenant = session.get(Tenant, world.tenant_id)
        assert tenant is not None
        new_kid = world.app.state.keys.rotate(tenant.key_ring, now=world.clock.now(), force=True)
    assert new_kid is not None
    after = bundle_of(world.client.get("/trust-bundle").content)
    assert after.seq == before.seq + 1
    assert len(after.issuers[world.ags].keys) == len(before.issuers[world.ags].keys) + 1
    kids = {k["kid"] for k in world.client.get("/.well-known/jwks.json").json()["keys"]}
    assert new_kid in kids and len(kids) == len(jwks_before) + 1
    # the pending key does not sign yet: a new permit is still signed by the old key
    out = world.issue()
    from verifier.formats import b45decode, decode_sign1

    kid8 = decode_sign1(b45decode(out["qr"][5:])).kid
    assert kid8 != world.app.state.keys.tenant_ring(tenant).find(new_kid, 0).cose_kid


@pytest.mark.parametrize(
    ("accept", "form"),
    [
        ("", "jwt"),
        ("*/*", "jwt"),
        ("application/statuslist+jwt", "jwt"),
        ("application/statuslist+cwt", "cwt"),
        ("application/statuslist+cwt, application/statuslist+jwt", "jwt"),
        ("application/statuslist+jwt;q=0.5, application/statuslist+cwt", "cwt"),
        ("application/statuslist+cwt;q=0.1, */*;q=0.2", "jwt"),
        ("application/*;q=0.5, application/statuslist+cwt;q=0.9", "cwt"),
        ("application/statuslist+cwt;q=abc", "jwt"),
        ("text/html", "jwt"),
    ],
)
def test_status_list_negotiation_prefers_the_jwt(accept: str, form: str) -> None:
    from issuer.routes.publication import status_list_form

    assert status_list_form(accept) == form
