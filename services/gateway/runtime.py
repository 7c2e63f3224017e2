"""The process-wide services a handler or a job runner reaches: settings, database, blob store, models, jobs."""

from __future__ import annotations

from dataclasses import dataclass

from models.registry import ModelRegistry
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

    @classmethod
    def build(cls, settings: Settings) -> "Runtime":
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        providers = load_providers()  # imports every service: their tables and job kinds register here
        db = Database(settings.metadata_url)
        db.create_schema()
        models = ModelRegistry(settings)
        models.start_idle_sweeper()
        runtime = cls(settings, db, BlobStore(settings), models, JobManager(settings, db), providers,
                      Dispatcher(providers))
        _CURRENT["runtime"] = runtime
        return runtime

    def close(self) -> None:
        self.jobs.shutdown()
        self.models.close()
        self.db.close()
        _CURRENT.pop("runtime", None)


_CURRENT: dict[str, Runtime] = {}


def runtime() -> Runtime:
    """The running process's Runtime (set by `aigate serve` / `aigate worker` at start-up)."""
    try:
        return _CURRENT["runtime"]
    except KeyError:
        raise RuntimeError("the aigate runtime is not started") from None
