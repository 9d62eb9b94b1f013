"""The offline check: ``verify`` for a QR text, ``verify_plate`` for a typed plate,
``verify_car`` for both.

All are pure functions of their arguments: the loaded ``TrustStore`` and ``now`` (integer
seconds since the epoch), no clock, no I/O. The steps run in the order docs/verifier.md
lists them ("The checks, step by step"), each failing fast with its stable reason; the
comments below carry the same step numbers. Only ``VerifierError`` is turned into a
verdict; anything else is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from verifier import _base45, _claims, _cose, _keys, _plate_index, _plates
from verifier._claims import PermitClaims
from verifier._errors import Notice, Reason, SignatureError, VerifierError
from verifier._store import IssuerInfo, StoreKey, TrustStore, UsablePlateIndex
from verifier._verdict import BundleInfo, Context, Outcome, Permit, Verdict, failed
from verifier._zones import Zone, resolve_zone

PREFIX = "BID1:"
MAX_QR_CHARS = 1000
"""Step 1: the whole text, prefix included."""
DEFAULT_LEEWAY_SECONDS = 60
"""Steps 4 and 8: tolerated clock skew towards the start of a validity."""
BERLIN = ZoneInfo("Europe/Berlin")

_STATUS_REASON = {1: Reason.REVOKED, 2: Reason.SUSPENDED}


class _Stop(Exception):
    """A check after the signature failed; the verdict still shows the permit."""

    def __init__(self, reason: Reason) -> None:
        self.reason = reason


def _bundle_info(store: TrustStore, now: int) -> BundleInfo | None:
    if not store.has_bundle:
        return None
    return BundleInfo(store.seq, store.iat, now - store.iat)


def _bundle_warnings(store: TrustStore, now: int) -> tuple[Notice, ...]:
    if store.has_bundle and now >= store.fresh_until:
        return (Notice.BUNDLE_STALE,)
    return ()


def _check_bundle(store: TrustStore, now: int, leeway: int) -> None:
    """Step 4 (all three indeterminate)."""
    if not store.has_bundle:
        raise VerifierError(Reason.NO_BUNDLE)
    if now < store.iat - leeway:
        raise VerifierError(Reason.CLOCK_BEHIND)
    if now >= store.exp:
        raise VerifierError(Reason.BUNDLE_EXPIRED)


def verify(
    qr_text: str,
    store: TrustStore,
    now: int,
    context: Context | None = None,
    *,
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
) -> Verdict:
    """Check one QR text (``BID1:`` + Base45 COSE_Sign1) offline: steps 1–11.

    Raises ``ZoneError`` (and checks nothing) when the context's zone is not a zone or is a
    bare code that neither ``context.municipality`` nor a one-issuer bundle settles.
    """
    zone = None
    if context is not None and context.zone is not None:
        zone = zone_of(context.zone, context.municipality, store)
    bundle = _bundle_info(store, now)
    warnings = _bundle_warnings(store, now)
    try:
        claims, issuer, signers = _signed_claims(qr_text, store, now, leeway_seconds)
    except VerifierError as exc:
        return failed(exc.reason, warnings=warnings, bundle=bundle, zone=zone)
    permit = _permit(claims, issuer)
    extra: list[Notice] = []
    try:
        # 7. key window and type
        if not any(
            k.signs_at(claims.iat) and now < k.exp and claims.type in k.types for k in signers
        ):
            raise _Stop(Reason.KEY_NOT_VALID)
        # 8. validity, the leeway only towards the start (RFC 8392: at exp it is expired)
        start = claims.iat if claims.nbf is None else max(claims.iat, claims.nbf)
        _check_validity(start, claims.exp, now, leeway_seconds)
        # 9. status
        _check_status(store, claims.issuer, claims.status_list, claims.status_idx, now, extra)
        # 10. time windows, always
        if permit.windows is not None and not in_windows(permit.windows, now):
            raise _Stop(Reason.OUTSIDE_HOURS)
        # 11. officer context
        if context is not None:
            _check_context(context, zone, permit, extra)
    except _Stop as stop:
        return failed(
            stop.reason, warnings=(*warnings, *extra), permit=permit, bundle=bundle, zone=zone
        )
    return Verdict(Outcome.VALID, None, (*warnings, *extra), permit, bundle, zone)


def _signed_claims(
    qr_text: str, store: TrustStore, now: int, leeway: int
) -> tuple[PermitClaims, IssuerInfo, Sequence[StoreKey]]:
    """Steps 1–6: the claims of a token whose signature verified, its issuer and the keys
    that verified it; ``VerifierError`` with the first failing step's reason."""
    # 1. format
    if len(qr_text) > MAX_QR_CHARS or not qr_text.startswith(PREFIX):
        raise VerifierError(Reason.UNSUPPORTED_FORMAT)
    # 2. strict Base45; 3. bounded CBOR, COSE_Sign1 shape, empty unprotected header, bstr
    # kid, alg (PERMIT_PROFILE)
    raw = _base45.b45decode(qr_text[len(PREFIX) :])
    protected, payload, signature, alg, kid = _cose.decode_permit_parts(raw)
    # 4. trust store
    _check_bundle(store, now, leeway)
    # 5. issuer and key
    claims_map = _claims.decode_claims_map(payload)
    issuer = _claims.peek_issuer(claims_map)
    info = store.issuers.get(issuer)
    if info is None:
        raise VerifierError(Reason.UNKNOWN_ISSUER)
    candidates = store.keys_by_alg.get((issuer, kid, alg))
    if candidates is None:
        raise VerifierError(Reason.UNKNOWN_KEY)
    # 6. signature over the Sig_structure with every candidate; only then the claims
    message = _cose.sig_structure(protected, payload)
    signers = [k for k in candidates if _signed_by(k, alg, message, signature)]
    if not signers:
        raise VerifierError(Reason.BAD_SIGNATURE)
    return _claims.decode_permit_claims(claims_map), info, signers


def _signed_by(key: StoreKey, alg: _keys.Alg, message: bytes, signature: bytes) -> bool:
    try:
        _keys.verify_signature(key.key, alg, message, signature)
    except SignatureError:
        return False
    return True


def _permit(claims: PermitClaims, issuer: IssuerInfo) -> Permit:
    """The permit as the officer sees it."""
    windows = claims.windows
    return Permit(
        issuer=claims.issuer,
        type=str(claims.type),
        zones=claims.zones,
        plates=claims.plates,
        fleet=claims.fleet,
        number=claims.number,
        iat=claims.iat,
        nbf=claims.nbf,
        exp=claims.exp,
        max_stay=claims.max_stay,
        windows=None
        if windows is None
        else tuple((w.days, w.start_minute, w.end_minute) for w in windows),
        issuer_name=issuer.name,
    )


def zone_of(zone: str | Zone, municipality: str | None, store: TrustStore) -> Zone:
    """The officer's zone as a (municipality, code) pair; ``ZoneError`` else."""
    if isinstance(zone, Zone):
        return zone
    return resolve_zone(zone, municipality=municipality, issuers=store.issuers)


def _check_validity(start: int, exp: int, now: int, leeway: int) -> None:
    """Step 8: the leeway only towards the start (RFC 8392: at exp it is expired)."""
    if now < start - leeway:
        raise _Stop(Reason.NOT_YET_VALID)
    if now >= exp:
        raise _Stop(Reason.EXPIRED)


def _check_status(
    store: TrustStore,
    issuer: str,
    list_no: int,
    idx: int,
    now: int,
    extra: list[Notice],
) -> None:
    """Step 9: a missing or unusable list is ``status_unknown``."""
    usable = store.status.get((issuer, list_no))
    if usable is None or now >= usable.exp or now >= usable.key_exp or idx >= usable.size:
        raise _Stop(Reason.STATUS_UNKNOWN)
    stale_at = usable.stale_at
    if stale_at is not None and now >= stale_at:
        extra.append(Notice.STATUS_STALE)
    value = usable.status_list.get(idx)
    if value:
        raise _Stop(_STATUS_REASON.get(value, Reason.STATUS_UNKNOWN))


def in_windows(windows: Iterable[tuple[int, int, int]], now: int) -> bool:
    """Step 10: inside any ``[days, from, to)`` at ``now``, in Europe/Berlin local time."""
    try:
        local = datetime.fromtimestamp(now, BERLIN)
    except (OverflowError, ValueError, OSError):
        return False  # a time outside the calendar is inside no window
    day_bit = 1 << local.weekday()  # Monday = 1 … Sunday = 64
    minute = local.hour * 60 + local.minute
    return any(days & day_bit and start <= minute < end for days, start, end in windows)


def _canonical_or_none(text: str, canonicalise: object) -> str | None:
    try:
        return canonicalise(text)  # type: ignore[operator, no-any-return]
    except VerifierError:
        return None


def _zone_matches(zone: Zone, issuer: str, zones: tuple[str, ...]) -> bool:
    # a zone code means something only in its own municipality; permit zones are canonical
    return issuer == zone.municipality and zone.code in zones


def _check_context(
    context: Context, zone: Zone | None, permit: Permit, extra: list[Notice]
) -> None:
    """Step 11, both sides canonicalised; zone first, then plate."""
    if zone is not None and not _zone_matches(zone, permit.issuer, permit.zones):
        raise _Stop(Reason.WRONG_ZONE)
    if context.plate is not None:
        plate = _canonical_or_none(context.plate, _plates.canonical_plate)
        if plate is None or plate not in permit.plates:
            if permit.fleet is None:
                raise _Stop(Reason.WRONG_PLATE)
            # a fleet permit covers changing vehicles: nothing to compare the plate with
            extra.append(Notice.PLATE_NOT_CHECKED)


# --------------------------------------------------------------------------- plates


def verify_plate(
    plate: str,
    store: TrustStore,
    now: int,
    zone: str | Zone | None = None,
    *,
    municipality: str | None = None,
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
) -> Verdict:
    """A digital-only permit by plate (``buergerid-verify plate``, docs/verifier.md).

    No usable index (none synced, past its ``exp`` or its key's, or the bundle unusable)
    is ``no_plate_index``; a plate in no index is ``no_permit``. Each entry found is checked
    with steps 7–11: valid if any entry is valid, else indeterminate if any is,
    else invalid with the first entry's reason. ``zone`` follows the rule of ``verify``
    (``ZoneError`` for a bare code nothing settles; nothing is checked then).
    """
    wanted = None if zone is None else zone_of(zone, municipality, store)
    bundle = _bundle_info(store, now)
    warnings = _bundle_warnings(store, now)
    usable = [pi for pi in store.plate_indexes.values() if now < pi.exp and now < pi.key_exp]
    try:
        if not usable:
            raise VerifierError(Reason.NO_PLATE_INDEX)
        try:
            _check_bundle(store, now, leeway_seconds)
        except VerifierError as exc:
            # the index is only as good as the bundle whose keys verified it
            raise VerifierError(Reason.NO_PLATE_INDEX, exc.detail) from None
        canonical = _canonical_or_none(plate, _plates.canonical_plate)
        if canonical is None:
            raise VerifierError(Reason.NO_PERMIT)
        found: list[tuple[UsablePlateIndex, _plate_index.PlateEntry]] = []
        for pi in usable:
            try:
                entries = pi.index.lookup(canonical)
            except VerifierError:
                raise VerifierError(Reason.NO_PLATE_INDEX, "stored index damaged") from None
            found.extend((pi, entry) for entry in entries)
    except VerifierError as exc:
        return failed(exc.reason, warnings=warnings, bundle=bundle, zone=wanted)
    if not found:
        return failed(Reason.NO_PERMIT, warnings=warnings, bundle=bundle, zone=wanted)
    verdicts = [
        _verify_entry(pi, entry, canonical, store, now, wanted, leeway_seconds, bundle, warnings)
        for pi, entry in found
    ]
    for outcome in (Outcome.VALID, Outcome.INDETERMINATE):
        for verdict in verdicts:
            if verdict.outcome is outcome:
                return verdict
    return verdicts[0]


def _verify_entry(
    pi: UsablePlateIndex,
    entry: _plate_index.PlateEntry,
    plate: str,
    store: TrustStore,
    now: int,
    zone: Zone | None,
    leeway: int,
    bundle: BundleInfo | None,
    warnings: tuple[Notice, ...],
) -> Verdict:
    info = store.issuers.get(pi.issuer)
    permit = Permit(
        issuer=pi.issuer,
        type=str(entry.type),
        zones=entry.zones,
        plates=(plate,),
        fleet=None,
        number=entry.number,
        iat=None,
        nbf=entry.nbf,
        exp=entry.exp,
        max_stay=None,
        windows=None,
        issuer_name=None if info is None else info.name,
    )
    extra: list[Notice] = []
    try:
        # 7. the keys that signed the index must be allowed to sign this type
        if permit.type not in pi.types:
            raise _Stop(Reason.KEY_NOT_VALID)
        # 8. validity
        _check_validity(entry.nbf, entry.exp, now, leeway)
        # 9. status
        _check_status(store, pi.issuer, entry.status_list, entry.status_idx, now, extra)
        # 10. index entries carry no windows; 11. zone (the plate matched by the lookup)
        if zone is not None and not _zone_matches(zone, pi.issuer, permit.zones):
            raise _Stop(Reason.WRONG_ZONE)
    except _Stop as stop:
        return failed(
            stop.reason, warnings=(*warnings, *extra), permit=permit, bundle=bundle, zone=zone
        )
    return Verdict(Outcome.VALID, None, (*warnings, *extra), permit, bundle, zone)


# --------------------------------------------------------------------------- the car

SHOWN_AS_IS: frozenset[Reason] = frozenset(
    {
        Reason.UNSUPPORTED_ALG,
        Reason.BAD_CLAIMS,
        Reason.UNKNOWN_ISSUER,
        Reason.UNKNOWN_KEY,
        Reason.BAD_SIGNATURE,
        Reason.KEY_NOT_VALID,
    }
)
"""QR reasons that point at a forged or foreign code: the officer always sees them, even
when the plate also has a digital-only permit."""

_RANK = {Outcome.INVALID: 0, Outcome.INDETERMINATE: 1, Outcome.VALID: 2}


def verify_car(
    qr_text: str,
    store: TrustStore,
    now: int,
    context: Context | None = None,
    *,
    leeway_seconds: int = DEFAULT_LEEWAY_SECONDS,
) -> Verdict:
    """The parked car's verdict: its QR, and when the QR does not make it valid and the
    officer gave the plate, the plate's digital-only permits too (a permit need
    not be displayed when officers can check it against the register).

    The QR verdict stands when it is valid, when no plate is given, when it names a forged
    or foreign code (``SHOWN_AS_IS``), and when the plate is in no usable index; otherwise
    the better of the two answers (valid, then indeterminate, then invalid) is returned,
    so a windscreen code of another car or zone never hides a digital permit of this one.
    """
    verdict = verify(qr_text, store, now, context, leeway_seconds=leeway_seconds)
    if (
        verdict.outcome is Outcome.VALID
        or context is None
        or context.plate is None
        or verdict.reason in SHOWN_AS_IS
    ):
        return verdict
    by_plate = verify_plate(
        context.plate,
        store,
        now,
        verdict.zone,
        leeway_seconds=leeway_seconds,
    )
    if by_plate.reason in (Reason.NO_PLATE_INDEX, Reason.NO_PERMIT):
        return verdict
    return by_plate if _RANK[by_plate.outcome] > _RANK[verdict.outcome] else verdict
