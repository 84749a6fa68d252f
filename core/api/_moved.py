"""Old import paths that keep working for one minor version, with a warning naming the new home."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from pathreason.api.errors import PathreasonDeprecationWarning

REMOVED_IN = "0.3"


def moved(old_module: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``old_module`` whose names moved to ``homes`` (name -> module).

    Reading a moved name warns (:class:`PathreasonDeprecationWarning`, naming the new home) and
    returns the object itself, so ``isinstance`` checks and subclasses keep working.
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        warnings.warn(f"{old_module}.{name} moved to {home}.{name}; import it from there "
                      f"({old_module} keeps it until pathreason {REMOVED_IN})",
                      PathreasonDeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(home), name)

    return __getattr__
