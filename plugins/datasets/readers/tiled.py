"""Shared by CRAG and DigestPath: cut a large annotated image into tiles with their boxes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from pathreason.api.sample import ImageRef, Sample
from pathreason.plugins.datasets.options import DatasetOptions
from pathreason.plugins.datasets.readers.regions import Runs, tile_boxes, tile_grid

DEFAULT_TILE = 1024
DEFAULT_MIN_BOX = 16


class TiledOptions(DatasetOptions):
    """Options of the readers that cut large images into tiles (CRAG, DigestPath)."""

    tile: int = Field(DEFAULT_TILE, ge=28, description="tile side in pixels, a whole number >= 28")
    overlap: int = Field(0, ge=0, description="pixels shared by neighbouring tiles, a whole number >= 0 below tile")
    min_box_size: int = Field(DEFAULT_MIN_BOX, ge=1,
                              description="smallest visible part, in pixels each way, of an object cut by a tile edge")

    @field_validator("overlap")
    @classmethod
    def _overlap_below_tile(cls, overlap: int, info: Any) -> int:
        tile = info.data.get("tile")
        if tile is not None and overlap >= tile:
            raise ValueError(f"overlap must be smaller than tile ({tile})")
        return overlap


def tile_samples(
    dataset: str,
    split: str,
    image: Path,
    size: tuple[int, int],
    runs: Runs | None,
    tile: int,
    overlap: int,
    min_box_size: int,
    meta: dict[str, Any],
) -> list[Sample]:
    """One detection sample per tile of ``image`` (``size`` = width, height); the tile is an
    :class:`ImageRef` region, cut only when the sample's image is loaded."""
    width, height = size
    whole = runs.boxes() if runs is not None else {}
    samples = []
    for region in tile_grid(width, height, tile, overlap):
        found = tile_boxes(runs, region, whole, min_box_size) if runs is not None else []
        x0, y0 = region[:2]
        samples.append(
            Sample(
                id=f"{dataset}-{split}-{image.stem}-x{x0}-y{y0}",
                image=ImageRef(path=str(image), region=region),
                task="detection",
                boxes=[box for _, box in found],
                meta={
                    **meta,
                    "dataset": dataset,
                    "split": split,
                    "source_image": str(image),
                    "tile": list(region),
                    "instances": [ident for ident, _ in found],
                },
            )
        )
    return samples
