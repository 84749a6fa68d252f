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
    assert "trust_remote_code" not in cfg.model_dump()  # an option of each call, never a setting


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
        ({"epochs": 3}, r"epochs: unknown setting\..*Allowed: allocator, box_frame, budget"),
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


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"sft.max_steps": -5}, r"sft\.max_steps = -5: max_steps must be a positive number of steps, or -1"),
        ({"grpo.max_steps": 0}, r"grpo\.max_steps = 0: max_steps must be a positive number"),
        ({"sft.lr_scheduler_type": "nosuch"},
         r"sft\.lr_scheduler_type = 'nosuch': unknown learning-rate scheduler 'nosuch'; transformers knows: "
         r"linear, cosine, .*constant_with_warmup"),
        ({"budget.train_tokens": 10**9}, r"budget\.train_tokens = 1000000000: Input should be less than or equal to "
                                         r"16384"),
        ({"sft.budget_mix": [16, 10**9]}, r"sft\.budget_mix = \[16, 1000000000\]: budget_mix must be visual-token "
                                          r"budgets from 1 to 16384 .*got \[1000000000\]"),
        ({"sft.budget_mix": []}, r"budget_mix is a non-empty list"),
        ({"allocator.candidates": [16, 10**9]}, r"allocator\.candidates must be visual-token budgets from 1 to 16384"),
        ({"allocator.low_view_tokens": 20000}, r"allocator\.low_view_tokens = 20000: .*less than or equal to 16384"),
    ],
)
def test_out_of_range_values_are_refused_up_front_with_the_range(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        RunConfig.build(settings)
    assert "\n" not in str(info.value)  # one line: the CLI prints it as `pathreason: error: ...`


def test_valid_edges_of_the_ranges_pass() -> None:
    cfg = RunConfig.build({"sft.max_steps": -1, "grpo.max_steps": 1, "budget.train_tokens": 16384,
                           "sft.budget_mix": [1, 16384], "sft.lr_scheduler_type": "constant_with_warmup"})
    assert (cfg.sft.max_steps, cfg.grpo.max_steps, cfg.budget.train_tokens) == (-1, 1, 16384)


def test_the_known_schedulers_are_transformers_own() -> None:
    """The fast list of scheduler names is a subset of transformers' (a new one is looked up there)."""
    from transformers.trainer_utils import SchedulerType

    from pathreason.config import SCHEDULERS

    assert set(SCHEDULERS) <= {s.value for s in SchedulerType}


def test_the_budget_cap_is_the_processors() -> None:
    from pathreason.config import MAX_TOKENS
    from pathreason.models.processor import MAX_PIXELS
    from pathreason.plugins.budgeters import MAX_STATIC_TOKENS, StaticBudgeter

    assert MAX_TOKENS == MAX_STATIC_TOKENS == MAX_PIXELS // (28 * 28) == 16384
    assert StaticBudgeter("16384").tokens(None) == 16384
    with pytest.raises(ConfigError, match=r"'static:1000000000': the budget must be from 1 to 16384 visual tokens"):
        StaticBudgeter("1000000000")


def _alias_bomb(levels: int = 9) -> str:
    lines = ["dataset:", "  options:", '    a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"    a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bombs_are_refused_in_one_line(tmp_path: Path) -> None:
    """9 levels of 9 aliases: 9^9 = 387 million strings from under 1 KB, in a free-form setting
    (``dataset.options``) that validates, so the first ``to_yaml`` or ``model_dump`` would write them
    all out (gigabytes); refused at the first anchor, whatever the size."""
    bomb = tmp_path / "config.yaml"
    bomb.write_text(_alias_bomb())
    assert bomb.stat().st_size < 1024
    with pytest.raises(ConfigError, match=r"is not valid YAML: anchors and aliases \(&name, \*name\) are not allowed")\
            as info:
        RunConfig.from_yaml(bomb)
    assert str(bomb) in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="anchors and aliases"):  # a CLI value is YAML too
        parse_overrides(["--dataset.options", "{a: &x [1, 2], b: *x}"])
    from pathreason.config import load_yaml

    with pytest.raises(ConfigError, match="anchors and aliases"):
        load_yaml("base: &b {r: 4}\nlora:\n  <<: *b\n", "a merge key")


def test_oversized_deep_and_non_utf8_config_files(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("seed: 1\n" + "#" * (1 << 20) + "\n")
    with pytest.raises(ConfigError, match=rf"config file {big} is 1048585 bytes; a pathreason config is at most "
                                          r"1048576 bytes"):
        RunConfig.from_yaml(big)
    deep = tmp_path / "deep.yaml"
    deep.write_text("seed: " + "[" * 50_000 + "]" * 50_000 + "\n")
    with pytest.raises(ConfigError, match="nests its values too deeply"):
        RunConfig.from_yaml(deep)
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("dataset:\n  root: /data/s\u00e9rie\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=rf"config file {latin} is not UTF-8 text \(byte 0xe9 at offset 24\); "
                                          "save it as UTF-8"):
        RunConfig.from_yaml(latin)


def test_trust_remote_code_is_never_read_from_a_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    hostile = tmp_path / "config.yaml"
    hostile.write_text("trust_remote_code: true\nseed: 3\n")
    cfg = RunConfig.from_yaml(hostile)
    assert cfg.seed == 3 and "trust_remote_code" not in cfg.model_dump()
    assert "sets trust_remote_code; ignored" in caplog.text and "--trust-remote-code" in caplog.text
    old = tmp_path / "old.yaml"  # what every run folder of earlier versions holds
    old.write_text("trust_remote_code: false\n")
    assert RunConfig.from_yaml(old) == RunConfig.build()
    with pytest.raises(ConfigError, match=r"trust_remote_code is not read from a config.*Engine\(trust_remote_code=True\)"):
        RunConfig.build({"trust_remote_code": True})


def test_config_changes_lists_what_differs_by_dotted_name() -> None:
    from pathreason.config import config_changes

    before = RunConfig.build({"sft.max_steps": 8, "dataset.options": {"n": 4}, "output_dir": "a"})
    after = RunConfig.build({"sft.max_steps": 12, "dataset.options": {"n": 4}, "output_dir": "b", "seed": 7})
    assert config_changes(before, after) == {"sft.max_steps": (8, 12), "seed": (42, 7)}
    assert config_changes(before, before) == {}


def test_grpo_rewards_replace_the_tasks_own_and_a_typo_fails_up_front(tmp_path: Path) -> None:
    from pathreason import Engine

    engine = Engine(task="detection", output_dir=str(tmp_path / "run"), grpo={"rewards": ["detection_mean_ap"]})
    funcs, weights = engine.phases.reward_functions()
    assert [f.__name__ for f in funcs] == ["detection_mean_ap", "format"] and weights == [1.0, 1.0]
    default = Engine(task="detection", output_dir=str(tmp_path / "run2"))
    assert [f.__name__ for f in default.phases.reward_functions()[0]] == ["detection", "format"]
    from pathreason.api import UnknownNameError

    with pytest.raises(UnknownNameError, match=r"grpo\.rewards\[0\]: unknown reward 'detection_mean_aq'\. Did you mean "
                                               r"'detection_mean_ap'\?"):
        Engine(task="detection", output_dir=str(tmp_path / "run3"), grpo={"rewards": ["detection_mean_aq"]})
    assert not (tmp_path / "run3").exists()


def test_budget_mix_is_grpo_s_not_the_allocator_s() -> None:
    assert RunConfig.build({"grpo": {"budget_mix": True}}, apply_preset=False).grpo.budget_mix is True
    with pytest.raises(ConfigError, match="allocator.budget_mix"):
        RunConfig.build({"allocator": {"budget_mix": True}}, apply_preset=False)
