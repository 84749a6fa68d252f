"""Tests of the example plugin, through pathreason as a user would reach it."""

from __future__ import annotations

import dataclasses

import pytest

from pathreason import get_dataset, get_task, list_plugins
from pathreason.api import DataError, make_view
from pathreason.testing import check_reward, tiny_engine

NAME = "example"


def test_plugin_is_installed_and_active(plugin_manager):
    info = {p.name: p for p in list_plugins()}[NAME]
    assert info.status == "active", info.error
    assert info.provides == {"tasks": [NAME], "rewards": [NAME], "datasets": [NAME]}


def test_reward_follows_the_trl_contract(plugin_manager):
    completions = ["<think>a dark cluster</think><answer>Yes.</answer>", "<answer>no</answer>", "yes"]
    values = check_reward(NAME, completions, answer=["yes", "yes", "yes"], task=[NAME] * 3)
    assert values == [1.0, 0.0, 0.0]
    assert check_reward(NAME, ["<answer>yes</answer>"], answer=["yes"], task=["another-task"]) == [None]


def test_dataset_is_balanced_and_deterministic(plugin_manager):
    load = get_dataset(NAME)
    samples = load(split="train", n=8)
    assert [s.answer for s in samples] == ["yes", "no"] * 4
    assert {s.task for s in samples} == {NAME}
    assert samples[0].load_image().size == (224, 224)
    again = load(split="train", n=8)
    assert samples[0].load_image().tobytes() == again[0].load_image().tobytes()
    assert samples[0].load_image().tobytes() != load(split="test", n=8)[0].load_image().tobytes()


def test_task_prompt_target_and_score(plugin_manager):
    task = get_task(NAME)
    sample = get_dataset(NAME)(split="test", n=2)[0]
    view = make_view(sample.size, 256)
    text = task.messages(sample)[1]["content"][1]["text"]
    assert text == "Does this tile contain a cluster of dark-stained nuclei?"
    assert task.target(sample, view).endswith("<answer> yes </answer>")
    parsed = task.parse("<think>x</think><answer>yes</answer>", view)
    assert task.score(parsed, sample) == 1.0
    assert task.metrics([sample], [parsed]) == {"accuracy": 1.0}


def test_task_refuses_an_answer_that_is_not_yes_or_no(plugin_manager):
    task = get_task(NAME)
    sample = get_dataset(NAME)(split="test", n=1)[0]
    task.validate(sample)
    with pytest.raises(DataError, match="must be 'yes' or 'no'"):
        task.validate(dataclasses.replace(sample, answer="maybe"))


@pytest.mark.slow
def test_trains_on_the_tiny_model(tmp_path, plugin_manager):
    engine = tiny_engine(tmp_path, task=NAME, dataset=NAME).train()
    assert any(f"rewards/{NAME}/mean" in row for row in engine.run.read_log("grpo"))
    report = engine.evaluate(n=2, max_new_tokens=8, progress=False)
    assert report.tasks[NAME]["n"] == 2
