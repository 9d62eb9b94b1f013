"""Reading QR symbols from PNG/JPEG images (Pillow + zxing-cpp) for ``buergerid-verify scan``.

Images are bounded before decoding (file size and pixel count) so a hostile file cannot
exhaust memory; every failure is a ``ScanError`` with a short, stable ``code``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import zxingcpp
from PIL import Image, UnidentifiedImageError

MAX_IMAGE_BYTES = 32 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000
_QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


class ScanError(Exception):
    """An image could not be read or holds no QR code; ``code`` is stable."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


def read_qr_texts_from_image(image: Image.Image) -> list[str]:
    """The texts of every QR symbol found in an image, in zxing-cpp's order."""
    if image.width * image.height > MAX_IMAGE_PIXELS:
        raise ScanError("image_too_large", f"{image.width}x{image.height} pixels")
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGB")
    found = zxingcpp.read_barcodes(image, formats=_QR_ONLY)
    return [barcode.text for barcode in found if barcode.valid]


def read_qr_texts(path: Path) -> list[str]:
    """Open an image file (PNG, JPEG, anything Pillow reads) and return its QR texts.

    Raises ``ScanError`` when the file is missing, too large, not an image, or holds no
    readable QR code.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ScanError("image_unreadable", exc.strerror or "cannot open") from exc
    if size > MAX_IMAGE_BYTES:
        raise ScanError("image_too_large", f"{size} bytes")
    try:
        with warnings.catch_warnings():
            # Pillow warns before it raises on decompression bombs; we refuse by size below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                if opened.width * opened.height > MAX_IMAGE_PIXELS:
                    raise ScanError("image_too_large", f"{opened.width}x{opened.height} pixels")
                opened.load()
                texts = read_qr_texts_from_image(opened)
    except ScanError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as exc:
        raise ScanError("not_an_image", type(exc).__name__) from exc
    except (OSError, ValueError, SyntaxError) as exc:
        # Pillow reports truncated or corrupt files as OSError/ValueError/SyntaxError.
        raise ScanError("image_unreadable", type(exc).__name__) from exc
    if not texts:
        raise ScanError("no_qr_code")
    return texts
