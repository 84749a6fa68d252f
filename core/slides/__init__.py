"""Whole-slide images: read a slide with OpenSlide, find its tissue, give each tissue tile its budget
under a slide budget, answer the tiles and report the slide; for one slide or a cohort.

:func:`run_slide` (behind :meth:`pathreason.Engine.predict_slide`) does one slide; :func:`run_cohort`
(behind ``pathreason slides``) a folder of them, resumable and sharded across processes. The modules:
:mod:`~pathreason.slides.reader` (OpenSlide, resolution, lazily read tiles),
:mod:`~pathreason.slides.tissue` (Otsu on saturation), :mod:`~pathreason.slides.tiles` (the grid),
:mod:`~pathreason.slides.streaming` (the reader thread), :mod:`~pathreason.slides.budgeting` (plan,
share the slide budget, answer), :mod:`~pathreason.slides.aggregate` (slide label, merged boxes),
:mod:`~pathreason.slides.geojson`, :mod:`~pathreason.slides.truth`, :mod:`~pathreason.slides.report`
and :mod:`~pathreason.slides.cohort`.
"""

from __future__ import annotations

from pathreason.slides.report import SlideReport, write_report
from pathreason.slides.runner import SlideJob, get_slide_budgeter, run_slide
from pathreason.slides.tiles import Region, parse_region

__all__ = ["Region", "SlideJob", "SlideReport", "get_slide_budgeter", "parse_region", "run_slide", "write_report"]
