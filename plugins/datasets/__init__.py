"""Dataset plugins: the embedded ``synthpath`` benchmark and loaders for the paper's six datasets.

Each module here is one entry point of the ``pathreason`` group and imports nothing heavy: the
readers live in :mod:`pathreason.plugins.datasets.readers` and are imported by the factories.
"""
