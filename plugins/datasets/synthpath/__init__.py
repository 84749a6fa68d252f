"""Dataset plugin ``synthpath``: the embedded synthetic H&E benchmark (generated from a seed, no download).

The generator is :mod:`pathreason.plugins.datasets.synthpath.generator` (imported on first use, so
listing plugins stays fast); :mod:`.tissue` draws the images and :mod:`.he_tiles` holds the real H&E
backgrounds shipped with the package.
"""

from __future__ import annotations

from typing import Any

from pathreason.api import DatasetSpec, hookimpl


def load(split: str = "train", **options: Any) -> list[Any]:
    """``generate(split, n=None, seed=0, task=None, tile=448, real_background=False, progress=None,
    vqa_option_order="fixed", vqa_coarse_texture=False, subtyping_normal=False,
    clump_texture="checkerboard+band", gland_texture="checkerboard", vqa_gland_count="one-or-four",
    vqa_untextured="coarse")`` of the
    generator (``n_train``: ``n`` for the train split only), its options checked first (:class:`~pathreason.plugins.datasets.options.SynthpathOptions`:
    a wrong or unknown one is a one-line :class:`~pathreason.api.DataError`)."""
    from pathreason.plugins.datasets.options import SynthpathOptions, validate_options
    from pathreason.plugins.datasets.synthpath.generator import canonical_split, generate

    parsed = validate_options(SynthpathOptions, "synthpath", options)
    settings = parsed.model_dump(exclude_unset=True)
    n_train = settings.pop("n_train", None)
    if n_train is not None and canonical_split(split) == "train":
        settings["n"] = n_train  # a small labelled train split, evaluated on the usual test split
    return generate(split, **settings)


@hookimpl
def pathreason_datasets() -> list[DatasetSpec]:
    return [
        DatasetSpec(
            name="synthpath",
            factory=load,
            description="Synthetic H&E-like colon tiles for VQA, subtyping and detection, each task in three "
            "levels whose detail shows from 16, 64 and 256 visual tokens; generated from a seed, no download.",
            tasks=("vqa", "subtyping", "detection"),
        )
    ]
