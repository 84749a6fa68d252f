"""Deprecated: the errors are in :mod:`pathreason.api` (this path works until pathreason 0.3)."""

from pathreason.api._moved import moved

__getattr__ = moved(__name__, {
    'BudgetError': 'pathreason.api.errors',
    'ConfigError': 'pathreason.api.errors',
    'DataError': 'pathreason.api.errors',
    'PathreasonError': 'pathreason.api.errors',
    'PluginError': 'pathreason.api.errors',
    'RunError': 'pathreason.api.errors',
    'UnknownNameError': 'pathreason.api.errors',
    'did_you_mean': 'pathreason.api.errors',
})
