# Fixtures of pathreason.testing (plugin_manager) for every test here.
pytest_plugins = ["pathreason.testing"]
