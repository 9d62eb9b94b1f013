"""QR PNG/SVG and the windscreen PDF, read back with zxing-cpp (the PDF through pdftoppm)."""

from __future__ import annotations

import dataclasses
import io
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zlib
from datetime import date
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from mobile_sdk_stub.render import (
    MIN_QR_WIDTH_MM,
    WindscreenPermit,
    make_qr,
    qr_png,
    qr_svg,
    windscreen_pdf,
)
from tests.mobile_sdk_stub.conftest import BID1_TEXT

MM_PER_PT = 25.4 / 72
DPI = 200

PERMIT = WindscreenPermit(
    qr_text=BID1_TEXT,
    issuer_name="Stadt Münster",
    zones=("A3",),
    plates=("MS-ÄB 1234",),
    valid_until=date(2027, 12, 31),
    permit_number=120034,
)


def _read(image: Image.Image) -> list[zxingcpp.Result]:
    return [r for r in zxingcpp.read_barcodes(image) if r.format == zxingcpp.BarcodeFormat.QRCode]


def test_png_decodes_to_the_exact_text() -> None:
    results = _read(Image.open(io.BytesIO(qr_png(BID1_TEXT))))
    assert [r.text for r in results] == [BID1_TEXT]
    assert results[0].ec_level == "Q"


def test_symbol_is_alphanumeric_q_unboosted() -> None:
    qr = make_qr(BID1_TEXT)
    assert (qr.error, qr.mode) == ("Q", "alphanumeric")
    with pytest.raises(ValueError):
        make_qr("BID1:lower case")


def test_svg_is_the_same_symbol() -> None:
    svg = qr_svg(BID1_TEXT, scale=3)
    root = ET.fromstring(svg)
    modules = make_qr(BID1_TEXT).symbol_size(scale=1, border=0)[0]
    assert root.tag.endswith("svg")
    assert float(root.attrib["width"]) == (modules + 8) * 3
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None and path.attrib["d"]


def _pdf_image_placements(pdf: bytes) -> list[tuple[float, float, float, float]]:
    """`w 0 0 h x y cm /I.. Do` of every page content stream (inflated), in points."""
    placements = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        data = match.group(1)
        try:
            data = zlib.decompress(data)
        except zlib.error:
            pass
        for m in re.finditer(rb"([\d.]+) 0 0 ([\d.]+) ([\d.]+) ([\d.]+) cm\s*/I[^\s]+ Do", data):
            placements.append(tuple(float(v) for v in m.groups()))  # type: ignore[arg-type]
    return placements  # type: ignore[return-value]


def _media_box(pdf: bytes) -> tuple[float, float]:
    m = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert m is not None
    return float(m.group(1)), float(m.group(2))


def _rasterize(pdf: bytes, tmp_path: Path) -> Image.Image:
    assert shutil.which("pdftoppm"), "pdftoppm (Debian poppler-utils) is required"
    source = tmp_path / "permit.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-png", "-singlefile", str(source), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    return Image.open(tmp_path / "page.png")


@pytest.mark.parametrize(("page", "size_mm"), [("A6", (105, 148)), ("A5", (148, 210))])
def test_windscreen_pdf_reads_back_and_is_large_enough(
    page: str, size_mm: tuple[int, int], tmp_path: Path
) -> None:
    pdf, layout = windscreen_pdf(PERMIT, page=page)
    width_pt, height_pt = _media_box(pdf)
    assert round(width_pt * MM_PER_PT) == size_mm[0]
    assert round(height_pt * MM_PER_PT) == size_mm[1]

    # the geometry written into the PDF: one image, square, at least 35 mm wide
    [(w, h, x, y)] = _pdf_image_placements(pdf)
    assert w == pytest.approx(h)
    assert w * MM_PER_PT >= MIN_QR_WIDTH_MM
    assert w * MM_PER_PT == pytest.approx(layout.qr_width_mm, abs=0.01)
    assert x * MM_PER_PT == pytest.approx(layout.qr_x_mm, abs=0.01)
    # PDF y grows upwards from the bottom edge
    assert (height_pt - y - h) * MM_PER_PT == pytest.approx(layout.qr_y_mm, abs=0.01)

    # printed and scanned back: exact text, and the symbol measures the same
    image = _rasterize(pdf, tmp_path)
    results = _read(image)
    assert [r.text for r in results] == [BID1_TEXT]
    corners = results[0].position
    width_px = corners.top_right.x - corners.top_left.x
    assert width_px / DPI * 25.4 == pytest.approx(layout.qr_width_mm, rel=0.03)


def test_pdf_text_has_umlauts_and_no_personal_data(tmp_path: Path) -> None:
    assert shutil.which("pdftotext"), "pdftotext (Debian poppler-utils) is required"
    pdf, _ = windscreen_pdf(PERMIT)
    source = tmp_path / "permit.pdf"
    source.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(source), "-"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout.decode("utf-8")
    for expected in ("Stadt Münster", "Zone A3", "MS-ÄB 1234", "gültig bis 31.12.2027", "120034"):
        assert expected in text
    assert "Bewohnerparkausweis" in text
    names = {f.name for f in dataclasses.fields(WindscreenPermit)}
    assert not names & {"name", "given_name", "family_name", "address", "birthdate"}


def test_pdf_refuses_a_small_qr_and_non_latin1_text() -> None:
    with pytest.raises(ValueError):
        windscreen_pdf(PERMIT, qr_width_mm=30)
    with pytest.raises(ValueError):
        windscreen_pdf(dataclasses.replace(PERMIT, issuer_name="Stadt Łódź"))
    with pytest.raises(ValueError):
        windscreen_pdf(PERMIT, page="A4")


def test_many_plates_shrink_to_fit() -> None:
    plates = tuple(f"MS-AB {n}" for n in range(1000, 1006))
    pdf, layout = windscreen_pdf(dataclasses.replace(PERMIT, plates=plates, zones=("A3", "B1")))
    assert pdf.startswith(b"%PDF") and layout.qr_width_mm == 50


def test_every_permit_type_has_its_printed_title() -> None:
    from mobile_sdk_stub.render import PERMIT_TYPES
    from verifier import PermitType

    assert set(PERMIT_TYPES) == {t.value for t in PermitType}
