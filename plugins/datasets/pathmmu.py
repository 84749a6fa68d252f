"""Dataset plugin ``pathmmu``: read from a local folder (``root=``), never downloaded.

The reader is :mod:`pathreason.plugins.datasets.readers.pathmmu` (imported on first use).
"""

from pathreason.plugins.datasets.local import local_dataset

pathreason_datasets = local_dataset(
    "pathmmu", tasks=('vqa',),
    description="PathMMU: expert multiple-choice questions on pathology images (data.json + images/).", default_split="test",
)
