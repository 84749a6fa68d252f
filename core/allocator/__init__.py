"""The token allocator (paper §3.2.2): a second LoRA policy that picks each image's visual-token budget.

=====================  ============================================================================
module                 what it holds
=====================  ============================================================================
:mod:`.inputs`         the allocation prompt and the allocator's view of an image
:mod:`.policy`         one model, two roles (frozen performer, allocator adapter); save and check
:mod:`.reward`         the performer's score at each allocated budget, under the allocation rule
:mod:`.oracle`         each image's oracle budget (smallest budget answered right)
:mod:`.warmup`         the SFT warm-up before GRPO
:mod:`.training`       the allocator phase: warm-up, then GRPO
:mod:`.trained`        a run's trained allocator at inference (``allocate``)
=====================  ============================================================================

The ``allocator`` budgeter plugin runs it through :class:`pathreason.api.BudgetContext`: the engine
binds the budgeter to the run, and the budgeter asks the context for the trained allocator.
"""

from pathreason.allocator.inputs import AllocatorInput, allocation_messages, allocator_input, allocator_rows
from pathreason.allocator.oracle import oracle_budgets, oracle_targets
from pathreason.allocator.policy import (
    ALLOCATOR_ADAPTER,
    META_FILE,
    PERFORMER_ADAPTER,
    DualPolicy,
    build_policy,
    check_allocator,
    performer_fingerprint,
    save_allocator,
)
from pathreason.allocator.reward import AllocationReward, PerformerScorer
from pathreason.allocator.trained import RunAllocator, allocate, dual_policy
from pathreason.allocator.warmup import warmup_rows

__all__ = ["ALLOCATOR_ADAPTER", "META_FILE", "PERFORMER_ADAPTER", "AllocationReward", "AllocatorInput", "DualPolicy",
           "PerformerScorer", "RunAllocator", "allocate", "allocation_messages", "allocator_input", "allocator_rows",
           "build_policy", "check_allocator", "dual_policy", "oracle_budgets", "oracle_targets",
           "performer_fingerprint", "save_allocator", "warmup_rows"]
