"""Model worker processes: where CPU-bound model batches run, beside the serving process.

Model code that holds the GIL (spaCy's parser, scikit-learn feature extraction, Presidio's recognizers) competes with
the event loop when it runs in a thread of the serving process, so one process serves on about one core however many
the machine has. A `ModelWorkerPool` runs such batches in processes of their own, each loading the engines it needs
into its own registry (the initializer sets that up). It is a `concurrent.futures.Executor`, so `MicroBatcher` (or any
`loop.run_in_executor`) can hand it work from any thread or event loop.

Processes start on demand (spawn: the serving process has threads) up to `processes`; each runs one call at a time,
and a call goes to the worker with the fewest calls in flight. A worker that dies fails the calls it held with
`ModelWorkerError`; the next call starts a replacement. Callers keep at most `processes` calls in flight (MicroBatcher
does): a call sent to a busy worker waits in its pipe.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import os
import pickle
import signal
import threading
import traceback
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

log = logging.getLogger(__name__)


class ModelWorkerError(RuntimeError):
    """A model worker process died, or a call or its result could not cross the process boundary."""


@dataclass
class _Worker:
    process: BaseProcess
    conn: Connection
    calls: dict[int, Future] = field(default_factory=dict)
    send_lock: threading.Lock = field(default_factory=threading.Lock)


class ModelWorkerPool(Executor):
    def __init__(self, processes: int, initializer: Callable[..., None] | None = None, initargs: tuple = (),
                 *, name: str = "aigate-model-worker") -> None:
        if processes < 1:
            raise ValueError("a ModelWorkerPool needs at least one process")
        self.processes = processes
        self.name = name
        self._initializer = initializer
        self._initargs = initargs
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._call_ids = itertools.count()
        self._closed = False

    # -- Executor -------------------------------------------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        try:
            call = pickle.dumps((fn, args, kwargs), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            future.set_exception(ModelWorkerError(f"cannot send {getattr(fn, '__qualname__', fn)!r} to a model "
                                                  f"worker: {type(error).__name__}: {error}"))
            return future
        for attempt in range(2):
            with self._lock:
                if self._closed:
                    raise RuntimeError("cannot submit to a ModelWorkerPool after shutdown")
                worker = self._pick()
                call_id = next(self._call_ids)
                worker.calls[call_id] = future
            try:
                with worker.send_lock:
                    worker.conn.send((call_id, call))
                return future
            except (OSError, ValueError) as error:
                # The process died before its reader noticed; the call never reached it, so another may take it.
                with self._lock:
                    worker.calls.pop(call_id, None)
                    if worker in self._workers:
                        self._workers.remove(worker)
                if attempt:
                    future.set_exception(ModelWorkerError(f"model worker process {worker.process.pid} is gone: "
                                                          f"{error}"))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            workers, self._workers = self._workers, []
        for worker in workers:
            try:
                with worker.send_lock:
                    worker.conn.send(None)  # finish the call in hand, then exit
            except (OSError, ValueError):
                pass
        for worker in workers:
            worker.process.join(timeout=5 if wait else 0.5)
            if worker.process.is_alive():
                worker.process.terminate()
                worker.process.join(timeout=5)
            worker.conn.close()
            self._fail(worker, ModelWorkerError("the model worker pool was shut down"))

    # -- state ----------------------------------------------------------------------------------------------------

    def pids(self) -> list[int]:
        with self._lock:
            return [worker.process.pid for worker in self._workers if worker.process.pid is not None]

    def _pick(self) -> _Worker:
        """The worker with the fewest calls in flight; a new one while every worker is busy and there is room.
        Workers that died are dropped here already (their readers fail the calls they held)."""
        self._workers = [worker for worker in self._workers if _usable(worker)]
        idle = min(self._workers, key=lambda worker: len(worker.calls), default=None)
        if idle is None or (idle.calls and len(self._workers) < self.processes):
            idle = self._start()
        return idle

    def _start(self) -> _Worker:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_worker_main, args=(theirs, self._initializer, self._initargs),
                                        name=f"{self.name}-{len(self._workers) + 1}", daemon=True)
        process.start()
        theirs.close()
        worker = _Worker(process, ours)
        self._workers.append(worker)
        threading.Thread(target=self._read, args=(worker,), name=f"{process.name}-results", daemon=True).start()
        log.info("model worker started", extra={"fields": {"pid": process.pid, "worker": process.name}})
        return worker

    def _read(self, worker: _Worker) -> None:
        """Results of one worker's calls, until its pipe closes (the process exited)."""
        while True:
            try:
                call_id, ok, payload = worker.conn.recv()
            except (EOFError, OSError, ValueError):
                break
            with self._lock:
                future = worker.calls.pop(call_id, None)
            if future is None:
                continue
            try:
                value = pickle.loads(payload)
            except Exception as error:
                future.set_exception(ModelWorkerError(f"a model worker's result could not be read: {error}"))
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        with self._lock:
            if worker in self._workers:
                self._workers.remove(worker)
        worker.process.join(timeout=5)
        code = worker.process.exitcode
        if not self._closed:
            log.warning("model worker exited", extra={"fields": {"pid": worker.process.pid, "exitcode": code}})
        self._fail(worker, ModelWorkerError(f"model worker process {worker.process.pid} exited (code {code}) "
                                            f"before returning a result"))

    def _fail(self, worker: _Worker, error: ModelWorkerError) -> None:
        with self._lock:
            futures, worker.calls = list(worker.calls.values()), {}
        for future in futures:
            if not future.done():
                future.set_exception(error)


def _worker_main(conn: Connection, initializer: Callable[..., None] | None, initargs: tuple) -> None:
    """A worker process: run calls one at a time until the pipe closes or a None arrives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the pool decides
    if initializer is not None:
        initializer(*initargs)
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the serving process is gone
        if message is None:
            return
        call_id, call = message
        try:
            fn, args, kwargs = pickle.loads(call)
            result = fn(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - every failure goes back to the caller
            conn.send((call_id, False, _pickled_error(error)))
            continue
        try:
            payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as error:
            conn.send((call_id, False, pickle.dumps(ModelWorkerError(
                f"the result of {getattr(fn, '__qualname__', fn)!r} cannot be sent back: {type(error).__name__}: "
                f"{error}"))))
            continue
        conn.send((call_id, True, payload))


def _usable(worker: _Worker) -> bool:
    """Alive, as far as a new call can tell. is_alive() can still say yes for a process that was just killed (its
    reader thread may be reaping it at that moment), but the dead process's end of the pipe is closed, which reads
    as readable on an idle worker: nothing else is sent to an idle worker's pipe."""
    if not worker.process.is_alive():
        return False
    if worker.calls:
        return True  # its reader fails those calls if it has died
    try:
        return not worker.conn.poll(0)
    except (OSError, ValueError):
        return False


def _pickled_error(error: BaseException) -> bytes:
    """The exception itself when it survives pickling, else a ModelWorkerError naming it; the worker's traceback
    rides along as a note."""
    error.add_note(f"in model worker process {os.getpid()}:\n" + "".join(traceback.format_tb(error.__traceback__)))
    try:
        payload = pickle.dumps(error, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(payload)
        return payload
    except Exception:
        return pickle.dumps(ModelWorkerError(f"{type(error).__name__}: {error}"))


# The serving process's pool (set by the runtime at start-up), for batchers that send their work to worker processes.
_installed: ModelWorkerPool | None = None


def install_pool(pool: ModelWorkerPool | None) -> None:
    global _installed
    _installed = pool


def installed_pool() -> ModelWorkerPool | None:
    return _installed
