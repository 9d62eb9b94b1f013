"""`keys` re-exports its public names; `__all__` lists exactly those (httpx's check)."""

from __future__ import annotations

import keys


def test_all_names_exist_and_are_public() -> None:
    assert sorted(keys.__all__) == sorted(set(keys.__all__))
    for name in keys.__all__:
        assert hasattr(keys, name), name
        assert not name.startswith("_")


def test_every_public_attribute_is_listed() -> None:
    modules = {"bundle", "errors", "lifecycle", "plate_index", "ring", "signer", "status_list"}
    modules |= {"issuing_ca", "x509", "permit_qr", "sd_jwt_vc", "relying_party"}
    modules |= {"storage", "cli", "windscreen"}  # submodules appear once imported
    public = {n for n in dir(keys) if not n.startswith("_") and n not in modules}
    assert public == set(keys.__all__) | {"annotations"}
