"""Fixtures of the runtime tests."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pathreason.manager import set_plugin_manager


@pytest.fixture()
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary site directory on sys.path and a fresh plugin manager reading it; plugin modules
    written there are named ``tp_*`` and forgotten afterwards (see ``_plugin_site.make_distribution``)."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.delenv("PATHREASON_STRICT_PLUGINS", raising=False)
    monkeypatch.delenv("PATHREASON_DISABLE_PLUGINS", raising=False)
    old = set_plugin_manager(None)
    yield root
    for mod in [m for m in sys.modules if m.startswith("tp_")]:
        del sys.modules[mod]
    set_plugin_manager(old)
