"""The permit QR as PNG and SVG, and the printable windscreen permit as PDF.

QR symbols: alphanumeric mode, error correction Q (docs/formats.md), never boosted, so every
renderer makes the same symbol. The `BID1:` text is Base45 and therefore already in the
QR alphanumeric character set.

The windscreen permit (A6 or A5, portrait) shows the QR (at least 35 mm wide), zone,
plate(s), valid-until and issuer in large type, and the permit number. It has no field
for a name or an address: an officer decides on zone, plate and validity only
(docs/formats.md, data minimisation). Text uses the PDF core font Helvetica (Latin-1, which
covers ä ö ü ß), so no font file ships with the stub.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date

import segno
from fpdf import FPDF

from verifier import PermitType

MIN_QR_WIDTH_MM = 35.0
QUIET_ZONE_MODULES = 4
PERMIT_TYPES: dict[str, str] = {
    PermitType.BEW: "Bewohnerparkausweis",
    PermitType.BES: "Besucherparkausweis",
    PermitType.HAN: "Handwerkerparkausweis",
    PermitType.PFL: "Parkausweis Pflegedienst",
    PermitType.SON: "Parkausweis",
}
_ALPHANUMERIC = re.compile(r"[0-9A-Z $%*+\-./:]+")
_PAGES = {"A6": (105.0, 148.0), "A5": (148.0, 210.0)}


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


def qr_svg(text: str, *, scale: int = 4, border: int = QUIET_ZONE_MODULES) -> bytes:
    """The permit QR as SVG (with XML declaration)."""
    out = io.BytesIO()
    make_qr(text).save(out, kind="svg", scale=scale, border=border)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class WindscreenPermit:
    """What the printed permit shows; deliberately no name, no address, no birth date."""

    qr_text: str
    issuer_name: str
    zones: tuple[str, ...]
    plates: tuple[str, ...]
    valid_until: date
    permit_number: int
    permit_type: str = PermitType.BEW
    fleet: str | None = None


@dataclass(frozen=True, slots=True)
class PdfLayout:
    """Where the QR went on the page, in millimetres from the top left (for tests and print)."""

    page: str
    page_width_mm: float
    page_height_mm: float
    qr_x_mm: float
    qr_y_mm: float
    qr_width_mm: float


def _latin1(text: str) -> str:
    try:
        text.encode("latin-1")
    except UnicodeEncodeError as exc:
        raise ValueError("permit text must be Latin-1 (core PDF fonts)") from exc
    return text


def _fitted_line(pdf: FPDF, text: str, *, size: float, width: float, style: str) -> float:
    """Print a centred line, shrinking the type until it fits; returns the line height."""
    while size > 6:
        pdf.set_font("helvetica", style, size)
        if pdf.get_string_width(text) <= width:
            break
        size -= 1
    height = size * 0.3528 * 1.25  # points to mm, plus leading
    pdf.cell(0, height, text, align="C", new_x="LMARGIN", new_y="NEXT")
    return height


def windscreen_pdf(
    permit: WindscreenPermit, *, page: str = "A6", qr_width_mm: float = 50.0
) -> tuple[bytes, PdfLayout]:
    """The printable windscreen permit as PDF bytes, with where its QR sits."""
    if page not in _PAGES:
        raise ValueError("page is A6 or A5")
    page_w, page_h = _PAGES[page]
    scale = page_w / _PAGES["A6"][0]
    if qr_width_mm < MIN_QR_WIDTH_MM or qr_width_mm > page_w - 20:
        raise ValueError(f"the QR is {MIN_QR_WIDTH_MM} mm wide at least and fits the page")
    qr = make_qr(permit.qr_text)
    modules = qr.symbol_size(scale=1, border=0)[0]
    quiet_mm = qr_width_mm / modules * QUIET_ZONE_MODULES
    title = PERMIT_TYPES.get(permit.permit_type, PERMIT_TYPES[PermitType.SON])
    zone_line = ("Zone " if len(permit.zones) == 1 else "Zonen ") + ", ".join(permit.zones)
    plate_line = ", ".join(permit.plates) or (permit.fleet or "")
    until_line = "gültig bis " + permit.valid_until.strftime("%d.%m.%Y")
    number_line = f"Ausweis-Nr. {permit.permit_number}"
    lines = [permit.issuer_name, title, zone_line, plate_line, until_line, number_line]
    for line in lines:
        _latin1(line)

    pdf = FPDF(orientation="P", unit="mm", format=(page_w, page_h))  # ISO 216, in mm
    pdf.set_auto_page_break(False)
    pdf.set_margins(8 * scale, 8 * scale, 8 * scale)
    pdf.set_creator("buergerid")
    pdf.add_page()
    text_width = page_w - 16 * scale
    pdf.set_y(7 * scale)
    _fitted_line(pdf, permit.issuer_name, size=16 * scale, width=text_width, style="B")
    _fitted_line(pdf, title, size=11 * scale, width=text_width, style="")

    qr_x = (page_w - qr_width_mm) / 2
    qr_y = pdf.get_y() + quiet_mm
    png = io.BytesIO()
    qr.save(png, kind="png", scale=10, border=0)
    png.seek(0)
    pdf.image(png, x=qr_x, y=qr_y, w=qr_width_mm, h=qr_width_mm)
    pdf.set_y(qr_y + qr_width_mm + quiet_mm)

    _fitted_line(pdf, zone_line, size=30 * scale, width=text_width, style="B")
    if plate_line:
        _fitted_line(pdf, plate_line, size=24 * scale, width=text_width, style="B")
    _fitted_line(pdf, until_line, size=17 * scale, width=text_width, style="B")
    _fitted_line(pdf, number_line, size=10 * scale, width=text_width, style="")
    if pdf.get_y() > page_h - 4:
        raise ValueError("the permit text does not fit the page; choose A5 or a smaller QR")
    layout = PdfLayout(page, page_w, page_h, qr_x, qr_y, qr_width_mm)
    return bytes(pdf.output()), layout
