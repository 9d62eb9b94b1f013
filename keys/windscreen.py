"""The permit QR as PNG and SVG, and the printable windscreen permit as PDF.

One renderer for everyone who prints a permit: the issuer (the municipal API's
`windscreen.pdf`, the citizen's portal) and the wallet stand-in (`buergerid-wallet pdf`).
It holds no key and imports nothing of `keys/` but the verifier's public vocabulary, so the
phone's stand-in may import it (the one exception `tests/test_layering.py` allows).

QR symbols: alphanumeric mode, error correction Q (docs/formats.md), never boosted, so every
renderer makes the same symbol. The `BID1:` text is Base45 and therefore already in the
QR alphanumeric character set.

The windscreen permit (A6 or A5, portrait) shows the city, the permit type, the QR (at
least 35 mm wide), the zone(s) with their names, the plate(s), valid from and until, the
permit number and the issuing office. It has no field for a holder's name or address: an
officer decides on zone, plate and validity only (docs/formats.md, data minimisation).
Dates are the days in Europe/Berlin; "gültig bis" is the last day on which the permit is
valid (its end is exclusive). Text uses the PDF core font Helvetica (Latin-1, which covers
ä ö ü ß); other characters are printed as their closest Latin-1 letters, so no font file
ships and no name of a tenant or zone can stop a permit from printing.
"""

from __future__ import annotations

import io
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import segno
from fpdf import FPDF

from verifier import PermitType

__all__ = [
    "MIN_QR_WIDTH_MM",
    "PERMIT_TYPES",
    "PdfLayout",
    "PrintedZone",
    "WindscreenPermit",
    "make_qr",
    "qr_png",
    "qr_svg",
    "render_windscreen_pdf",
]

MIN_QR_WIDTH_MM = 35.0
QUIET_ZONE_MODULES = 4
MAX_OFFICE_LINES = 3
BERLIN = ZoneInfo("Europe/Berlin")
PERMIT_TYPES: dict[str, str] = {
    PermitType.BEW: "Bewohnerparkausweis",
    PermitType.BES: "Besucherparkausweis",
    PermitType.HAN: "Handwerkerparkausweis",
    PermitType.PFL: "Parkausweis Pflegedienst",
    PermitType.SON: "Parkausweis",
}
DIGITAL_ONLY_NOTE = "Auslegen nicht erforderlich: Kontrolle über das Kennzeichen"
_ALPHANUMERIC = re.compile(r"[0-9A-Z $%*+\-./:]+")
_PAGES = {"A6": (105.0, 148.0), "A5": (148.0, 210.0)}
_MIN_POINTS = 6.0
_PUNCTUATION = str.maketrans(
    {"–": "-", "—": "-", "‘": "'", "’": "'", "‚": ",", "“": '"', "”": '"', "„": '"', "…": "..."}
)


def make_qr(text: str) -> segno.QRCode:
    """The QR symbol of a permit text: alphanumeric mode, error correction Q."""
    if not _ALPHANUMERIC.fullmatch(text):
        raise ValueError("QR text must use the QR alphanumeric character set (Base45)")
    return segno.make_qr(text, error="q", mode="alphanumeric", boost_error=False)


def qr_png(text: str, *, scale: int = 8, border: int = QUIET_ZONE_MODULES) -> bytes:
    """The permit QR as PNG; `scale` pixels per module, `border` modules of quiet zone."""
    out = io.BytesIO()
    make_qr(text).save(out, kind="png", scale=scale, border=border)
    return out.getvalue()


def qr_svg(
    text: str, *, scale: int = 4, border: int = QUIET_ZONE_MODULES, xmldecl: bool = True
) -> bytes:
    """The permit QR as SVG (with an XML declaration unless `xmldecl` is False)."""
    out = io.BytesIO()
    make_qr(text).save(out, kind="svg", scale=scale, border=border, xmldecl=xmldecl)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class PrintedZone:
    """A zone as printed: its code and, where the printer knows it, its name."""

    code: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class WindscreenPermit:
    """What the printed permit shows; deliberately no name, no address, no birth date.

    `valid_from` and `valid_until` are instants (timezone-aware); `valid_until` is exclusive.
    `office` are the lines of the issuing office (its name, then its address if known).
    """

    qr_text: str
    city: str
    zones: tuple[PrintedZone, ...]
    plates: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime
    permit_number: int
    office: tuple[str, ...] = ()
    permit_type: str = PermitType.BEW
    fleet: str | None = None
    display_required: bool = True


@dataclass(frozen=True, slots=True)
class PdfLayout:
    """Where the QR went on the page, in millimetres from the top left (for tests and print)."""

    page: str
    page_width_mm: float
    page_height_mm: float
    qr_x_mm: float
    qr_y_mm: float
    qr_width_mm: float


def latin1(text: str) -> str:
    """`text` in the core font's Latin-1: typographic punctuation as ASCII, other letters
    without their accents (Ł stays a question mark: it has no decomposition), no controls."""
    text = text.translate(_PUNCTUATION)
    out = []
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf"):
            continue
        try:
            char.encode("latin-1")
        except UnicodeEncodeError:
            base = unicodedata.normalize("NFKD", char)
            char = "".join(c for c in base if not unicodedata.combining(c))
            char = char if char and char.isascii() else "?"
        out.append(char)
    return "".join(out)


def printed_days(valid_from: datetime, valid_until: datetime) -> tuple[str, str]:
    """First and last day of validity in Europe/Berlin (the end is exclusive), as dd.mm.yyyy."""
    first = valid_from.astimezone(BERLIN).date()
    last = (valid_until - timedelta(seconds=1)).astimezone(BERLIN).date()
    return first.strftime("%d.%m.%Y"), last.strftime("%d.%m.%Y")


def _fitted_line(pdf: FPDF, text: str, *, size: float, width: float, style: str) -> None:
    """Print a centred line, shrinking the type until it fits (then cutting it short)."""
    text = latin1(text)
    while size > _MIN_POINTS:
        pdf.set_font("helvetica", style, size)
        if pdf.get_string_width(text) <= width:
            break
        size -= 1
    pdf.set_font("helvetica", style, size)
    if pdf.get_string_width(text) > width:
        keep = int(len(text) * width / pdf.get_string_width(text))  # a first guess, then down
        while keep > 0 and pdf.get_string_width(text[:keep] + "...") > width:
            keep -= 1
        text = text[:keep] + "..."
    height = size * 0.3528 * 1.25  # points to mm, plus leading
    pdf.cell(0, height, text, align="C", new_x="LMARGIN", new_y="NEXT")


def _lines(permit: WindscreenPermit) -> dict[str, str]:
    codes = [z.code for z in permit.zones]
    names = [z.name for z in permit.zones if z.name]
    first, last = printed_days(permit.valid_from, permit.valid_until)
    plates = ", ".join(permit.plates) or (f"Flotte {permit.fleet}" if permit.fleet else "")
    return {
        "title": PERMIT_TYPES.get(permit.permit_type, PERMIT_TYPES[PermitType.SON]),
        "zone": ("Zone " if len(codes) == 1 else "Zonen ") + ", ".join(codes),
        "zone_names": ", ".join(names),
        "plates": plates,
        "until": f"gültig bis {last}",
        "from": f"gültig ab {first}",
        "number": f"Ausweis-Nr. {permit.permit_number}",
    }


def render_windscreen_pdf(
    permit: WindscreenPermit,
    *,
    page: str = "A6",
    qr_width_mm: float = 50.0,
    printed_at: datetime | None = None,
) -> tuple[bytes, PdfLayout]:
    """The printable windscreen permit as PDF bytes, with where its QR sits. `printed_at`
    is the document's creation date (the same page twice gives the same bytes); default now."""
    if page not in _PAGES:
        raise ValueError("page is A6 or A5")
    page_w, page_h = _PAGES[page]
    scale = page_w / _PAGES["A6"][0]
    if qr_width_mm < MIN_QR_WIDTH_MM or qr_width_mm > page_w - 20:
        raise ValueError(f"the QR is {MIN_QR_WIDTH_MM} mm wide at least and fits the page")
    qr = make_qr(permit.qr_text)
    modules = qr.symbol_size(scale=1, border=0)[0]
    quiet_mm = qr_width_mm / modules * QUIET_ZONE_MODULES
    lines = _lines(permit)

    pdf = FPDF(orientation="P", unit="mm", format=(page_w, page_h))  # ISO 216, in mm
    pdf.set_auto_page_break(False)
    pdf.set_margins(8 * scale, 8 * scale, 8 * scale)
    pdf.set_creator("buergerid")
    if printed_at is not None:
        pdf.set_creation_date(printed_at)
    pdf.set_title(latin1(f"{lines['title']} {lines['number']}"))
    pdf.add_page()
    width = page_w - 16 * scale
    pdf.set_y(6 * scale)
    _fitted_line(pdf, permit.city, size=16 * scale, width=width, style="B")
    _fitted_line(pdf, lines["title"], size=11 * scale, width=width, style="")

    qr_x = (page_w - qr_width_mm) / 2
    qr_y = pdf.get_y() + quiet_mm
    png = io.BytesIO()
    qr.save(png, kind="png", scale=10, border=0)
    png.seek(0)
    pdf.image(png, x=qr_x, y=qr_y, w=qr_width_mm, h=qr_width_mm)
    pdf.set_y(qr_y + qr_width_mm + quiet_mm)

    _fitted_line(pdf, lines["zone"], size=28 * scale, width=width, style="B")
    if lines["zone_names"]:
        _fitted_line(pdf, lines["zone_names"], size=11 * scale, width=width, style="")
    if lines["plates"]:
        _fitted_line(pdf, lines["plates"], size=22 * scale, width=width, style="B")
    _fitted_line(pdf, lines["until"], size=16 * scale, width=width, style="B")
    _fitted_line(pdf, lines["from"], size=10 * scale, width=width, style="")
    _fitted_line(pdf, lines["number"], size=10 * scale, width=width, style="")
    office = [line for line in permit.office if line.strip()][:MAX_OFFICE_LINES]
    for index, line in enumerate(office):
        text = f"Ausgestellt von {line}" if index == 0 else line
        _fitted_line(pdf, text, size=8 * scale, width=width, style="")
    if not permit.display_required:
        _fitted_line(pdf, DIGITAL_ONLY_NOTE, size=8 * scale, width=width, style="I")
    if pdf.get_y() > page_h - 3:
        raise ValueError("the permit text does not fit the page; choose A5 or a smaller QR")
    layout = PdfLayout(page, page_w, page_h, qr_x, qr_y, qr_width_mm)
    return bytes(pdf.output()), layout
