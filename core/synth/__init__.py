"""The embedded synthetic pathology benchmark ``synthpath`` and the real H&E tiles it can use.

``pathreason.get_dataset("synthpath")`` is :func:`generate`; :mod:`.tissue` draws the images.
"""

from pathreason.synth.benchmark import CLASS_NAMES, DEFAULT_SIZES, SPLITS, TASKS, generate, make_sample
from pathreason.synth.he_tiles import he_tile_paths, load_he_tiles

__all__ = ["CLASS_NAMES", "DEFAULT_SIZES", "SPLITS", "TASKS", "generate", "he_tile_paths", "load_he_tiles", "make_sample"]
