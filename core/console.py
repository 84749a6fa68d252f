"""The console is for people: one line per phase with a progress bar; library noise goes to a log file.

:func:`quiet` routes what libraries print (Python warnings, transformers / datasets / TRL logging and
their progress bars, the trainers' raw metric dicts) away from the console: into the run folder's
``log.txt`` (:func:`log_to`), or onto the console as well with ``verbose``. Errors still print.
:class:`Phase` is the one line a phase shows: a rich progress bar with steps done / total, ETA and
the current loss or mean reward, then a result line. :func:`trainer_callback` feeds a phase's bar
from a ``transformers.Trainer``.

    >>> with Phase("evaluating", total=2, enabled=False) as bar:   # enabled=False: no output (tests, -q)
    ...     bar.advance(2, note="accuracy 0.50")
    >>> bar.done
    2
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["Phase", "console_enabled", "is_quiet", "log_to", "quiet", "say", "trainer_callback"]

logger = logging.getLogger("pathreason")

_STATE: dict[str, Any] = {"verbose": False, "file_handler": None, "enabled": True, "quiet": False}
#: Loggers whose INFO and WARNING lines are library detail (to the log file unless verbose).
LIBRARY_LOGGERS = ("transformers", "trl", "datasets", "accelerate", "peft", "huggingface_hub", "torch",
                   "matplotlib", "PIL", "urllib3", "filelock", "py.warnings")


class _MakeDirFileHandler(logging.FileHandler):
    """A file handler that creates the run folder when the first line is written."""

    def __init__(self, path: Path) -> None:
        self.target = path
        super().__init__(path, encoding="utf-8", delay=True)

    def emit(self, record: logging.LogRecord) -> None:
        if self.stream is None:  # type: ignore[has-type]
            self.target.parent.mkdir(parents=True, exist_ok=True)
        super().emit(record)


def is_quiet() -> bool:
    """Whether :func:`quiet` took library output off the console (the CLI does; a Python session that
    never calls it keeps the libraries' own progress bars and messages)."""
    return bool(_STATE["quiet"])


def console_enabled() -> bool:
    """Whether pathreason draws progress bars and result lines (a terminal or not: both get them,
    except under ``quiet(enabled=False)``)."""
    return bool(_STATE["enabled"])


def quiet(verbose: bool = False, enabled: bool = True) -> None:
    """Keep library output off the console (``verbose``: keep it on, as well as in the log file).

    Python warnings become log records; library loggers write to the log file only; transformers,
    datasets and huggingface_hub progress bars are switched off (pathreason draws its own).
    """
    _STATE["verbose"] = verbose
    _STATE["enabled"] = enabled
    _STATE["quiet"] = not verbose
    logging.captureWarnings(True)
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if not any(getattr(h, "_pathreason_console", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler._pathreason_console = True  # type: ignore[attr-defined]
        handler.addFilter(_ConsoleFilter())
        root.addHandler(handler)
    if not verbose:
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        _silence_library_bars()


class _ConsoleFilter(logging.Filter):
    """On the console: everything when verbose; otherwise pathreason's warnings and errors, and any
    library error (library INFO/WARNING lines go to the log file only)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _STATE["verbose"]:
            return True
        if record.levelno >= logging.ERROR:
            return True
        return record.name.startswith("pathreason") and record.levelno >= logging.WARNING


def _silence_library_bars() -> None:
    for module, call in (("transformers.utils.logging", "disable_progress_bar"),
                         ("datasets.utils.logging", "disable_progress_bar")):
        if module.split(".")[0] in sys.modules:  # never import a heavy library just to silence it
            try:
                getattr(__import__(module, fromlist=[call]), call)()
            except (ImportError, AttributeError):  # another version of the library: nothing to switch off
                logger.debug("cannot switch off the progress bars of %s", module)
    if "transformers" in sys.modules:
        import transformers

        transformers.logging.set_verbosity_warning()
        transformers.logging.disable_default_handler()
        transformers.logging.enable_propagation()


def log_to(path: str | Path) -> Path:
    """Write every log record (libraries included, at DEBUG with ``verbose``) to ``path`` (a run
    folder's ``log.txt``), created with its folder on the first line; replaces an earlier log file."""
    path = Path(path)
    root = logging.getLogger()
    old = _STATE["file_handler"]
    if old is not None:
        root.removeHandler(old)
        old.close()
    handler = _MakeDirFileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.DEBUG)
    root.addHandler(handler)
    _STATE["file_handler"] = handler
    return path


def say(message: str) -> None:
    """A result line for people (to stdout; also in the log file)."""
    logger.debug("%s", message)
    if _STATE["enabled"]:
        print(message, flush=True)


class Phase:
    """One console line for a phase: description, bar, done/total, ETA and a note (loss, reward...).

    Draws with rich when stdout is a terminal, else prints the finished line only (logs stay
    readable). ``enabled=False`` draws nothing.
    """

    def __init__(self, description: str, total: int | None, enabled: bool | None = None, unit: str = "steps") -> None:
        self.description = description
        self.total = total
        self.enabled = console_enabled() if enabled is None else enabled
        self.unit = unit
        self.done = 0
        self.note = ""
        self.started = time.perf_counter()
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> Phase:
        self.started = time.perf_counter()
        if self.enabled and sys.stdout.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(TextColumn("{task.description:<18}"), BarColumn(bar_width=30),
                                      MofNCompleteColumn(), TextColumn(self.unit), TimeElapsedColumn(),
                                      TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[note]}"),
                                      transient=False)
            self._progress.start()
            self._task = self._progress.add_task(self.description, total=self.total, note="")
        return self

    def advance(self, steps: int = 1, note: str | None = None) -> None:
        self.done += steps
        if note is not None:
            self.note = note
        if self._progress is not None:
            self._progress.update(self._task, advance=steps, note=self.note)

    def update(self, done: int | None = None, total: int | None = None, note: str | None = None) -> None:
        if done is not None:
            self.done = done
        if total is not None:
            self.total = total
        if note is not None:
            self.note = note
        if self._progress is not None:
            self._progress.update(self._task, completed=self.done, total=self.total, note=self.note)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()
        elif self.enabled:
            total = f"/{self.total}" if self.total else ""
            print(f"{self.description:<18} {self.done}{total} {self.unit} in {self.seconds:.0f} s"
                  + (f"  {self.note}" if self.note else ""), flush=True)
        logger.debug("%s: %s%s %s in %.1f s %s", self.description, self.done, f"/{self.total}" if self.total else "",
                     self.unit, self.seconds, self.note)


def _note(logs: dict[str, Any]) -> str | None:
    """What a phase's line shows of a trainer log: the mean reward (GRPO) or the loss; the run's
    closing summary (``train_runtime``, ``train_loss``) keeps the last step's value."""
    if "train_runtime" in logs:
        return None
    for key, label in (("reward", "reward"), ("loss", "loss")):
        value = logs.get(key)
        if isinstance(value, int | float):
            return f"{label} {value:.3f}"
    return None


def trainer_callback(bar: Phase) -> Any:
    """A ``transformers.TrainerCallback`` that moves ``bar`` with the trainer's steps and logs each
    metrics dict to the log file (never to the console)."""
    from transformers import TrainerCallback

    class PhaseCallback(TrainerCallback):  # type: ignore[misc]
        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            bar.update(done=state.global_step, total=state.max_steps or None)

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            bar.update(done=state.global_step)

        def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
                   **kwargs: Any) -> None:
            if logs:
                logger.info("%s step %s: %s", bar.description, state.global_step,
                            {k: (round(v, 4) if isinstance(v, float) else v) for k, v in logs.items()})
                note = _note(logs)
                if note is not None:
                    bar.update(note=note)

    return PhaseCallback()
