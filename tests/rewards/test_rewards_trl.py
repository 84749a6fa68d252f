"""The registered rewards work unchanged inside a plain ``trl.GRPOTrainer`` and are logged one by one
(TRL 1.x logs each component as ``rewards/<__name__>/mean``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.mark.slow
def test_grpo_trainer_logs_each_reward_component(tiny_path: Path, tmp_path: Path) -> None:
    from datasets import Dataset
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import GRPOConfig, GRPOTrainer

    import pathreason
    import pathreason.models.processor  # noqa: F401  (registers the image-only processor)
    from pathreason.rewards import task_rewards

    processor = AutoProcessor.from_pretrained(tiny_path)
    model = AutoModelForImageTextToText.from_pretrained(tiny_path)
    questions = ["Is there a gland?", "Which tissue is shown?", "Is the tissue benign?", "What is seen?"]
    dataset = Dataset.from_dict({
        "prompt": [[{"role": "user", "content": q}] for q in questions],
        "task": ["vqa"] * 4,
        "answer": ["yes", "B", "no", "glandular tissue"],
        "options": [[], ["stroma", "gland"], [], []],
    })
    funcs, weights = task_rewards("vqa")
    assert funcs[0] is pathreason.get_reward("vqa") and funcs[1] is pathreason.get_reward("format")
    args = GRPOConfig(
        output_dir=str(tmp_path / "grpo"),
        per_device_train_batch_size=2,  # completions per step: one prompt, two generations
        num_generations=2,
        max_completion_length=16,
        max_steps=2,
        learning_rate=1e-5,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        use_cpu=True,
        bf16=False,
        seed=0,
        reward_weights=weights,
    )
    trainer = GRPOTrainer(model=model, reward_funcs=funcs, args=args, train_dataset=dataset, processing_class=processor)
    trainer.train()

    logged = [entry for entry in trainer.state.log_history if "rewards/vqa/mean" in entry]
    assert len(logged) == 2
    for entry in logged:
        assert "rewards/format/mean" in entry
        assert 0.0 <= entry["rewards/vqa/mean"] <= 1.0 and 0.0 <= entry["rewards/format/mean"] <= 1.0
        # R = R_vqa + λ_f·R_format, combined by TRL with the weights task_rewards gave it
        assert abs(entry["reward"] - (entry["rewards/vqa/mean"] + entry["rewards/format/mean"])) < 1e-5
