"""Sub-commands of the ``pathreason`` CLI beyond ``plugins`` (each imports what it needs when run)."""

from __future__ import annotations

import argparse
from typing import Any


def _cmd_predict(args: argparse.Namespace) -> int:
    from PIL import Image

    from pathreason.budget import resize_to_budget
    from pathreason.inference import generate
    from pathreason.models.loading import load_model, load_processor, resolve_model
    from pathreason.prompts import SYSTEM_PROMPT, vqa_prompt

    location, _ = resolve_model(args.model)
    processor = load_processor(location)
    model = load_model(location)
    image_path = args.image or _first_shipped_tile()
    image = resize_to_budget(Image.open(image_path).convert("RGB"), args.tokens)
    conversation: list[dict[str, Any]] = [
        {"role": "system", "content": [{"type": "text", "text": SYSTEM_PROMPT}]},
        {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": vqa_prompt(args.question)}]},
    ]
    (result,) = generate(model, processor, [conversation], [image], max_new_tokens=args.max_new_tokens)
    print(f"image: {image_path}")
    print(f"visual tokens: {result.visual_tokens}")
    print(result.text)
    return 0


def _first_shipped_tile() -> str:
    """A real H&E tile shipped with the package (CC0, see ``pathreason/data/he_tiles``)."""
    from importlib.resources import files

    folder = files("pathreason") / "data" / "he_tiles"
    tiles = sorted(p.name for p in folder.iterdir() if p.name.endswith((".png", ".jpg")))
    if not tiles:
        raise FileNotFoundError(f"no H&E tiles shipped in {folder}; pass --image")
    return str(folder / tiles[0])


def add_commands(sub: Any) -> None:
    p = sub.add_parser("predict", help="answer one question about one image")
    p.add_argument("--image", help="path of an image file (default: a real H&E tile shipped with pathreason)")
    p.add_argument("--question", required=True)
    p.add_argument("--model", default="tiny", help="model preset, local folder or hub id (default: tiny)")
    p.add_argument("--tokens", type=int, default=256, help="visual-token budget (default 256)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.set_defaults(func=_cmd_predict)
