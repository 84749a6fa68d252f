"""Deprecated: the spec records are in :mod:`pathreason.api` (this path works until pathreason 0.3)."""

from pathreason.api._moved import moved

__getattr__ = moved(__name__, {
    'TaskSpec': 'pathreason.api.specs',
    'RewardSpec': 'pathreason.api.specs',
    'BudgeterSpec': 'pathreason.api.specs',
    'DatasetSpec': 'pathreason.api.specs',
    'ModelSpec': 'pathreason.api.specs',
    'Spec': 'pathreason.api.specs',
    'KINDS': 'pathreason.api.specs',
    'normalize_name': 'pathreason.api.specs',
})
