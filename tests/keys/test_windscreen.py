"""The shared permit printer: QR PNG/SVG and the windscreen PDF, read back with zxing-cpp
(the PDF through pdftoppm)."""

from __future__ import annotations

import dataclasses
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from keys.windscreen import (
    MIN_QR_WIDTH_MM,
    PERMIT_TYPES,
    PrintedZone,
    WindscreenPermit,
    latin1,
    make_qr,
    printed_days,
    qr_png,
    qr_svg,
    render_windscreen_pdf,
)
from tests.mobile_sdk_stub.conftest import BID1_TEXT
from tests.support.pdf import (
    DPI,
    MM_PER_PT,
    media_box,
    pdf_image_placements,
    pdf_text,
    rasterize,
)
from verifier import PermitType

PERMIT = WindscreenPermit(
    qr_text=BID1_TEXT,
    city="Stadt Münster",
    zones=(PrintedZone("A3", "Altstadt Süd"),),
    plates=("MS-ÄB 1234",),
    # midnight in Münster, in UTC; the end is exclusive: the last day is 31.12.2027
    valid_from=datetime(2026, 12, 31, 23, 0, tzinfo=UTC),
    valid_until=datetime(2027, 12, 31, 23, 0, tzinfo=UTC),
    permit_number=120034,
    office=("Stadt Münster, Ordnungsamt", "Klemensstraße 10, 48143 Münster"),
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


@pytest.mark.parametrize(("page", "size_mm"), [("A6", (105, 148)), ("A5", (148, 210))])
def test_windscreen_pdf_reads_back_and_is_large_enough(
    page: str, size_mm: tuple[int, int], tmp_path: Path
) -> None:
    pdf, layout = render_windscreen_pdf(PERMIT, page=page)
    width_pt, height_pt = media_box(pdf)
    assert round(width_pt * MM_PER_PT) == size_mm[0]
    assert round(height_pt * MM_PER_PT) == size_mm[1]

    # the geometry written into the PDF: one image, square, at least 35 mm wide
    [(w, h, x, y)] = pdf_image_placements(pdf)
    assert w == pytest.approx(h)
    assert w * MM_PER_PT >= MIN_QR_WIDTH_MM
    assert w * MM_PER_PT == pytest.approx(layout.qr_width_mm, abs=0.01)
    assert x * MM_PER_PT == pytest.approx(layout.qr_x_mm, abs=0.01)
    # PDF y grows upwards from the bottom edge
    assert (height_pt - y - h) * MM_PER_PT == pytest.approx(layout.qr_y_mm, abs=0.01)

    # printed and scanned back: exact text, and the symbol measures the same
    image = rasterize(pdf, tmp_path)
    results = _read(image)
    assert [r.text for r in results] == [BID1_TEXT]
    corners = results[0].position
    width_px = corners.top_right.x - corners.top_left.x
    assert width_px / DPI * 25.4 == pytest.approx(layout.qr_width_mm, rel=0.03)


def test_pdf_text_has_umlauts_and_no_personal_data(tmp_path: Path) -> None:
    pdf, _ = render_windscreen_pdf(PERMIT)
    text = pdf_text(pdf, tmp_path)
    expected = (
        "Stadt Münster",
        "Bewohnerparkausweis",
        "Zone A3",
        "Altstadt Süd",
        "MS-ÄB 1234",
        "gültig ab 01.01.2027",
        "gültig bis 31.12.2027",
        "Ausweis-Nr. 120034",
        "Ausgestellt von Stadt Münster, Ordnungsamt",
        "Klemensstraße 10, 48143 Münster",
    )
    for line in expected:
        assert line in text
    assert "Auslegen nicht erforderlich" not in text
    names = {f.name for f in dataclasses.fields(WindscreenPermit)}
    assert not names & {"name", "given_name", "family_name", "address", "birthdate"}


def test_pdf_refuses_a_small_qr_and_an_unknown_page() -> None:
    with pytest.raises(ValueError):
        render_windscreen_pdf(PERMIT, qr_width_mm=30)
    with pytest.raises(ValueError):
        render_windscreen_pdf(PERMIT, page="A4")


def test_text_outside_latin1_still_prints() -> None:
    assert latin1("Stadt Łódź – Zone „Nord“\u200b\x07") == 'Stadt ?ódz - Zone "Nord"'
    pdf, _ = render_windscreen_pdf(dataclasses.replace(PERMIT, city="Stadt Łódź 🚗"))
    assert pdf.startswith(b"%PDF")


def test_the_last_day_is_the_day_before_the_exclusive_end_in_berlin() -> None:
    summer = datetime(2027, 6, 30, 22, 0, tzinfo=UTC)  # 01.07.2027 00:00 in Berlin (CEST)
    assert printed_days(summer, summer.replace(year=2028)) == ("01.07.2027", "30.06.2028")


@pytest.mark.parametrize("page", ["A6", "A5"])
def test_every_line_at_its_longest_fits_the_page(page: str, tmp_path: Path) -> None:
    # every optional line present and each far too long: the type shrinks, then the line is
    # cut short; a permit must never fail to print because a name is long
    long = "Stadt Überlangenamenhausen an der Wasserscheide " * 5
    permit = dataclasses.replace(
        PERMIT,
        city=long,
        plates=tuple(f"MS-AB {n}" for n in range(1000, 1006)),
        zones=(PrintedZone("A3", long), PrintedZone("B1", long)),
        office=(long, long, long, long),
        display_required=False,
    )
    pdf, layout = render_windscreen_pdf(permit, page=page)
    assert layout.qr_width_mm == 50
    [(w, _h, _x, _y)] = pdf_image_placements(pdf)
    assert w * MM_PER_PT == pytest.approx(50, abs=0.01)
    assert [r.text for r in _read(rasterize(pdf, tmp_path))] == [BID1_TEXT]


def test_every_permit_type_has_its_printed_title() -> None:
    assert set(PERMIT_TYPES) == {t.value for t in PermitType}


@settings(max_examples=15, deadline=None)
@given(name=st.text(max_size=200), plate=st.text(max_size=32))
def test_any_tenant_zone_or_plate_text_prints_in_latin1(name: str, plate: str) -> None:
    assert all(ord(c) < 256 for c in latin1(name))
    permit = dataclasses.replace(
        PERMIT,
        city=name,
        zones=(PrintedZone("A3", name),),
        plates=(plate,),
        office=(name, name),
    )
    pdf, layout = render_windscreen_pdf(permit)
    assert pdf.startswith(b"%PDF") and layout.qr_width_mm == 50
