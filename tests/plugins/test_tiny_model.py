"""The embedded tiny preset: real Qwen2.5-VL classes, built locally, deterministic, loaded via from_pretrained."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_tiny_loads_through_from_pretrained(tiny_path: Path) -> None:
    from transformers import AutoModelForImageTextToText, AutoProcessor, Qwen2_5_VLForConditionalGeneration

    import pathreason.models.processor  # noqa: F401
    from pathreason.models.processor import ImageOnlyQwen2_5_VLProcessor

    processor = AutoProcessor.from_pretrained(tiny_path)
    assert isinstance(processor, ImageOnlyQwen2_5_VLProcessor)  # not just the tokenizer
    model = AutoModelForImageTextToText.from_pretrained(tiny_path)
    assert isinstance(model, Qwen2_5_VLForConditionalGeneration)
    tok = processor.tokenizer
    cfg = model.config
    assert cfg.text_config.vocab_size == len(tok)
    for attr, token in [("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"),
                        ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>")]:
        assert getattr(cfg, attr) == tok.convert_tokens_to_ids(token)
    head_dim = cfg.text_config.hidden_size // cfg.text_config.num_attention_heads
    assert sum(cfg.text_config.rope_parameters["mrope_section"]) == head_dim // 2
    for tag in ["<think>", "</think>", "<answer>", "</answer>"]:
        assert tok.tokenize(tag) == [tag]
    ids = tok("[[12, 345]]")["input_ids"]
    assert [tok.decode([i]) for i in ids if tok.decode([i]).strip().isdigit()] == ["1", "2", "3", "4", "5"]
    text = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}],
        add_generation_prompt=True, tokenize=False)
    assert text.endswith("<|vision_start|><|image_pad|><|vision_end|>hi<|im_end|>\n<|im_start|>assistant\n")
    assert processor.image_processor.image_mean == pytest.approx([0.84, 0.57, 0.74])


def test_rotary_sections_let_the_language_model_tell_rows_and_columns_apart() -> None:
    """Every height and width frequency turns by at least one radian across a 16x16-token image
    (256 tokens, the training budget); Qwen's stock theta 10000 turned columns by 0.05 rad at most."""
    from pathreason.plugins.models.tiny import TEXT_CONFIG

    rope = TEXT_CONFIG["rope_parameters"]
    half = TEXT_CONFIG["hidden_size"] // TEXT_CONFIG["num_attention_heads"] // 2
    freqs = [rope["rope_theta"] ** (-2 * i / (2 * half)) for i in range(half)]
    t, h, w = rope["mrope_section"]
    assert t + h + w == half
    rows, cols = freqs[t:t + h], freqs[t + h:]
    assert min(rows) * 15 >= 1.0 and min(cols) * 15 >= 1.0
    # ...and no frequency aliases neighbouring tokens (below pi per token).
    assert max(rows + cols) < 3.1416


def test_building_twice_gives_identical_weights(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from pathreason.plugins.models.tiny import build_tiny

    a = load_file(str(build_tiny(tmp_path / "a") / "model.safetensors"))
    b = load_file(str(build_tiny(tmp_path / "b") / "model.safetensors"))
    assert a.keys() == b.keys()
    assert all((a[k] == b[k]).all() for k in a)
    assert (tmp_path / "a" / "tokenizer.json").read_text() == (tmp_path / "b" / "tokenizer.json").read_text()


def test_preset_resolves_to_the_cached_folder(tiny_path: Path, pathreason_home: Path) -> None:
    import pathreason
    from pathreason.models.loading import resolve_model

    location, spec = resolve_model("tiny")
    assert Path(location) == tiny_path and spec is pathreason.get_model("tiny")
    assert tiny_path.parent == pathreason_home / "models"


def test_one_image_generation(tiny_path: Path) -> None:
    from PIL import Image

    from pathreason.api.budget import count_tokens, resize_to_budget
    from pathreason.inference import generate
    from pathreason.models.loading import load_model, load_processor

    processor, model = load_processor(str(tiny_path)), load_model(str(tiny_path))
    images = [resize_to_budget(Image.new("RGB", (300, 500), (220, 140, 190)), 64),
              resize_to_budget(Image.new("RGB", (900, 900), (220, 140, 190)), 16)]
    conv = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "what is shown?"}]}]
    out = generate(model, processor, [conv, conv], images, max_new_tokens=5)
    assert [g.visual_tokens for g in out] == [count_tokens(500, 300, 64), count_tokens(900, 900, 16)]
    assert all(isinstance(g.text, str) for g in out)
