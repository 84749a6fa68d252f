"""A cohort: every slide of a folder, one report folder each, resumable, sharded across processes.

``pathreason slides DIR --run RUN --output OUT`` lists the slides of ``DIR`` (sorted, by extension:
:data:`SLIDE_SUFFIXES`), splits the list between processes with :func:`pathreason.distributed.shard`
(under ``accelerate launch`` each process takes its contiguous share; one process takes all), and
reports each slide to ``OUT/<slide name>/``. A report folder is written atomically
(:func:`~pathreason.slides.report.write_report`), so one that exists is a finished slide and a rerun
skips it: a killed cohort resumes where it stopped. A slide that fails (not a slide, no tissue, ...) is
recorded in ``OUT/<slide name>.error.txt`` and the cohort goes on. At the end the main process reads
every ``slide.json`` and writes ``OUT/cohort.csv`` and ``OUT/cohort.json``: one row per slide and the
slide-level metrics over the cohort (label accuracy, detection mAP of all slides' boxes pooled).
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pathreason.api import DataError, PathreasonError
from pathreason.distributed import barrier, gather, is_main_process, shard
from pathreason.slides.report import SlideReport, write_report

logger = logging.getLogger(__name__)

__all__ = ["SLIDE_SUFFIXES", "CohortResult", "list_slides", "run_cohort"]

#: File extensions read as slides (what OpenSlide reads; ``.tif``/``.tiff`` include generic tiled TIFF).
SLIDE_SUFFIXES = (".svs", ".tif", ".tiff", ".ndpi", ".vms", ".vmu", ".scn", ".mrxs", ".svslide", ".bif")

COLUMNS = ("slide", "status", "label", "truth", "correct", "detections", "map_avg", "tiles_tissue", "tiles_answered",
           "tiles_skipped", "tiles_lost", "total_tokens", "tokens_per_tissue_tile", "wall_seconds", "error")


def list_slides(folder: str | Path) -> list[Path]:
    """The slide files of ``folder`` (not recursive), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of slides")
    slides = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SLIDE_SUFFIXES)
    if not slides:
        raise DataError(f"{folder} holds no slide files ({', '.join(SLIDE_SUFFIXES)})")
    return slides


def report_folder(output: Path, slide: Path) -> Path:
    return output / slide.name.split(".")[0]


@dataclass
class CohortResult:
    """What the cohort did in this process, and the cohort table (on the main process)."""

    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def table(self) -> str:
        lines = [f"{'slide':<24} {'status':<8} {'label':<34} {'truth':<34} {'tokens':>9} {'per tile':>9} {'seconds':>8}"]
        for row in self.rows:
            lines.append(f"{row['slide']:<24} {row['status']:<8} {str(row['label'] or '')[:34]:<34} "
                         f"{str(row['truth'] or '')[:34]:<34} {row['total_tokens'] or 0:>9} "
                         f"{float(row['tokens_per_tissue_tile'] or 0):>9.1f} {float(row['wall_seconds'] or 0):>8.1f}")
        lines.append("  ".join(f"{k} {v:.3f}" for k, v in self.metrics.items()))
        return "\n".join(lines)


def run_cohort(slides: Sequence[Path], output: str | Path, predict: Callable[[Path], SlideReport],
               score_boxes: Callable[[list[list[list[float]]], list[list[list[float]]]], dict[str, float]] | None = None,
               ) -> CohortResult:
    """Report every slide not reported yet (this process's share), then the cohort table.

    ``predict(path)`` reports one slide; ``score_boxes(predicted, truth)`` (per slide, level-0 boxes)
    gives the pooled detection metrics of the cohort.
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    result = CohortResult()
    for slide in shard(list(slides)):
        folder = report_folder(output, slide)
        error_file = output / f"{folder.name}.error.txt"
        if (folder / "slide.json").is_file():
            result.skipped.append(slide.name)
            continue
        try:
            report = predict(slide)
        except PathreasonError as exc:
            result.failed[slide.name] = str(exc)
            error_file.write_text(f"{exc}\n")
            logger.error("%s: %s", slide.name, exc)
            continue
        write_report(report, folder)
        error_file.unlink(missing_ok=True)
        result.done.append(slide.name)
    shares = gather([(result.done, result.skipped, result.failed)])
    barrier()
    if not is_main_process():
        return result
    result.done = [s for done, _, _ in shares for s in done]
    result.skipped = [s for _, skipped, _ in shares for s in skipped]
    result.failed = {k: v for _, _, failed in shares for k, v in failed.items()}
    _table(slides, output, result, score_boxes)
    return result


def _table(slides: Sequence[Path], output: Path, result: CohortResult,
           score_boxes: Callable[[list[list[list[float]]], list[list[list[float]]]], dict[str, float]] | None) -> None:
    rows: list[dict[str, Any]] = []
    predicted, truths = [], []
    for slide in slides:
        folder = report_folder(output, slide)
        row: dict[str, Any] = dict.fromkeys(COLUMNS, "")
        row["slide"] = slide.name
        if not (folder / "slide.json").is_file():
            error = output / f"{folder.name}.error.txt"
            row.update(status="failed" if error.is_file() else "missing",
                       error=error.read_text().strip() if error.is_file() else "")
            rows.append(row)
            continue
        data = json.loads((folder / "slide.json").read_text())
        scores = data.get("metrics", {})
        row.update(status="done", label=data.get("label"), truth=data.get("truth", {}).get("label"),
                   correct=scores.get("correct", ""), detections=data.get("detections"),
                   map_avg=scores.get("map_avg", ""), tiles_tissue=data["tiles_tissue"],
                   tiles_answered=data["tiles_answered"], tiles_skipped=data["tiles_skipped"],
                   tiles_lost=data["tiles_lost"], total_tokens=data["total_tokens"],
                   tokens_per_tissue_tile=round(data["tokens_per_tissue_tile"], 2),
                   wall_seconds=round(data["wall_seconds"], 2))
        rows.append(row)
        if data["result"] == "boxes" and (folder / "detections.geojson").is_file() and "boxes" in data.get("truth", {}):
            from pathreason.slides.geojson import read_boxes
            from pathreason.slides.truth import find_truth, load_truth

            truth_path = find_truth(Path(data["slide"]))
            if truth_path is not None:
                predicted.append(read_boxes(folder / "detections.geojson"))
                truths.append(load_truth(truth_path).boxes)
    done = [r for r in rows if r["status"] == "done"]
    correct = [float(r["correct"]) for r in done if r["correct"] != ""]
    metrics: dict[str, float] = {"slides": float(len(done))}
    if correct:
        metrics["label_accuracy"] = sum(correct) / len(correct)
    if predicted and score_boxes is not None:
        metrics.update(score_boxes(predicted, truths))
    if done:
        metrics["total_tokens"] = float(sum(r["total_tokens"] for r in done))
        metrics["tokens_per_tissue_tile"] = metrics["total_tokens"] / max(1, sum(r["tiles_tissue"] for r in done))
    result.rows, result.metrics = rows, {k: v for k, v in metrics.items() if not math.isnan(v)}
    with (output / "cohort.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    (output / "cohort.json").write_text(json.dumps({"metrics": result.metrics, "slides": rows}, indent=2))
    result.files = {"csv": str(output / "cohort.csv"), "json": str(output / "cohort.json")}
