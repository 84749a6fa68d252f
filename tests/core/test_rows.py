"""The rows TRL trains on: budgets of the SFT mix, the level floor, the GRPO reward columns."""

from __future__ import annotations

from PIL import Image

from pathreason import get_task
from pathreason.api import Sample
from pathreason.config import RunConfig
from pathreason.rows import grpo_rows, sft_rows


def _samples(levels: list[int | None]) -> tuple[list[Sample], list[Image.Image]]:
    samples = [Sample(id=f"s{i}", image=Image.new("RGB", (448, 448), (200, 100, 150)), task="subtyping",
                      options=["a", "b"], answer="a", meta={} if level is None else {"level_tokens": level})
               for i, level in enumerate(levels)]
    return samples, [s.load_image() for s in samples]


def _budgets(rows: list[dict]) -> list[int]:
    return sorted(r["length"] for r in rows)


def test_each_sample_at_the_training_budget_and_one_mixed_budget() -> None:
    config = RunConfig.build({"sft": {"budget_mix": [16, 64]}}, apply_preset=False)
    samples, images = _samples([None] * 4)
    rows = sft_rows(config, {"subtyping": get_task("subtyping")}, samples, images, "absolute")
    assert len(rows) == 8 and _budgets(rows).count(256) == 4
    assert all(r["length"] in (16, 64, 256) for r in rows)


def test_the_level_floor_keeps_mixed_budgets_where_the_detail_shows() -> None:
    config = RunConfig.build({"sft": {"budget_mix": [16, 32, 64, 128], "budget_mix_level_key": "level_tokens"}},
                             apply_preset=False)
    samples, images = _samples([16] * 6 + [64] * 6 + [256] * 6)
    rows = sft_rows(config, {"subtyping": get_task("subtyping")}, samples, images, "absolute")
    lengths = [r["length"] for r in rows]
    assert len(rows) == 6 * 2 + 6 * 2 + 6  # the 256-level samples have no mixed budget left: one row each
    assert lengths.count(256) == 18
    assert set(lengths) - {256} <= {16, 25, 64, 121}  # a 448-px square: budget 32 is 5x5 tokens, 128 is 11x11
    # 64-level samples: never below 64
    floor64 = sft_rows(config, {"subtyping": get_task("subtyping")}, *_samples([64] * 20), "absolute")
    assert min(r["length"] for r in floor64) >= 64 and {r["length"] for r in floor64} >= {64, 121}


def test_draws_all_shows_every_sample_at_every_budget_where_its_detail_shows() -> None:
    """With ``budget_mix_draws: all`` an easy sample and its harder twin meet equally often at every
    budget both show at (with one draw, 64 tokens held 1/4 of the easy samples and 1/2 of the twins)."""
    config = RunConfig.build({"sft": {"budget_mix": [16, 32, 64, 128], "budget_mix_level_key": "level_tokens",
                                      "budget_mix_draws": "all"}}, apply_preset=False)
    samples, images = _samples([16] * 3 + [64] * 3 + [256] * 3)
    rows = sft_rows(config, {"subtyping": get_task("subtyping")}, samples, images, "absolute")
    lengths = sorted(r["length"] for r in rows)
    # 16-level: 256 + 16, 25, 64, 121; 64-level: 256 + 64, 121; 256-level: 256 only
    assert lengths == sorted([256] * 9 + [16, 25, 64, 121] * 3 + [64, 121] * 3)
    assert lengths.count(64) == lengths.count(121) == 6


def test_draws_balanced_gives_every_level_as_many_rows() -> None:
    """With ``budget_mix_draws: balanced`` every sample has 1 + len(mix) = 3 rows, its budgets in turn from
    the lowest visible one: a 16-level sample at 16, 64, 256; a 64-level one at 64, 256, 64; a 256-level
    one three times at 256."""
    config = RunConfig.build({"sft": {"budget_mix": [16, 64], "budget_mix_level_key": "level_tokens",
                                      "budget_mix_draws": "balanced"}}, apply_preset=False)
    samples, images = _samples([16, 64, 256])
    rows = sft_rows(config, {"subtyping": get_task("subtyping")}, samples, images, "absolute")
    assert sorted(r["length"] for r in rows) == sorted([16, 64, 256] + [64, 256, 64] + [256] * 3)
    assert len(rows) == 9


def test_grpo_rows_carry_the_reward_columns() -> None:
    config = RunConfig.build({}, apply_preset=False)
    samples, images = _samples([None])
    (row,) = grpo_rows(config, {"subtyping": get_task("subtyping")}, samples, images, "absolute")
    assert row["id"] == "s0" and row["task"] == "subtyping" and row["answer"] == "a" and row["options"] == ["a", "b"]
    assert row["image"].size == (448, 448)


def test_grpo_budget_mix_draws_each_prompt_from_its_visible_budgets() -> None:
    """``grpo.budget_mix``: one budget per prompt, from the training budget and the SFT mix at or above
    the sample's level (a 448-px square: 16 -> 112 px, 32 -> 140, 64 -> 224, 128 -> 308, 256 -> 448)."""
    sft = {"budget_mix": [16, 32, 64, 128], "budget_mix_level_key": "level_tokens", "budget_mix_exclude": ["fine"]}
    config = RunConfig.build({"sft": sft, "grpo": {"budget_mix": True}}, apply_preset=False)
    samples, images = _samples([16] * 60 + [64] * 60 + [256] * 10)
    samples[-1].meta["difficulty"] = "fine"
    rows = grpo_rows(config, {"subtyping": get_task("subtyping")}, samples, images, "absolute")
    sides = [r["image"].size[0] for r in rows]
    assert len(rows) == 130
    assert set(sides[:60]) == {112, 140, 224, 308, 448}   # every visible budget drawn for some coarse sample
    assert set(sides[60:120]) == {224, 308, 448}          # never below its level
    assert set(sides[120:]) == {448}                       # nothing visible below 256 (and one excluded)
    again = grpo_rows(config, {"subtyping": get_task("subtyping")}, samples, images, "absolute")
    assert [r["image"].size for r in again] == [r["image"].size for r in rows]  # seeded
    off = grpo_rows(RunConfig.build({"sft": sft}, apply_preset=False), {"subtyping": get_task("subtyping")},
                    samples, images, "absolute")
    assert {r["image"].size[0] for r in off} == {448}


def test_box_frame_norm1000_gives_one_answer_at_every_budget(tmp_path) -> None:
    """``box_frame``: pixels of the image shown (a 448-px tile at 16 tokens is 112 px: boxes / 4) or
    0-1000 of the image (the same text at every budget)."""
    from pathreason import Engine

    assert Engine(task=["detection", "vqa"], output_dir=tmp_path / "a").box_frame == "absolute"  # Qwen2.5-VL's
    assert Engine(task="detection", output_dir=tmp_path / "c", box_frame="absolute").box_frame == "absolute"
    engine = Engine(task="detection", output_dir=tmp_path / "b")  # the tiny preset's detection run
    assert engine.box_frame == "norm1000" and engine.config.sft.budget_mix_draws == "balanced"
    sample = Sample(id="d", image=Image.new("RGB", (448, 448)), task="detection", boxes=[[112, 56, 224, 168]])
    config = RunConfig.build({"sft": {"budget_mix": [16]}}, apply_preset=False)

    def answers(frame: str) -> dict[int, str]:
        rows = sft_rows(config, {"detection": get_task("detection")}, [sample], [sample.load_image()], frame)
        return {r["length"]: r["completion"][0]["content"][0]["text"] for r in rows}

    norm, absolute = answers(engine.box_frame), answers("absolute")
    assert "[[250, 125, 500, 375]]" in norm[16] and norm[16] == norm[256]
    assert "[[28, 14, 56, 42]]" in absolute[16] and "[[112, 56, 224, 168]]" in absolute[256]
