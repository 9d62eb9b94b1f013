"""Status indices: random, never reused, lists grow by adding lists; statuses and the wire list."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from issuer.db.permit_models import StatusEntry, StatusList
from issuer.services import status_lists
from tests.support.world import World


def test_indices_are_random_unique_and_lists_grow(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_lists, "LIST_SIZE", 64)  # half full at 32 → a new list
    drawn = []
    with world.app.state.session_factory() as session, session.begin():
        for _ in range(80):
            drawn.append(
                status_lists.allocate_index(
                    session, tenant_id=world.tenant_id, now=world.clock.now()
                )
            )
    assert len(set(drawn)) == 80
    per_list: dict[int, list[int]] = {}
    for list_no, idx in drawn:
        per_list.setdefault(list_no, []).append(idx)
    assert sorted(per_list) == [1, 2, 3]
    assert [len(per_list[n]) for n in (1, 2, 3)] == [32, 32, 16]
    # not sequential: the first list's indices are not 0..31 in order
    assert per_list[1] != list(range(32))
    with world.app.state.session_factory() as session:
        count = session.scalar(select(func.count(StatusEntry.id)))
        assert count == 80
        sizes = session.scalars(select(StatusList.size)).all()
        assert set(sizes) == {64}


def test_a_taken_index_is_never_handed_out_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(status_lists, "LIST_SIZE", 8)
    monkeypatch.setattr(status_lists, "FILL_LIMIT", 1.0)
    with world.app.state.session_factory() as session, session.begin():
        got = {
            status_lists.allocate_index(session, tenant_id=world.tenant_id, now=world.clock.now())
            for _ in range(16)
        }
    assert got == {(n, i) for n in (1, 2) for i in range(8)}


def test_set_status_and_the_packed_list(world: World) -> None:
    from verifier.formats import StatusList as WireList

    with world.app.state.session_factory() as session, session.begin():
        a = status_lists.allocate_index(session, tenant_id=world.tenant_id, now=world.clock.now())
        b = status_lists.allocate_index(session, tenant_id=world.tenant_id, now=world.clock.now())
        version = session.scalar(select(StatusList.version))
        status_lists.set_status(session, tenant_id=world.tenant_id, list_no=a[0], idx=a[1], value=1)
        status_lists.revoke_tokens(session, tenant_id=world.tenant_id, tokens=[b])
        status_lists.set_status(session, tenant_id=world.tenant_id, list_no=b[0], idx=b[1], value=2)
    with world.app.state.session_factory() as session:
        assert session.scalar(select(StatusList.version)) == (version or 0) + 3
        bits = status_lists.list_bits(
            session, tenant_id=world.tenant_id, list_no=a[0], size=status_lists.LIST_SIZE
        )
    wire = WireList(2, bits)
    assert wire.size == 2**17
    assert (wire.get(a[1]), wire.get(b[1])) == (1, 2)
    assert sum(1 for v in wire if v) == 2
    with pytest.raises(ValueError):
        status_lists.set_statuses(session, tenant_id=world.tenant_id, entries=[a], value=3)
