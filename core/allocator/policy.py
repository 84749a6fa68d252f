"""One model in memory, two roles: the frozen task performer and the token allocator's adapter.

* the **performer**: the trained task performer, frozen: the base with the performer's adapter
  (LoRA recipe), or the fully fine-tuned performer itself with the allocator adapter switched off
  (the tiny preset's recipe);
* the **allocator**: a LoRA adapter named ``"allocator"`` on the same base.

The allocator adapter is saved alone in the standard peft layout, with ``pathreason_allocator.json``
naming the performer (a fingerprint of its weights) and the base it was trained for, so that an
allocator is never used with another performer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pathreason.api import RunError

if TYPE_CHECKING:
    from pathreason.config import AllocatorSection

__all__ = ["ALLOCATOR_ADAPTER", "META_FILE", "PERFORMER_ADAPTER", "DualPolicy", "build_policy", "check_allocator",
           "performer_fingerprint", "save_allocator"]

ALLOCATOR_ADAPTER = "allocator"
PERFORMER_ADAPTER = "performer"
META_FILE = "pathreason_allocator.json"


class DualPolicy:
    """One model in memory, two roles: :meth:`performer` and :meth:`allocator` (context managers).

    ``performer_adapter`` is the performer's adapter name, or ``None`` when the performer is the
    base itself (fully fine-tuned) and the allocator adapter is simply switched off for it.
    """

    def __init__(self, model: Any, performer_adapter: str | None) -> None:
        self.model = model
        self.performer_adapter = performer_adapter

    @contextmanager
    def performer(self) -> Iterator[Any]:
        was_training = self.model.training
        self.model.eval()
        try:
            if self.performer_adapter is None:
                with self.model.disable_adapter():
                    yield self.model
            else:
                self.model.set_adapter(self.performer_adapter)
                try:
                    yield self.model
                finally:
                    self.model.set_adapter(ALLOCATOR_ADAPTER)  # and the allocator is trainable again
        finally:
            self.model.train(was_training)

    @contextmanager
    def allocator(self) -> Iterator[Any]:
        was_training = self.model.training
        self.model.eval()
        try:
            yield self.model
        finally:
            self.model.train(was_training)


def performer_fingerprint(folder: Path) -> str:
    """A short hash of a performer's weights (adapter or full model files) in ``folder``."""
    h = hashlib.sha256()
    files = sorted(folder.glob("adapter_model.safetensors")) or sorted(folder.glob("*.safetensors"))
    if not files:
        raise RunError(f"{folder}: no weights (*.safetensors) to fingerprint")
    for f in files:
        h.update(f.name.encode())
        h.update(str(f.stat().st_size).encode())
        with f.open("rb") as fh:
            h.update(fh.read(64 << 20))  # the first 64 MiB: the whole of any adapter, a sample of a full model
    return h.hexdigest()[:16]


def build_policy(performer_dir: Path, load_base: Callable[[], Any], load_full: Callable[[str], Any],
                 section: AllocatorSection, allocator_dir: Path | None = None, trainable: bool = False) -> DualPolicy:
    """The performer found in ``performer_dir`` plus the allocator adapter: new (``allocator_dir``
    None, for training) or loaded from ``allocator_dir``."""
    from peft import PeftModel, get_peft_model

    from pathreason.models.store import check_adapter_folder
    from pathreason.training import lora_config

    for folder in (performer_dir, allocator_dir):  # one line for an incomplete adapter, not peft's "Repo id"
        if folder is not None and (folder / "adapter_config.json").is_file():
            check_adapter_folder(folder)
    if (performer_dir / "adapter_config.json").is_file():
        model = PeftModel.from_pretrained(load_base(), str(performer_dir), adapter_name=PERFORMER_ADAPTER,
                                          is_trainable=False)
        if allocator_dir is None:
            model.add_adapter(ALLOCATOR_ADAPTER, lora_config(section.lora))
        else:
            model.load_adapter(str(allocator_dir), adapter_name=ALLOCATOR_ADAPTER, is_trainable=trainable)
        model.set_adapter(ALLOCATOR_ADAPTER)
        policy = DualPolicy(model, PERFORMER_ADAPTER)
    else:
        base = load_full(str(performer_dir))
        if allocator_dir is None:
            model = get_peft_model(base, lora_config(section.lora), adapter_name=ALLOCATOR_ADAPTER)
        else:
            model = PeftModel.from_pretrained(base, str(allocator_dir), adapter_name=ALLOCATOR_ADAPTER,
                                              is_trainable=trainable)
        policy = DualPolicy(model, None)
    learns = trainable or allocator_dir is None
    for name, param in model.named_parameters():  # only the allocator learns
        param.requires_grad_(learns and f".{ALLOCATOR_ADAPTER}." in name)
    return policy


def save_allocator(model: Any, final: Path, meta: dict[str, Any]) -> None:
    """The allocator adapter alone, in the standard peft layout at ``final``, plus what it was trained for."""
    import shutil
    import tempfile

    final.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=final.parent) as tmp:
        model.save_pretrained(tmp, selected_adapters=[ALLOCATOR_ADAPTER])
        src = Path(tmp) / ALLOCATOR_ADAPTER if (Path(tmp) / ALLOCATOR_ADAPTER).is_dir() else Path(tmp)
        for f in src.iterdir():
            if f.is_file():
                shutil.copy2(f, final / f.name)
    (final / META_FILE).write_text(json.dumps(meta, indent=2))


def check_allocator(final: Path, performer_phase: str, fingerprint: str, base_location: str) -> dict[str, Any]:
    """Refuse an allocator adapter trained for another performer or base model."""
    meta_path = final / META_FILE
    if not meta_path.is_file():
        raise RunError(f"{final} holds no pathreason allocator ({META_FILE} is missing)")
    meta: dict[str, Any] = json.loads(meta_path.read_text())
    if meta.get("performer_fingerprint") != fingerprint:
        raise RunError(f"the allocator in {final} was trained for another task performer (phase "
                       f"{meta.get('performer_phase')!r}, weights {meta.get('performer_fingerprint')}); this run's "
                       f"performer (phase {performer_phase!r}) has weights {fingerprint}: train the allocator again")
    if Path(meta.get("base_location", "")).name != Path(base_location).name:
        raise RunError(f"the allocator in {final} was trained on base model {meta.get('base_location')!r}, "
                       f"not {base_location!r}")
    return meta
