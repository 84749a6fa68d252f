"""Dataset plugin ``synthpath``: the embedded synthetic H&E benchmark (no download, design §7)."""

from __future__ import annotations

from typing import Any

from pathreason import DatasetSpec, hookimpl


def load(split: str = "train", **options: Any) -> list[Any]:
    """``pathreason.synth.generate(split, n=None, seed=0, task=None, tile=448, real_background=False)``."""
    from pathreason.synth import generate

    return generate(split, **options)


@hookimpl
def pathreason_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="synthpath",
            factory=load,
            description="Synthetic H&E-like colon tiles for VQA, subtyping and detection, with coarse "
            "(4-16 token) and fine (~256 token) labels; generated from a seed, no download.",
            tasks=("vqa", "subtyping", "detection"),
        )
    ]
