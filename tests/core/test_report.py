"""The HTML report page: self-contained (pictures embedded, no network), escaped, and rendered by a
real browser (headless Chromium) with its tables and pictures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from PIL import Image

from pathreason.report import Section, Table, render_page, write_page
from tests.core.browser import ink, render


def _picture(path: Path) -> Path:
    Image.new("RGB", (120, 80), (200, 30, 60)).save(path)
    return path


def test_page_is_self_contained_and_escaped(tmp_path: Path) -> None:
    page = render_page("demo <1>", [Section("VQA & more", paragraphs=["a < b"], notes=["GRPO adds nothing here."],
                                            table=Table(["row", "accuracy", "TPI"], [["SFT", 0.5, 256], ["x", None, 1]]),
                                            images=[(_picture(tmp_path / "p.png"), "plot")])])
    assert "demo &lt;1&gt;" in page and "VQA &amp; more" in page and "a &lt; b" in page
    assert "<td>0.500</td>" in page and "<td>-</td>" in page
    assert "data:image/png;base64," in page
    assert not re.search(r"(src|href)=['\"]https?://", page)  # nothing fetched from a network


def test_a_missing_picture_is_said_not_broken(tmp_path: Path) -> None:
    page = render_page("t", [Section("s", images=[(tmp_path / "nope.png", "gone")])])
    assert "missing picture" in page and "<img" not in page


def test_write_is_atomic_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    out = write_page(tmp_path / "r" / "index.html", "t", [Section("s")])
    assert out.read_text().startswith("<!DOCTYPE html>") and [p.name for p in out.parent.iterdir()] == ["index.html"]


def test_chromium_renders_the_tables_and_pictures(tmp_path: Path) -> None:
    page = write_page(tmp_path / "index.html", "pathreason report",
                      [Section("subtyping", table=Table(["row", "balanced accuracy"], [["SFT", 0.75]]),
                               images=[(_picture(tmp_path / "plot.png"), "accuracy vs TPI")])])
    dom, shot = render(page, tmp_path)
    assert dom.count("<table>") == 1 and "0.750" in dom and "<img" in dom
    assert 0.005 < ink(shot) < 0.9  # text, table borders and the red picture: not blank, not all ink
    assert Image.open(shot).size == (1200, 1600)


@pytest.mark.slow
def test_eval_and_ablate_budget_write_the_page(tmp_path: Path, tiny_path: Path) -> None:
    from pathreason.testing import tiny_engine

    engine = tiny_engine(tmp_path, task="subtyping")
    engine.evaluate(n=4, phase="base", max_new_tokens=4, progress=False)
    page = tmp_path / "run" / "eval" / "base-static256-test" / "index.html"
    dom, shot = render(page, tmp_path)
    assert "<table>" in dom and "balanced_accuracy" in dom and "static:256" in dom and ink(shot) > 0.005
    report = engine.ablate_budget(budgets=[16, 256], allocator=False, n=4, phase="base", progress=False,
                                  output=tmp_path / "ablation")
    assert report.files["page"] == str(tmp_path / "ablation" / "index.html")
    dom, _ = render(tmp_path / "ablation" / "index.html", tmp_path / "b")
    assert dom.count("<table>") == 1 and "static:16" in dom and "data:image/png;base64," in dom
