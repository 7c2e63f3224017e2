"""`aigate` command line: serve, worker, models list / prepare, coverage."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from pathlib import Path

from services.gateway.config import Settings


def _settings(args: argparse.Namespace) -> Settings:
    overrides = {}
    for field in ("host", "port", "data_dir"):
        value = getattr(args, field, None)
        if value is not None:
            overrides[field] = value
    return Settings(**overrides)


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from services.gateway.app import AwsCallFastPath, create_app
    from services.gateway.observability import configure_logging
    from services.gateway.server import protocol_class

    settings = _settings(args)
    if args.no_worker:
        settings.run_workers = False
    configure_logging(settings.log_level)
    app = AwsCallFastPath(create_app(settings))
    tls = {"ssl_certfile": str(settings.tls_certfile), "ssl_keyfile": str(settings.tls_keyfile)} \
        if settings.tls_certfile else {}
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, access_log=False,
                timeout_graceful_shutdown=5, http=protocol_class(settings.request_header_timeout_s), **tls)


def worker(args: argparse.Namespace) -> None:
    """Run queued jobs without serving HTTP (scale-out: many workers share one PostgreSQL)."""
    from services.gateway.jobs import JobManager
    from services.gateway.observability import configure_logging
    from services.gateway.runtime import Runtime

    settings = _settings(args)
    configure_logging(settings.log_level)
    runtime = Runtime.build(settings)
    queues = [q.strip() for q in args.queues.split(",") if q.strip()] if args.queues else JobManager.queues()
    runtime.jobs.launch(queues)
    print(json.dumps({"msg": "worker ready", "queues": queues}), file=sys.stderr, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    runtime.close()


def models_list(args: argparse.Namespace) -> None:
    from models.cli import format_models_table, models_json

    settings = _settings(args)
    print(models_json(settings) if args.json else format_models_table(settings))


def models_prepare(args: argparse.Namespace) -> None:
    """Load the named engines once, so that what they build on first use (the sentiment model is trained and
    cached) is built now, at install, rather than inside a client's first request."""
    from models.registry import ModelRegistry

    with ModelRegistry(_settings(args)) as registry:
        for name in args.engines:
            started = time.monotonic()
            registry.get(name)
            print(f"{name}: ready ({time.monotonic() - started:.1f} s)")


def coverage_report(args: argparse.Namespace) -> None:
    from services.gateway.registry import coverage, load_providers

    report = coverage(load_providers())
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for service, entry in report.items():
        print(f"{service:22} {len(entry['implemented']):3}/{entry['total']:<3} {', '.join(entry['implemented'])}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="aigate", description="Self-hosted AI services behind the AWS APIs")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_cmd = commands.add_parser("serve", help="start the gateway")
    serve_cmd.add_argument("--host")
    serve_cmd.add_argument("--port", type=int)
    serve_cmd.add_argument("--data-dir", type=Path)
    serve_cmd.add_argument("--no-worker", action="store_true", help="do not run queued jobs in this process")
    serve_cmd.set_defaults(func=serve)

    worker_cmd = commands.add_parser("worker", help="run queued jobs")
    worker_cmd.add_argument("--queues", help="comma-separated queue names (default: all)")
    worker_cmd.add_argument("--data-dir", type=Path)
    worker_cmd.set_defaults(func=worker)

    models_cmd = commands.add_parser("models", help="model engines")
    models_sub = models_cmd.add_subparsers(dest="models_command", required=True)
    list_cmd = models_sub.add_parser("list", help="engines, weights source, licence, loaded or not")
    list_cmd.add_argument("--json", action="store_true")
    list_cmd.add_argument("--data-dir", type=Path)
    list_cmd.set_defaults(func=models_list)

    prepare_cmd = models_sub.add_parser("prepare", help="load engines now, building what they build on first use")
    prepare_cmd.add_argument("engines", nargs="+", metavar="ENGINE")
    prepare_cmd.add_argument("--data-dir", type=Path)
    prepare_cmd.set_defaults(func=models_prepare)

    coverage_cmd = commands.add_parser("coverage", help="implemented AWS operations per service")
    coverage_cmd.add_argument("--json", action="store_true")
    coverage_cmd.set_defaults(func=coverage_report)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
