"""The files ``pathreason new-plugin NAME`` writes, shipped as package data.

``plugin/`` is a complete, working plugin package for the name ``example``: the distribution
``pathreason-plugin-example``, the module ``pathreason_plugin_example``, the task class
``ExampleTask``. :func:`pathreason.template.write_plugin` copies it with those names replaced by the
user's. The files are real code rather than strings with placeholders, so ruff and mypy check them
with the rest of pathreason, and ``tests/core/test_template.py`` installs the plugin they make, runs
its tests and trains on it.
"""
