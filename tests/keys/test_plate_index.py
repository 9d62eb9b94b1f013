"""The plate-index builder: decodes and verifies with the verifier's code, fresh salt each time."""

from __future__ import annotations

import pytest

from keys.errors import BuildError, KeysCode
from keys.plate_index import build_plate_index
from keys.signer import generate_signer
from tests.keys.conftest import T0
from verifier.formats import (
    TYP_PLATE_INDEX,
    Alg,
    PlateEntry,
    decode_plate_index_payload,
    decode_sign1,
    verify_sign1,
)

BEW = PlateEntry(
    number=17, status_list=1, status_idx=4242, nbf=T0, exp=T0 + 86_400, zones=("A3",), type="BEW"
)
BES = PlateEntry(
    number=18, status_list=1, status_idx=99, nbf=T0, exp=T0 + 3600, zones=("A3",), type="BES"
)


@pytest.mark.parametrize("alg", [Alg.ES256, Alg.EDDSA], ids=["es256", "ed25519"])
def test_index_decodes_verifies_and_looks_up(alg: Alg) -> None:
    signer = generate_signer(alg)
    blob = build_plate_index(
        issuer_id="05513000",
        signer=signer,
        entries={"ge ab 1234": [BEW], "NL:AB-123-C": [BES]},
        now=T0,
        valid_seconds=3600,
    )
    msg = decode_sign1(blob)
    assert msg.content_type == TYP_PLATE_INDEX and msg.kid == signer.cose_kid
    verify_sign1(msg, signer.public_key)
    index = decode_plate_index_payload(msg.payload)
    assert (index.iss, index.iat, index.exp) == ("05513000", T0, T0 + 3600)
    assert index.lookup("GE-AB 1234") == (BEW,)  # canonicalised before hashing
    assert index.lookup("NL:AB123C") == (BES,)
    assert index.lookup("GE-AB 1235") == ()
    assert b"AB 1234" not in blob and b"AB123C" not in blob


def test_fresh_salt_per_publication() -> None:
    signer = generate_signer()
    salts = {
        decode_plate_index_payload(
            decode_sign1(
                build_plate_index(
                    issuer_id="05513000",
                    signer=signer,
                    entries={"GE-AB 1234": [BEW]},
                    now=T0,
                    valid_seconds=60,
                )
            ).payload
        ).salt
        for _ in range(3)
    }
    assert len(salts) == 3 and all(len(s) == 16 for s in salts)


def test_plates_that_canonicalise_alike_are_merged() -> None:
    blob = build_plate_index(
        issuer_id="05513000",
        signer=generate_signer(),
        entries={"GE-AB 1234": [BEW], " ge ab1234 ": [BES]},
        now=T0,
        valid_seconds=60,
        salt=bytes(16),
    )
    index = decode_plate_index_payload(decode_sign1(blob).payload)
    assert index.lookup("GE-AB 1234") == (BEW, BES)
    assert len(index.entries) == 1


@pytest.mark.parametrize(
    ("entries", "extra"),
    [
        ({"not a plate!": [BEW]}, {}),
        ({"GE-AB 1234": []}, {}),
        ({"GE-AB 1234": [BEW]}, {"salt": b"short"}),
        ({"GE-AB 1234": [BEW]}, {"valid_seconds": 0}),
        ({"GE-AB 1234": [PlateEntry(1, 1, 1, T0, T0 + 1, ("A3",), "XYZ")]}, {}),
    ],
    ids=["bad-plate", "no-permits", "bad-salt", "no-validity", "bad-type"],
)
def test_bad_inputs(entries: dict[str, list[PlateEntry]], extra: dict[str, object]) -> None:
    args: dict[str, object] = {"valid_seconds": 60, **extra}
    with pytest.raises(BuildError) as info:
        build_plate_index(
            issuer_id="05513000",
            signer=generate_signer(),
            entries=entries,
            now=T0,
            **args,  # type: ignore[arg-type]
        )
    assert info.value.code is KeysCode.BAD_INPUT
    assert "not a plate!" not in str(info.value)
