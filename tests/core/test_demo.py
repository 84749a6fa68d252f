"""``pathreason demo --quick``: the whole method end to end (a few steps of everything), and its report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pathreason.cli import main
from tests.core.browser import ink, render

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_demo_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    for task in ("vqa", "subtyping", "detection"):
        assert f"### {task}" in printed
    for row in ("untrained", "SFT", "+Performer", "+Performer+Allocator"):
        assert f"| {row} |" in printed

    data = json.loads((out / "tables.json").read_text())
    assert set(data["tasks"]) == {"vqa", "subtyping", "detection"}
    sub = {r["row"]: r for r in data["tasks"]["subtyping"]}
    assert sub["untrained"]["tpi"] == 256.0 and sub["+Performer+Allocator"]["allocator_tpi"] == 256.0
    assert "balanced_accuracy" in sub["SFT"] and "map_avg" in data["tasks"]["detection"][0]
    assert {"SFT", "GRPO", "allocator"} <= set(data["timings_s"])
    assert (out / "tables.md").read_text().startswith("### vqa")
    for name in ("accuracy_vs_tpi", "reward_curves"):
        assert Path(data["files"][name]).read_bytes()[:8] == PNG
    examples = sorted(p.name for p in Path(data["files"]["examples"]).glob("*.png"))
    assert {e.split("-")[0] for e in examples} == {"vqa", "subtyping", "detection"}
    # every stage that shows nothing in two steps says so, in a sentence beside its table
    assert any(n.startswith("SFT did not lift balanced_accuracy") for n in data["notes"]["subtyping"])
    assert any("GRPO left" in n or "GRPO lowered" in n for n in data["notes"]["subtyping"])
    assert data["notes"]["subtyping"][0] in printed
    assert "library output" in printed and (out / "run" / "log.txt").stat().st_size > 0

    page = Path(data["files"]["page"])
    assert page == out / "index.html"
    html = page.read_text()
    assert html.count("<table>") == 3 and html.count("<img") == 2 + len(examples) and "src='http" not in html and "<link" not in html
    try:
        dom, shot = render(page, tmp_path)
    except pytest.skip.Exception:
        pass  # no Chromium here: the page's content is checked above
    else:
        assert dom.count("<table>") == 3 and "+Performer+Allocator" in dom
        assert 0.005 < ink(shot) < 0.9

    with pytest.raises(SystemExit, match="already holds a demo"):
        main(["demo", "--quick", "--output", str(out)])


def test_demo_rejects_an_unknown_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--quick", "--task", "segmentation", "--output", str(tmp_path / "d")]) == 2
    assert "segmentation" in capsys.readouterr().err


def test_examples_draw_boxes_written_with_their_corners_in_any_order(tmp_path: Path) -> None:
    """A model may write [x1, y1, x0, y0]; the demo draws it (it crashed the full demo once)."""
    from types import SimpleNamespace

    from PIL import Image

    from pathreason.api import Sample
    from pathreason.demo import _draw_examples

    Image.new("RGB", (100, 100), "white").save(tmp_path / "t.png")
    sample = Sample(id="t", image=str(tmp_path / "t.png"), task="detection", boxes=[[10, 10, 50, 50]])
    record = SimpleNamespace(id="t", task="detection", parsed=[[80, 80, 20, 20], [1, 2, 3]], difficulty="coarse",
                             budget=64, tokens=64, prompt="find the glands", completion="<answer> ... </answer>")
    engine = SimpleNamespace(samples=lambda split, n: [sample])
    folder = _draw_examples(engine, SimpleNamespace(split="test", records=[record]), 1, tmp_path / "ex", 1)
    drawn = Image.open(folder / "detection-1.png").convert("RGB")
    scale = 448 / 100
    assert drawn.getpixel((round(20 * scale), round(50 * scale))) == (220, 0, 0)  # the predicted box, in red
    assert drawn.getpixel((round(10 * scale), round(30 * scale))) == (0, 160, 0)  # the gold box, in green


def test_stage_notes_quote_the_longer_runs_where_the_demo_shows_nothing() -> None:
    """Each stage whose effect the demo's tiles do not show gets one sentence with the longer run's figure."""
    from pathreason.demo import stage_notes

    def row(label: str, m: float, fmt: float, tpi: float, own: float | None = None) -> dict[str, object]:
        return {"row": label, "m": m, "format_rate": fmt, "tpi": tpi, "allocator_tpi": own}

    figures = {"default_runs": {"t": "m 0.90"}, "grpo": {"t": "at length, from labels alone, it lifts m 0.60 -> 0.80"},
               "allocator": {"t": "m 0.88 at TPI 120"}}
    quiet = [row("untrained", 0.0, 0.0, 256), row("SFT", 0.5, 1.0, 256), row("+Performer", 0.6, 1.0, 256),
             row("+Performer+Allocator", 0.6, 1.0, 150, 256)]
    assert stage_notes("t", "m", quiet, 0.5, figures) == []  # SFT lifts, GRPO helps, allocator at 59 %

    notes = stage_notes("t", "m", [row("untrained", 0.0, 0.0, 256), row("SFT", 0.0, 0.75, 256),
                                   row("+Performer", 0.0, 1.0, 256), row("+Performer+Allocator", 0.0, 1.0, 200, 256)],
                        0.25, figures)
    assert notes[0] == ("SFT did not lift m clearly above the untrained model with format rate 1.00 within the "
                        "demo's steps (0.000 -> 0.000, format 0.75); the default t run (`pathreason train --task t`) "
                        "reaches m 0.90.")
    assert notes[1] == ("GRPO left m unchanged (0.000 -> 0.000) in the demo's few steps; in 25% of its prompt groups "
                        "every completion had the same reward; at length, from labels alone, it lifts m 0.60 -> 0.80.")
    # 200 / 256 = 78 % of the tokens: over the 60 % goal, with the benchmark's figure
    assert notes[2].startswith("The allocator kept 78% of static:256's tokens per image (goal: at most 60%)")
    assert notes[2].endswith("measures it at length: m 0.88 at TPI 120.")
    lowered = stage_notes("t", "m", [row("SFT", 0.5, 1.0, 256), row("+Performer", 0.4, 1.0, 256)], None, {})
    assert lowered == ["GRPO lowered m (0.500 -> 0.400) in the demo's few steps."]
    # the allocator changed nothing: "+0.000", not "-0.000"
    same = stage_notes("u", "m", [row("+Performer", 0.5, 1.0, 256), row("+Performer+Allocator", 0.5, 1.0, 256, 256)],
                       None, figures)
    assert same == ["The allocator kept 100% of static:256's tokens per image (goal: at most 60%) and changed m by "
                    "+0.000 (goal: within 0.01); `python benchmarks/allocator.py` trains and measures it at length."]
