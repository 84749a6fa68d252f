"""Render a local HTML page in Debian's headless Chromium: its DOM after scripts ran, and a screenshot."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars"]


def chromium() -> str:
    """The Chromium executable, or a skip naming how to get it (``.ci/run`` installs it)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe is None:
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it): "
                    "the real-browser check of the report page is skipped")
    return exe


def render(page: Path, out: Path, width: int = 1200, height: int = 1600) -> tuple[str, Path]:
    """``(dom, screenshot.png)`` of ``page`` as Chromium renders it."""
    exe = chromium()
    profile = out / "chromium-profile"
    shot = out / "screenshot.png"
    common = [exe, *FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"]
    dom = subprocess.run([*common, "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    subprocess.run([*common, f"--screenshot={shot}", page.resolve().as_uri()], capture_output=True, timeout=120,
                   check=True)
    return dom, shot


def ink(screenshot: Path) -> float:
    """The share of the screenshot's pixels that are not (near) white: 0 for a blank page."""
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(screenshot).convert("L"), dtype=np.float64)
    return float((pixels < 235).mean())
