"""Reading a PDF back as a printer and a camera would: where its images sit (in points, from
the page content), its page size, its text (pdftotext) and its first page as an image
(pdftoppm at `DPI`); both tools are Debian's poppler-utils."""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path

from PIL import Image

from tests.support.browser import screenshot_path

MM_PER_PT = 25.4 / 72
DPI = 200


def pdf_image_placements(pdf: bytes) -> list[tuple[float, float, float, float]]:
    """`w 0 0 h x y cm /I.. Do` of every page content stream (inflated), in points."""
    placements = []
    for match in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        data = match.group(1)
        try:  # a stream's data may itself end in CR or LF: inflate ignores what trails it
            data = zlib.decompressobj().decompress(data)
        except zlib.error:
            pass
        for m in re.finditer(rb"([\d.]+) 0 0 ([\d.]+) ([\d.]+) ([\d.]+) cm\s*/I[^\s]+ Do", data):
            placements.append(tuple(float(v) for v in m.groups()))  # type: ignore[arg-type]
    return placements  # type: ignore[return-value]


def media_box(pdf: bytes) -> tuple[float, float]:
    m = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    assert m is not None
    return float(m.group(1)), float(m.group(2))


def rasterize(pdf: bytes, tmp_path: Path) -> Image.Image:
    assert shutil.which("pdftoppm"), "pdftoppm (Debian poppler-utils) is required"
    source = tmp_path / "permit.pdf"
    source.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-png", "-singlefile", str(source), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    return Image.open(tmp_path / "page.png")


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    """The text of the PDF as pdftotext extracts it (UTF-8)."""
    assert shutil.which("pdftotext"), "pdftotext (Debian poppler-utils) is required"
    source = tmp_path / "text.pdf"
    source.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(source), "-"],
        check=True,
        capture_output=True,
        timeout=60,
    ).stdout
    return out.decode("utf-8")


def keep_picture(image: Image.Image, name: str) -> Path:
    """Save a rendered page as <name>.png: in docs/img with `BUERGERID_UPDATE_SCREENSHOTS=1`
    (`make screenshots`), else in a temporary folder (a test run leaves the tree as it was)."""
    path = screenshot_path(name)
    image.save(path, optimize=True)
    return path
