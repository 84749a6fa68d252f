"""First-party model presets: the embedded ``tiny`` model and the Qwen2.5-VL hub checkpoints.

Hub ids are only resolved to a download when a user asks for them; tests never load them.
"""

from __future__ import annotations

from typing import Any

from pathreason.api.hookspecs import hookimpl
from pathreason.api.specs import ModelSpec

#: The paper's recipe (§4.2, docs/concepts/task-performer.md): LoRA r=16, alpha=64 on all linear layers
#: of the language model.
PAPER_RECIPE: dict[str, Any] = {
    "lora": {"r": 16, "lora_alpha": 64, "target_modules": "all-linear"},
    "sft": {"learning_rate": 1e-4, "weight_decay": 0.1, "lr_scheduler_type": "cosine"},
}


def _tiny() -> str:
    from pathreason.plugins.models.tiny import tiny_path

    return str(tiny_path())


#: The tiny preset's own recipe; the user's config always wins over it. A LoRA on a randomly
#: initialised tiny model barely moves, so the tiny preset fine-tunes the whole language model
#: (``lora: null``) with its random vision tower frozen, at a high learning rate, and mixes
#: budgets during SFT so that the performer can answer at any budget an allocator may pick, but
#: only at budgets where a sample's evidence shows (``budget_mix_level_key: level_tokens``: a
#: synthpath medium tile is mixed at 64 and 128 tokens, a coarse one at all four) and never for
#: fine samples: their detail is gone below 256 tokens, and teaching their label there only taught
#: the performer to guess. A dataset without ``meta["level_tokens"]`` is mixed at every budget.
#: Detection in a mixed-task run stays at the training budget: a box is written in the pixels of the
#: image shown, so each budget has its own frame, and with the mix the tiny model wrote the same
#: boxes for every tile (synthpath mAP 0.001; 0.075 without the mix, same data and steps).
#: A detection run alone trains with the per-sample loss (1200 steps, see below): box lists are long
#: and their length varies (0-5 boxes), so per-token averaging let the many unfindable small-gland boxes
#: dominate; synthpath mAP 0.012 at 250 steps, 0.020 with the per-sample loss, 0.072 (large glands
#: 0.39, mAP@0.1 0.70) with both. Other tasks learn in 250 steps and keep their token-averaged loss.
#: On the three-level data a detection run trained at 256 tokens only, in pixels, reaches mAP 0.894
#: there and answers nothing below it; with the level-floored mix it fell to 0.116 (and 0.12 / 0.05 at
#: 16 / 64 tokens), and with every visible mixed budget drawn (600 steps) to 0.028 (coarse tiles 0.56
#: at 16 tokens, 0.08 at 256). So a detection run writes its boxes in 0-1000 of the image
#: (``box_frame: norm1000``: one answer at every budget) and is shown each tile as often as any other
#: (``budget_mix_draws: balanced``) at 16, 64 and 256 tokens where its gland shows: with every draw
#: of a four-budget mix the small glands were a ninth of the rows and were not learnt (0.02 at 256
#: after 1200 steps). Balanced, with each tile's extra rows at the lowest budget where its gland
#: shows, 1200 steps learn every level from its own budget and pass every three-level rule (coarse
#: 1.00 from 16 tokens, medium 0.96 at 64 and 0.98 at 256, small glands 0.80 at 256; mAP 0.916 at
#: 256); with the extra rows at 256 the medium glands stayed a cell off at 64 (0.77 there)
#: (docs/concepts/token-allocator.md).
#: A subtyping run shows each tile at every mixed budget where its detail shows
#: (``budget_mix_draws: all``): with one draw a medium twin outnumbered its coarse class 2:1 at 64
#: tokens and the coarse level fell from 1.00 at 16 tokens to 0.79 at 64; with all draws it holds
#: 1.00 at 16, 64 and 256. On synthpath's default chromatin (``clump_texture: checkerboard+band``)
#: 250 steps left coarse tiles at 0.83-0.90 on 128 tokens; 1000 steps hold every level within 5
#: points from its own budget up, at 16 / 32 / 64 / 128 / 256 tokens (on the 2-pixel checkerboard
#: alone 250 steps did at 16 / 64 / 256, but medium tiles fell to 0.33 at 128). VQA shows every tile
#: at every mixed budget too: on synthpath's VQA (its options in one order per family, coarse tiles
#: without texture) one draw left the coarse level at 0.64 on 16 tokens and 0.81 on 64 (it failed
#: the three-level check); all draws pass it (coarse 0.86 from 16 tokens, medium 0.88 from 64, fine
#: 0.81 at 256; accuracy at 256 0.84 instead of 0.93). On the default chromatin and gland count
#: (``vqa_gland_count: one-or-four``) 750 steps reach accuracy 1.00 at 256 tokens, the medium and
#: fine levels exact from their own budget up at every budget, the coarse level 0.94 at 16 tokens and
#: 1.00 from 32 (two questions of 36: 0.6 points over the flatness rule). With every chromatin
#: question asked at every level (``vqa_untextured: coarse``) 750 steps left one medium question of 32
#: wrong at 64 and 128 tokens; 1000 steps answer the medium level exactly from 64 tokens and pass every
#: rule at 16 / 32 / 64 / 128 / 256 (coarse 0.97-1.00; docs/concepts/token-allocator.md).
TINY_RECIPE: dict[str, Any] = {
    "lora": None,
    "sft": {"learning_rate": 1e-3, "warmup_ratio": 0.05, "max_steps": 250, "per_device_train_batch_size": 16,
            "budget_mix": [16, 32, 64, 128], "budget_mix_exclude": ["fine", "detection"],
            "budget_mix_level_key": "level_tokens", "logging_steps": 10,
            "freeze_vision": True},
    "grpo": {"learning_rate": 5e-6, "max_steps": 30, "per_device_train_batch_size": 8, "num_generations": 4,
             "max_completion_length": 128, "logging_steps": 5},
    # The allocator is a LoRA on the performer; the tiny model's output rows for digits were never
    # trained (its tasks answer in words), so the adapter also trains a copy of lm_head. From a
    # uniform-budget warm-up, twenty GRPO steps settled on one budget for every image, so the
    # warm-up teaches 128 images' oracle budgets (scored by the performer itself) and GRPO refines
    # them at a low learning rate (1e-3 undid the warm-up's answer format in two steps). Twelve
    # GRPO steps keep the whole allocator phase under 5 minutes on a 2-core CPU.
    # "token_cost" prices every token: under Eq. 10 all budgets below N0 earn the same. Its answer is
    # read over the candidate budgets: written digit by digit, a subtyping allocator on synthpath's
    # default chromatin gave some coarse tiles fewer than 16 tokens (balanced accuracy 0.938 against
    # 1.000 at 256; greedy over the candidates, on the same performer, 0.993 at 1.02 x the oracle's
    # TPI). Of the candidates it takes the one with the highest expected reward ("answer": "expected",
    # its probabilities read as beliefs in each oracle budget): a detection allocator that was 0.7-0.6
    # sure a medium tile needed only 16 tokens then gives it 64 (mAP 0.848 against 0.825 greedy, TPI
    # 1.00 x the oracle's; the same subtyping allocator 0.993, a VQA one 0.980 either way).
    "allocator": {"lora": {"r": 16, "lora_alpha": 64, "modules_to_save": ["lm_head"]}, "answer": "expected",
                  "warmup_steps": 30, "warmup_target": "oracle", "warmup_samples": 128, "warmup_learning_rate": 3e-3,
                  "learning_rate": 1e-4, "lr_scheduler_type": "constant_with_warmup", "max_steps": 12,
                  "per_device_train_batch_size": 16, "num_generations": 4, "max_completion_length": 24,
                  "logging_steps": 2, "rule": "token_cost", "lam": 0.25},
    "by_task": {"detection": {"box_frame": "norm1000",
                              "sft": {"max_steps": 1200, "loss_per_sample": True, "budget_mix": [16, 64],
                                      "budget_mix_exclude": [], "budget_mix_draws": "balanced"}},
                "subtyping": {"sft": {"max_steps": 1000, "budget_mix_draws": "all"}},
                "vqa": {"sft": {"max_steps": 1000, "budget_mix_draws": "all"}}},
}


@hookimpl
def pathreason_models() -> list[ModelSpec]:
    return [
        ModelSpec(name="tiny", factory=_tiny, recipe=TINY_RECIPE,
                  description="embedded tiny Qwen2.5-VL (built locally, no download; the default)"),
        ModelSpec(name="qwen2.5-vl-3b", factory=lambda: "Qwen/Qwen2.5-VL-3B-Instruct", recipe=PAPER_RECIPE,
                  description="Qwen/Qwen2.5-VL-3B-Instruct from the Hugging Face Hub"),
        ModelSpec(name="qwen2.5-vl-7b", factory=lambda: "Qwen/Qwen2.5-VL-7B-Instruct", recipe=PAPER_RECIPE,
                  description="Qwen/Qwen2.5-VL-7B-Instruct from the Hugging Face Hub (the paper's base model)"),
    ]
