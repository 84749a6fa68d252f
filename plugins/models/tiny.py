"""The embedded ``tiny`` preset: the real Qwen2.5-VL architecture with tiny dimensions.

Built locally, with no download: a byte-level BPE tokenizer trained on pathreason's own prompt
vocabulary (carrying Qwen's special tokens, the ``<think>``/``<answer>`` tags and Qwen's chat
template), a ``Qwen2_5_VLConfig`` with a seeded random init, and the real processor classes. It is
saved with ``save_pretrained`` under ``$PATHREASON_HOME/models/`` and loaded back through the same
``from_pretrained`` path as a hub checkpoint. Building it twice gives identical weights.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

TINY_SEED = 0
#: Statistics of H&E-like tiles (synthpath and the shipped real tiles): a tiny vision tower
#: trained from scratch learns far faster with its data's own normalisation than with CLIP's.
HE_MEAN = (0.84, 0.57, 0.74)
HE_STD = (0.18, 0.15, 0.11)

SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
TAG_TOKENS = ["<think>", "</think>", "<answer>", "</answer>"]

#: Qwen2-VL / Qwen2.5-VL chat template (images and text in a content list).
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}"
    "{% endfor %}<|im_end|>\n{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

TEXT_CONFIG: dict[str, Any] = {
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 4096,
    # M-RoPE (docs/concepts/task-performer.md): Qwen2.5-VL gives the (temporal, height, width) sections
    # of each head consecutive slices of the rotary frequencies, fastest first. With the stock theta
    # 10000 and [8, 12, 12], the width section turns at 0.003 rad per token or less: across a 16-column
    # image the language model barely tells columns apart, and the tiny model never learned where
    # a gland is (one gland per scene, 300 steps: mean IoU 0.09). theta 10 and [2, 15, 15] turn
    # rows at 0.87-0.32 and columns at 0.29-0.11 rad per token (mean IoU 0.60, same run;
    # benchmarks/localisation.py). Text tokens use every section alike.
    "rope_parameters": {"rope_type": "default", "rope_theta": 10.0, "mrope_section": [2, 15, 15]},
    "rms_norm_eps": 1e-6,
}
VISION_CONFIG: dict[str, Any] = {
    "depth": 4,
    "hidden_size": 128,
    "intermediate_size": 256,
    "num_heads": 4,
    "patch_size": 14,
    "spatial_merge_size": 2,
    "temporal_patch_size": 2,
    "window_size": 112,
    "fullatt_block_indexes": [1, 3],
    "out_hidden_size": 256,
}


def _corpus() -> list[str]:
    """Text the tokenizer is trained on: every prompt template, tag and a pathology vocabulary."""
    from pathreason.plugins.models.corpus import corpus_lines

    return corpus_lines()


def build_tokenizer() -> Any:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token=None))
    # Digits one by one (as Qwen does), so box coordinates and token counts are learnable. No
    # word split: merges may span words, so the fixed prompts cost few tokens (fast on a CPU).
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024,
        min_frequency=2,
        max_token_length=200,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer=trainer)
    # Single tokens, but not "special": trainers decode with skip_special_tokens=True, and the
    # rewards must still see the tags.
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAG_TOKENS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        model_max_length=4096,
        padding_side="left",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_image_processor() -> Any:
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

    from pathreason.models.processor import MAX_PIXELS, MIN_PIXELS

    return Qwen2VLImageProcessorPil(
        size={"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS},
        patch_size=14,
        merge_size=2,
        temporal_patch_size=2,
        image_mean=list(HE_MEAN),
        image_std=list(HE_STD),
    )


def build_config(tokenizer: Any) -> Any:
    from transformers import Qwen2_5_VLConfig

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    text = dict(TEXT_CONFIG, vocab_size=len(tokenizer), bos_token_id=ids["<|endoftext|>"],
                eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])
    return Qwen2_5_VLConfig(
        text_config=text,
        vision_config=dict(VISION_CONFIG),
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )


def recipe_fingerprint() -> str:
    """Changes whenever what :func:`build_tiny` produces would change; names the cache folder."""
    from pathreason._version import __version__

    blob = json.dumps([TEXT_CONFIG, VISION_CONFIG, HE_MEAN, HE_STD, CHAT_TEMPLATE, _corpus(), TINY_SEED, __version__],
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def pathreason_home() -> Path:
    return Path(os.environ.get("PATHREASON_HOME") or Path.home() / ".cache" / "pathreason")


def build_tiny(out_dir: str | Path, seed: int = TINY_SEED) -> Path:
    """Build the tiny model, tokenizer and processor and ``save_pretrained`` them to ``out_dir``."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from pathreason.models.processor import ImageOnlyQwen2_5_VLProcessor

    out = Path(out_dir)
    tokenizer = build_tokenizer()
    config = build_config(tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = config.text_config.eos_token_id
    model.generation_config.pad_token_id = config.text_config.pad_token_id
    processor = ImageOnlyQwen2_5_VLProcessor(image_processor=build_image_processor(), tokenizer=tokenizer,
                                             chat_template=CHAT_TEMPLATE)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return out


def tiny_path() -> Path:
    """The cached tiny preset's folder, building it on first use (atomically, safe across processes)."""
    target = pathreason_home() / "models" / f"tiny-{recipe_fingerprint()}"
    if (target / "config.json").exists():
        return target
    if _follower():  # under torch.distributed only the node's first process writes model files
        return _wait_for(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("building the tiny Qwen2.5-VL preset in %s", target)
    tmp = Path(tempfile.mkdtemp(prefix=".tiny-build-", dir=target.parent))
    try:
        build_tiny(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process finished first
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _follower() -> bool:
    """True on a process that is not its node's first one in an initialised torch.distributed group:
    transformers' ``save_pretrained`` writes nothing there, so it must not build the preset."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return False
    return int(os.environ.get("LOCAL_RANK", dist.get_rank())) != 0


def _wait_for(target: Path, timeout: float = 1800.0) -> Path:
    """``target`` once the node's first process has built it (it renames a finished folder into place)."""
    import time

    deadline = time.monotonic() + timeout
    while not (target / "config.json").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout:.0f} s for the first process to build the tiny preset in {target}")
        time.sleep(0.5)
    return target
