"""The plate-index builder (docs/formats.md): salted plate keys → permits, signed by the issuer.

A fresh random 16-byte salt for every publication (so two publications cannot be linked by
their keys), plates canonicalised with `verifier`'s rule before hashing, entries of plates
that canonicalise alike merged. The signer must be a key of `issuer_id` (the handheld checks
that `iss` is the issuer whose key signed): pass `ring.signer_for(now, Purpose.PLATE_INDEX)`.

Built for 100,000 plates and more: the salt's HMAC state is computed once
(`plate_keyer`), and the payload is checked while it is encoded against every rule of the
verifier's strict decoder rather than decoded again afterwards (the verifier's tests prove
the encoder refuses whatever the decoder refuses).
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
    plate_keyer,
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

    `iat` = now, `exp` = now + valid_seconds. A plate's entries keep the order given (at
    most `MAX_ENTRIES_PER_PLATE`, as the handheld bounds them). `salt` is for reproducible
    tests only; leave it None in production (a fresh random salt each time). Plates that are
    not plates, an empty entry list or anything the verifier's decoder would refuse raise
    `bad_input`; the message never contains the plate.
    """
    if salt is None:
        salt = os.urandom(SALT_BYTES)
    if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
        raise BuildError(KeysCode.BAD_INPUT, f"salt must be {SALT_BYTES} bytes")
    if valid_seconds <= 0:
        raise BuildError(KeysCode.BAD_INPUT, "valid_seconds must be positive")
    key_of = plate_keyer(salt)
    index: dict[bytes, tuple[PlateEntry, ...]] = {}
    for number, (plate, permits) in enumerate(entries.items()):
        try:
            canonical = canonical_plate(plate)
        except VerifierError as exc:
            raise BuildError(KeysCode.BAD_INPUT, f"entry {number}: not a plate") from exc
        if not permits:
            raise BuildError(KeysCode.BAD_INPUT, f"entry {number}: no permits")
        key = key_of(canonical)
        seen = index.get(key)
        index[key] = tuple(permits) if seen is None else (*seen, *permits)
    payload_index = PlateIndex(
        iss=issuer_id, iat=now, exp=now + valid_seconds, salt=salt, entries=index
    )
    try:
        payload = encode_plate_index_payload(payload_index, redecode=False)
    except ValueError as exc:
        raise BuildError(KeysCode.BAD_INPUT, str(exc)) from exc
    return sign_cose(signer, payload, content_type=TYP_PLATE_INDEX)
