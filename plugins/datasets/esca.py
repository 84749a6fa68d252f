"""Dataset plugin ``esca``: read from a local folder (``root=``), never downloaded.

The reader is :mod:`pathreason.plugins.datasets.readers.esca` (imported on first use).
"""

from pathreason.plugins.datasets.local import local_dataset

pathreason_datasets = local_dataset(
    "esca", tasks=('subtyping',),
    description="ESCA: oesophageal tissue classes, 11 classes, split by centre (<centre>/<CLASS>/*.jpg).",
)
