"""Tiles read ahead by a reader thread, handed out a batch at a time.

While the model answers one batch, a reader thread reads (and resizes) the next ones into a bounded
queue of ``prefetch x batch_size`` items, so reading overlaps with compute and memory holds at most
that many tiles whatever the slide's size. OpenSlide and Pillow release the GIL while they decode, as
torch does while it computes, so the two threads run at once.

A tile that cannot be read is not an exception for the consumer: its item carries the error, and the
caller counts and reports it. :attr:`TileStream.wait_seconds` is the time the consumer spent waiting
for tiles (reading that did *not* overlap with compute); :attr:`TileStream.read_seconds` the reader's
busy time.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pathreason.slides.reader import close_thread_handles

__all__ = ["Read", "TileStream"]

J = TypeVar("J")


@dataclass
class Read(Generic[J]):
    """One job's outcome: its value, or the error that kept it from being read."""

    job: J
    value: Any = None
    error: str | None = None


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


_END = object()


class TileStream(Generic[J]):
    """Iterate over ``load(job)`` for every job, in order, in batches of ``batch_size``."""

    def __init__(self, jobs: Sequence[J], load: Callable[[J], Any], batch_size: int, prefetch: int = 2) -> None:
        self.jobs = list(jobs)
        self.load = load
        self.batch_size = max(1, batch_size)
        self.queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, prefetch) * self.batch_size)
        self.read_seconds = 0.0
        self.wait_seconds = 0.0
        self._stop = threading.Event()

    def _run(self) -> None:
        try:
            for job in self.jobs:
                if self._stop.is_set():
                    return
                start = time.perf_counter()
                try:
                    item = Read(job, self.load(job))
                except Exception as exc:  # one unreadable tile must not end the slide: reported by the caller
                    item = Read(job, error=f"{type(exc).__name__}: {exc}")
                self.read_seconds += time.perf_counter() - start
                self._put(item)
        except BaseException as exc:  # anything else ends the stream, re-raised in the consumer
            self._put(_Failure(exc))
        finally:
            close_thread_handles()
            self._put(_END)

    def _put(self, item: Any) -> None:
        while not self._stop.is_set():
            try:
                self.queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[list[Read[J]]]:
        thread = threading.Thread(target=self._run, name="pathreason-slide-reader", daemon=True)
        thread.start()
        try:
            batch: list[Read[J]] = []
            while True:
                start = time.perf_counter()
                item = self.queue.get()
                self.wait_seconds += time.perf_counter() - start
                if item is _END:
                    break
                if isinstance(item, _Failure):
                    raise item.exc
                batch.append(item)
                if len(batch) == self.batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch
        finally:
            self._stop.set()
            thread.join()
