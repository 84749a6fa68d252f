"""Opening the images of a dataset folder: headers while loading, every pixel when checking.

Every file goes through :func:`pathreason.api.sample.open_image`, so an image of more pixels than
the limit (``PATHREASON_MAX_IMAGE_PIXELS``, default Pillow's 89,478,485) is one skipped, reported
record and never a ``DecompressionBombError`` that ends the load.

:func:`decode_images` is what ``pathreason datasets check`` adds to a load: it decodes every
distinct image of a split (a thread pool: Pillow's decoders release the GIL) with a progress bar on
stderr, so a truncated or corrupt file is a problem in the report rather than a skipped sample in
the middle of training.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pathreason.api import DataError, ImageRef, Sample
from pathreason.api.datasets import IMAGE_SUFFIXES
from pathreason.api.sample import open_image

__all__ = ["decode_images", "image_size", "is_image_name", "probe_image"]

#: What Pillow raises on a file it cannot read (DataError: over the pixel limit).
_UNREADABLE = (OSError, ValueError, SyntaxError, DataError)
#: Threads that decode for a check: a few are enough to keep the disk and two or more cores busy.
MAX_DECODE_THREADS = 4


def image_size(source: Path | bytes, decode: bool = False) -> tuple[int, int] | str:
    """``(width, height)`` of ``source`` (a file or encoded bytes), or why it cannot be read.

    Only the header is read unless ``decode`` (which also catches truncated files, slowly).
    """
    from PIL import UnidentifiedImageError

    try:
        with open_image(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            if decode:
                image.load()
            return image.size
    except FileNotFoundError:
        return "image file not found"
    except DataError as err:
        return f"image refused: {err}"
    except (UnidentifiedImageError, *_UNREADABLE) as err:
        return f"unreadable image: {err}"


def probe_image(source: Path | bytes, decode: bool = False) -> str | None:
    """``None`` when ``source`` opens as an image, else why not (:func:`image_size`)."""
    found = image_size(source, decode)
    return found if isinstance(found, str) else None


def is_image_name(path: Path) -> bool:
    """An image file name (by suffix) that is not hidden and not a macOS ``._`` resource fork;
    the name only: nothing is stat-ed."""
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _decode(source: str | bytes) -> str | None:
    """Why ``source`` cannot be decoded in full, or ``None``."""
    try:
        with open_image(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            image.load()
    except _UNREADABLE as err:
        return f"{type(err).__name__}: {err}" if not isinstance(err, DataError) else str(err)
    return None


def decode_images(samples: Sequence[Sample], label: str, progress: bool = True) -> list[str]:
    """Decode every distinct image file (or encoded image) of ``samples``; one problem line per
    image that fails, naming the file, the first sample that uses it and how many more do.

    Tiles of one file are one image: the file is decoded once. ``label`` prefixes the progress bar.
    """
    from tqdm.auto import tqdm

    users: dict[int | str, list[Sample]] = {}
    sources: dict[int | str, str | bytes] = {}
    for sample in samples:
        image = sample.image
        if isinstance(image, ImageRef) and image.data is not None:
            key: int | str = id(image.data)  # readers share one ImageRef per distinct image
            sources.setdefault(key, image.data)
        elif isinstance(image, (str, ImageRef)):
            key = image if isinstance(image, str) else image.path
            sources.setdefault(key, key)
        else:
            continue  # an in-memory image was decoded when it was made
        users.setdefault(key, []).append(sample)
    keys = list(sources)
    threads = max(1, min(MAX_DECODE_THREADS, os.cpu_count() or 1, len(keys)))
    problems = []
    with ThreadPoolExecutor(threads) as pool:
        results = pool.map(_decode, (sources[k] for k in keys))
        bar = tqdm(zip(keys, results), total=len(keys), desc=f"{label}: decoding images", unit="image",
                   file=sys.stderr, disable=not progress or not keys)
        for key, problem in bar:
            if problem is not None:
                first, more = users[key][0], len(users[key]) - 1
                where = first.image.where if isinstance(first.image, ImageRef) and isinstance(key, int) else key
                also = f" and {more} more" if more else ""
                problems.append(f"cannot decode {where} (sample {first.id}{also}): {problem}")
    return problems
