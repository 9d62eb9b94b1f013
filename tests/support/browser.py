"""Real browser tests: Debian's Chromium, headless, driven by Playwright (never a downloaded
browser).

    def test_page(browser_factory: BrowserFactory) -> None:
        browser = browser_factory()                       # one Chromium for the module
        page = new_page(browser)
        page.goto(url)

    camera = fake_camera_args(write_y4m(tmp / "qr.y4m", image))
    browser = browser_factory(*camera)                    # a fake camera showing `image`

`browser_factory` is module-scoped: every browser it launched closes when the module ends,
so a module pays for one launch per distinct set of arguments (launches with the same
arguments are shared). `save_screenshot(page, name)` takes the picture a person sees; with
`BUERGERID_UPDATE_SCREENSHOTS=1` (`make screenshots`) it writes docs/img/<name>.png, the
pictures the docs show, else a temporary file (a test run leaves the tree as it was).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"

BrowserFactory = Callable[..., Any]


def fake_camera_args(y4m: Path) -> tuple[str, ...]:
    """Chromium flags for a camera that shows the video in ``y4m`` (and no permission prompt)."""
    return (
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={y4m}",
    )


def write_y4m(path: Path, image: Any, *, frames: int = 2, fps: int = 10) -> Path:
    """A YUV4MPEG2 video (4:2:0) of a Pillow image, grey only: luma from the image, neutral
    chroma. Width and height are rounded down to even numbers."""
    grey = image.convert("L")
    width, height = grey.width // 2 * 2, grey.height // 2 * 2
    grey = grey.crop((0, 0, width, height))
    luma = grey.tobytes()
    chroma = bytes([128]) * (width // 2 * height // 2)
    with path.open("wb") as fh:
        fh.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(frames):
            fh.write(b"FRAME\n" + luma + chroma + chroma)
    return path


@pytest.fixture(scope="module")
def browser_factory() -> Iterator[BrowserFactory]:
    """Launch Chromium with extra arguments (shared per argument set); all closed at the end."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: install Debian's chromium (.ci/run does)", pytrace=False)
    playwright = sync_playwright().start()
    launched: dict[tuple[str, ...], Any] = {}

    def launch(*extra_args: str) -> Any:
        key = tuple(extra_args)
        if key not in launched:
            launched[key] = playwright.chromium.launch(
                executable_path=CHROMIUM, args=[*FLAGS, *extra_args], headless=True
            )
        return launched[key]

    try:
        yield launch
    finally:
        for browser in launched.values():
            browser.close()
        playwright.stop()


def new_page(browser: Any, **context_options: Any) -> Any:
    """A page in a fresh context (German locale, a phone-sized window unless told)."""
    options: dict[str, Any] = {"locale": "de-DE", "viewport": {"width": 412, "height": 915}}
    options.update(context_options)
    return browser.new_context(**options).new_page()


def screenshot_path(name: str) -> Path:
    """Where <name>.png goes: docs/img when updating screenshots, else a temporary folder."""
    if os.environ.get("BUERGERID_UPDATE_SCREENSHOTS") == "1":
        folder = DOCS_IMG
    else:
        folder = Path(tempfile.gettempdir()) / "buergerid-screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.png"


def save_screenshot(page: Any, name: str) -> Path:
    """<name>.png of what the person sees now: in docs/img when updating screenshots."""
    path = screenshot_path(name)
    page.screenshot(path=str(path))
    assert path.stat().st_size > 0
    return path
