"""The process-wide services a handler or a job runner reaches: settings, database, blob store, models, jobs."""

from __future__ import annotations

from dataclasses import dataclass

from models.registry import ModelRegistry
from models.workers import ModelWorkerPool, install_pool
from services.gateway.config import Settings
from services.gateway.db import Database
from services.gateway.dispatch import Dispatcher
from services.gateway.jobs import JobManager
from services.gateway.registry import ServiceProvider, load_providers
from services.gateway.storage import BlobStore


@dataclass
class Runtime:
    settings: Settings
    db: Database
    blobs: BlobStore
    models: ModelRegistry
    jobs: JobManager
    providers: dict[str, ServiceProvider]
    dispatcher: Dispatcher
    model_workers: ModelWorkerPool | None = None

    @classmethod
    def build(cls, settings: Settings) -> "Runtime":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        providers = load_providers()  # imports every service: their tables and job kinds register here
        db = Database(settings.metadata_url)
        db.create_schema()
        models = ModelRegistry(settings)
        models.start_idle_sweeper()
        workers = settings.model_worker_count
        pool = ModelWorkerPool(workers, start_pool_worker, (settings,)) if workers else None
        install_pool(pool)
        runtime = cls(settings, db, BlobStore(settings), models, JobManager(settings, db), providers,
                      Dispatcher(providers), pool)
        _CURRENT["runtime"] = runtime
        return runtime

    def close(self) -> None:
        self.jobs.shutdown()
        if self.model_workers is not None:
            install_pool(None)
            self.model_workers.shutdown()
        self.models.close()
        self.db.close()
        _CURRENT.pop("runtime", None)


@dataclass
class ModelWorkerRuntime:
    """The runtime of a model worker process (models/workers.py): settings and the process's own engines. Code that
    runs there (batch functions handed to the pool) reaches `runtime().settings` and `runtime().models` only."""

    settings: Settings
    models: ModelRegistry


def start_pool_worker(settings: Settings) -> None:
    """Initializer of a process of the model worker pool: the engines of a process, with the CPUs shared.

    The pool's processes share the machine's cores: an OpenMP runtime (torch's) that takes every core in each of
    them spins its idle threads against the other workers' work. On 2 cores, DetectLabels at concurrency 8 went from
    1.06x to 1.7x the one-at-a-time loop with OpenMP held to cores / workers (bench/rekognition_speed.py); one
    request alone lost nothing measurable. An OMP_NUM_THREADS the operator set is kept."""
    import os

    workers = settings.model_worker_count
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if workers > 1:
        os.environ.setdefault("OMP_NUM_THREADS", str(max(1, cpus // workers)))  # before torch is imported here
    start_model_worker(settings)


def start_model_worker(settings: Settings) -> None:
    """Initializer of a model worker process."""
    from services.gateway.observability import configure_logging

    configure_logging(settings.log_level)
    models = ModelRegistry(settings)
    models.start_idle_sweeper()
    _CURRENT["runtime"] = ModelWorkerRuntime(settings, models)  # type: ignore[assignment]


_CURRENT: dict[str, Runtime] = {}


def runtime() -> Runtime:
    """The running process's Runtime (set by `aigate serve` / `aigate worker` at start-up; in a model worker
    process, its ModelWorkerRuntime)."""
    try:
        return _CURRENT["runtime"]
    except KeyError:
        raise RuntimeError("the aigate runtime is not started") from None
