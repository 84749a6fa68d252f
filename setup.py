"""Map the design card's folders onto the import package ``pathreason``.

``core/`` is ``pathreason``; ``tasks/``, ``rewards/`` and ``plugins/`` are its sub-packages.
Everything else (metadata, dependencies, entry points) is in ``pyproject.toml``.
"""

from setuptools import find_packages, setup

FOLDERS = {
    "pathreason": "core",
    "pathreason.tasks": "tasks",
    "pathreason.rewards": "rewards",
    "pathreason.plugins": "plugins",
}

packages: list[str] = []
for package, folder in FOLDERS.items():
    packages.append(package)
    packages.extend(f"{package}.{sub}" for sub in find_packages(folder))

setup(packages=packages, package_dir=FOLDERS)
