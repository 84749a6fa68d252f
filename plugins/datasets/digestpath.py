"""Dataset plugin ``digestpath``: read from a local folder (``root=``), never downloaded.

The reader is :mod:`pathreason.plugins.datasets.readers.digestpath` (imported on first use).
"""

from pathreason.plugins.datasets.local import local_dataset

pathreason_datasets = local_dataset(
    "digestpath", tasks=('detection',),
    description="DigestPath 2019 tissue: colon lesion detection, JPEG masks cut into 1024-pixel tiles.",
)
