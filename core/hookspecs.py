"""Deprecated: the hook specifications are in :mod:`pathreason.api` (this path works until pathreason 0.3)."""

from pathreason.api._moved import moved

__getattr__ = moved(__name__, {
    'hookimpl': 'pathreason.api.hookspecs',
    'hookspec': 'pathreason.api.hookspecs',
    'HOOKS': 'pathreason.api.hookspecs',
    'PROJECT_NAME': 'pathreason.api.hookspecs',
    'ENTRY_POINT_GROUP': 'pathreason.api.hookspecs',
    'pathreason_tasks': 'pathreason.api.hookspecs',
    'pathreason_rewards': 'pathreason.api.hookspecs',
    'pathreason_budgeters': 'pathreason.api.hookspecs',
    'pathreason_datasets': 'pathreason.api.hookspecs',
    'pathreason_models': 'pathreason.api.hookspecs',
})
