"""Dataset plugin ``pathvqa``: read from a local folder (``root=``), never downloaded.

The reader is :mod:`pathreason.plugins.datasets.readers.pathvqa` (imported on first use).
"""

from pathreason.plugins.datasets.local import local_dataset

pathreason_datasets = local_dataset(
    "pathvqa", tasks=('vqa',),
    description="PathVQA: open and yes/no questions on pathology images (HF parquet or the original pickles).",
)
