"""``pathreason.api``: everything a plugin needs, in one import.

    from pathreason.api import DatasetSpec, Sample, Task, TaskSpec, hookimpl

The hook specifications and ``hookimpl``; the spec records plugins return (one table of plugin
kinds, :data:`KINDS`); the errors; the canonical :class:`Sample`; the budget maths and the
:class:`View` of an image under a budget; the :class:`Task` base class; the budgeter protocols; the
completion helpers; the paper's shared prompts; and what a dataset plugin reports. This package
imports nothing else from pathreason, and nothing heavy (no torch): a plugin that imports it loads in
milliseconds.
"""

from __future__ import annotations

from pathreason.api.budget import (
    PATCH,
    TRAIN_BUDGET,
    View,
    clamp_tokens,
    count_tokens,
    make_view,
    native_tokens,
    original_tokens,
    rescale_boxes,
    resize_for_view,
    resize_to_budget,
    smart_resize,
)
from pathreason.api.budgeters import (
    Allocation,
    Answer,
    BoundBudgeter,
    BudgetContext,
    Budgeter,
    Decision,
    Performer,
    TrainedAllocator,
    TwoStageBudgeter,
)
from pathreason.api.completions import (
    MAX_TOKEN_COUNT,
    Completion,
    completion_text,
    extract_answer,
    extract_rationale,
    is_well_formed,
    parse_boxes,
    parse_boxes_array,
    parse_token_count,
)
from pathreason.api.datasets import DatasetSummary, LoadedSamples, LoadReport, Problem
from pathreason.api.errors import (
    BudgetError,
    ConfigError,
    DataError,
    PathreasonDeprecationWarning,
    PathreasonError,
    PluginError,
    RunError,
    UnknownNameError,
    did_you_mean,
)
from pathreason.api.hookspecs import ENTRY_POINT_GROUP, HOOKS, PROJECT_NAME, hookimpl, hookspec
from pathreason.api.prompts import ALLOCATION_PROMPT, SYSTEM_PROMPT, allocation_prompt, format_options
from pathreason.api.sample import ImageRef, Sample, dataset_to_samples, samples_to_dataset
from pathreason.api.slides import SlideBudgeter, SlideTile
from pathreason.api.specs import (
    KINDS,
    BudgeterSpec,
    DatasetSpec,
    Kind,
    ModelSpec,
    RewardSpec,
    SlideBudgeterSpec,
    Spec,
    TaskSpec,
    normalize_name,
)
from pathreason.api.task import Task

__all__ = [
    "ALLOCATION_PROMPT",
    "ENTRY_POINT_GROUP",
    "HOOKS",
    "KINDS",
    "MAX_TOKEN_COUNT",
    "PATCH",
    "PROJECT_NAME",
    "SYSTEM_PROMPT",
    "TRAIN_BUDGET",
    "Allocation",
    "Answer",
    "BoundBudgeter",
    "BudgetContext",
    "BudgetError",
    "Budgeter",
    "BudgeterSpec",
    "Completion",
    "ConfigError",
    "DataError",
    "DatasetSpec",
    "DatasetSummary",
    "Decision",
    "ImageRef",
    "Kind",
    "LoadReport",
    "LoadedSamples",
    "ModelSpec",
    "PathreasonDeprecationWarning",
    "PathreasonError",
    "Performer",
    "PluginError",
    "Problem",
    "RewardSpec",
    "RunError",
    "Sample",
    "SlideBudgeter",
    "SlideBudgeterSpec",
    "SlideTile",
    "Spec",
    "Task",
    "TaskSpec",
    "TrainedAllocator",
    "TwoStageBudgeter",
    "UnknownNameError",
    "View",
    "allocation_prompt",
    "clamp_tokens",
    "completion_text",
    "count_tokens",
    "dataset_to_samples",
    "did_you_mean",
    "extract_answer",
    "extract_rationale",
    "format_options",
    "hookimpl",
    "hookspec",
    "is_well_formed",
    "make_view",
    "native_tokens",
    "normalize_name",
    "original_tokens",
    "parse_boxes",
    "parse_boxes_array",
    "parse_token_count",
    "rescale_boxes",
    "resize_for_view",
    "resize_to_budget",
    "samples_to_dataset",
    "smart_resize",
]
