"""QR images: tokens rendered with qrcode and segno, degraded with Pillow, read back by ``scan``.

Module sizes asserted here are ones that must always work; ``bench/qr_scan.py`` searches for
the smallest module size that still reads and reports it.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
import qrcode
import qrcode.constants
import segno
from PIL import Image, ImageFilter

from tests.support.verifier_internals import ALPHABET
from verifier.handheld import ScanError, read_qr_texts, read_qr_texts_from_image

TEXT = "BID1:" + "".join(random.Random(4).choice(ALPHABET) for _ in range(240))


def render(text: str, module_px: int, lib: str) -> Image.Image:
    """A QR symbol (error correction Q, 4-module quiet zone), grayscale."""
    if lib == "qrcode":
        qr = qrcode.QRCode(
            error_correction=qrcode.constants.ERROR_CORRECT_Q, box_size=module_px, border=4
        )
        qr.add_data(text)
        qr.make(fit=True)
        return qr.make_image().get_image().convert("L")
    symbol = segno.make(text, error="q", boost_error=False)
    buf = io.BytesIO()
    symbol.save(buf, kind="png", scale=module_px, border=4)
    buf.seek(0)
    return Image.open(buf).convert("L")


def degrade(
    image: Image.Image, *, angle: float, blur: float, noise: float, seed: int = 0
) -> Image.Image:
    """Rotate (white fill), blur and add Gaussian noise, like a phone photo of a screen."""
    out = image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
    if blur:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        # Deterministic Gaussian grain (Pillow's effect_noise uses the C library's rand()).
        rng = random.Random(seed)
        n = out.width * out.height
        grain = bytes(min(255, max(0, round(rng.gauss(128, noise)))) for _ in range(n))
        out = Image.blend(out, Image.frombytes("L", out.size, grain), 0.25)
    return out


def scaled(image: Image.Image, module_px_from: int, module_px_to: float) -> Image.Image:
    """Resample to a fractional module size (what a camera at some distance sees)."""
    factor = module_px_to / module_px_from
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.BILINEAR)


@pytest.mark.parametrize("lib", ["qrcode", "segno"])
@pytest.mark.parametrize("module_px", [2, 3, 6])
def test_clean_symbols_read(lib: str, module_px: int) -> None:
    assert read_qr_texts_from_image(render(TEXT, module_px, lib)) == [TEXT]


@pytest.mark.parametrize("lib", ["qrcode", "segno"])
@pytest.mark.parametrize("angle", [7.0, 30.0, 90.0, 180.0])
def test_rotated_blurred_noisy_symbols_read(lib: str, angle: float) -> None:
    image = degrade(render(TEXT, 4, lib), angle=angle, blur=1.0, noise=40.0)
    assert read_qr_texts_from_image(image) == [TEXT]


@pytest.mark.parametrize("lib", ["qrcode", "segno"])
def test_fractional_module_size_reads(lib: str) -> None:
    image = degrade(scaled(render(TEXT, 8, lib), 8, 2.5), angle=5.0, blur=0.5, noise=20.0)
    assert read_qr_texts_from_image(image) == [TEXT]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_files_read(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"permit.{fmt.lower()}"
    degrade(render(TEXT, 4, "segno"), angle=3.0, blur=0.7, noise=10.0).convert("RGB").save(
        path, fmt, **({"quality": 70} if fmt == "JPEG" else {})
    )
    assert read_qr_texts(path) == [TEXT]


def test_no_qr_code(tmp_path: Path) -> None:
    path = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(path)
    with pytest.raises(ScanError) as info:
        read_qr_texts(path)
    assert info.value.code == "no_qr_code"


def test_not_an_image(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(b"not an image at all")
    with pytest.raises(ScanError) as info:
        read_qr_texts(path)
    assert info.value.code == "not_an_image"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScanError) as info:
        read_qr_texts(tmp_path / "missing.png")
    assert info.value.code == "image_unreadable"


def test_too_many_pixels(tmp_path: Path) -> None:
    path = tmp_path / "huge.png"
    Image.new("1", (8000, 6000), 1).save(path)
    with pytest.raises(ScanError) as info:
        read_qr_texts(path)
    assert info.value.code == "image_too_large"


@pytest.mark.parametrize("lib", ["qrcode", "segno"])
def test_rough_photo_at_four_pixels_per_module_reads(lib: str) -> None:
    """bench/qr_scan.py finds 3 px/module as the floor under these conditions; 4 must work."""
    image = degrade(scaled(render(TEXT, 8, lib), 8, 4.0), angle=15.0, blur=1.6, noise=25.0)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=60)
    buf.seek(0)
    assert read_qr_texts_from_image(Image.open(buf).convert("L")) == [TEXT]
