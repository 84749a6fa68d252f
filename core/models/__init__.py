"""Loading models (``from_pretrained`` with the checks a run folder needs), the image-only processor
and the run's model store; the presets themselves are plugins (:mod:`pathreason.plugins.models`)."""
