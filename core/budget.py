"""Deprecated: the budget maths are in :mod:`pathreason.api` (this path works until pathreason 0.3)."""

from pathreason.api._moved import moved

__getattr__ = moved(__name__, {
    'PATCH': 'pathreason.api.budget',
    'TRAIN_BUDGET': 'pathreason.api.budget',
    'MAX_ASPECT_RATIO': 'pathreason.api.budget',
    'smart_resize': 'pathreason.api.budget',
    'count_tokens': 'pathreason.api.budget',
    'native_tokens': 'pathreason.api.budget',
    'original_tokens': 'pathreason.api.budget',
    'resize_to_budget': 'pathreason.api.budget',
    'rescale_boxes': 'pathreason.api.budget',
    'View': 'pathreason.api.budget',
    'make_view': 'pathreason.api.budget',
    'resize_for_view': 'pathreason.api.budget',
})
