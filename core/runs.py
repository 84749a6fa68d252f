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
      .lock                  who writes the folder now (pid, host, start time, command)

Nothing is pickled. Every file is written whole or not at all (a temporary file in the same
folder, then ``os.replace``), so a kill or a full disk never leaves half a report or state.
One command writes a folder at a time: :meth:`RunDir.lock`.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import re
import socket
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pathreason.api import RunError

logger = logging.getLogger(__name__)

PHASES = ("sft", "grpo", "allocator")
PERFORMER_PHASES = PHASES[:2]
"""The phases that train the task performer (the allocator is trained against it)."""
STATE_FILE = "state.json"
CONFIG_FILE = "config.yaml"
LOCK_FILE = ".lock"


def write_failed(path: Path, exc: OSError) -> RunError:
    """The one-line error of a file that could not be written (read-only folder, full disk)."""
    return RunError(f"cannot write {path}: {exc.strerror or exc}; make the folder writable or free space, "
                    "or choose another output folder")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; it replaces ``path`` only when the block ends
    without an error (``os.replace`` is atomic on one file system), and is removed otherwise."""
    final = Path(path)
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        raise write_failed(final, exc) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def check_writable(folder: str | Path) -> None:
    """Make ``folder`` (and its parents) and write a probe file there, so that a read-only or missing
    place fails before hours of work instead of after (a full disk can still fail later; then the
    atomic writes keep the old files whole)."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise write_failed(path, exc) from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


class RunLock:
    """An exclusive lock on one run folder: ``fcntl.flock`` on ``<run>/.lock``, which names the holder.

    The operating system drops a ``flock`` when its process dies (``kill -9`` included), so the
    lock is never left behind; the file then still names the dead holder, and the next command
    takes it over with a warning. A lock file naming another host is never taken over (its
    process cannot be checked from here): delete it by hand when that run is over. The lock is
    re-entrant within one process (``ablate-budget`` evaluates under its own lock).
    """

    _held: dict[Path, tuple[int, int]] = {}  # resolved folder -> (fd, depth), this process's locks

    def __init__(self, folder: Path, command: str) -> None:
        self.folder = folder
        self.command = command
        self.path = folder / LOCK_FILE

    @staticmethod
    def holder_text(data: dict[str, Any]) -> str:
        return (f"pid {data.get('pid', '?')} on host {data.get('host', '?')}, running "
                f"{data.get('command', '?')!r} since {data.get('started', '?')}")

    def _read(self, fd: int) -> dict[str, Any]:
        os.lseek(fd, 0, os.SEEK_SET)
        raw = os.read(fd, 65536)
        try:
            data = json.loads(raw.decode("utf-8")) if raw.strip() else {}
        except (UnicodeDecodeError, ValueError):
            data = {"pid": "?", "host": "?", "command": "unreadable lock file", "started": "?"}
        return data if isinstance(data, dict) else {}

    def acquire(self) -> None:
        import fcntl

        key = self.folder.resolve()
        if key in self._held:
            fd, depth = self._held[key]
            self._held[key] = (fd, depth + 1)
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise write_failed(self.path, exc) from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RunError(f"{self.folder} is in use by another pathreason command ({self.holder_text(self._read(fd))}); "
                               "wait for it to finish, or choose another output folder") from None
            previous = self._read(fd)
            host = socket.gethostname()
            if previous:
                if previous.get("host") != host:
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    raise RunError(f"{self.folder} is locked by {self.holder_text(previous)}; a process on another "
                                   f"host cannot be checked from here: if that command is over, delete {self.path}")
                pid = previous.get("pid")
                state = "has ended" if isinstance(pid, int) and not _pid_alive(pid) else "no longer holds it"
                logger.warning("%s: taking over a stale lock of %s (that process %s)", self.folder,
                               self.holder_text(previous), state)
            me = {"pid": os.getpid(), "host": host, "command": self.command,
                  "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                  "argv": sys.argv}
            os.ftruncate(fd, 0)
            os.lseek(fd, 0, os.SEEK_SET)
            os.write(fd, json.dumps(me).encode("utf-8"))
        except BaseException as exc:
            os.close(fd)
            if isinstance(exc, OSError):
                raise write_failed(self.path, exc) from None
            raise
        self._held[key] = (fd, 1)

    def release(self) -> None:
        import fcntl

        key = self.folder.resolve()
        fd, depth = self._held[key]
        if depth > 1:
            self._held[key] = (fd, depth - 1)
            return
        del self._held[key]
        try:
            os.ftruncate(fd, 0)  # an empty lock file: nobody holds the folder
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


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
            data = json.loads(self.state_path.read_bytes().decode("utf-8"))
            state = RunState(version=str(data["version"]), base_model=str(data["base_model"]),
                             base_location=str(data["base_location"]), phases=dict(data.get("phases", {})),
                             extra=dict(data.get("extra", {})))
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            raise RunError(f"{self.state_path} is damaged ({type(exc).__name__}: {str(exc)[:200]}); "
                           "it is not a readable pathreason run state") from None
        if not all(isinstance(p, str) and isinstance(v, str) for p, v in state.phases.items()):
            raise RunError(f"{self.state_path} is damaged: 'phases' must map phase names to \"done\"")
        return state

    def write_state(self, state: RunState) -> None:
        atomic_write_text(self.state_path, json.dumps(state.as_dict(), indent=2))

    def lock(self, command: str) -> RunLock:
        """The folder's write lock for ``command`` (a context manager; see :class:`RunLock`)."""
        return RunLock(self.path, command)

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
        atomic_write_text(out, json.dumps(history, indent=1))
        return out

    def read_log(self, phase: str) -> list[dict[str, Any]]:
        path = self.path / "logs" / f"{phase}.json"
        if not path.is_file():
            return []
        try:
            history = json.loads(path.read_bytes().decode("utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise RunError(f"{path} is damaged ({type(exc).__name__}: {str(exc)[:200]}); delete it") from None
        if not isinstance(history, list):
            raise RunError(f"{path} is damaged: it must hold a list of log rows")
        return history
