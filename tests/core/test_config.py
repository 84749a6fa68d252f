"""Run configuration: keyword arguments, YAML and CLI overrides give the same validated object."""

from __future__ import annotations

from pathlib import Path

import pytest

from pathreason.api import ConfigError
from pathreason.config import RunConfig, parse_overrides


def test_defaults_are_the_papers() -> None:
    cfg = RunConfig.build(apply_preset=False)
    assert (cfg.budget.train_tokens, cfg.budget.patch) == (256, 28)
    assert cfg.lora is not None and (cfg.lora.r, cfg.lora.lora_alpha, cfg.lora.target_modules) == (16, 64, "all-linear")
    assert (cfg.sft.learning_rate, cfg.sft.weight_decay, cfg.sft.lr_scheduler_type) == (1e-4, 0.1, "cosine")
    assert (cfg.grpo.num_generations, cfg.grpo.beta, cfg.grpo.epsilon, cfg.grpo.temperature) == (8, 0.001, 0.2, 1.0)
    assert cfg.allocator.lam == 0.5
    assert cfg.trust_remote_code is False


def test_kwargs_yaml_and_cli_give_the_same_object(tmp_path: Path) -> None:
    from_kwargs = RunConfig.build({"task": ["vqa", "det"], "grpo": {"beta": 0.0}, "sft__max_steps": 7,
                                   "lora.r": 8, "output_dir": "out"})
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("task: [vqa, det]\ngrpo:\n  beta: 0.0\nsft:\n  max_steps: 7\nlora:\n  r: 8\noutput_dir: out\n")
    from_yaml = RunConfig.from_yaml(yaml_file)
    from_cli = RunConfig.build(parse_overrides(
        ["--task", "[vqa, det]", "--grpo.beta", "0", "--sft.max_steps=7", "--lora.r", "8", "--output-dir", "out"]))
    assert from_kwargs == from_yaml == from_cli
    assert from_kwargs.tasks == ["vqa", "det"]
    # the resolved config round-trips through YAML
    saved = tmp_path / "resolved.yaml"
    from_kwargs.to_yaml(saved)
    assert RunConfig.from_yaml(saved) == from_kwargs


def test_cli_overrides_win_over_yaml(tmp_path: Path) -> None:
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("grpo:\n  num_generations: 4\n  per_device_train_batch_size: 8\n")
    cfg = RunConfig.from_yaml(yaml_file, parse_overrides(["--grpo.num_generations", "2"]))
    assert cfg.grpo.num_generations == 2


def test_lora_null_means_full_fine_tuning() -> None:
    assert RunConfig.build({"lora": None}).lora is None


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"grpo.betta": 0.1}, r"grpo\.betta: unknown setting in section 'grpo'\. Did you mean 'beta'\?"),
        ({"grpo.beta": -1}, r"grpo\.beta = -1: Input should be greater than or equal to 0"),
        ({"lora.r": "sixteen"}, r"lora\.r = 'sixteen': Input should be a valid integer"),
        ({"grpo.num_generations": 3}, r"divisible by num_generations = 3"),
        ({"allocator.view": "zoom"}, r"allocator\.view = 'zoom': Input should be 'n0' or 'low'"),
        ({"task": []}, r"at least one task is needed"),
        ({"epochs": 3}, r"epochs: unknown setting\..*Allowed: allocator, budget"),
    ],
)
def test_invalid_values_name_field_value_and_allowed(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        RunConfig.build(settings)


def test_bad_yaml_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        RunConfig.from_yaml(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="must hold a mapping"):
        RunConfig.from_yaml(bad)


def test_override_parsing_errors() -> None:
    with pytest.raises(ConfigError, match="has no value"):
        parse_overrides(["--grpo.beta"])
    with pytest.raises(ConfigError, match="unexpected argument 'beta'"):
        parse_overrides(["beta", "1"])


def test_preset_recipe_sits_under_user_settings() -> None:
    from pathreason.registry import model_spec

    recipe = model_spec("qwen2.5-vl-7b").recipe
    assert recipe["lora"]["r"] == 16
    cfg = RunConfig.build({"model": "qwen2.5-vl-7b", "lora.r": 4})
    assert cfg.lora is not None and (cfg.lora.r, cfg.lora.lora_alpha) == (4, 64)


def test_a_preset_recipe_can_tune_one_task(monkeypatch: pytest.MonkeyPatch) -> None:
    """``by_task`` applies to a run of that task alone (aliases resolve), under the user's settings."""
    import pathreason.config as config

    recipe = {"sft": {"max_steps": 250, "learning_rate": 1e-3},
              "by_task": {"detection": {"sft": {"max_steps": 500}, "grpo.max_steps": 7}}}
    monkeypatch.setattr(config, "_preset_recipe", lambda model: recipe)
    for task in ("detection", "det", ["detection"]):
        cfg = RunConfig.build({"task": task})
        assert (cfg.sft.max_steps, cfg.sft.learning_rate, cfg.grpo.max_steps) == (500, 1e-3, 7), task
    assert RunConfig.build({"task": "det", "sft.max_steps": 3}).sft.max_steps == 3
    assert RunConfig.build({"task": "subtyping"}).sft.max_steps == 250
    assert RunConfig.build({"task": ["vqa", "detection"]}).sft.max_steps == 250
    assert "by_task" in recipe  # the preset's own recipe is left as it was
