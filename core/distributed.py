"""Several processes, one run: thin wrappers over accelerate's ``PartialState``.

Under ``accelerate launch`` or ``torchrun`` every process runs the same :class:`~pathreason.Engine`
code; TRL's trainers shard the training data and gather the metrics themselves. What is left for
pathreason is who writes the run folder (the main process), when the others wait for it, and
splitting evaluation samples between processes. Each helper is a no-op in a single process, so the
engine calls them unconditionally. No distributed machinery of pathreason's own: the process group
is accelerate's.

    >>> from pathreason.distributed import gather, is_main_process, shard
    >>> is_main_process(), shard([1, 2, 3]), gather([1, 2, 3])
    (True, [1, 2, 3], [1, 2, 3])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def _state() -> Any:
    from accelerate import PartialState
    from accelerate.utils import parse_flag_from_env

    from pathreason.training import device_kwargs

    # A shared-state singleton, cheap after the first call. It must make the device choice the
    # trainers' arguments make (``device_kwargs``, ``ACCELERATE_USE_CPU``): on a machine without
    # CUDA only ``cpu=True`` joins the processes (gloo); without it each would think it is alone.
    cpu = bool(device_kwargs().get("use_cpu")) or parse_flag_from_env("ACCELERATE_USE_CPU")
    return PartialState(cpu=cpu)


def num_processes() -> int:
    return int(_state().num_processes)


def is_main_process() -> bool:
    """True on the one process that writes the run folder (global rank 0); always in a single process."""
    return bool(_state().is_main_process)


def barrier() -> None:
    """Wait until every process gets here (``wait_for_everyone``)."""
    _state().wait_for_everyone()


def device() -> Any:
    """This process's device: its own GPU under a multi-GPU launch, else the one accelerate picks."""
    return _state().device


def shard(items: Sequence[T]) -> list[T]:
    """This process's contiguous slice of ``items`` (sizes differ by at most one; may be empty).

    Concatenating the slices in rank order, which :func:`gather` does, gives ``items`` back.
    """
    state = _state()
    if state.num_processes == 1:
        return list(items)
    with state.split_between_processes(list(items)) as part:
        return list(part)


def gather(items: Sequence[T]) -> list[T]:
    """Every process's ``items`` (picklable objects), concatenated in rank order, on every process."""
    state = _state()
    if state.num_processes == 1:
        return list(items)
    from accelerate.utils import gather_object

    return list(gather_object(list(items)))


__all__ = ["barrier", "device", "gather", "is_main_process", "num_processes", "shard"]
