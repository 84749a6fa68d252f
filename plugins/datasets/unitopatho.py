"""Dataset plugin ``unitopatho``: read from a local folder (``root=``), never downloaded.

The reader is :mod:`pathreason.plugins.datasets.readers.unitopatho` (imported on first use).
"""

from pathreason.plugins.datasets.local import local_dataset

pathreason_datasets = local_dataset(
    "unitopatho", tasks=('subtyping',),
    description="UniToPatho: colorectal polyp subtyping, 6 classes (800/{train,test}.csv).",
)
