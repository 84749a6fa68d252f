"""The models of one run: the base model, each phase's result, and the performer for inference.

:class:`ModelStore` resolves the configured model once (a preset, a local folder or a hub id), loads
the processor once, and loads a phase's result (a peft adapter on the base, or a whole fine-tuned
model) checking that it was trained on this base. The performer for inference is cached: evaluating
twice does not load it twice.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason.api import RunError
from pathreason.distributed import device

if TYPE_CHECKING:
    from pathreason.api import ModelSpec
    from pathreason.config import RunConfig
    from pathreason.runs import RunDir, RunState

logger = logging.getLogger(__name__)

BASE = "base"


def same_base(a: str, b: str) -> bool:
    """One base model: the same hub id, or local folders with the same name (e.g. ``tiny-<fingerprint>``)."""
    if a == b:
        return True
    pa, pb = Path(a), Path(b)
    return pa.is_absolute() and pb.is_absolute() and pa.name == pb.name


def read_adapter_config(folder: Path) -> dict[str, Any]:
    """The ``adapter_config.json`` of a peft adapter folder, or one line saying it is damaged."""
    config_path = folder / "adapter_config.json"
    try:
        meta = json.loads(config_path.read_bytes().decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise RunError(f"{config_path} is damaged ({type(exc).__name__}: {str(exc)[:200]}); "
                       "this adapter cannot be loaded: train the phase again") from None
    if not isinstance(meta, dict):
        raise RunError(f"{config_path} is damaged: it must hold a JSON object")
    return meta


def check_adapter_folder(folder: Path) -> None:
    """Refuse an incomplete adapter folder (or one with pickle weights) with one line naming it,
    before peft reads it (peft takes a folder without weights for a hub id)."""
    if not (folder / "adapter_model.safetensors").is_file():
        pickles = sorted(p.name for p in folder.glob("adapter_model.*") if p.suffix != ".safetensors")
        if pickles:
            raise RunError(f"{folder}: refused to load {', '.join(pickles)}: pickle weight files can run code when "
                           "loaded, and pathreason reads safetensors adapters only")
        raise RunError(f"{folder} holds adapter_config.json but no adapter_model.safetensors: the adapter is "
                       "incomplete (a copy or a save was cut short); train the phase again")


class ModelStore:
    """The configured model's location, processor and trained phases (see the module docstring).

    ``trust_remote_code`` lets ``from_pretrained`` run Python code shipped with a model; it is the
    caller's explicit choice for this store (never a config setting, see :mod:`pathreason.config`).
    """

    def __init__(self, config: RunConfig, run: RunDir, trust_remote_code: bool = False) -> None:
        from pathreason.models.loading import check_hub_id, find_preset

        self.config = config
        self.run = run
        self.trust_remote_code = trust_remote_code
        self.spec: ModelSpec | None = find_preset(config.model)
        if self.spec is None and not Path(config.model).expanduser().is_dir():
            check_hub_id(config.model)  # now, not after the data has loaded
        self._location: str | None = None
        self._processor: Any = None
        self._performer: tuple[str, Any] | None = None  # (phase, model)

    @property
    def box_frame(self) -> str:
        """The run's box coordinates: ``config.box_frame``, or with ``"model"`` the model family's
        (``"absolute"`` pixels unless the preset says otherwise)."""
        if self.config.box_frame != "model":
            return self.config.box_frame
        return self.spec.box_frame if self.spec is not None else "absolute"

    @property
    def location(self) -> str:
        """Where ``from_pretrained`` finds the base model (a preset is built or resolved on first use)."""
        if self._location is None:
            from pathreason.models.loading import resolve_model

            self._location, _ = resolve_model(self.config.model)
        return self._location

    @property
    def processor(self) -> Any:
        if self._processor is None:
            from pathreason.models.loading import load_processor

            self._processor = load_processor(self.location, trust_remote_code=self.trust_remote_code)
        return self._processor

    def base(self) -> Any:
        """A fresh copy of the base model."""
        from pathreason.models.loading import load_model

        return load_model(self.location, trust_remote_code=self.trust_remote_code)

    def load_full(self, folder: str | Path) -> Any:
        """A whole model saved in ``folder`` (a fully fine-tuned phase)."""
        from pathreason.models.loading import load_model

        return load_model(str(folder), trust_remote_code=self.trust_remote_code)

    def phase(self, phase: str | None, trainable: bool = False) -> Any:
        """The performer after ``phase`` ("sft", "grpo"; ``None`` or "base" for the untrained base)."""
        if phase in (None, BASE):
            return self.base()
        final = self.run.final_dir(phase)
        if not final.is_dir():
            raise RunError(f"{self.run.path}: phase {phase!r} has no result at {final}; train it first")
        if (final / "adapter_config.json").is_file():
            from peft import PeftModel

            self.check_adapter(final)
            base = self.base()
            try:
                return PeftModel.from_pretrained(base, str(final), is_trainable=trainable)
            except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
                raise RunError(f"{final}: the adapter cannot be loaded ({type(exc).__name__}: "
                               f"{str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ''})") from exc
        return self.load_full(final)

    def performer(self, phase: str) -> Any:
        """The performer of ``phase`` for inference, on this process's device, in eval mode (cached)."""
        if self._performer is None or self._performer[0] != phase:
            self._performer = None  # free the previous one before loading the next
            model = self.phase(phase)
            model.to(device())
            model.eval()
            self._performer = (phase, model)
        return self._performer[1]

    def forget(self) -> None:
        """Drop the cached performer (a phase was retrained)."""
        self._performer = None

    def check_adapter(self, folder: Path) -> None:
        """Refuse an adapter trained on another base model, or damaged or incomplete
        (:func:`read_adapter_config`, :func:`check_adapter_folder`)."""
        base = read_adapter_config(folder).get("base_model_name_or_path")
        if not isinstance(base, str | None):
            raise RunError(f"{folder / 'adapter_config.json'} is damaged: base_model_name_or_path is not a string")
        if base and Path(base).resolve() != Path(self.location).resolve() and base != self.location:
            raise RunError(f"the adapter in {folder} was trained for base model {base!r}, but this run's model "
                           f"{self.config.model!r} resolves to {self.location!r}")
        check_adapter_folder(folder)

    def check_base(self, state: RunState) -> None:
        """Refuse a run folder trained from another model."""
        if state.base_model != self.config.model:
            raise RunError(f"{self.run.path} was trained from model {state.base_model!r}, "
                           f"but the config asks for {self.config.model!r}")
        if not same_base(state.base_location, self.location):
            raise RunError(f"{self.run.path} was trained on the base model at {state.base_location!r}, but "
                           f"{self.config.model!r} now resolves to {self.location!r} (a preset rebuilt by "
                           "another pathreason version?); its checkpoints do not fit this base")


__all__ = ["BASE", "ModelStore", "check_adapter_folder", "read_adapter_config", "same_base"]
