"""Exceptions raised by pathreason. Every message says what was wrong, where, and what to do."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["BudgetError", "ConfigError", "DataError", "PathreasonDeprecationWarning", "PathreasonError",
           "PluginError", "RunError", "UnknownNameError", "did_you_mean"]


class PathreasonError(Exception):
    """Base class of every error pathreason raises on purpose."""


class PluginError(PathreasonError):
    """A plugin failed to load, or two plugins claim the same name."""


class UnknownNameError(PathreasonError, KeyError):
    """A task, reward, budgeter, dataset or model name that no active plugin provides."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConfigError(PathreasonError, ValueError):
    """A configuration value is invalid."""


class BudgetError(PathreasonError, ValueError):
    """An image cannot be resized to a visual-token budget (zero size, extreme aspect ratio...)."""


class DataError(PathreasonError, ValueError):
    """A dataset folder or record is missing or malformed."""


class RunError(PathreasonError):
    """A run folder is not a pathreason run, or does not match the config or the model."""


class PathreasonDeprecationWarning(DeprecationWarning):
    """A name used from the place it moved away from; the message names its new home."""


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" Did you mean 'x'?"`` for the closest known name, or an empty string.

    >>> did_you_mean("detecton", ["vqa", "detection"])
    " Did you mean 'detection'?"
    """
    close = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""
