"""Where Rekognition's durable jobs (stored video, bulk analysis, Custom Labels training) keep their work between
checkpointed steps: `<data_dir>/rekognition/<account>/<folder>/<job id>/`, each file written whole (a temporary
file renamed over it), so a step killed mid-write leaves the previous state and is run again."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from services.gateway.context import Principal
from services.gateway.runtime import runtime


def job_folder(principal: Principal, folder: str, job_id: str) -> Path:
    return Path(runtime().settings.data_dir) / "rekognition" / principal.account_id / folder / job_id


def write_json(path: Path, value) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(orjson.dumps(value))
    os.replace(temporary, path)
