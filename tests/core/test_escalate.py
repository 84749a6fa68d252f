"""The ``escalate`` budgeter: its ladder, its threshold calibrated on the validation split (saved with the
run and reused), the cost of every pass, and the answer log-probability it reads (checked against the
tiny model's own logits)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from PIL import Image

from pathreason.api import Answer, ConfigError, RunError, Sample, Task, TwoStageBudgeter, make_view
from pathreason.evaluation import predict_records, summarize
from pathreason.plugins.escalate import (
    ALWAYS,
    BoundEscalation,
    EscalateBudgeter,
    EscalateSettings,
    image_ladder,
    replay,
    state_key,
)
from pathreason.registry import get_budgeter


class ToyTask(Task):
    """Right when the answer is the sample's; the metric is plain accuracy (easy to count by hand)."""

    name = "toy"
    metric_names = ("accuracy",)

    def user_text(self, sample: Sample) -> str:
        return "What is it?"

    def score(self, parsed: Any, sample: Sample) -> float:
        return float(parsed == sample.answer)

    def metrics(self, samples: Sequence[Sample], parsed: Sequence[Any]) -> dict[str, float]:
        return {"accuracy": sum(self.score(p, s) for p, s in zip(parsed, samples)) / len(samples)}


# (right?, NLL) of each sample's answer at 16, 64 and 256 tokens (the last NLL is never read)
TABLE: dict[str, dict[int, tuple[bool, float]]] = {
    "s0": {16: (True, 0.1), 64: (True, 0.1), 256: (True, 0.0)},
    "s1": {16: (False, 0.5), 64: (True, 0.2), 256: (True, 0.0)},
    "s2": {16: (False, 0.3), 64: (False, 0.9), 256: (True, 0.0)},
    "s3": {16: (True, 0.7), 64: (True, 0.1), 256: (True, 0.0)},
}


def _samples(side: int = 448, prefix: str = "") -> list[Sample]:
    return [Sample(id=prefix + sid, image=Image.new("RGB", (side, side), "white"), task="toy", answer="right",
                   meta={"difficulty": "hard" if sid == "s2" else "easy"}) for sid in TABLE]


class TablePerformer:
    """Answers from ``table`` (keyed by the sample id without its prefix); records each call."""

    def __init__(self, table: Mapping[str, Mapping[int, tuple[bool, float]]] = TABLE) -> None:
        self.table = table
        self.calls: list[tuple[list[int | None], bool]] = []

    def answer(self, samples: Sequence[Sample], images: Sequence[Image.Image], budgets: Sequence[int | None],
               *, logprobs: bool = False) -> list[Answer]:
        self.calls.append((list(budgets), logprobs))
        out = []
        for sample, image, budget in zip(samples, images, budgets):
            assert budget is not None
            right, nll = self.table[sample.id[-2:]][budget]
            out.append(Answer(text=f"<answer>{'right' if right else 'wrong'}</answer>",
                              tokens=make_view(image.size, budget).tokens, budget=budget,
                              logprob=-nll if logprobs else None))
        return out


class FakeContext:
    """A :class:`pathreason.api.BudgetContext` over :class:`TablePerformer`, its state kept as JSON text."""

    def __init__(self, validation: list[Sample], table: Mapping[str, Mapping[int, tuple[bool, float]]] = TABLE) -> None:
        self.tasks: Mapping[str, Task] = {"toy": ToyTask()}
        self.train_tokens = 256
        self.patch = 28
        self.perf = TablePerformer(table)
        self.validation = validation
        self.state: dict[str, str] = {}
        self.split_asked: list[tuple[str, int | None]] = []

    def performer(self, phase: str | None = None) -> TablePerformer:
        return self.perf

    def allocator(self, phase: str | None = None) -> Any:
        raise RunError("no allocator here")

    def samples(self, split: str, n: int | None = None) -> list[Sample]:
        self.split_asked.append((split, n))
        if split != "validation":
            raise ConfigError(f"no split {split!r}")
        return self.validation[:n]

    def load_state(self, key: str) -> dict[str, Any] | None:
        return json.loads(self.state[key]) if key in self.state else None

    def save_state(self, key: str, value: Mapping[str, Any]) -> None:
        self.state[key] = json.dumps(dict(value), allow_nan=False)  # strict JSON: no Infinity


# ---------------------------------------------------------------------------------------- the ladder
def test_default_ladder_and_arguments() -> None:
    budgeter = get_budgeter("escalate")
    assert isinstance(budgeter, TwoStageBudgeter) and budgeter.settings.ladder == (16, 64, 256)
    assert repr(budgeter) == "escalate:16,64,256"
    settings = EscalateSettings.parse("32, 128,split=val,n=8,margin=0.02")
    assert settings == EscalateSettings(ladder=(32, 128), split="val", n=8, margin=0.02)
    for bad in ("64,16", "64", "16,16,256", "16,x", "16,64,depth=3", "16,64,n=0", "16,64,margin=5"):
        with pytest.raises(ConfigError, match="escalate"):
            get_budgeter(f"escalate:{bad}")


def test_a_rung_that_shows_the_image_at_the_same_size_is_skipped() -> None:
    assert image_ladder((448, 448), (16, 64, 256)) == [16, 64, 256]
    assert image_ladder((224, 224), (16, 64, 256)) == [16, 64]       # 64 tokens: its native 224 px already
    assert image_ladder((1024, 1024), (16, 64, 256)) == [16, 64, 256]
    assert replay([0.9, 0.3, 5.0], 0.5) == 1 and replay([0.9, 0.8, 5.0], 0.5) == 2
    assert replay([0.9, 0.8, 5.0], None) == 0 and replay([0.0, 0.0, 0.0], ALWAYS) == 2


# ---------------------------------------------------------------------------------------- calibration
def test_threshold_is_the_largest_within_one_point_of_the_top_rung() -> None:
    """Candidates from the largest: never escalate (accuracy 2/4), 0.9 and 0.7 (nothing escalates at 16:
    2/4), 0.5 (s3 escalates: 2/4), 0.3 (s1, s3 stop at 64: 3/4), 0.2 (s2 climbs to 256: 4/4 = static:256)."""
    context = FakeContext(_samples())
    bound = EscalateBudgeter().bind(context, "sft")
    assert bound.thresholds == {"toy": 0.2}
    state = context.load_state("escalate-sft-16-64-256")
    assert state is not None
    entry = state["tasks"]["toy"]
    assert entry["metric"] == 1.0 and entry["reference"] == 1.0
    assert entry["passes"] == pytest.approx((1 + 2 + 3 + 2) / 4)
    assert entry["total_tokens"] == pytest.approx((16 + (16 + 64) + (16 + 64 + 256) + (16 + 64)) / 4)  # 128
    assert entry["candidates_tried"] == 6
    assert state["settings"] == {"ladder": [16, 64, 256], "split": "validation", "n": None, "margin": 0.01}
    # every validation image answered at every rung, with log-probabilities, one call per rung
    assert context.perf.calls == [([16] * 4, True), ([64] * 4, True), ([256] * 4, True)]
    # a 25-point margin admits 3/4: tau 0.3
    assert EscalateBudgeter("16,64,256,margin=0.25").bind(FakeContext(_samples()), "sft").thresholds == {"toy": 0.3}


def test_never_escalate_and_always_escalate_are_saved_as_plain_json() -> None:
    # a 50-point margin admits answering everything at 16 tokens (2/4 right): never escalate
    context = FakeContext(_samples())
    assert EscalateBudgeter("16,64,256,margin=0.5").bind(context, "sft").thresholds == {"toy": None}
    assert '"tau": null' in context.state["escalate-sft-16-64-256"]
    # s3 is wrong at 16 and 64 with the lowest NLL: only escalating every image reaches static:256
    table = {**TABLE, "s3": {16: (False, 0.0), 64: (False, 0.0), 256: (True, 0.0)}}
    context = FakeContext(_samples(), table)
    assert EscalateBudgeter().bind(context, "sft").thresholds == {"toy": ALWAYS}
    assert '"tau": -1.0' in context.state["escalate-sft-16-64-256"]


def test_calibration_is_saved_and_reused_and_redone_when_its_settings_change() -> None:
    context = FakeContext(_samples())
    first = EscalateBudgeter().bind(context, "sft")
    calls = len(context.perf.calls)
    again = EscalateBudgeter().bind(context, "sft")   # a second bind: read back, no performer call
    assert len(context.perf.calls) == calls and again.thresholds == first.thresholds
    assert state_key("sft", (16, 64, 256)) in context.state and len(context.state) == 1
    EscalateBudgeter("16,64,256,n=2").bind(context, "sft")   # another validation size: calibrated again
    assert len(context.perf.calls) == calls + 3 and context.split_asked[-1] == ("validation", 2)
    EscalateBudgeter().bind(context, "grpo")                  # another performer phase: its own key
    assert set(context.state) == {"escalate-sft-16-64-256", "escalate-grpo-16-64-256"}


def test_a_missing_validation_split_is_a_run_error_naming_the_split() -> None:
    with pytest.raises(RunError, match=r"cannot calibrate on split 'val'.*split=val"):
        EscalateBudgeter("16,64,256,split=val").bind(FakeContext(_samples()), "sft")


def test_a_performer_without_log_probabilities_is_refused() -> None:
    context = FakeContext(_samples())
    answer = context.perf.answer
    context.perf.answer = lambda *a, **k: [Answer(x.text, x.tokens, x.budget, None) for x in answer(*a, **k)]  # type: ignore[method-assign]
    with pytest.raises(RunError, match="no log-probabilities"):
        EscalateBudgeter().bind(context, "sft")


# ---------------------------------------------------------------------------------------- every pass counted
def test_every_pass_is_counted_and_a_one_pass_image_costs_its_budget() -> None:
    perf = TablePerformer()
    bound = BoundEscalation(perf, (16, 64, 256), {"toy": 0.2})
    samples = _samples(prefix="test-")
    records = predict_records(bound, {"toy": ToyTask()}, samples, batch_size=8, progress=False)
    by_id = {r.id: r for r in records}
    # s0 sure at 16: one pass of exactly 16 tokens; s1 and s3 stop at 64; s2 climbs to 256
    assert [(by_id[f"test-{s}"].tokens, by_id[f"test-{s}"].overhead_tokens, by_id[f"test-{s}"].passes)
            for s in ("s0", "s1", "s2", "s3")] == [(16, 0, 1), (64, 16, 2), (256, 80, 3), (64, 16, 2)]
    assert by_id["test-s2"].total_tokens == 16 + 64 + 256
    assert by_id["test-s2"].extra["escalate_budgets"] == [16, 64, 256]
    assert by_id["test-s2"].extra["escalate_nll"] == [0.3, 0.9] and by_id["test-s2"].extra["escalate_tau"] == 0.2
    assert all(r.score == 1.0 for r in records)
    # batched per (task, level): "easy" (s0, s1, s3) and "hard" (s2); log-probabilities only while a rung remains
    assert perf.calls == [([16, 16, 16], True), ([64, 64], True), ([16], True), ([64], True), ([256], False)]
    entry = summarize(records, samples, {"toy": ToyTask()})["toy"]
    assert entry["tpi"] == pytest.approx((16 + 64 + 256 + 64) / 4)            # 100: the final passes
    assert entry["overhead_tpi"] == pytest.approx((0 + 16 + 80 + 16) / 4)     # 28: the earlier passes
    assert entry["total_tpi"] == pytest.approx(128.0) and entry["passes"] == pytest.approx(2.0)
    assert entry["by_difficulty"]["hard"]["total_tpi"] == 336.0
    assert entry["by_difficulty"]["easy"]["total_tpi"] == pytest.approx((16 + 80 + 80) / 3)


def test_a_small_image_stops_at_its_native_size_and_an_unknown_task_falls_back_to_the_top() -> None:
    perf = TablePerformer()
    small = _samples(side=224)[2]                         # unsure at 16 and at 64: but 64 is its native size
    decision = BoundEscalation(perf, (16, 64, 256), {"toy": 0.2}).decide([small], [small.load_image()])[0]
    assert (decision.answer.budget, decision.overhead_tokens, decision.passes) == (64, 16, 2)
    never = BoundEscalation(perf, (16, 64, 256), {}).decide([small], [small.load_image()])[0]
    assert never.fallback and never.passes == 2           # no threshold for "toy": escalated as far as it goes
    # one-patch tiles: every rung shows the same 28 x 28 image, so there is nothing to escalate to or to calibrate
    tiny = FakeContext(_samples(side=28))
    assert image_ladder((28, 28), (16, 64, 256)) == [16]
    assert EscalateBudgeter().bind(tiny, "sft").thresholds == {"toy": None}
    assert tiny.perf.calls == [([16] * 4, True)]


# ---------------------------------------------------------------------------------------- the log-probability
def test_answer_logprob_matches_the_models_own_logits(tiny_path: Any) -> None:
    """``generate(..., logprobs=True)`` gives the mean log-softmax of the generated tokens (the whole
    completion when it has no ``<answer>`` block, as the untrained tiny model writes), computed here
    again by one teacher-forced forward pass over prompt + completion."""
    import torch

    from pathreason.inference import generate
    from pathreason.models.loading import load_model, load_processor
    from pathreason.plugins.datasets.synthpath.generator import generate as synth
    from pathreason.tasks.subtyping import SubtypingTask

    model = load_model(str(tiny_path)).eval()
    processor = load_processor(str(tiny_path))
    sample = synth("test", n=1, seed=0, task="subtyping")[0]
    image = sample.load_image().resize((112, 112))
    conv = SubtypingTask().messages(sample)
    (gen,) = generate(model, processor, [conv], [image], max_new_tokens=6, logprobs=True)
    text = processor.apply_chat_template(conv, add_generation_prompt=True, tokenize=False)
    enc = processor(images=[image], text=[text], return_tensors="pt")
    with torch.inference_mode():
        out = model.generate(**enc, max_new_tokens=6, do_sample=False, temperature=None, top_p=None, top_k=None,
                             pad_token_id=processor.tokenizer.pad_token_id)
        new = out[0, enc["input_ids"].shape[1]:]
        ends = {processor.tokenizer.eos_token_id, processor.tokenizer.pad_token_id,
                processor.tokenizer.convert_tokens_to_ids("<|im_end|>")}
        length = next((i for i, t in enumerate(new.tolist()) if t in ends), len(new))
        assert length > 0
        full = {**enc, "input_ids": out, "attention_mask": torch.ones_like(out)}
        if "mm_token_type_ids" in enc:  # the completion is text: type 0
            extra = out.shape[1] - enc["mm_token_type_ids"].shape[1]
            full["mm_token_type_ids"] = torch.nn.functional.pad(enc["mm_token_type_ids"], (0, extra))
        logits = model(**full).logits[0].float()
    start = enc["input_ids"].shape[1]
    logp = logits[start - 1:start - 1 + length].log_softmax(-1).gather(-1, new[:length, None]).squeeze(-1)
    text_out = processor.tokenizer.decode(new[:length])
    assert "<answer>" not in text_out  # the whole completion is the span (answer_span_mean's doctest covers tags)
    assert gen.logprob == pytest.approx(float(logp.mean()), abs=1e-4)
