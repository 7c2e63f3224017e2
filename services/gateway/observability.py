"""JSON logs carrying the request id, and Prometheus metrics. Secrets never reach a log record: the settings
keep them as SecretStr and request logs carry no headers or bodies."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from functools import lru_cache
from typing import Callable, Iterable

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from services.gateway.context import request_id_var

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "aigate_requests_total", "Requests by service, operation and status", ["service", "operation", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "aigate_request_seconds", "Request latency by service and operation", ["service", "operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)


@lru_cache(maxsize=4096)
def request_count(service: str, operation: str, status: int):
    # Resolving label children costs more than the increment: keep them.
    return REQUESTS.labels(service, operation, str(status))


@lru_cache(maxsize=4096)
def request_latency(service: str, operation: str):
    return LATENCY.labels(service, operation)


class JobsCollector:
    """Queue depth and jobs by state, read from the job table at scrape time."""

    def __init__(self, read_counts: Callable[[], Iterable[tuple[str, str, int]]]):
        self.read_counts = read_counts

    def collect(self):
        by_state = GaugeMetricFamily("aigate_jobs", "Jobs by queue and state", labels=["queue", "state"])
        depth = GaugeMetricFamily("aigate_queue_depth", "Jobs waiting or running per queue", labels=["queue"])
        waiting: dict[str, int] = {}
        for queue, state, count in self.read_counts():
            by_state.add_metric([queue, state], count)
            if state in ("SUBMITTED", "IN_PROGRESS"):
                waiting[queue] = waiting.get(queue, 0) + count
        for queue, count in waiting.items():
            depth.add_metric([queue], count)
        yield by_state
        yield depth


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
            "request_id": request_id_var.get(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "dbos"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # The gateway writes its own request log line; uvicorn's would duplicate it.
    logging.getLogger("uvicorn.access").disabled = True
