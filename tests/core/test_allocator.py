"""The token allocator: its reward (batched, cached, Eq. 10 and the token-cost rule), training as a
second adapter on the tiny model, two-stage evaluate/predict, fallbacks, the refusal of an allocator
trained for another performer, and the ``ablate-budget`` command. A few steps each: wiring, not
learning (benchmarks/allocator.py measures what the allocator learns)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pathreason import Engine
from pathreason.allocator import (
    AllocationReward,
    PerformerScorer,
    allocation_messages,
    oracle_targets,
    warmup_rows,
)
from pathreason.api import Answer, ConfigError, RunError, UnknownNameError
from pathreason.plugins.datasets.synthpath.generator import generate as synth
from pathreason.registry import get_budgeter, get_reward
from pathreason.rewards.allocation import RULES
from pathreason.tasks.subtyping import SubtypingTask

FAST: dict[str, Any] = {
    "task": "subtyping",
    "dataset__options": {"n": 8},
    "sft": {"max_steps": 3, "per_device_train_batch_size": 4, "logging_steps": 1, "learning_rate": 1e-3},
    "grpo": {"enabled": False, "max_completion_length": 24},
    "allocator": {"max_steps": 2, "per_device_train_batch_size": 4, "num_generations": 2, "warmup_steps": 2,
                  "warmup_learning_rate": 1e-3, "max_completion_length": 16, "logging_steps": 1},
}


# ---------------------------------------------------------------------------------------- pure parts
class FakeGenerate:
    """A performer that answers ``answer`` and records each batched call (the resized sizes)."""

    def __init__(self, answer: str) -> None:
        self.text = answer
        self.calls: list[list[tuple[int, int]]] = []

    def sizes(self, images: list[Any], budgets: list[Any]) -> list[tuple[int, int]]:
        from pathreason.api import make_view

        return [make_view(im.size, b).size for im, b in zip(images, budgets)]

    def answer_for(self, size: tuple[int, int]) -> str:
        return f"<think> t </think> <answer> {self.text} </answer>"

    def answer(self, samples: Any, images: Any, budgets: Any, *, logprobs: bool = False) -> list[Answer]:
        sizes = self.sizes(images, budgets)
        self.calls.append(sizes)
        return [Answer(self.answer_for(size), 0, b) for size, b in zip(sizes, budgets)]


def _scorer(answer: str) -> tuple[PerformerScorer, FakeGenerate, Any]:
    samples = synth("test", n=2, seed=3, task="subtyping")
    gen = FakeGenerate(answer)
    scorer = PerformerScorer(gen, {"subtyping": SubtypingTask()}, {s.id: (s, s.load_image()) for s in samples})
    return scorer, gen, samples


def test_eq10_reward_by_hand_and_bad_answers_get_zero() -> None:
    scorer, gen, samples = _scorer("")
    s = samples[0]
    gen.text = s.answer  # the performer is right at every budget: s(N) = 1
    reward = AllocationReward(scorer, get_reward("eq10", lam=0.5))
    completions = ["<think> a </think> <answer> 64 </answer>",     # 64 < N0=256: s = 1
                   "<think> a </think> <answer> 256 </answer>",    # N >= N0: 0.5 * s
                   "<think> a </think> <answer> 5000 </answer>",   # clamped to native 256: 0.5
                   "<think> a </think> <answer> many </answer>",   # not an integer: 0
                   "<think> a </think> <answer> 0 </answer>",      # not positive: 0
                   "no answer at all"]
    ids = [s.id] * len(completions)
    out = reward(completions, id=ids, n0=[256] * 6, native_tokens=[256] * 6)
    assert out == [1.0, 0.5, 0.5, 0.0, 0.0, 0.0]
    wrong = AllocationReward(_scorer("no such class")[0], get_reward("allocation"))
    assert wrong(completions[:2], id=ids[:2], n0=[256, 256], native_tokens=[256, 256]) == [0.0, 0.0]


def test_token_cost_rule_by_hand() -> None:
    scorer, gen, samples = _scorer("")
    gen.text = samples[0].answer
    reward = AllocationReward(scorer, get_reward("token_cost", lam=0.25))
    out = reward(["<answer>64</answer>", "<answer>256</answer>"], id=[samples[0].id] * 2, n0=[256, 256],
                 native_tokens=[256, 256])
    assert out == pytest.approx([1 - 0.25 * 64 / 256, 1 - 0.25])
    with pytest.raises(UnknownNameError, match="nope"):
        Engine(task="subtyping", allocator={"rule": "nope"})


def test_one_batched_generation_per_call_and_cache_per_resized_size() -> None:
    scorer, gen, samples = _scorer("x")
    reward = AllocationReward(scorer, get_reward("eq10"))
    a, b = samples[0].id, samples[1].id
    # 250 and 255 both give a 448-px tile 15x15 = 225 tokens (420 px): one performer run for both.
    completions = [f"<answer>{n}</answer>" for n in (250, 255, 64, 64, 16, 250)]
    reward(completions, id=[a, a, a, b, b, b], n0=[256] * 6, native_tokens=[256] * 6)
    assert len(gen.calls) == 1 and scorer.generate_calls == 1
    assert sorted(gen.calls[0]) == sorted([(420, 420), (224, 224), (224, 224), (112, 112), (420, 420)])
    reward(completions, id=[a, a, a, b, b, b], n0=[256] * 6, native_tokens=[256] * 6)  # all cached
    assert len(gen.calls) == 1 and len(scorer.cache) == 5
    with pytest.raises(KeyError, match="unknown sample id"):
        scorer.scores([("nope", 64)])


class LookalikeGenerate(FakeGenerate):
    """A performer that sees the speckle only on the full 448-px tile: below it, the coarse twin."""

    def answer_for(self, size: tuple[int, int]) -> str:
        return "<answer> " + ("adenoma with high-grade dysplasia" if size[0] >= 448 else "glandular adenoma") + " </answer>"


def test_oracle_warmup_targets_are_each_images_smallest_sufficient_budget() -> None:
    samples = synth("test", n=3, seed=3, task="subtyping")[::2]  # a glandular adenoma and its high-grade twin
    assert [s.answer for s in samples] == ["glandular adenoma", "adenoma with high-grade dysplasia"]
    gen = LookalikeGenerate("")
    scorer = PerformerScorer(gen, {"subtyping": SubtypingTask()}, {s.id: (s, s.load_image()) for s in samples})
    ids = [s.id for s in samples]
    targets = oracle_targets(scorer, ids, [64, 16, 256, 32, 128], chunk=4)
    assert targets == {ids[0]: 16, ids[1]: 256}
    assert [len(c) for c in gen.calls] == [4, 4, 2] and len(scorer.cache) == 10  # batched, then cached
    oracle_targets(scorer, ids, [16, 256])
    assert len(gen.calls) == 3
    rows = [{"id": i, "prompt": [], "image": None, "view_tokens": 256, "rationale": "r"} for i in ids]
    warm = warmup_rows(rows, [16, 256], seed=0, targets=targets)
    assert [r["completion"][0]["content"][0]["text"] for r in warm] == [
        "<think> r </think> <answer> 16 </answer>", "<think> r </think> <answer> 256 </answer>"]


def test_reward_warmup_targets_are_the_rules_best_budget() -> None:
    """Hand-computed under token_cost (lam 0.25, N0 256): reward = s - 0.25 * n / 256.
    a: right everywhere -> 16 (0.984). b: right nowhere -> 16 (the oracle would pay 256).
    c: BLEU 0.2 / 0.5 / 0.9 at 16 / 64 / 256 -> 0.184, 0.4375, 0.65 -> 256.
    d: BLEU 0.5 / 0.6 / 0.62 -> 0.484, 0.5375, 0.37 -> 64. e: on a 40-token image 256 clamps to 40."""
    from pathreason.allocator.oracle import oracle_budgets
    from pathreason.allocator.training import rule_budgets

    scores = {16: {"a": 1.0, "b": 0.0, "c": 0.2, "d": 0.5, "e": 0.0},
              64: {"a": 1.0, "b": 0.0, "c": 0.5, "d": 0.6, "e": 0.0},
              256: {"a": 1.0, "b": 0.0, "c": 0.9, "d": 0.62, "e": 1.0}}
    rows = [{"id": i, "n0": 256, "native_tokens": 1024} for i in "abcd"] + [{"id": "e", "n0": 40, "native_tokens": 40}]
    rule = get_reward("token_cost", lam=0.25)
    assert rule_budgets(scores, rows, rule) == {"a": 16, "b": 16, "c": 256, "d": 64, "e": 256}
    assert oracle_budgets(scores) == {"a": 16, "b": 256, "c": 64, "d": 16, "e": 256}  # first score >= 0.5
    # Eq. 10 (lam 0.5): every budget below N0 earns the full score, N0 and above half of it.
    assert rule_budgets(scores, rows, get_reward("eq10", lam=0.5)) == {"a": 16, "b": 16, "c": 64, "d": 64, "e": 256}


def test_neighbour_smoothed_targets_take_the_groups_best_budget() -> None:
    """Hand-computed: two groups of three look-alikes (embeddings near x and near y). In the first,
    one image is right at 16 by luck (rewards 16 -> 1, 0, 0; 256 -> 0.75 each): the group's mean is
    1/3 at 16 against 0.75 at 256, so all three get 256. In the second all are right at 16: 16."""
    from pathreason.allocator.warmup import smoothed_budgets

    rewards = {"a": {16: 1.0, 256: 0.75}, "b": {16: 0.0, 256: 0.75}, "c": {16: 0.0, 256: 0.75},
               "d": {16: 1.0, 256: 0.75}, "e": {16: 1.0, 256: 0.75}, "f": {16: 1.0, 256: 0.75}}
    emb = {"a": [1, 0], "b": [1, 0.05], "c": [1, -0.05], "d": [0, 1], "e": [0.05, 1], "f": [-0.05, 1]}
    assert smoothed_budgets(rewards, emb, k=3) == dict.fromkeys("abc", 256) | dict.fromkeys("def", 16)
    assert smoothed_budgets(rewards, emb, k=1)["a"] == 16  # alone, the lucky image keeps its own best
    # k above the number of images: every image gets the mean over all (16: 4/6, 256: 0.75).
    assert set(smoothed_budgets(rewards, emb, k=99).values()) == {256}
    # A tie goes to the smaller budget.
    assert smoothed_budgets({"a": {16: 0.5, 64: 0.5}}, {"a": [1.0]}, k=1) == {"a": 16}
    assert smoothed_budgets({}, {}, k=3) == {}
    with pytest.raises(ConfigError, match="warmup_neighbours averages the reward warm-up"):
        Engine(task="subtyping", allocator={"warmup_target": "oracle", "warmup_neighbours": 8})


def test_allocation_prompt_carries_n0_native_and_the_task_prompt() -> None:
    s = synth("test", n=1, seed=0, task="subtyping")[0]
    messages = allocation_messages(SubtypingTask(), s, 256, 300)
    text = messages[-1]["content"][-1]["text"]
    assert "current input token number is 256" in text and "maximum limit is 300" in text
    assert "Classify this pathological image" in text and messages[-1]["content"][0] == {"type": "image"}


def test_allocator_budgeter_is_two_stage_and_cannot_budget_training() -> None:
    from pathreason.api import Budgeter, TwoStageBudgeter

    budgeter = get_budgeter("allocator")
    assert isinstance(budgeter, TwoStageBudgeter) and not isinstance(budgeter, Budgeter)
    with pytest.raises(ConfigError, match="takes no argument"):
        get_budgeter("allocator:7")
    with pytest.raises(ConfigError, match="budget.budgeter 'allocator' cannot budget training images"):
        Engine(task="subtyping", budget={"budgeter": "allocator"})


# ---------------------------------------------------------------------------------------- tiny model
@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    run = tmp_path_factory.mktemp("alloc") / "run"
    engine = Engine(output_dir=str(run), **FAST)
    engine.train()
    engine.train_allocator()
    return engine


@pytest.mark.slow
def test_allocator_is_a_second_adapter_on_the_performer(trained: Engine) -> None:
    state = json.loads((trained.run.path / "state.json").read_text())
    assert state["phases"] == {"sft": "done", "allocator": "done"}
    final = trained.run.final_dir("allocator")
    assert (final / "adapter_config.json").is_file() and (final / "adapter_model.safetensors").is_file()
    meta = json.loads((final / "pathreason_allocator.json").read_text())
    assert meta["performer_phase"] == "sft" and meta["rule"] == trained.config.allocator.rule
    log = trained.run.read_log("allocator")
    assert any(r.get("stage") == "warmup" and "loss" in r for r in log)
    rule = trained.config.allocator.rule
    assert any(f"rewards/{rule}/mean" in r and "rewards/format/mean" in r for r in log)
    stats = next(r for r in log if r.get("stage") == "reward")
    assert stats["performer_generate_calls"] <= 2  # at most one per GRPO step (2 steps)
    oracle = next(r for r in log if r.get("stage") == "warmup_targets")  # the tiny preset's oracle warm-up
    assert oracle["performer_generate_calls"] == 1  # 8 images x 5 candidates in one batch
    assert sum(v for k, v in oracle.items() if k.startswith("budget_")) == 8
    policy = trained.allocator_policy()
    names = {n for n, _ in policy.model.named_parameters()}
    assert any(".allocator." in n for n in names)
    assert not any(p.requires_grad for _, p in policy.model.named_parameters())  # loaded for inference


@pytest.mark.slow
def test_input_embeddings_do_not_depend_on_the_batch_padding(trained: Engine) -> None:
    """The neighbour representation of a row is the same alone and padded in a batch with a longer
    prompt (the last real token is found whichever side pads)."""
    from pathreason.allocator.warmup import input_embeddings

    rows = trained.allocator_rows("test")[:2]
    long = dict(rows[1], id="long", prompt=[{**m, "content": [*m["content"], {"type": "text", "text": " more" * 20}]}
                                          if m["role"] == "user" else m for m in rows[1]["prompt"]])
    model = trained.performer()
    alone = input_embeddings(model, trained.processor, rows[:1])
    batch = input_embeddings(model, trained.processor, [rows[0], long], batch_size=2)
    hidden = model.config.get_text_config().hidden_size
    assert len(alone[rows[0]["id"]]) == hidden
    assert max(abs(a - b) for a, b in zip(alone[rows[0]["id"]], batch[rows[0]["id"]])) < 1e-3
    assert batch["long"] != batch[rows[0]["id"]]
    # By the prompt's text alone, two images asked the same question are one point; by the input, two.
    twins = [rows[0], dict(rows[1], prompt=rows[0]["prompt"])]
    assert rows[0]["image"].tobytes() != rows[1]["image"].tobytes()
    by_prompt = input_embeddings(model, trained.processor, twins, by="prompt")
    by_input = input_embeddings(model, trained.processor, twins)
    assert max(abs(a - b) for a, b in zip(by_prompt[rows[0]["id"]], by_prompt[rows[1]["id"]])) < 1e-4
    assert max(abs(a - b) for a, b in zip(by_input[rows[0]["id"]], by_input[rows[1]["id"]])) > 1e-3
    with pytest.raises(ValueError, match="by must be"):
        input_embeddings(model, trained.processor, twins, by="image")


@pytest.mark.slow
def test_known_allocation_gets_the_expected_reward_on_the_tiny_model(trained: Engine) -> None:
    """The reward's performer run agrees with an independent evaluation at the same budget."""
    import torch

    policy = trained.allocator_policy("sft")
    reward = trained.allocation_reward(policy, split="test")
    sample = trained.samples("test", 8)[0]
    scores = {}
    for budget in (64, 256):
        trained.evaluate(budgeter=f"static:{budget}", n=8, progress=False, phase="sft")
        path = trained.run.path / "eval" / f"sft-static{budget}-test" / "predictions.jsonl"
        scores[budget] = next(json.loads(x)["score"] for x in path.read_text().splitlines()
                              if json.loads(x)["id"] == sample.id)
    calls = []
    original = policy.model.generate

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("input_ids", args[0] if args else None).shape[0])
        return original(*args, **kwargs)

    policy.model.generate = counting
    with torch.no_grad():
        out = reward(["<answer>64</answer>", "<answer>256</answer>", "<answer>64</answer>", "<answer>x</answer>"],
                     id=[sample.id] * 4, n0=[256] * 4, native_tokens=[256] * 4)
    rule, lam = RULES[trained.config.allocator.rule], trained.config.allocator.lam
    assert out == pytest.approx([rule(scores[64], 64, 256, lam), rule(scores[256], 256, 256, lam),
                                 rule(scores[64], 64, 256, lam), 0.0])
    assert calls == [2]  # one batched generation: budgets 64 and 256 of this sample, the repeat cached


@pytest.mark.slow
def test_two_stage_evaluate_and_predict(trained: Engine) -> None:
    report = trained.evaluate(budgeter="allocator", n=8, progress=False)
    entry = report.tasks["subtyping"]
    assert entry["overhead_tpi"] == 256.0  # the allocator looks at the N0 view
    assert entry["total_tpi"] == pytest.approx(entry["tpi"] + 256.0)
    assert sum(int(v) for v in entry["budgets"].values()) == entry["n"] == 8
    assert set(entry["by_difficulty"]) == {s.meta["difficulty"] for s in trained.samples("test", 8)}
    assert 0 <= entry["fallbacks"] <= 8
    rows = [json.loads(x) for x in (trained.run.path / "eval" / "sft-allocator-test" / "predictions.jsonl")
            .read_text().splitlines()]
    assert all({"allocator_answer", "allocator_tokens", "allocator_fallback"} <= set(r) for r in rows)
    for r in rows:  # a fallback means the training budget; otherwise the parsed, clamped answer
        assert r["budget"] == (256 if r["allocator_fallback"] else min(r["allocator_requested"], 256))
    sample = trained.samples("test", 8)[0]
    record = trained.predict(sample.image, options=sample.options, budgeter="allocator")
    assert record.extra["allocator_tokens"] == 256 and record.budget >= 1 and "allocator_answer" in record.extra


@pytest.mark.slow
def test_low_view_counts_its_own_tokens(trained: Engine, tmp_path: Path) -> None:
    engine = Engine.load(trained.run.path, allocator={**FAST["allocator"], "view": "low", "low_view_tokens": 4})
    report = engine.evaluate(budgeter="allocator", n=4, progress=False, write=False)
    assert report.tasks["subtyping"]["overhead_tpi"] == 4.0


@pytest.mark.slow
def test_unusable_answers_fall_back_to_the_training_budget(trained: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathreason.allocator import trained as trained_mod

    monkeypatch.setattr(trained_mod, "parse_token_count", lambda text: None)
    report = trained.evaluate(budgeter="allocator", n=4, progress=False, write=False)
    entry = report.tasks["subtyping"]
    assert entry["fallbacks"] == 4 and entry["budgets"] == {"256": 4}
    assert "fallbacks 4" in report.table()


@pytest.mark.slow
def test_allocator_of_another_performer_is_refused(trained: Engine, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(trained.run.path, copy)
    meta_path = copy / "allocator" / "final" / "pathreason_allocator.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "performer_fingerprint": "0" * 16}))
    with pytest.raises(RunError, match="another task performer"):
        Engine.load(copy).evaluate(budgeter="allocator", n=2, progress=False)
    meta_path.write_text(json.dumps({**meta, "base_location": "/elsewhere/other-model"}))
    with pytest.raises(RunError, match="trained on base model"):
        Engine.load(copy).evaluate(budgeter="allocator", n=2, progress=False)


def test_allocator_needs_a_trained_performer(tmp_path: Path) -> None:
    engine = Engine(output_dir=str(tmp_path / "empty"), **FAST)
    with pytest.raises(RunError, match="train one first"):
        engine.train_allocator()


@pytest.mark.slow
def test_ablate_budget_command(trained: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole-cost table on the tiny model: static budgets, the oracle, native, escalate (calibrated on
    the validation split, saved with the run) and the allocator, each with its total tokens."""
    from pathreason.cli import main

    out = tmp_path / "ablation"
    assert main(["ablate-budget", "--run", str(trained.run.path), "--budgets", "16,64,256", "--n", "4",
                 "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "### subtyping" in printed and "| static:16 | all | 4 |" in printed and "| allocator | all | 4 |" in printed
    assert "oracle subtyping: TPI" in printed
    data = json.loads((out / "ablation.json").read_text())
    rows = {r["budgeter"]: r for r in data["rows"]}
    assert list(rows) == ["static:16", "static:64", "static:256", "oracle", "native", "escalate", "allocator"]
    assert 16.0 <= rows["oracle"]["tpi"] <= 256.0 and rows["oracle"]["total_tpi"] == rows["oracle"]["tpi"]
    assert rows["native"]["tpi"] == rows["static:256"]["tpi"] == 256.0   # 448-pixel tiles: 256 tokens natively
    assert rows["allocator"]["total_tpi"] == pytest.approx(rows["allocator"]["tpi"] + 256.0)
    escalate = rows["escalate"]
    # every image paid its passes: 16 alone, 16 + 64, or 16 + 64 + 256
    assert escalate["total_tpi"] == pytest.approx(escalate["tpi"] + escalate["overhead_tpi"])
    assert 16.0 <= escalate["total_tpi"] <= 336.0 and 1.0 <= escalate["passes"] <= 3.0
    calibration = json.loads((trained.run.path / "budgeters" / "escalate-sft-16-64-256.json").read_text())
    assert calibration["settings"]["split"] == "validation" and calibration["tasks"]["subtyping"]["n"] == 8
    predictions = [json.loads(x) for x in (trained.run.path / "eval" / "sft-escalate-test" / "predictions.jsonl")
                   .read_text().splitlines()]
    for p in predictions:
        assert p["escalate_budgets"] == [16, 64, 256][:p["passes"]]
        assert p["overhead_tokens"] == [0, 16, 80][p["passes"] - 1] and p["seconds"] > 0
    assert all(r["seconds_per_image"] > 0 for r in data["rows"] if r["kind"] != "oracle")
    assert (out / "ablation.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(SystemExit, match="comma-separated integers"):
        main(["ablate-budget", "--run", str(trained.run.path), "--budgets", "16,lots"])


@pytest.mark.slow
def test_one_allocator_for_all_tasks(tmp_path: Path) -> None:
    """One allocator trained on the mixed three-task data (the task prompt is part of its input) trains
    and evaluates on every task, beside the performer it was trained for."""
    run = tmp_path / "mixed"
    engine = Engine(output_dir=str(run), **{**FAST, "task": ["vqa", "subtyping", "detection"],
                                            "dataset__options": {"n": 9}})
    engine.train()
    rows = engine.allocator_rows()
    assert {r["task"] for r in rows} == {"vqa", "subtyping", "detection"}
    for row in rows:  # the allocation prompt carries the task's own prompt
        task = engine.tasks[row["task"]]
        sample = next(s for s in engine.samples("train") if s.id == row["id"])
        assert task.user_text(sample) in row["prompt"][-1]["content"][-1]["text"]
    engine.train_allocator()
    log = engine.run.read_log("allocator")
    assert sum(v for k, v in next(r for r in log if r.get("stage") == "warmup_targets").items()
               if k.startswith("budget_")) == 9  # every training image of the three tasks got its oracle budget
    report = engine.evaluate(budgeter="allocator", n=9, progress=False)
    assert set(report.tasks) == {"vqa", "subtyping", "detection"}
    for entry in report.tasks.values():
        assert entry["n"] == 3 and entry["overhead_tpi"] == 256.0
        assert entry["total_tpi"] == pytest.approx(entry["tpi"] + 256.0)


@pytest.mark.slow
def test_neighbour_smoothed_warmup_trains_on_the_tiny_model(trained: Engine, tmp_path: Path) -> None:
    """warmup_target "reward" with neighbours by the prompt: every subtyping image is asked the same
    question, so with k >= the 8 images all of them share one target, the budget whose mean reward
    over them is best (checked against the performer's own scores); by the input they need not."""
    from pathreason.allocator.oracle import candidate_scores
    from pathreason.allocator.training import rule_rewards

    copy = tmp_path / "copy"
    shutil.copytree(trained.run.path, copy, ignore=shutil.ignore_patterns("allocator"))
    state = json.loads((copy / "state.json").read_text())
    state["phases"].pop("allocator")
    (copy / "state.json").write_text(json.dumps(state))
    settings = {**FAST["allocator"], "max_steps": 1, "warmup_steps": 1, "warmup_target": "reward",
                "warmup_neighbours": 8, "warmup_neighbours_by": "prompt"}
    engine = Engine.load(copy, allocator=settings)
    engine.train_allocator()
    targets = next(r for r in engine.run.read_log("allocator") if r.get("stage") == "warmup_targets")
    counts = {int(k.removeprefix("budget_")): v for k, v in targets.items() if k.startswith("budget_")}
    assert targets["target"] == "reward" and targets["neighbours"] == 8
    assert len(counts) == 1 and sum(counts.values()) == 8
    policy = engine.allocator_policy()
    reward = engine.allocation_reward(policy)
    rows = engine.allocator_rows()
    table = rule_rewards(candidate_scores(reward.scorer, [r["id"] for r in rows], engine.config.allocator.candidates),
                         rows, reward.rule)
    mean = {n: sum(t[n] for t in table.values()) / len(table) for n in engine.config.allocator.candidates}
    assert list(counts) == [max(sorted(mean), key=lambda n: (mean[n], -n))]


@pytest.mark.slow
def test_candidate_answers_are_greedy_decoding_constrained_to_the_candidates(trained: Engine) -> None:
    """``allocator.answer: candidates``: after the allocator's own ``<answer>``, greedy decoding over
    the candidates' tokens. Each pick equals the constrained greedy walk over every candidate's token
    log-probabilities computed one at a time without padding (an independent count: from the
    context's length, not the tail's), and evaluation with it only hands the performer candidates."""
    import torch

    from pathreason.allocator.inputs import allocation_messages, allocator_input
    from pathreason.allocator.trained import _constrained_greedy, answer_prefix, candidate_budgets

    assert answer_prefix("<think> a </think> <answer> 216 </answer>") == "<think> a </think> <answer>"
    assert answer_prefix("no tag") is None
    # Hand-made trie: free greedy would write 2, then 1 (-0.3 beats 5's -2.0); constrained to 16 and
    # 256, the 2 leaves only 256.
    assert _constrained_greedy([[1, 6, 9], [2, 5, 6, 9]], [[-0.9, -0.1, 0.0], [-0.5, -2.0, -0.1, 0.0]]) == 1
    assert _constrained_greedy([[1, 6], [2, 6]], [[-0.5, 0.0], [-0.5, 0.0]]) == 0  # a tie: the smaller
    section, processor = trained.config.allocator, trained.processor
    samples = trained.samples("test", 3)
    inputs = [allocator_input(s.load_image(), section, trained.config.budget.train_tokens) for s in samples]
    convs = [allocation_messages(trained.tasks[s.task], s, a.n0, a.native) for s, a in zip(samples, inputs)]
    prefixes = ["<think> x </think> <answer>", "<answer>", "<think> a longer rationale than the others </think> <answer>"]
    candidates = [256, 16, 64, 128]
    ordered = sorted(candidates)
    with trained.allocator_policy().allocator() as model:
        picks = candidate_budgets(model, processor, convs, [a.image for a in inputs], prefixes, candidates, batch_size=3)
        for conv, a, prefix, pick in zip(convs, inputs, prefixes, picks):
            context = processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False) + prefix
            start = processor(images=[a.image], text=[context], return_tensors="pt")["input_ids"].shape[1]
            tails, logps = [], []
            for n in ordered:
                enc = processor(images=[a.image], text=[context + f" {n} </answer>"], return_tensors="pt")
                with torch.inference_mode():
                    logp = torch.log_softmax(model(**enc).logits[0].float(), dim=-1)
                ids = enc["input_ids"][0].tolist()
                tails.append(ids[start:])
                logps.append([float(logp[t - 1, ids[t]]) for t in range(start, len(ids))])
            assert pick == ordered[_constrained_greedy(tails, logps)], (pick, logps)
    report = Engine.load(trained.run.path, allocator={"answer": "candidates"}).evaluate(
        budgeter="allocator", n=4, progress=False, write=False)
    assert {r.budget for r in report.records} <= set(section.candidates)


def test_expected_budget_weighs_the_belief_in_each_oracle_budget_against_the_rule() -> None:
    """``allocator.answer: expected``, by hand. Beliefs 0.6 / 0.25 / 0.15 that 16 / 64 / 256 is the
    oracle budget, N0 256. token_cost, lam 0.25 (s - 0.25 * n / 256): 16 earns 0.6 - 0.015625 =
    0.584, 64 earns 0.85 - 0.0625 = 0.7875, 256 earns 1 - 0.25 = 0.75: 64. Eq. 10, lam 0.5 (s below
    N0, 0.5 s at it): 0.6, 0.85, 0.5: 64. Beliefs 0.95 / 0.0375 / 0.0125: token_cost gives 16
    0.95 - 0.015625 = 0.934, 64 0.9875 - 0.0625 = 0.925, 256 0.75: 16. Ties go to the smaller budget."""
    import math

    from pathreason.allocator.trained import expected_budget
    from pathreason.rewards.allocation import allocation_reward, rule_reward, token_cost_reward

    cost = rule_reward(token_cost_reward, "token_cost", lam=0.25)
    eq10 = rule_reward(allocation_reward, "eq10", lam=0.5)
    logs = [math.log(p) for p in (0.6, 0.25, 0.15)]
    assert expected_budget([16, 64, 256], logs, cost, 256, 256) == 64
    assert expected_budget([16, 64, 256], logs, eq10, 256, 256) == 64
    assert expected_budget([16, 64, 256], [math.log(p) for p in (0.95, 0.0375, 0.0125)], cost, 256, 256) == 16
    # unnormalised log-probabilities (a sequence's own) give the same beliefs
    assert expected_budget([16, 64, 256], [v - 7.0 for v in logs], cost, 256, 256) == 64
    # a flat belief under Eq. 10: 16 earns 1/3, 64 2/3, 256 0.5 * 1 = 0.5: 64
    assert expected_budget([16, 64, 256], [0.0, 0.0, 0.0], eq10, 256, 256) == 64
    # equal expected rewards: the smaller budget (both candidates certain to answer right, no price)
    assert expected_budget([16, 64], [0.0, -50.0], eq10, 256, 256) == 16


@pytest.mark.slow
def test_expected_answers_read_the_candidates_probabilities(trained: Engine) -> None:
    """Through evaluation, ``answer: expected`` picks for each image the budget :func:`expected_budget`
    gives over the candidates' log-probabilities (summed over each answer's tokens) and the run's
    rule, and hands the performer only candidates."""
    from pathreason.allocator.inputs import allocation_messages, allocator_input
    from pathreason.allocator.trained import answer_prefix, candidate_logps, expected_budget
    from pathreason.registry import get_reward

    engine = Engine.load(trained.run.path, allocator={"answer": "expected"})
    section, processor = engine.config.allocator, engine.processor
    samples = engine.samples("test", 4)
    report = engine.evaluate(budgeter="allocator", n=4, progress=False, write=False)
    inputs = [allocator_input(s.load_image(), section, engine.config.budget.train_tokens) for s in samples]
    convs = [allocation_messages(engine.tasks[s.task], s, a.n0, a.native) for s, a in zip(samples, inputs)]
    rule = get_reward(section.rule, lam=section.lam)
    by_id = {r.id: r for r in report.records}
    with engine.allocator_policy().allocator() as model:
        for s, conv, a in zip(samples, convs, inputs):
            record = by_id[s.id]
            prefix = answer_prefix(record.extra["allocator_answer"])
            if prefix is None:
                assert record.extra["allocator_fallback"]
                continue
            budgets, logps = candidate_logps(model, processor, [conv], [a.image], [prefix], section.candidates)
            assert record.budget == expected_budget(budgets, [sum(t) for t in logps[0]], rule, a.n0, a.native)
    assert {r.budget for r in report.records} <= set(section.candidates)


@pytest.mark.slow
def test_interrupted_allocator_resumes_from_its_checkpoint(trained: Engine, tmp_path: Path) -> None:
    """A checkpoint of the allocator phase (its adapter in a sub-folder, as peft writes a named
    adapter) brings training back: resume continues from it instead of starting over."""
    copy = tmp_path / "copy"
    shutil.copytree(trained.run.path, copy, ignore=shutil.ignore_patterns("allocator"))
    state = json.loads((copy / "state.json").read_text())
    state["phases"].pop("allocator")
    (copy / "state.json").write_text(json.dumps(state))
    settings = {**FAST["allocator"], "save_steps": 1, "max_steps": 1, "warmup_steps": 0}
    engine = Engine.load(copy, allocator=settings)
    engine.train_allocator()
    first = [r for r in engine.run.read_log("allocator") if f"rewards/{engine.config.allocator.rule}/mean" in r]
    checkpoint = engine.run.last_checkpoint("allocator")
    assert checkpoint is not None and (checkpoint / "allocator" / "adapter_model.safetensors").is_file()
    # the kill: the final adapter and the "done" mark are lost, the checkpoint is not
    shutil.rmtree(engine.run.final_dir("allocator"))
    state = json.loads((copy / "state.json").read_text())
    state["phases"].pop("allocator")
    (copy / "state.json").write_text(json.dumps(state))
    resumed = Engine.load(copy, allocator={**settings, "max_steps": 2})
    resumed.train_allocator(resume=True)
    log = [r for r in resumed.run.read_log("allocator") if f"rewards/{engine.config.allocator.rule}/mean" in r]
    assert [r["step"] for r in log] == [1, 2]
    assert log[0] == first[0]  # step 1 is the checkpoint's record (same timing), not a re-run
    assert (resumed.run.final_dir("allocator") / "adapter_model.safetensors").is_file()
