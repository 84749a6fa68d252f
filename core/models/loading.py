"""Resolve a model name (preset, local folder or hub id) and load it through ``from_pretrained``.

Every model, the embedded ``tiny`` one included, takes this one path. Weights are read from
safetensors files only: a pickle (``pytorch_model.bin``, ``*.pt``) can run code when it is loaded,
so a folder that has nothing else is refused before anything is read from it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason.api import ConfigError, RunError, UnknownNameError
from pathreason.models.processor import (  # importing it registers the image-only processor
    MAX_PIXELS,
    MIN_PIXELS,
)

if TYPE_CHECKING:
    from pathreason.api import ModelSpec

logger = logging.getLogger(__name__)

#: A Hugging Face Hub model id: ``owner/name``.
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")
#: Weight files that are pickles, never loaded.
PICKLE_WEIGHTS = ("*.bin", "*.pt", "*.pth", "*.pkl", "*.ckpt")


def find_preset(name: str) -> ModelSpec | None:
    """The model preset called ``name``, or ``None`` when ``name`` is an existing folder or a hub id
    (``owner/name``); anything else is an :class:`UnknownNameError` listing the presets."""
    from pathreason.registry import model_spec

    try:
        return model_spec(name)
    except (UnknownNameError, ValueError) as exc:  # ValueError: not even a plugin name ("/a/b")
        if Path(name).expanduser().is_dir() or HUB_ID.match(name):
            return None
        hint = str(exc) if isinstance(exc, UnknownNameError) else f"{name!r} is not a model preset"
        raise UnknownNameError(f"{hint}; a model is a preset (`pathreason plugins`), an existing folder "
                               "written by save_pretrained, or a Hugging Face Hub id (owner/name)") from None


def check_hub_id(name: str) -> None:
    """Refuse a hub id that cannot be had: offline (``HF_HUB_OFFLINE=1``) and not in the local cache."""
    from huggingface_hub import constants, try_to_load_from_cache

    if constants.HF_HUB_OFFLINE and not isinstance(try_to_load_from_cache(name, "config.json"), str):
        raise ConfigError(f"model {name!r} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 forbids "
                          f"downloading it: fetch it first (`hf download {name}`, formerly "
                          f"`huggingface-cli download {name}`), or unset HF_HUB_OFFLINE")


def check_model_folder(folder: Path) -> None:
    """Refuse a local model folder ``from_pretrained`` would fail on, or could run a pickle from."""
    if not (folder / "config.json").is_file():
        raise RunError(f"{folder} holds no model: config.json is missing (a model folder is written by "
                       "save_pretrained)")
    if any(folder.glob("*.safetensors")) or (folder / "model.safetensors.index.json").is_file():
        return
    pickles = sorted(p.name for pattern in PICKLE_WEIGHTS for p in folder.glob(pattern))
    if pickles:
        raise RunError(f"{folder}: refused to load {', '.join(pickles)}: pickle weight files can run code when "
                       "loaded, and pathreason reads safetensors only; convert the weights to safetensors "
                       "(save_pretrained does) if you trust their source")
    raise RunError(f"{folder} holds no weights: model.safetensors is missing")


def resolve_model(name: str) -> tuple[str, Any]:
    """``(location, preset_or_None)``: a preset name, an existing folder, or a hub id."""
    spec = find_preset(name)
    if spec is None:
        folder = Path(name).expanduser()
        if folder.is_dir():
            check_model_folder(folder)
            return str(folder.resolve()), None
        check_hub_id(name)
        return name, None
    location = str(spec.create())
    if not Path(location).is_dir():  # a preset naming a hub checkpoint
        check_hub_id(location)
    return location, spec


def load_processor(location: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(location, trust_remote_code=trust_remote_code)
    if not hasattr(processor, "image_processor"):
        raise RuntimeError(f"{location}: AutoProcessor returned {type(processor).__name__}, not an image processor")
    processor.image_processor.size = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    processor.tokenizer.padding_side = "left"  # batched generation
    return processor


def load_model(location: str, dtype: Any = None, device: str | None = None, trust_remote_code: bool = False) -> Any:
    """The model at ``location`` (a folder is checked first: :func:`check_model_folder`), safetensors only."""
    import torch
    from transformers import AutoModelForImageTextToText

    if Path(location).is_dir():
        check_model_folder(Path(location))
    if dtype is None:
        dtype = torch.bfloat16 if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else torch.float32
    try:
        model: Any = AutoModelForImageTextToText.from_pretrained(location, dtype=dtype, use_safetensors=True,
                                                                 trust_remote_code=trust_remote_code)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        if not Path(location).is_dir():
            raise
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise RunError(f"{location}: the model cannot be loaded ({type(exc).__name__}: {first})") from exc
    if device is not None:
        model.to(device)
    return model
