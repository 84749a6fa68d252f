"""Deprecated: ``Task``, ``View``, ``make_view`` and ``resize_for_view`` are in :mod:`pathreason.api`
(this path works until pathreason 0.3)."""

from pathreason.api._moved import moved

__getattr__ = moved(__name__, {
    'Task': 'pathreason.api.task',
    'View': 'pathreason.api.budget',
    'make_view': 'pathreason.api.budget',
    'resize_for_view': 'pathreason.api.budget',
})
