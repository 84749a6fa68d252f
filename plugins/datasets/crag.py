"""Dataset plugin ``crag``: read from a local folder (``root=``), never downloaded.

The reader is :mod:`pathreason.plugins.datasets.readers.crag` (imported on first use).
"""

from pathreason.plugins.datasets.local import local_dataset

pathreason_datasets = local_dataset(
    "crag", tasks=('detection',),
    description="CRAG: colorectal gland detection, label maps cut into 1024-pixel tiles.",
)
