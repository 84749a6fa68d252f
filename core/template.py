"""``pathreason new-plugin NAME``: write a ready-to-install plugin package.

The package is a copy of the template shipped in :mod:`pathreason.templates` (``plugin/``), a
working plugin named ``example``, with its names replaced by the user's:

- ``pathreason_plugin_example``, the module (its folder and the imports), becomes
  ``pathreason_plugin_gland_count`` for the name ``gland-count``;
- ``pathreason-plugin-example``, the distribution, becomes ``pathreason-plugin-gland-count``;
- ``Example``, the stem of the task class ``ExampleTask``, becomes ``GlandCount``;
- ``example``, the name of the task, the reward and the dataset, becomes ``gland-count``.

The template holds a task (a yes/no question about the image, a :class:`pathreason.api.Task`
subclass), its reward (TRL's contract, registered with a :class:`~pathreason.api.RewardSpec`) and a
dataset that draws its own small H&E-like tiles with Pillow, so that
``Engine(task=NAME, dataset=NAME).train()`` runs offline on the tiny model. It comes with a README
and tests that use :mod:`pathreason.testing`::

    pathreason-plugin-NAME/
        pyproject.toml                  [project.entry-points.pathreason] NAME = "pathreason_plugin_NAME"
        README.md
        pathreason_plugin_NAME/__init__.py
        tests/conftest.py               pytest_plugins = ["pathreason.testing"]
        tests/test_plugin.py

Because the template is real code, ruff and mypy check it with the rest of pathreason, and the
package ``write_plugin("example")`` writes is the template byte for byte.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from pathreason.api import PathreasonError

__all__ = ["PLACEHOLDER", "TemplateError", "plugin_files", "template_files", "validate_name", "write_plugin"]

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")
MAX_NAME_LENGTH = 40
#: The plugin name the shipped template is written for.
PLACEHOLDER = "example"
# One pass over the text (longest alternatives first), so that a replacement is never replaced again:
# the name "example2" must not turn "pathreason_plugin_example" into "pathreason_plugin_example22".
_NAMES = re.compile(rf"pathreason_plugin_{PLACEHOLDER}|pathreason-plugin-{PLACEHOLDER}|"
                    rf"{PLACEHOLDER.capitalize()}|{PLACEHOLDER}")
# Written by Python, pytest or an editor in a checkout; never part of the template.
_SKIPPED = re.compile(r"^(?:__pycache__|\..*|.*\.py[cod])$")


class TemplateError(PathreasonError, ValueError):
    """A plugin name that cannot be used, or a folder that is already there."""


def validate_name(name: str) -> str:
    """``name`` if it can name a plugin package, else :class:`TemplateError` saying what is allowed.

    >>> validate_name("gland-count")
    'gland-count'
    """
    allowed = ("use lower-case letters and digits, starting with a letter, optionally in parts joined by "
               "single '-' or '_' (e.g. 'mitosis', 'gland-count'), at most "
               f"{MAX_NAME_LENGTH} characters")
    if name.startswith(("pathreason-plugin-", "pathreason_plugin_")):
        short = name[len("pathreason-plugin-"):]
        raise TemplateError(f"plugin name {name!r}: give the short name ({short!r}); the package is "
                            f"called pathreason-plugin-{short}")
    if not _NAME.match(name) or len(name) > MAX_NAME_LENGTH:
        raise TemplateError(f"plugin name {name!r} is not allowed: {allowed}")
    return name


def _check_unclaimed(name: str) -> None:
    """A name that an installed plugin already uses would make the new task ambiguous."""
    from pathreason.manager import get_plugin_manager

    pm = get_plugin_manager()
    for info in pm.plugin_infos():
        if info.name == name:
            raise TemplateError(f"plugin name {name!r} is taken by the installed {info.where()}; pick another name")
    for kind in ("task", "reward", "dataset"):
        for spec in pm.specs(kind).values():
            if name == spec.name or name in spec.aliases:
                raise TemplateError(f"{name!r} is already the name of an installed {kind}; pick another name")


def template_files() -> dict[str, str]:
    """The shipped template (the plugin package for :data:`PLACEHOLDER`) by relative path."""
    found: dict[str, str] = {}
    folders = [(resources.files("pathreason.templates") / "plugin", "")]
    while folders:
        folder, prefix = folders.pop()
        for entry in folder.iterdir():
            if _SKIPPED.match(entry.name):
                continue
            if entry.is_dir():
                folders.append((entry, f"{prefix}{entry.name}/"))
            else:
                found[prefix + entry.name] = entry.read_bytes().decode("utf-8")
    return dict(sorted(found.items()))


def plugin_files(name: str) -> dict[str, str]:
    """The files of the plugin package ``pathreason-plugin-<name>`` by relative path: the template
    with ``pathreason_plugin_example``, ``pathreason-plugin-example``, ``Example`` and ``example``
    replaced by the module, the distribution, the class-name stem and the plugin name of ``name``.

    >>> plugin_files("gland-count")["pyproject.toml"].count('gland-count = "pathreason_plugin_gland_count"')
    1
    """
    name = validate_name(name)
    replacements = {
        f"pathreason_plugin_{PLACEHOLDER}": "pathreason_plugin_" + name.replace("-", "_"),
        f"pathreason-plugin-{PLACEHOLDER}": f"pathreason-plugin-{name}",
        PLACEHOLDER.capitalize(): "".join(part.capitalize() for part in re.split(r"[-_]", name)),
        PLACEHOLDER: name,
    }

    def rename(text: str) -> str:
        return _NAMES.sub(lambda match: replacements[match.group()], text)

    return {rename(path): rename(text) for path, text in template_files().items()}


def write_plugin(name: str, directory: str | Path = ".") -> Path:
    """Write ``pathreason-plugin-<name>/`` into ``directory`` and return its path.

    Raises :class:`TemplateError` when the name is not allowed, when an installed plugin already
    provides it, or when the folder exists.
    """
    files = plugin_files(name)
    _check_unclaimed(name)
    folder = Path(directory) / f"pathreason-plugin-{name}"
    if folder.exists():
        raise TemplateError(f"{folder} already exists; remove it or choose another directory (--directory)")
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return folder
