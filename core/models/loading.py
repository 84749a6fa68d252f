"""Resolve a model name (preset, local folder or hub id) and load it through ``from_pretrained``.

Every model, the embedded ``tiny`` one included, takes this one path.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pathreason.api import UnknownNameError
from pathreason.models.processor import (  # importing it registers the image-only processor
    MAX_PIXELS,
    MIN_PIXELS,
)

logger = logging.getLogger(__name__)


def resolve_model(name: str) -> tuple[str, Any]:
    """``(location, preset_or_None)``: a preset name, an existing folder, or a hub id."""
    from pathreason.registry import model_spec

    try:
        spec = model_spec(name)
    except UnknownNameError:
        if Path(name).expanduser().is_dir():
            return str(Path(name).expanduser()), None
        if "/" in name:  # a hub id: resolved by transformers (download or local cache)
            return name, None
        raise
    return str(spec.create()), spec


def load_processor(location: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(location, trust_remote_code=trust_remote_code)
    if not hasattr(processor, "image_processor"):
        raise RuntimeError(f"{location}: AutoProcessor returned {type(processor).__name__}, not an image processor")
    processor.image_processor.size = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    processor.tokenizer.padding_side = "left"  # batched generation
    return processor


def load_model(location: str, dtype: Any = None, device: str | None = None, trust_remote_code: bool = False) -> Any:
    import torch
    from transformers import AutoModelForImageTextToText

    if dtype is None:
        dtype = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    model: Any = AutoModelForImageTextToText.from_pretrained(location, dtype=dtype, trust_remote_code=trust_remote_code)
    if device is not None:
        model.to(device)
    return model
