"""What the models package reads from its settings object.

`models/` does not depend on the gateway: any object with these attributes will do (the gateway passes its
`services.gateway.config.Settings`, which has them all; tests may pass a simpler object).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class ModelSettings(Protocol):
    # Base folder of the process's data; model caches default to folders under it.
    data_dir: Path
    # Folder holding user-supplied weights, one sub-folder per engine (None: not used).
    models_dir: Path | None
    # Explicit weight paths per engine name.
    model_paths: dict[str, Path]
    # Whether missing weights may be fetched from the network.
    allow_downloads: bool
    # Unload an engine unused for this many seconds (<= 0: never).
    model_idle_unload_seconds: float
    # CPU threads of faster-whisper (0: all CPUs).
    whisper_threads: int
