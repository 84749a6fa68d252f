"""pathreason's first-party plugins (budgeters, model presets, dataset loaders).

They are registered through the ``pathreason`` entry-point group exactly like third-party
plugins; nothing here is imported by ``import pathreason``.
"""
