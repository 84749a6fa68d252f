"""The run folder: resolved config, phase state, adapters in peft layout, logs, predictions, reports.

::

    run/
      config.yaml            the resolved RunConfig
      state.json             version, base model, phases done
      sft/ grpo/ allocator/  TRL output folders (checkpoint-N/ while training)
      sft/final/ ...         the phase's result: a peft adapter (adapter_config.json +
                             adapter_model.safetensors) or, for full fine-tuning, a whole model
      logs/<phase>.json      the trainer's log history
      eval/<budgeter>/       predictions.jsonl, report.json

Nothing is pickled.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pathreason.api import RunError

PHASES = ("sft", "grpo", "allocator")
STATE_FILE = "state.json"
CONFIG_FILE = "config.yaml"


@dataclass
class RunState:
    version: str
    base_model: str
    base_location: str
    phases: dict[str, str] = field(default_factory=dict)  # phase -> "done"
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "base_model": self.base_model, "base_location": self.base_location,
                "phases": self.phases, "extra": self.extra}


class RunDir:
    """Paths and state of one run folder."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def phase_dir(self, phase: str) -> Path:
        return self.path / phase

    def final_dir(self, phase: str) -> Path:
        return self.path / phase / "final"

    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def state_path(self) -> Path:
        return self.path / STATE_FILE

    def is_run(self) -> bool:
        return self.config_path.is_file() and self.state_path.is_file()

    def read_state(self) -> RunState:
        if not self.is_run():
            raise RunError(f"{self.path} is not a pathreason run folder: expected {CONFIG_FILE} and {STATE_FILE} "
                           "(written by Engine.train / pathreason train)")
        try:
            data = json.loads(self.state_path.read_text())
            return RunState(version=data["version"], base_model=data["base_model"],
                            base_location=data["base_location"], phases=dict(data.get("phases", {})),
                            extra=dict(data.get("extra", {})))
        except (ValueError, KeyError) as exc:
            raise RunError(f"{self.state_path} is damaged ({exc}); it is not a readable pathreason run state") from None

    def write_state(self, state: RunState) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state.as_dict(), indent=2))
        os.replace(tmp, self.state_path)  # atomic: a kill never leaves half a state file

    def last_checkpoint(self, phase: str) -> Path | None:
        """The newest complete ``checkpoint-N`` of a phase (one holding a trainer_state.json)."""
        folder = self.phase_dir(phase)
        if not folder.is_dir():
            return None
        found = []
        for child in folder.iterdir():
            m = re.fullmatch(r"checkpoint-(\d+)", child.name)
            if m and (child / "trainer_state.json").is_file():
                found.append((int(m.group(1)), child))
        return max(found)[1] if found else None

    def write_log(self, phase: str, history: list[dict[str, Any]]) -> Path:
        out = self.path / "logs" / f"{phase}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(history, indent=1))
        return out

    def read_log(self, phase: str) -> list[dict[str, Any]]:
        path = self.path / "logs" / f"{phase}.json"
        return json.loads(path.read_text()) if path.is_file() else []
