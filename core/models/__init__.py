"""Model presets, the tiny embedded model and loading through ``from_pretrained``."""
