"""pathreason's first-party tasks: ``vqa``, ``subtyping`` and ``detection``, registered as plugins
(:mod:`pathreason.tasks.plugin`). Each owns its prompt (:mod:`.prompts`) and metrics (:mod:`.metrics`)."""

from pathreason.api._moved import moved

__getattr__ = moved(__name__, {"Task": "pathreason.api.task", "View": "pathreason.api.budget",
                               "make_view": "pathreason.api.budget"})
