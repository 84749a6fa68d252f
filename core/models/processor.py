"""An image-only Qwen2.5-VL processor, registered with ``AutoProcessor`` on import.

The stock ``Qwen2_5_VLProcessor`` requires a video processor, which needs torchvision; where
torchvision is missing (or cannot import beside the installed torch), ``AutoProcessor`` would
silently return only the tokenizer. pathreason works on still images only, so this subclass
drops the video processor and keeps everything else (image-token expansion, chat template).
"""

from __future__ import annotations

from typing import Any

from transformers import AutoProcessor, Qwen2_5_VLConfig
from transformers.models.qwen2_5_vl.processing_qwen2_5_vl import Qwen2_5_VLProcessor
from transformers.processing_utils import ProcessorMixin

#: Processor pixel bounds: pathreason resizes images to their budget itself, so the processor
#: must accept any multiple-of-28 size from one patch up to the largest budget without resizing.
MIN_PIXELS = 28 * 28
MAX_PIXELS = 16384 * 28 * 28


class ImageOnlyQwen2_5_VLProcessor(Qwen2_5_VLProcessor):
    """``Qwen2_5_VLProcessor`` without the video processor."""

    def __init__(self, image_processor: Any = None, tokenizer: Any = None, chat_template: str | None = None,
                 **kwargs: Any) -> None:
        self.image_token = getattr(tokenizer, "image_token", "<|image_pad|>")
        self.video_token = getattr(tokenizer, "video_token", "<|video_pad|>")
        self.image_token_id = getattr(tokenizer, "image_token_id", None) or tokenizer.convert_tokens_to_ids(self.image_token)
        self.video_token_id = getattr(tokenizer, "video_token_id", None) or tokenizer.convert_tokens_to_ids(self.video_token)
        ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    def __call__(self, images: Any = None, text: Any = None, videos: Any = None, **kwargs: Any) -> Any:
        if videos is not None:
            raise ValueError("pathreason's Qwen2.5-VL processor handles still images only; got videos")
        return super().__call__(images=images, text=text, **kwargs)


AutoProcessor.register(Qwen2_5_VLConfig, ImageOnlyQwen2_5_VLProcessor, exist_ok=True)
