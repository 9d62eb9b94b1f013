"""``buergerid-verify app``: the officer's screen, served to the handheld's own browser.

A small web app on 127.0.0.1 (the standard library's ``http.server``; the verifier stays free
of server frameworks), working with no network once synced:

- camera scanning in the page (``getUserMedia``): the page sends each frame as grey pixels
  to this process on 127.0.0.1, which finds QR codes with zxing-cpp and checks them; no
  image leaves the device, nothing is kept;
- a plate field for digital-only permits, and a zone preset (municipality + zone) kept for
  the shift;
- one large verdict screen, GÜLTIG / UNGÜLTIG / NICHT PRÜFBAR, the reason in words, zone,
  plate, validity, permit number and type, the bundle's age, and a sound (made in the page);
- sync state, "jetzt synchronisieren" and background sync (``SyncLoop``, as ``sync --every``);
- a shift log of the last checks, only on the device (``shift-log.json``, 0600), dropped
  after the shift (``config --shift-hours``, 12 h by default) or at "Schicht beenden";
- German by default, English on a tap; every asset ships in this package.

An officer's browser visits other sites, so the app defends itself against them: it binds
127.0.0.1 only; every request must name this app in ``Host`` (no DNS rebinding); every
POST must come from this origin (``Origin``, ``Sec-Fetch-Site``) and carry the page's CSRF
token (a header, which a cross-site form cannot set); bodies are bounded; a strict Content
Security Policy allows no script, style or connection outside the app.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from verifier._errors import Reason, VerifierError
from verifier._i18n import (
    LABELS,
    NOTICE_WORDS,
    OUTCOME_WORDS,
    PERMIT_TYPE_WORDS,
    Lang,
    message,
    reason_words,
)
from verifier._store import DataDir, TrustStore, _atomic_write
from verifier._verdict import Context, Outcome, Verdict
from verifier._zones import Zone, ZoneError

BERLIN = ZoneInfo("Europe/Berlin")
MAX_FRAME_PIXELS = 1920 * 1080
MAX_JSON_BYTES = 8 * 1024
SHIFT_LOG_FILE = "shift-log.json"
MAX_LOG_ENTRIES = 200
DEFAULT_SHIFT_HOURS = 12
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
STATIC = {"/app.js": "text/javascript", "/app.css": "text/css"}

APP_WORDS: dict[Lang, dict[str, str]] = {
    "de": {
        "title": "Parkausweis prüfen",
        "camera": "Kamera",
        "camera_off": "Kamera nicht verfügbar – Kennzeichen eingeben",
        "scan": "QR-Code scannen",
        "scanning": "QR-Code vor die Kamera halten …",
        "plate": "Kennzeichen",
        "plate_hint": "z. B. GE-AB 1234",
        "check_plate": "Kennzeichen prüfen",
        "zone": "Zone für die Schicht",
        "zone_hint": "z. B. A3 oder 05513000:A3",
        "set_zone": "Übernehmen",
        "no_zone": "keine Zone gewählt – Zone wird nicht geprüft",
        "next": "Nächste Prüfung",
        "sync_now": "jetzt synchronisieren",
        "sync_never": "noch nie synchronisiert",
        "sync_ok": "synchronisiert",
        "sync_failed": "Synchronisierung fehlgeschlagen",
        "sync_none": "keine Quelle eingerichtet",
        "bundle": "Vertrauensliste",
        "bundle_age": "Alter",
        "bundle_stale": "veraltet",
        "bundle_expired": "abgelaufen",
        "log": "Schichtprotokoll (nur auf diesem Gerät)",
        "log_empty": "noch keine Prüfungen",
        "end_shift": "Schicht beenden",
        "language": "English",
        "not_a_permit": "KEIN PARKAUSWEIS",
        "not_a_permit_text": "Dieser QR-Code ist kein Parkausweis. Anderen Code scannen "
        "oder Kennzeichen prüfen.",
        "valid_until": "gültig bis",
        "valid_from": "gültig ab",
        "number": "Ausweis-Nr.",
        "type": "Art",
        "zone_checked": "Zone",
        "zone_not_checked": "nicht geprüft",
        "plate_checked": "Kennzeichen",
        "issuer": "Aussteller",
        "minutes": "Min.",
        "hours": "Std.",
        "days": "Tage",
    },
    "en": {
        "title": "Check a parking permit",
        "camera": "Camera",
        "camera_off": "camera not available – type the plate",
        "scan": "Scan QR code",
        "scanning": "hold the QR code in front of the camera …",
        "plate": "Plate",
        "plate_hint": "e.g. GE-AB 1234",
        "check_plate": "Check plate",
        "zone": "Zone for the shift",
        "zone_hint": "e.g. A3 or 05513000:A3",
        "set_zone": "Set",
        "no_zone": "no zone set – the zone is not checked",
        "next": "Next check",
        "sync_now": "sync now",
        "sync_never": "never synced",
        "sync_ok": "synced",
        "sync_failed": "sync failed",
        "sync_none": "no sync source set up",
        "bundle": "Trust bundle",
        "bundle_age": "age",
        "bundle_stale": "stale",
        "bundle_expired": "expired",
        "log": "Shift log (on this device only)",
        "log_empty": "no checks yet",
        "end_shift": "End shift",
        "language": "Deutsch",
        "not_a_permit": "NOT A PERMIT",
        "not_a_permit_text": "This QR code is not a parking permit. Scan another code or "
        "check the plate.",
        "valid_until": "valid until",
        "valid_from": "valid from",
        "number": "Permit no.",
        "type": "Type",
        "zone_checked": "Zone",
        "zone_not_checked": "not checked",
        "plate_checked": "Plate",
        "issuer": "Issuer",
        "minutes": "min",
        "hours": "h",
        "days": "days",
    },
}
"""Words of the app's own screen; verdict words come from ``_i18n`` like the CLI's."""


def _fmt_time(ts: int | None) -> str | None:
    if ts is None:
        return None
    try:
        return datetime.fromtimestamp(ts, BERLIN).strftime("%d.%m.%Y %H:%M")
    except (OverflowError, OSError, ValueError):
        return str(ts)


def _fmt_age(seconds: int, lang: Lang) -> str:
    w = APP_WORDS[lang]
    if seconds < 3600:
        return f"{max(0, seconds) // 60} {w['minutes']}"
    if seconds < 172800:
        return f"{seconds // 3600} {w['hours']}"
    return f"{seconds // 86400} {w['days']}"


def _zone_text(zone: Zone | None) -> str | None:
    if zone is None:
        return None
    where = f"{zone.name} ({zone.municipality})" if zone.name else zone.municipality
    return f"{zone.code} – {where}"


class App:
    """The app's state: the loaded store, settings, shift log, sync; thread-safe."""

    def __init__(
        self,
        data_dir: DataDir,
        *,
        environ: Mapping[str, str],
        clock: Callable[[], float],
        sync_every_seconds: float = 0.0,
    ) -> None:
        self.data_dir = data_dir
        self.environ = environ
        self.clock = clock
        self.csrf = secrets.token_urlsafe(32)
        self._lock = threading.RLock()
        self._sync_lock = threading.Lock()
        self.store: TrustStore = data_dir.load()
        self.sync_error: str | None = None
        self.loop: Any = None
        if sync_every_seconds > 0 and self.can_sync():
            from verifier._sync import SyncLoop

            self.loop = SyncLoop(lambda: self.sync_now(), sync_every_seconds)
            self.loop.start()

    # settings --------------------------------------------------------------

    def now(self) -> int:
        """The device clock, as an integer."""
        return int(self.clock())

    @property
    def config(self) -> dict[str, Any]:
        """config.json as stored."""
        return self.data_dir.read_config()

    @property
    def lang(self) -> Lang:
        """The screen's language: German unless the officer switched."""
        return "en" if self.config.get("app_lang") == "en" else "de"

    @property
    def shift_hours(self) -> int:
        """Hours after which the shift log is dropped."""
        value = self.config.get("shift_hours", DEFAULT_SHIFT_HOURS)
        return value if isinstance(value, int) and 0 < value <= 24 * 7 else DEFAULT_SHIFT_HOURS

    def municipality(self) -> str | None:
        """The handheld's municipality (environment, else config)."""
        from verifier.cli import municipality_of

        try:
            return municipality_of(self.data_dir, self.environ)
        except Exception:
            return None

    def zone(self) -> Zone | None:
        """The zone preset for the shift, resolved against the current store."""
        text = self.config.get("app_zone")
        if not isinstance(text, str) or not text:
            return None
        from verifier._verify import zone_of

        try:
            return zone_of(text, self.municipality(), self.store)
        except ZoneError:
            return None

    def update_settings(self, body: Mapping[str, Any]) -> None:
        """Zone preset, language, shift length; ``ZoneError`` for a zone that cannot be used."""
        from verifier._verify import zone_of

        with self._lock:
            config = self.config
            if "zone" in body:
                text = body["zone"]
                if not isinstance(text, str) or len(text) > 40:
                    raise ZoneError(Reason.BAD_ZONE)
                text = text.strip()
                if text:
                    zone_of(text, self.municipality(), self.store)  # refuse it now, not later
                config["app_zone"] = text or None
            if body.get("lang") in ("de", "en"):
                config["app_lang"] = body["lang"]
            hours = body.get("shift_hours")
            if type(hours) is int and 0 < hours <= 24 * 7:
                config["shift_hours"] = hours
            self.data_dir.write_config({k: v for k, v in config.items() if v is not None})

    # the shift log ---------------------------------------------------------

    @property
    def log_path(self) -> Path:
        """Where the shift log lives (0600, this device only)."""
        return self.data_dir.root / SHIFT_LOG_FILE

    def shift_log(self) -> list[dict[str, Any]]:
        """The checks of this shift, newest first; older than the shift length are dropped."""
        try:
            entries = json.loads(self.log_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(entries, list):
            return []
        oldest = self.now() - self.shift_hours * 3600
        kept = [e for e in entries if isinstance(e, dict) and e.get("at", 0) >= oldest]
        if len(kept) != len(entries):
            self._write_log(kept)
        return kept

    def _write_log(self, entries: list[dict[str, Any]]) -> None:
        if not entries:
            self.log_path.unlink(missing_ok=True)
            return
        _atomic_write(self.log_path, json.dumps(entries[:MAX_LOG_ENTRIES]).encode("utf-8"))

    def end_shift(self) -> None:
        """Drop the shift log and the zone preset."""
        with self._lock:
            self._write_log([])
            config = self.config
            config.pop("app_zone", None)
            self.data_dir.write_config(config)

    # checks ----------------------------------------------------------------

    def check_text(self, text: str, plate: str | None) -> dict[str, Any]:
        """A QR text (from the camera or a scanner), with the plate when the officer typed it."""
        from verifier._verify import verify_car

        zone = self.zone()
        plate = plate or None
        if plate is not None and not _is_plate(plate):
            plate = None
        context = Context(zone=zone, plate=plate) if zone or plate else None
        verdict = verify_car(text, self.store, self.now(), context)
        return self._record(verdict, plate)

    def check_plate(self, plate: str) -> dict[str, Any]:
        """A digital-only permit by plate."""
        from verifier._verify import verify_plate

        verdict = verify_plate(plate, self.store, self.now(), self.zone())
        return self._record(verdict, plate)

    def check_frame(
        self, pixels: bytes, width: int, height: int, plate: str | None
    ) -> dict[str, Any]:
        """Find a QR code in a grey camera frame and check it; ``{"found": false}`` if none."""
        from PIL import Image

        from verifier._qr import read_qr_texts_from_image

        image = Image.frombytes("L", (width, height), pixels)
        texts = read_qr_texts_from_image(image)
        if not texts:
            return {"found": False}
        # a permit code first, when a frame happens to hold several codes
        texts.sort(key=lambda t: not t.startswith("BID1:"))
        return {"found": True, **self.check_text(texts[0], plate)}

    def _record(self, verdict: Verdict, plate: str | None) -> dict[str, Any]:
        view = self.verdict_view(verdict, plate)
        entry = {
            "at": self.now(),
            "outcome": str(verdict.outcome),
            "reason": None if verdict.reason is None else str(verdict.reason),
            "zone": view["zone"],
            "plate": view["plate"],
            "number": view["number"],
        }
        with self._lock:
            self._write_log([entry, *self.shift_log()])
        return view

    def verdict_view(self, verdict: Verdict, plate: str | None) -> dict[str, Any]:
        """What the verdict screen shows, in the screen's language."""
        lang = self.lang
        w = APP_WORDS[lang]
        not_a_permit = verdict.reason is Reason.UNSUPPORTED_FORMAT
        p = verdict.permit
        plates = None
        if p is not None:
            plates = ", ".join(p.plates) or (
                f"{LABELS[lang]['fleet']}: {p.fleet}" if p.fleet else None
            )
        return {
            "outcome": str(verdict.outcome),
            "kind": "not_a_permit" if not_a_permit else str(verdict.outcome),
            "headline": w["not_a_permit"] if not_a_permit else OUTCOME_WORDS[lang][verdict.outcome],
            "reason": None if verdict.reason is None else str(verdict.reason),
            "reason_text": (
                w["not_a_permit_text"]
                if not_a_permit
                else None
                if verdict.reason is None
                else reason_words(lang, verdict.reason)
            ),
            "warnings": [NOTICE_WORDS[lang][n] for n in verdict.warnings],
            "zone": _zone_text(verdict.zone),
            "plate": plates or plate,
            "valid_until": None if p is None else _fmt_time(p.exp),
            "valid_from": None if p is None else _fmt_time(p.nbf),
            "number": None if p is None else p.number,
            "type": None if p is None else PERMIT_TYPE_WORDS[lang].get(p.type, p.type),
            "issuer": None if p is None else (p.issuer_name or p.issuer),
            "bundle_age": None if verdict.bundle is None else _fmt_age(verdict.bundle.age_s, lang),
        }

    # sync ------------------------------------------------------------------

    def can_sync(self) -> bool:
        """True when there is something to sync from (enrolment or a stored source)."""
        from verifier._enrol import DeviceIdentity

        return DeviceIdentity(self.data_dir.root).is_enrolled or bool(
            self.config.get("sync_source")
        )

    def sync_now(self) -> Any:
        """One sync attempt (the background loop and the button share it), then reload."""
        from verifier._sync import sync_once
        from verifier.cli import error_line

        with self._sync_lock:
            attempt = sync_once(self.data_dir, None, now=self.now())
            if attempt.error is None:
                self.sync_error = None
            else:
                self.sync_error = error_line(attempt.error, self.lang)
            store = self.data_dir.load()
            with self._lock:
                self.store = store
        return attempt

    def state(self) -> dict[str, Any]:
        """Everything the screen shows besides a verdict."""
        lang = self.lang
        w = APP_WORDS[lang]
        now = self.now()
        store = self.store
        last = self.data_dir.read_state().get("last_sync")
        if not self.can_sync():
            sync_state, sync_text = "none", w["sync_none"]
        elif not isinstance(last, dict):
            sync_state, sync_text = "never", w["sync_never"]
        elif last.get("ok"):
            sync_state, sync_text = "ok", f"{w['sync_ok']}: {_fmt_time(last.get('at'))}"
        else:
            sync_state = "failed"
            sync_text = f"{w['sync_failed']}: {self.sync_error or last.get('error')}"
        bundle = None
        if store.has_bundle:
            age = _fmt_age(now - store.iat, lang)
            flag = (
                w["bundle_expired"]
                if now >= store.exp
                else w["bundle_stale"]
                if now >= store.fresh_until
                else None
            )
            bundle = {"seq": store.seq, "age": age, "flag": flag}
        zone = self.zone()
        return {
            "lang": lang,
            "words": APP_WORDS[lang],
            "zone": _zone_text(zone),
            "zone_input": self.config.get("app_zone") or "",
            "sync": {"state": sync_state, "text": sync_text, "can_sync": self.can_sync()},
            "bundle": bundle,
            "shift_hours": self.shift_hours,
            "log": [
                {
                    "time": _fmt_time(e.get("at")),
                    "outcome": e.get("outcome"),
                    "headline": OUTCOME_WORDS[lang].get(Outcome(e["outcome"]), "")
                    if e.get("outcome") in Outcome.__members__.values()
                    else "",
                    "reason": None
                    if e.get("reason") is None
                    else reason_words(lang, Reason(e["reason"]))
                    if e.get("reason") in Reason.__members__.values()
                    else e.get("reason"),
                    "zone": e.get("zone"),
                    "plate": e.get("plate"),
                    "number": e.get("number"),
                }
                for e in self.shift_log()
            ],
        }

    def close(self) -> None:
        """Stop background sync."""
        if self.loop is not None:
            self.loop.stop()


def _is_plate(text: str) -> bool:
    from verifier._plates import canonical_plate

    try:
        canonical_plate(text)
    except VerifierError:
        return False
    return True


def _asset(name: str) -> bytes:
    return resources.files("verifier").joinpath("app", name).read_bytes()


class _Handler(BaseHTTPRequestHandler):
    """One request: the Host/Origin/CSRF checks, then a small fixed set of routes."""

    app: App
    port: int
    server_version = "buergerid-verify"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Nothing is logged: plates and codes must not land in a terminal or a file."""

    # answers ---------------------------------------------------------------

    def _send(self, status: int, body: bytes, content_type: str, *, cache: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Opener-Policy", "same-origin")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Permissions-Policy", "camera=(self), microphone=()")
        self.send_header("Cache-Control", "max-age=300" if cache else "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: object) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"),
                   "application/json; charset=utf-8")  # fmt: skip

    def _error(self, status: int, code: str, text: str | None = None) -> None:
        self._json(status, {"error": code, "text": text})

    # checks ----------------------------------------------------------------

    def _host_ok(self) -> bool:
        host = self.headers.get("Host", "")
        return host in (f"127.0.0.1:{self.port}", f"localhost:{self.port}")

    def _same_origin_post(self) -> bool:
        origin = self.headers.get("Origin")
        if origin is not None and origin not in (
            f"http://127.0.0.1:{self.port}",
            f"http://localhost:{self.port}",
        ):
            return False
        site = self.headers.get("Sec-Fetch-Site")
        if site is not None and site not in ("same-origin", "none"):
            return False
        token = self.headers.get("X-CSRF-Token", "")
        return hmac.compare_digest(token.encode(), self.app.csrf.encode())

    def _body(self, limit: int) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            return None
        if not 0 <= length <= limit:
            return None
        return self.rfile.read(length)

    def _json_body(self) -> dict[str, Any] | None:
        raw = self._body(MAX_JSON_BYTES)
        if raw is None:
            return None
        try:
            value = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    # routes ----------------------------------------------------------------

    def do_GET(self) -> None:
        """The page, its two assets, the state."""
        if not self._host_ok():
            self._error(HTTPStatus.MISDIRECTED_REQUEST, "wrong_host")
            return
        path = self.path.split("?", 1)[0]
        if path == "/":
            page = _asset("index.html").decode("utf-8")
            page = page.replace("{{CSRF}}", self.app.csrf).replace("{{LANG}}", self.app.lang)
            self._send(HTTPStatus.OK, page.encode("utf-8"), "text/html; charset=utf-8")
        elif path in STATIC:
            self._send(
                HTTPStatus.OK, _asset(path[1:]), f"{STATIC[path]}; charset=utf-8", cache=True
            )
        elif path == "/api/state":
            self._json(HTTPStatus.OK, self.app.state())
        else:
            self._error(HTTPStatus.NOT_FOUND, "not_found")

    do_HEAD = do_GET

    def do_POST(self) -> None:
        """Checks, settings, sync; each only from this app's own page."""
        if not self._host_ok():
            self._error(HTTPStatus.MISDIRECTED_REQUEST, "wrong_host")
            return
        if not self._same_origin_post():
            self._error(HTTPStatus.FORBIDDEN, "forbidden")
            return
        path = self.path.split("?", 1)[0]
        try:
            if path == "/api/frame":
                self._frame()
                return
            body = self._json_body()
            if body is None:
                self._error(HTTPStatus.BAD_REQUEST, "bad_request")
                return
            if path == "/api/check":
                text = body.get("text")
                if not isinstance(text, str) or len(text) > 4096:
                    self._error(HTTPStatus.BAD_REQUEST, "bad_request")
                    return
                plate = body.get("plate") if isinstance(body.get("plate"), str) else None
                self._json(HTTPStatus.OK, self.app.check_text(text, plate))
            elif path == "/api/plate":
                plate = body.get("plate")
                if not isinstance(plate, str) or not _is_plate(plate):
                    self._error(HTTPStatus.UNPROCESSABLE_ENTITY, "bad_plate",
                                reason_words(self.app.lang, Reason.BAD_PLATE))  # fmt: skip
                    return
                self._json(HTTPStatus.OK, self.app.check_plate(plate))
            elif path == "/api/settings":
                self.app.update_settings(body)
                self._json(HTTPStatus.OK, self.app.state())
            elif path == "/api/sync":
                self.app.sync_now()
                self._json(HTTPStatus.OK, self.app.state())
            elif path == "/api/shift/end":
                self.app.end_shift()
                self._json(HTTPStatus.OK, self.app.state())
            else:
                self._error(HTTPStatus.NOT_FOUND, "not_found")
        except ZoneError as exc:
            key = (
                "usage_ambiguous_zone" if exc.reason is Reason.AMBIGUOUS_ZONE else "usage_bad_zone"
            )
            self._error(
                HTTPStatus.UNPROCESSABLE_ENTITY, str(exc.reason), message(self.app.lang, key)
            )

    def _frame(self) -> None:
        try:
            width = int(self.headers.get("X-Frame-Width", ""))
            height = int(self.headers.get("X-Frame-Height", ""))
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "bad_request")
            return
        if not (0 < width <= 4096 and 0 < height <= 4096 and width * height <= MAX_FRAME_PIXELS):
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "frame_too_large")
            return
        pixels = self._body(width * height)
        if pixels is None or len(pixels) != width * height:
            self._error(HTTPStatus.BAD_REQUEST, "bad_request")
            return
        plate = self.headers.get("X-Plate") or None
        self._json(HTTPStatus.OK, self.app.check_frame(pixels, width, height, plate))


class AppServer(ThreadingHTTPServer):
    """The app's HTTP server on 127.0.0.1 (never another address)."""

    daemon_threads = True

    def __init__(self, app: App, port: int = 0) -> None:
        handler: type[_Handler] = type("Handler", (_Handler,), {"app": app, "port": 0})
        super().__init__(("127.0.0.1", port), handler)
        handler.port = int(self.server_address[1])
        self.app = app

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://127.0.0.1:{self.server_address[1]}/"


def serve(
    data_dir: DataDir,
    *,
    port: int,
    environ: Mapping[str, str],
    clock: Callable[[], float],
    sync_every_seconds: float,
    on_ready: Callable[[str], None],
) -> None:
    """Serve the app until interrupted."""
    app = App(data_dir, environ=environ, clock=clock, sync_every_seconds=sync_every_seconds)
    server = AppServer(app, port)
    on_ready(server.url)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        app.close()
