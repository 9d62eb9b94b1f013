"""The offline check of DESIGN §4: ``verify`` for a QR text, ``verify_plate`` for a typed plate.

Both are pure functions of their arguments: the loaded ``TrustStore`` and ``now`` (integer
seconds since the epoch) — no clock, no I/O. The steps run in the order of DESIGN §4, each
failing fast with its stable reason. Only ``VerifierError`` is turned into a verdict;
anything else is a bug and propagates.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from verifier import _base45, _claims, _cose, _keys, _plate_index, _plates
from verifier._errors import Notice, Reason, SignatureError, VerifierError
from verifier._store import StoreKey, TrustStore, UsablePlateIndex
from verifier._verdict import BundleInfo, Context, Outcome, Permit, Verdict, failed
from verifier._zones import Zone, resolve_zone

PREFIX = "BID1:"
MAX_QR_CHARS = 1000
"""DESIGN §4 step 1: the whole text, prefix included."""
DEFAULT_LEEWAY_SECONDS = 60
"""DESIGN §4 step 4 and 8: tolerated clock skew towards the start of a validity."""
BERLIN = ZoneInfo("Europe/Berlin")

_PREFIX_LEN = len(PREFIX)
_STATUS_REASON = {1: Reason.REVOKED, 2: Reason.SUSPENDED}
_NO_WARNINGS: tuple[Notice, ...] = ()
_STALE = (Notice.BUNDLE_STALE,)
# Permit, Verdict and BundleInfo are slotted, not frozen: the hot path fills them slot by
# slot (a dataclass __init__ with keywords costs about 1 µs more per object)
_new = object.__new__


class _Stop(Exception):
    """Internal: a check after the signature failed; the verdict still shows the permit."""

    def __init__(self, reason: Reason) -> None:
        self.reason = reason


def _bundle_info(store: TrustStore, now: int) -> BundleInfo | None:
    if store.bundle_bytes is None:
        return None
    return BundleInfo(store.seq, store.iat, now - store.iat)


def _bundle_warnings(store: TrustStore, now: int) -> tuple[Notice, ...]:
    if store.bundle_bytes is not None and now >= store.fresh_until:
        return _STALE
    return _NO_WARNINGS


def _check_bundle(store: TrustStore, now: int, leeway: int) -> None:
    """DESIGN §4 step 4 (all three indeterminate)."""
    if store.bundle_bytes is None:
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
    """Check one QR text (``BID1:`` + Base45 COSE_Sign1) offline: DESIGN §4 steps 1–11.

    Raises ``ZoneError`` (and checks nothing) when the context's zone is not a zone or is a
    bare code that neither ``context.municipality`` nor a one-issuer bundle settles.
    """
    zone = None
    if context is not None and context.zone is not None:
        zone = zone_of(context.zone, context.municipality, store)
    if store.bundle_bytes is None:
        bundle = None
        warnings = _NO_WARNINGS
    else:
        bundle = _new(BundleInfo)
        bundle.seq = store.seq
        bundle.iat = store.iat
        bundle.age_s = now - store.iat
        warnings = _STALE if now >= store.fresh_until else _NO_WARNINGS
    try:
        # 1. format
        if len(qr_text) > MAX_QR_CHARS or not qr_text.startswith(PREFIX):
            raise VerifierError(Reason.UNSUPPORTED_FORMAT)
        # 2.-3. strict Base45; bounded CBOR, COSE_Sign1 shape, empty unprotected header, bstr
        # kid, alg (PERMIT_PROFILE)
        protected, payload, signature, alg, kid = _cose.decode_permit_parts(
            _base45.b45decode(qr_text[_PREFIX_LEN:])
        )
        # 4. trust store
        if bundle is None:
            raise VerifierError(Reason.NO_BUNDLE)
        if now < store.iat - leeway_seconds:
            raise VerifierError(Reason.CLOCK_BEHIND)
        if now >= store.exp:
            raise VerifierError(Reason.BUNDLE_EXPIRED)
        # 5. issuer and key
        claims_map = _claims.decode_claims_map(payload)
        issuer = claims_map.get(_claims.CLAIM_ISS)
        if type(issuer) is not str or not 0 < len(issuer) <= _claims.MAX_TEXT_CHARS:
            raise VerifierError(Reason.BAD_CLAIMS, "iss is not a short text")
        info = store.issuers.get(issuer)
        if info is None:
            raise VerifierError(Reason.UNKNOWN_ISSUER)
        candidates = store.keys_by_alg.get((issuer, kid, alg))
        if candidates is None:
            raise VerifierError(Reason.UNKNOWN_KEY)
        # 6. signature over the Sig_structure with every candidate; only then the claims
        message = _cose.sig_structure(protected, payload)
        verify_signature = _keys.verify_signature
        signers: Sequence[StoreKey]
        if len(candidates) == 1:
            signers = candidates
            try:
                verify_signature(candidates[0].key, alg, message, signature)
            except SignatureError:
                raise VerifierError(Reason.BAD_SIGNATURE) from None
        else:
            signers = []
            for candidate in candidates:
                try:
                    verify_signature(candidate.key, alg, message, signature)
                except SignatureError:
                    continue
                signers.append(candidate)
            if not signers:
                raise VerifierError(Reason.BAD_SIGNATURE)
        claims = _claims.decode_permit_claims(claims_map)
    except VerifierError as exc:
        return failed(exc.reason, warnings=warnings, bundle=bundle, zone=zone)

    windows = claims.windows
    iat = claims.iat
    ptype = str(claims.type)
    permit = _new(Permit)
    permit.issuer = issuer
    permit.type = ptype
    permit.zones = claims.zones
    permit.plates = claims.plates
    permit.fleet = claims.fleet
    permit.number = claims.number
    permit.iat = iat
    permit.nbf = nbf = claims.nbf
    permit.exp = exp = claims.exp
    permit.max_stay = claims.max_stay
    permit.windows = (
        None
        if windows is None
        else tuple([(w.days, w.start_minute, w.end_minute) for w in windows])
    )
    permit.issuer_name = info.name
    extra: list[Notice] = []
    try:
        # 7. key window and type
        for k in signers:
            if k.nbf <= iat < k.sign_until and now < k.exp and ptype in k.types:
                break
        else:
            raise _Stop(Reason.KEY_NOT_VALID)
        # 8. validity, leeway only towards the start (RFC 8392: at exp it is expired)
        start = iat if nbf is None or nbf < iat else nbf
        if now < start - leeway_seconds:
            raise _Stop(Reason.NOT_YET_VALID)
        if now >= exp:
            raise _Stop(Reason.EXPIRED)
        # 9. status
        _check_status(store, issuer, claims.status_list, claims.status_idx, now, extra)
        # 10. time windows, always
        if windows is not None and not in_windows(permit.windows, now):  # type: ignore[arg-type]
            raise _Stop(Reason.OUTSIDE_HOURS)
        # 11. officer context
        if context is not None:
            _check_context(context, zone, permit, extra)
    except _Stop as stop:
        return failed(
            stop.reason, warnings=(*warnings, *extra), permit=permit, bundle=bundle, zone=zone
        )
    return _valid(permit, bundle, zone, warnings, extra)


def _valid(
    permit: Permit,
    bundle: BundleInfo | None,
    zone: Zone | None,
    warnings: tuple[Notice, ...],
    extra: list[Notice],
) -> Verdict:
    verdict = _new(Verdict)  # valid: reason None, as Verdict.__post_init__ demands
    verdict.outcome = Outcome.VALID
    verdict.reason = None
    verdict.warnings = (*warnings, *extra) if extra else warnings
    verdict.permit = permit
    verdict.bundle = bundle
    verdict.zone = zone
    return verdict


def zone_of(zone: str | Zone, municipality: str | None, store: TrustStore) -> Zone:
    """The officer's zone as a (municipality, code) pair (DESIGN §4); ``ZoneError`` else."""
    if isinstance(zone, Zone):
        return zone
    return resolve_zone(zone, municipality=municipality, issuers=store.issuers)


def _permit_from_claims(claims: _claims.PermitClaims, store: TrustStore) -> Permit:
    info = store.issuers.get(claims.issuer)
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
        issuer_name=None if info is None else info.name,
    )


def _check_status(
    store: TrustStore,
    issuer: str,
    list_no: int,
    idx: int,
    now: int,
    extra: list[Notice],
) -> None:
    """DESIGN §4 step 9: a missing or unusable list is ``status_unknown``."""
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
    """DESIGN §3.2: inside any ``[days, from, to)`` at ``now``, in Europe/Berlin local time."""
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
    """DESIGN §4 step 11, both sides canonicalised; zone first, then plate."""
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
    """A digital-only permit by plate (DESIGN §3.5 and the CLI contract ``plate``).

    No usable index (none synced, past its ``exp`` or its key's, or the bundle unusable)
    is ``no_plate_index``; a plate in no index is ``no_permit``. Each entry found is checked
    with DESIGN §4 steps 7–11: valid if any entry is valid, else indeterminate if any is,
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
    permit = _new(Permit)  # slot by slot, as in verify(): this is the scan car's hot path
    permit.issuer = pi.issuer
    permit.type = str(entry.type)
    permit.zones = entry.zones
    permit.plates = (plate,)
    permit.fleet = None
    permit.number = entry.number
    permit.iat = None
    permit.nbf = entry.nbf
    permit.exp = entry.exp
    permit.max_stay = None
    permit.windows = None
    permit.issuer_name = None if info is None else info.name
    extra: list[Notice] = []
    try:
        # 7. the keys that signed the index must be allowed to sign this type
        if permit.type not in pi.types:
            raise _Stop(Reason.KEY_NOT_VALID)
        # 8.
        if now < entry.nbf - leeway:
            raise _Stop(Reason.NOT_YET_VALID)
        if now >= entry.exp:
            raise _Stop(Reason.EXPIRED)
        # 9.
        _check_status(store, pi.issuer, entry.status_list, entry.status_idx, now, extra)
        # 10. index entries carry no windows; 11. zone (the plate matched by the lookup)
        if zone is not None and not _zone_matches(zone, pi.issuer, permit.zones):
            raise _Stop(Reason.WRONG_ZONE)
    except _Stop as stop:
        return failed(
            stop.reason, warnings=(*warnings, *extra), permit=permit, bundle=bundle, zone=zone
        )
    return _valid(permit, bundle, zone, warnings, extra)


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
    officer gave the plate, the plate's digital-only permits too (DESIGN §3.5: a permit need
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
