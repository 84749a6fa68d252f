"""Shared fixtures. Tests never touch a model hub: everything is built locally."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")


@pytest.fixture(scope="session", autouse=True)
def pathreason_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private PATHREASON_HOME for the whole session (the tiny preset is built once into it)."""
    home = Path(os.environ.get("PATHREASON_TEST_HOME") or tmp_path_factory.mktemp("pathreason-home"))
    os.environ["PATHREASON_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def tiny_path(pathreason_home: Path) -> Path:
    """The embedded tiny preset, built through the same path a user's first run takes."""
    from pathreason.plugins.models.tiny import tiny_path as build

    return build()


@pytest.fixture()
def fresh_plugins():
    """A plugin manager that reloads entry points, restored afterwards."""
    from pathreason.manager import set_plugin_manager

    old = set_plugin_manager(None)
    yield
    set_plugin_manager(old)
