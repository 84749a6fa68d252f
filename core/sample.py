"""Deprecated: ``Sample`` and ``ImageRef`` are in :mod:`pathreason.api` (this path works until pathreason 0.3)."""

from pathreason.api._moved import moved

__getattr__ = moved(__name__, {
    'ImageRef': 'pathreason.api.sample',
    'Sample': 'pathreason.api.sample',
    'dataset_to_samples': 'pathreason.api.sample',
    'samples_to_dataset': 'pathreason.api.sample',
    'dataset_features': 'pathreason.api.sample',
    'option_letter': 'pathreason.api.sample',
    'LETTERS': 'pathreason.api.sample',
    'QUESTION_TYPES': 'pathreason.api.sample',
})
