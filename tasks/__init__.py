"""pathreason's first-party tasks: ``vqa``, ``subtyping`` and ``detection`` (registered as plugins)."""

from pathreason.tasks.base import Task, View, make_view

__all__ = ["Task", "View", "make_view"]
