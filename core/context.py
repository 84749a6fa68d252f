"""The run as a budgeter sees it: :class:`RunContext` implements :class:`pathreason.api.BudgetContext`.

It hands a two-stage budgeter the run's performer (any phase), its trained token allocator (loaded
once, checked against the performer it was trained for), its samples (e.g. a validation split to
calibrate on) and a place in the run folder to keep what the budgeter calibrated.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pathreason.api import RunError, Sample, Task
from pathreason.distributed import device, is_main_process
from pathreason.inference import ModelPerformer
from pathreason.runs import PERFORMER_PHASES

if TYPE_CHECKING:
    from pathreason.allocator.trained import RunAllocator
    from pathreason.config import RunConfig
    from pathreason.models.store import ModelStore
    from pathreason.phases import Phases
    from pathreason.runs import RunDir
    from pathreason.sources import SampleSource

__all__ = ["RunContext"]

logger = logging.getLogger(__name__)

_KEY = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")
#: The key under which a saved budgeter state records the performer weights it was computed with.
PERFORMERS_KEY = "pathreason_performers"


class RunContext:
    """The :class:`~pathreason.api.BudgetContext` of one run (see the module docstring)."""

    def __init__(self, config: RunConfig, run: RunDir, models: ModelStore, source: SampleSource,
                 tasks: Mapping[str, Task], phases: Phases) -> None:
        self.config = config
        self.run = run
        self.models = models
        self.source = source
        self.tasks = tasks
        self.phases = phases
        self.train_tokens = config.budget.train_tokens
        self.patch = config.budget.patch
        self.max_new_tokens = config.grpo.max_completion_length
        self.batch_size = config.evaluation.batch_size
        self._allocator: tuple[str, RunAllocator] | None = None

    def configure(self, max_new_tokens: int | None = None, batch_size: int | None = None) -> RunContext:
        """Set how long answers may be and how many images one generation takes (for what follows)."""
        self.max_new_tokens = max_new_tokens or self.config.grpo.max_completion_length
        self.batch_size = batch_size or self.config.evaluation.batch_size
        return self

    def resolve(self, phase: str | None) -> str:
        return phase or self.phases.latest()

    def performer(self, phase: str | None = None) -> ModelPerformer:
        model = self.models.performer(self.resolve(phase))
        return ModelPerformer(model, self.models.processor, self.tasks, self.models.box_frame, self.patch,
                              self.max_new_tokens, self.batch_size)

    def allocator(self, phase: str | None = None) -> RunAllocator:
        from pathreason.allocator.trained import RunAllocator, dual_policy, require_performer

        phase = require_performer(self.resolve(phase), self.run)
        if self._allocator is None or self._allocator[0] != phase:
            self._allocator = None
            policy = dual_policy(self.config, self.run, self.models, phase, trained=True)
            policy.model.to(device())
            policy.model.eval()
            self._allocator = (phase, RunAllocator(policy, self.models.processor, self.tasks, self.config,
                                                   self.models.box_frame, self.max_new_tokens, self.batch_size))
        allocator = self._allocator[1]
        allocator.batch_size = allocator.performer.batch_size = self.batch_size
        allocator.performer.max_new_tokens = self.max_new_tokens
        return allocator

    def forget(self) -> None:
        """Drop the cached allocator (it was retrained)."""
        self._allocator = None

    def samples(self, split: str, n: int | None = None) -> list[Sample]:
        return self.source.samples(split, n)

    def _state_path(self, key: str) -> Any:
        if not _KEY.match(key):
            raise RunError(f"budgeter state key {key!r}: use lower-case letters, digits, '_', '-' or '.'")
        return self.run.path / "budgeters" / f"{key}.json"

    def performers(self) -> dict[str, str]:
        """A fingerprint of the weights of each finished performer phase of the run. A budgeter state
        is kept with them and is stale once they change (a phase trained again in the same folder)."""
        from pathreason.allocator.policy import performer_fingerprint

        phases = self.run.read_state().phases if self.run.is_run() else {}
        out = {}
        for phase in PERFORMER_PHASES:
            if phases.get(phase) == "done":
                try:
                    out[phase] = performer_fingerprint(self.run.final_dir(phase))
                except RunError:
                    out[phase] = "no weights"
        return out

    def load_state(self, key: str) -> dict[str, Any] | None:
        """The state saved under ``key``; ``None`` when there is none, or when it was computed with
        performer weights that have since changed (so the budgeter calibrates again)."""
        path = self._state_path(key)
        if not path.is_file():
            return None
        try:
            value = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise RunError(f"{path} is damaged ({exc}); delete it to calibrate again") from None
        if not isinstance(value, dict):
            raise RunError(f"{path} does not hold a JSON object; delete it to calibrate again")
        saved = value.pop(PERFORMERS_KEY, None)
        if saved != self.performers():
            logger.info("%s was computed with other performer weights (%s); computing it again", path, saved)
            return None
        return value

    def save_state(self, key: str, value: Mapping[str, Any]) -> None:
        if not is_main_process():
            return
        path = self._state_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({**value, PERFORMERS_KEY: self.performers()}, indent=2))
        os.replace(tmp, path)
