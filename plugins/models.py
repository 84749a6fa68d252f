"""First-party model presets: the embedded ``tiny`` model and the Qwen2.5-VL hub checkpoints.

Hub ids are only resolved to a download when a user asks for them; tests never load them.
"""

from __future__ import annotations

from typing import Any

from pathreason.hookspecs import hookimpl
from pathreason.specs import ModelSpec

#: The paper's recipe (design §6): LoRA r=16, alpha=64 on all linear layers of the language model.
PAPER_RECIPE: dict[str, Any] = {
    "lora": {"r": 16, "lora_alpha": 64, "target_modules": "all-linear"},
    "sft": {"learning_rate": 1e-4, "weight_decay": 0.1, "lr_scheduler_type": "cosine"},
}


def _tiny() -> str:
    from pathreason.models.tiny import tiny_path

    return str(tiny_path())


#: The tiny preset's own recipe (a LoRA on a tiny random model barely learns; see the notes in
#: docs). Filled in by the engine work; the user's config always wins over it.
TINY_RECIPE: dict[str, Any] = {}


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
