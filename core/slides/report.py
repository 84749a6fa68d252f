"""A slide's report and its folder.

:class:`SlideReport` holds the slide's result (label, boxes or answer), what it cost (visual tokens of
the performer and of the budgeter's looks, per tissue tile), what was skipped or lost, and timings.
:func:`write_report` writes the folder, atomically (a temporary folder renamed into place, so a
killed run never leaves half a report, and a folder that exists is a finished slide):

``slide.json``          the report
``tiles.csv``           one row per tissue tile: position, tissue, request, budget, tokens, answer, score
``detections.geojson``  boxes in level-0 pixels (QuPath: File > Import objects from file)
``thumbnail.png``       the slide with its tissue mask (green) and the tiles read (outlined)
``budgets.png``         a heat map of the budget each tile got
``detections.png``      the boxes drawn on the thumbnail
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason.slides.aggregate import SlideBox
from pathreason.slides.geojson import feature_collection

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

__all__ = ["SlideReport", "TileRow", "write_report"]

TILE_COLUMNS = ("index", "x", "y", "width", "height", "tissue", "status", "requested", "budget", "tokens",
                "overhead_tokens", "answer", "score", "error")


@dataclass
class TileRow:
    """One tissue tile in ``tiles.csv``; ``status`` is ``answered``, ``skipped`` (the slide budget did
    not reach it) or ``lost`` (it could not be read)."""

    index: int
    x: int
    y: int
    width: int
    height: int
    tissue: float
    status: str = "planned"
    requested: int | None = None
    budget: int = 0
    tokens: int = 0
    overhead_tokens: int = 0
    answer: str = ""
    score: float | None = None
    error: str = ""

    def as_row(self) -> list[Any]:
        return [self.index, self.x, self.y, self.width, self.height, round(self.tissue, 4), self.status,
                "" if self.requested is None else self.requested, self.budget, self.tokens, self.overhead_tokens,
                self.answer, "" if self.score is None else self.score, self.error]


@dataclass
class SlideReport:
    """What :meth:`pathreason.Engine.predict_slide` returns (see the module docstring)."""

    slide: str
    task: str
    result: str
    """``label``, ``boxes`` or ``answer`` (``slide.results``)."""
    budgeter: str
    slide_budgeter: str
    slide_budget: int | None
    phase: str
    dimensions: tuple[int, int]
    mpp_level0: float
    mpp: float
    tile: int
    overlap: int
    tiles_in_grid: int = 0
    tiles: list[TileRow] = field(default_factory=list)
    label: str | None = None
    label_counts: dict[str, int] = field(default_factory=dict)
    boxes: list[SlideBox] = field(default_factory=list)
    answer: str | None = None
    truth: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    wall_seconds: float = 0.0
    read_seconds: float = 0.0
    """The reader thread's busy time (it overlaps with compute)."""
    read_wait_seconds: float = 0.0
    """Time the model waited for tiles: reading that did not overlap with compute."""
    survey: dict[str, Any] = field(default_factory=dict)
    """With ``slide.survey``: its ``tokens``, the tiles ``reread`` at full budget, the ``rounds``,
    whether the label was ``settled`` (no tile left that could change it), the tiles not read again
    that could have changed it (``not_reread``; ``not_reread_for_budget`` of them because the budget
    did not reach them), and the ``look_alikes`` learnt (``split``, ``samples``, ``skipped``, ``seconds``,
    ``hides``: per survey class, the classes it turned out to be, ``null`` when not learnt)."""
    warnings: list[str] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    #: Pictures' inputs (not serialised).
    thumbnail: Image.Image | None = field(default=None, repr=False)
    tissue_mask: np.ndarray | None = field(default=None, repr=False)
    classification: str = "object"

    # ------------------------------------------------------------------ summaries
    def _count(self, status: str) -> int:
        return sum(t.status == status for t in self.tiles)

    @property
    def tiles_tissue(self) -> int:
        return len(self.tiles)

    @property
    def tiles_answered(self) -> int:
        return self._count("answered")

    @property
    def tiles_skipped(self) -> int:
        return self._count("skipped")

    @property
    def tiles_lost(self) -> int:
        return self._count("lost")

    @property
    def performer_tokens(self) -> int:
        return sum(t.tokens for t in self.tiles)

    @property
    def overhead_tokens(self) -> int:
        return sum(t.overhead_tokens for t in self.tiles)

    @property
    def total_tokens(self) -> int:
        """Every visual token spent on the slide: the performer's passes and the budgeter's looks."""
        return self.performer_tokens + self.overhead_tokens

    @property
    def tokens_per_tissue_tile(self) -> float:
        return self.total_tokens / self.tiles_tissue if self.tiles_tissue else 0.0

    @property
    def tiles_per_second(self) -> float:
        return self.tiles_answered / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "slide": self.slide, "task": self.task, "result": self.result, "budgeter": self.budgeter,
            "slide_budgeter": self.slide_budgeter, "slide_budget": self.slide_budget, "phase": self.phase,
            "dimensions": list(self.dimensions), "mpp_level0": self.mpp_level0, "mpp": self.mpp, "tile": self.tile,
            "overlap": self.overlap, "label": self.label, "label_counts": self.label_counts,
            "detections": len(self.boxes), "answer": self.answer, "truth": self.truth, "metrics": self.metrics,
            "tiles_in_grid": self.tiles_in_grid, "tiles_tissue": self.tiles_tissue,
            "tiles_answered": self.tiles_answered, "tiles_skipped": self.tiles_skipped,
            "tiles_lost": self.tiles_lost, "total_tokens": self.total_tokens,
            "performer_tokens": self.performer_tokens, "overhead_tokens": self.overhead_tokens,
            "tokens_per_tissue_tile": self.tokens_per_tissue_tile, "wall_seconds": self.wall_seconds,
            "tiles_per_second": self.tiles_per_second, "read_seconds": self.read_seconds,
            "read_wait_seconds": self.read_wait_seconds, "survey": self.survey, "warnings": self.warnings,
            "files": self.files,
        }

    def summary(self) -> str:
        """Two lines for a terminal."""
        if self.result == "label":
            what = f"label {self.label!r}"
        elif self.result == "boxes":
            what = f"{len(self.boxes)} detections"
        else:
            what = f"answer {self.answer!r}"
        scores = "".join(f"  {k} {v:.3f}" for k, v in self.metrics.items())
        return (f"{Path(self.slide).name}: {what}{scores}\n"
                f"  tissue tiles {self.tiles_tissue} (answered {self.tiles_answered}, skipped {self.tiles_skipped}, "
                f"lost {self.tiles_lost})  visual tokens {self.total_tokens} ({self.tokens_per_tissue_tile:.1f} per "
                f"tissue tile)  {self.wall_seconds:.1f} s")


# ---------------------------------------------------------------------- writing
def write_report(report: SlideReport, folder: str | Path) -> Path:
    """Write the report folder (see the module docstring) atomically; an existing folder is replaced."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        files = {"json": "slide.json", "tiles": "tiles.csv"}
        with (tmp / "tiles.csv").open("w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(TILE_COLUMNS)
            writer.writerows(t.as_row() for t in report.tiles)
        if report.result == "boxes":
            (tmp / "detections.geojson").write_text(json.dumps(feature_collection(report.boxes, report.classification)))
            files["geojson"] = "detections.geojson"
        if report.thumbnail is not None:
            files.update(_pictures(report, tmp))
        report.files = {k: str(folder / v) for k, v in files.items()}
        (tmp / "slide.json").write_text(json.dumps(report.as_dict(), indent=2, default=str))
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{os.getpid()}")
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _pictures(report: SlideReport, folder: Path) -> dict[str, str]:
    from PIL import Image as PILImage
    from PIL import ImageDraw

    assert report.thumbnail is not None
    thumb = report.thumbnail.convert("RGB")
    sx = thumb.width / report.dimensions[0]
    sy = thumb.height / report.dimensions[1]

    def scaled(x1: float, y1: float, x2: float, y2: float) -> tuple[float, float, float, float]:
        return x1 * sx, y1 * sy, max(x1 * sx + 1, x2 * sx), max(y1 * sy + 1, y2 * sy)

    tissue = thumb.copy()
    if report.tissue_mask is not None:
        green = PILImage.new("RGB", thumb.size, (40, 180, 60))
        mask = PILImage.fromarray((report.tissue_mask * 110).astype("uint8"))
        tissue.paste(green, mask=mask)
    draw = ImageDraw.Draw(tissue)
    for t in report.tiles:
        colour = {"answered": (30, 30, 30), "skipped": (160, 160, 160), "lost": (220, 0, 0)}.get(t.status, (90, 90, 90))
        draw.rectangle(scaled(t.x, t.y, t.x + t.width, t.y + t.height), outline=colour)
    tissue.save(folder / "thumbnail.png")

    _heatmap(report, thumb, scaled, folder / "budgets.png")

    detections = thumb.copy()
    draw = ImageDraw.Draw(detections)
    for b in report.boxes:
        draw.rectangle(scaled(*b.box), outline=(220, 40, 40), width=2)
    detections.save(folder / "detections.png")
    return {"thumbnail": "thumbnail.png", "budgets": "budgets.png", "detections": "detections.png"}


def _heatmap(report: SlideReport, thumb: Image.Image, scaled: Any, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    width = 8.0
    fig, ax = plt.subplots(figsize=(width, width * thumb.height / thumb.width + 0.6))
    ax.imshow(thumb)
    top = max([t.budget for t in report.tiles] + [1])
    cmap = plt.get_cmap("viridis")
    for t in report.tiles:
        x1, y1, x2, y2 = scaled(t.x, t.y, t.x + t.width, t.y + t.height)
        colour = cmap(t.budget / top) if t.status == "answered" else (0.6, 0.6, 0.6, 1.0)
        ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, facecolor=colour, alpha=0.6, edgecolor="none"))
    mappable = plt.cm.ScalarMappable(cmap=cmap, norm=matplotlib.colors.Normalize(0, top))
    fig.colorbar(mappable, ax=ax, fraction=0.04, label="visual tokens (grey: skipped or lost)")
    budget = "none" if report.slide_budget is None else str(report.slide_budget)
    ax.set_title(f"{Path(report.slide).name}: {report.budgeter}, slide budget {budget}, "
                 f"{report.total_tokens} tokens spent", fontsize=9)
    ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
