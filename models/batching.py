"""Micro-batching for asyncio callers of synchronous, batch-friendly model functions."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from models.workers import installed_pool

T = TypeVar("T")
R = TypeVar("R")


class BatchResultMismatch(ValueError):
    """The batch function returned a different number of results than it was given items."""


@dataclass
class _LoopState:
    pending: list[tuple[object, asyncio.Future]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    running: int = 0
    tasks: set[asyncio.Task] = field(default_factory=set)


class MicroBatcher(Generic[T, R]):
    """Groups concurrent `submit()`s into calls of `fn(items) -> results`, run in a worker thread.

    A batch is sent when it holds `max_batch_size` items, or `max_wait_ms` after its first item arrived;
    at most `max_concurrency` calls of `fn` run at once per event loop (items arriving meanwhile wait and
    join the next batch). If `fn` raises, or returns the wrong number of results, every item of that batch fails.
    State is kept per event loop, so one batcher may serve several loops (one after another, or at once).

    With `in_worker_processes`, batches run in the process's model worker pool when one is installed
    (models/workers.py), as many at once as it has processes: for model code that holds the GIL. `fn` and the
    items and results must then pickle, and `fn` must find its engines in the worker (the runtime's registry).
    """

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        max_batch_size: int = 32,
        max_wait_ms: float = 5,
        *,
        max_concurrency: int = 1,
        executor: Executor | None = None,
        in_worker_processes: bool = False,
    ) -> None:
        if max_batch_size < 1:
            raise ValueError("max_batch_size must be at least 1")
        if max_wait_ms < 0:
            raise ValueError("max_wait_ms must not be negative")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.fn = fn
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait_ms / 1000
        self.max_concurrency = max_concurrency
        self.executor = executor
        self.in_worker_processes = in_worker_processes
        self.calls = 0  # calls of fn so far, all loops together
        self._states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = weakref.WeakKeyDictionary()

    async def submit(self, item: T) -> R:
        """Queue `item` and wait for its result."""
        loop = asyncio.get_running_loop()
        state = self._states.get(loop)
        if state is None:
            state = self._states[loop] = _LoopState()
        future = loop.create_future()
        state.pending.append((item, future))
        if len(state.pending) >= self.max_batch_size:
            self._flush(loop, state)
        elif state.timer is None:
            state.timer = loop.call_later(self.max_wait, self._flush, loop, state)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop, state: _LoopState) -> None:
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
        executor, concurrency = self._placement()
        while state.pending and state.running < concurrency:
            batch = [(item, fut) for item, fut in state.pending[: self.max_batch_size] if not fut.done()]
            del state.pending[: self.max_batch_size]
            if not batch:
                continue
            state.running += 1
            task = loop.create_task(self._run(loop, state, batch, executor))
            state.tasks.add(task)
            task.add_done_callback(state.tasks.discard)
        # What is left waits for a running call to end (see `_run`).

    def _placement(self) -> tuple[Executor | None, int]:
        """Where batches run now, and how many at once."""
        if self.in_worker_processes and (pool := installed_pool()) is not None:
            return pool, pool.processes
        return self.executor, self.max_concurrency

    async def _run(self, loop: asyncio.AbstractEventLoop, state: _LoopState, batch: list,
                   executor: Executor | None) -> None:
        items = [item for item, _ in batch]
        futures = [fut for _, fut in batch]
        try:
            self.calls += 1
            results = await loop.run_in_executor(executor, self.fn, items)
            results = None if results is None else list(results)
            if results is None or len(results) != len(items):
                count = "None" if results is None else len(results)
                name = getattr(self.fn, "__qualname__", repr(self.fn))
                raise BatchResultMismatch(f"{name} returned {count} results for {len(items)} items")
        except Exception as exc:
            for fut in futures:
                if not fut.done():
                    fut.set_exception(exc)
        except BaseException:  # cancelled (loop shutting down): the callers are cancelled too
            for fut in futures:
                fut.cancel()
            raise
        else:
            for fut, result in zip(futures, results):
                if not fut.done():
                    fut.set_result(result)
        finally:
            state.running -= 1
            if state.pending:
                # Items that came in while fn ran have already waited: send them now.
                self._flush(loop, state)
