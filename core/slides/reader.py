"""Reading whole-slide images with OpenSlide, at a target resolution.

:class:`SlideFile` opens anything OpenSlide reads (SVS, NDPI, MRXS, SCN, VMS, BIF, generic tiled TIFF,
...) and turns its failures into one-line :class:`~pathreason.api.DataError` s. Its level-0 resolution
comes from the slide's own ``openslide.mpp-x``/``mpp-y`` (or ``slide.mpp_level0``); a region wanted at
``mpp`` micrometres per pixel is read from the pyramid level with the largest downsample
``d_L <= d = mpp / mpp0`` (so no detail is invented) and resized to its size at ``mpp``:
a ``w0 x h0`` level-0 rectangle is ``round(w0 / d) x round(h0 / d)`` pixels at ``mpp``.

:class:`TileRef` is a tile as a :class:`~pathreason.api.Sample` holds it: an
:class:`~pathreason.api.ImageRef` whose ``region`` is the level-0 rectangle and whose pixels are read
through OpenSlide only when ``load()`` is called (one handle per thread and slide). OpenSlide leaves a
handle unusable after a read error, so a failed read drops the handle and the next read reopens the
slide: one corrupt tile costs that tile only.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason.api import DataError, ImageRef

if TYPE_CHECKING:
    from PIL import Image

logger = logging.getLogger(__name__)

__all__ = ["SlideFile", "TileReadError", "TileRef", "close_thread_handles"]

#: A level whose downsample exceeds the wanted one by less than this fraction still counts as at or
#: below it (pyramids round their level sizes, so a nominal 4x level reads as 4.0003x).
_LEVEL_TOLERANCE = 1e-3


class TileReadError(OSError):
    """A region of a readable slide could not be decoded (a corrupt tile)."""


def _openslide() -> Any:
    import openslide

    return openslide


class SlideFile:
    """An open slide: its size, levels and resolution, and reads at a target resolution.

    ``mpp_level0`` (micrometres per level-0 pixel) overrides what the slide records; without either,
    opening fails with a message naming ``--mpp-level0``.
    """

    def __init__(self, path: str | Path, mpp_level0: float | None = None) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise DataError(f"{self.path}: no such slide file")
        if self.path.is_dir():
            raise DataError(f"{self.path} is a folder, not a slide file")
        self._handle = self._open()
        self.dimensions: tuple[int, int] = tuple(self._handle.dimensions)  # type: ignore[assignment]
        self.level_downsamples: tuple[float, ...] = tuple(float(d) for d in self._handle.level_downsamples)
        self.level_dimensions: tuple[tuple[int, int], ...] = tuple(tuple(d) for d in self._handle.level_dimensions)
        self.properties: dict[str, str] = dict(self._handle.properties)
        self.vendor = self.properties.get("openslide.vendor", "unknown")
        self.recorded_mpp = self._recorded_mpp()
        mpp = mpp_level0 or self.recorded_mpp
        if mpp is None:
            raise DataError(f"{self.path} does not record its resolution (no openslide.mpp-x): pass "
                            "--mpp-level0 MICRONS (slide.mpp_level0; e.g. 0.25 for a 40x scan, 0.5 for 20x)")
        self.mpp_level0 = float(mpp)

    def _open(self) -> Any:
        openslide = _openslide()
        try:
            return openslide.OpenSlide(str(self.path))
        except openslide.OpenSlideUnsupportedFormatError:
            raise DataError(f"{self.path} is not a slide OpenSlide can read (SVS, NDPI, MRXS, SCN, VMS, BIF, "
                            "generic tiled TIFF, ...)") from None
        except openslide.OpenSlideError as exc:
            raise DataError(f"{self.path} is a damaged slide: {exc}") from None

    def _recorded_mpp(self) -> float | None:
        values = []
        for key in ("openslide.mpp-x", "openslide.mpp-y"):
            try:
                value = float(self.properties[key])
            except (KeyError, ValueError):
                continue
            if math.isfinite(value) and value > 0:
                values.append(value)
        return sum(values) / len(values) if values else None

    # ------------------------------------------------------------------ geometry
    def downsample(self, mpp: float) -> float:
        """``d = mpp / mpp0``: level-0 pixels per pixel at ``mpp``."""
        return mpp / self.mpp_level0

    def level_for(self, downsample: float) -> int:
        """The level with the largest downsample at or below ``downsample`` (level 0 when none is)."""
        levels = [i for i, d in enumerate(self.level_downsamples) if d <= downsample * (1 + _LEVEL_TOLERANCE)]
        return max(levels, key=lambda i: self.level_downsamples[i]) if levels else 0

    def size_at(self, width0: int, height0: int, mpp: float) -> tuple[int, int]:
        """Pixels at ``mpp`` of a ``width0 x height0`` level-0 rectangle (at least 1 x 1)."""
        d = self.downsample(mpp)
        return max(1, round(width0 / d)), max(1, round(height0 / d))

    # ------------------------------------------------------------------ pixels
    def read(self, x: int, y: int, width0: int, height0: int, size: tuple[int, int]) -> Image.Image:
        """The level-0 rectangle ``(x, y, width0, height0)`` as an RGB image of ``size`` pixels, read
        from the level with the largest downsample that still has at least ``size``'s detail; parts
        outside the slide (and transparent parts) are white. Raises :class:`TileReadError` when the
        region cannot be decoded (the handle is reopened for the next read)."""
        from PIL import Image as PILImage

        level = self.level_for(width0 / size[0])
        d = self.level_downsamples[level]
        read_size = (max(1, math.ceil(width0 / d)), max(1, math.ceil(height0 / d)))
        try:
            rgba = self._handle.read_region((int(x), int(y)), level, read_size)
        except _openslide().OpenSlideError as exc:
            self._reopen()
            raise TileReadError(f"{self.path}: cannot decode the region at ({x}, {y}) of {width0}x{height0} "
                                f"level-0 pixels (level {level}): {exc}") from None
        image = PILImage.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
        if image.size != size:
            image = image.resize(size, PILImage.Resampling.LANCZOS)
        return image

    def thumbnail(self, max_side: int) -> Image.Image:
        """The whole slide with its longest side at most ``max_side`` pixels (RGB, white background)."""
        try:
            image = self._handle.get_thumbnail((max_side, max_side))
        except _openslide().OpenSlideError as exc:
            self._reopen()
            raise DataError(f"{self.path} is a damaged slide: its thumbnail cannot be read: {exc}") from None
        return image.convert("RGB")

    def _reopen(self) -> None:
        try:
            self._handle.close()
        finally:
            self._handle = self._open()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> SlideFile:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        width, height = self.dimensions
        return (f"SlideFile({str(self.path)!r}, {width}x{height}, {len(self.level_downsamples)} levels, "
                f"{self.mpp_level0:g} um/px, {self.vendor})")


_local = threading.local()


def _thread_handle(path: str, mpp_level0: float | None) -> SlideFile:
    handles: dict[tuple[str, float | None], SlideFile] = _local.__dict__.setdefault("handles", {})
    key = (path, mpp_level0)
    if key not in handles:
        handles[key] = SlideFile(path, mpp_level0)
    return handles[key]


def close_thread_handles() -> None:
    """Close the slides this thread opened through :class:`TileRef` (a reader thread does at its end)."""
    handles: dict[Any, SlideFile] = _local.__dict__.get("handles", {})
    for handle in handles.values():
        handle.close()
    handles.clear()


@dataclass(frozen=True)
class TileRef(ImageRef):
    """A tile of a slide, read only when needed: ``region`` is ``(left, top, right, bottom)`` in
    level-0 pixels and ``pixels`` the ``(width, height)`` it is read at (its size at the target
    resolution)."""

    pixels: tuple[int, int] = (0, 0)
    mpp_level0: float | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.region is None or min(self.pixels) < 1:
            raise ValueError(f"TileRef needs a level-0 region and a positive size in pixels, got {self.region}, "
                             f"{self.pixels}")

    def load(self) -> Image.Image:
        assert self.region is not None
        left, top, right, bottom = self.region
        slide = _thread_handle(self.path, self.mpp_level0)
        return slide.read(left, top, right - left, bottom - top, self.pixels)

    def size(self) -> tuple[int, int]:
        return self.pixels
