"""Publication fast path: unchanged artefacts come from memory (no key-ring reads), and every
change still shows, including a key ring rotated by another process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from issuer.db.models import Tenant
from issuer.services import publication
from keys.lifecycle import RotationPolicy
from keys.ring import KeyRing
from tests.support.world import World, bundle_of


def _count_ring_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    real = KeyRing._load

    def counting(self: KeyRing) -> Any:
        calls[0] += 1
        return real(self)

    monkeypatch.setattr(KeyRing, "_load", counting)
    return calls


def test_unchanged_artefacts_are_served_without_reading_key_rings(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.issue()
    first = world.client.get("/trust-bundle")
    jwks = world.client.get("/.well-known/jwks.json")
    status = world.client.get(f"/status-lists/{world.ags}/1")
    assert first.status_code == jwks.status_code == status.status_code == 200
    monkeypatch.setattr(publication, "RING_STAT_SECONDS", 3600.0)
    loads = _count_ring_loads(monkeypatch)
    again = world.client.get("/trust-bundle")
    cached = world.client.get("/trust-bundle", headers={"If-None-Match": first.headers["etag"]})
    assert again.content == first.content and cached.status_code == 304
    assert world.client.get("/.well-known/jwks.json").content == jwks.content
    assert world.client.get(f"/status-lists/{world.ags}/1").content == status.content
    assert loads[0] == 0


def test_status_change_still_republishes_with_a_warm_cache(world: World) -> None:
    out = world.issue()
    first = world.client.get("/trust-bundle")
    status = world.client.get(f"/status-lists/{world.ags}/1")
    world.post(f"/api/v1/permits/{out['id']}/revoke", {"reason": "misuse"})
    assert world.client.get(f"/status-lists/{world.ags}/1").content != status.content
    changed = world.client.get("/trust-bundle", headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200
    assert bundle_of(changed.content).seq == bundle_of(first.content).seq + 1


def test_rotation_by_another_process_is_seen_after_the_stat_interval(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = world.app.state.settings
    before = bundle_of(world.client.get("/trust-bundle").content)
    jwks_before = world.client.get("/.well-known/jwks.json").json()["keys"]
    with world.app.state.session_factory() as session:
        tenant = session.get(Tenant, world.tenant_id)
        assert tenant is not None
        ring_dir = Path(settings.keys_dir) / tenant.key_ring
    # another process: its own KeyRing object, no KeyStore.rotate (the app's store sees no bump)
    from issuer.settings import resolve_key_passphrase

    generation = world.app.state.keys.generation
    other = KeyRing.open(ring_dir, passphrase=resolve_key_passphrase(settings))
    policy = RotationPolicy(
        fresh_seconds=settings.trust_bundle_fresh_seconds,
        max_token_seconds=2 * 366 * 24 * 3600,
        sign_seconds=365 * 24 * 3600,
    )
    info = other.rotate(int(world.clock.now().timestamp()), policy, force=True)
    assert info is not None and world.app.state.keys.generation == generation
    # within the interval the remembered bundle may still be served ...
    monkeypatch.setattr(publication, "RING_STAT_SECONDS", 3600.0)
    assert bundle_of(world.client.get("/trust-bundle").content).seq == before.seq
    # ... once it passed, the stat of ring.json shows the change
    monkeypatch.setattr(publication, "RING_STAT_SECONDS", 0.0)
    after = bundle_of(world.client.get("/trust-bundle").content)
    assert after.seq == before.seq + 1
    assert len(after.issuers[world.ags].keys) == len(before.issuers[world.ags].keys) + 1
    kids = {k["kid"] for k in world.client.get("/.well-known/jwks.json").json()["keys"]}
    assert info.kid in kids and len(kids) == len(jwks_before) + 1


def test_key_window_boundary_ends_a_cached_bundle(world: World) -> None:
    with world.app.state.session_factory() as session:
        tenant = session.get(Tenant, world.tenant_id)
        assert tenant is not None
        new_kid = world.app.state.keys.rotate(tenant.key_ring, now=world.clock.now(), force=True)
        ring = world.app.state.keys.tenant_ring(tenant)
    assert new_kid is not None
    first = bundle_of(world.client.get("/trust-bundle").content)
    at = int(world.clock.now().timestamp())
    nbf = ring.find(new_kid, at).window.nbf
    assert nbf > at
    world.clock.advance(nbf - at)  # the pending key becomes active: the bundle content moves
    later = bundle_of(world.client.get("/trust-bundle").content)
    assert later.seq == first.seq + 1
