"""The plate-index builder (DESIGN §3.5): salted plate keys → permits, signed by the issuer.

A fresh random 16-byte salt for every publication (so two publications cannot be linked by
their keys), plates canonicalised with `verifier`'s rule before hashing, entries of plates
that canonicalise alike merged. The signer must be a key of `issuer_id` (the handheld checks
that `iss` is the issuer whose key signed): pass `ring.signer_for(now, KeyType.PLATE_INDEX)`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from keys.errors import BuildError, KeysCode
from keys.signer import Signer, sign_cose
from verifier import VerifierError, canonical_plate
from verifier.formats import (
    SALT_BYTES,
    TYP_PLATE_INDEX,
    PlateEntry,
    PlateIndex,
    encode_plate_index_payload,
    plate_key,
)


def build_plate_index(
    *,
    issuer_id: str,
    signer: Signer,
    entries: Mapping[str, Sequence[PlateEntry]],
    now: int,
    valid_seconds: int,
    salt: bytes | None = None,
) -> bytes:
    """Build and sign a plate index: COSE_Sign1 with content type TYP_PLATE_INDEX.

    `iat` = now, `exp` = now + valid_seconds. `salt` is for reproducible tests only; leave
    it None in production (a fresh random salt each time). Plates that are not plates, an
    empty entry list or anything the verifier's decoder would refuse raise `bad_input`;
    the message never contains the plate.
    """
    if salt is None:
        salt = os.urandom(SALT_BYTES)
    if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
        raise BuildError(KeysCode.BAD_INPUT, f"salt must be {SALT_BYTES} bytes")
    if valid_seconds <= 0:
        raise BuildError(KeysCode.BAD_INPUT, "valid_seconds must be positive")
    index: dict[bytes, tuple[PlateEntry, ...]] = {}
    for number, (plate, permits) in enumerate(entries.items()):
        try:
            canonical = canonical_plate(plate)
        except VerifierError as exc:
            raise BuildError(KeysCode.BAD_INPUT, f"entry {number}: not a plate") from exc
        if not permits:
            raise BuildError(KeysCode.BAD_INPUT, f"entry {number}: no permits")
        key = plate_key(salt, canonical)
        index[key] = (*index.get(key, ()), *permits)
    payload_index = PlateIndex(
        iss=issuer_id, iat=now, exp=now + valid_seconds, salt=salt, entries=index
    )
    try:
        payload = encode_plate_index_payload(payload_index)
    except ValueError as exc:
        raise BuildError(KeysCode.BAD_INPUT, str(exc)) from exc
    return sign_cose(signer, payload, content_type=TYP_PLATE_INDEX)
