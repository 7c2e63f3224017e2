"""Comprehend throughput: DetectEntities and DetectSentiment requests per second through `aigate serve` at
concurrency 16 (concurrent requests are micro-batched into spaCy's nlp.pipe and the sentiment model, in the model
worker processes — AIGATE_MODEL_WORKERS, one per CPU by default), next to the same analyses called one at a time
straight into the libraries in this process (spaCy `nlp(text)` with only the NER switched on, as the gateway runs it,
+ the entity mapping; the sentiment engine on one text), in one run on the same machine. The goal is judged against
that NER-only loop, the stricter baseline; the ratio against spaCy's plain whole-pipeline `nlp(text)` is printed too.

    .venv/bin/python bench/comprehend_throughput.py [--seconds 10] [--concurrency 16]

The sentiment model is trained once into `data/models/sentiment/` (shared with bench/comprehend_quality.py) and
the gateway is pointed at the same folder (AIGATE_MODELS_DIR), so neither side trains during the run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from gateway_overhead import (  # noqa: E402
    Target,
    aigate_command,
    free_port,
    http_request,
    run_load,
    stop,
    tail,
    wait_http_ok,
    warm_up,
)

GOAL = 2.0
MODELS_DIR = ROOT / "data" / "models"

SENTENCES = [
    "Tim Cook said on Tuesday that Apple will invest $1 billion in a new campus in Austin, Texas.",
    "The flight from Chicago to Denver was delayed for three hours and nobody at United told us why.",
    "Angela Merkel met Emmanuel Macron in Berlin to discuss the European Union budget for 2025.",
    "I really loved the new Star Wars movie, the soundtrack by John Williams was fantastic!",
    "Microsoft reported revenue of 62 billion dollars for the quarter ending in December.",
    "My package never arrived and Amazon customer service keeps ignoring my emails. Awful.",
    "The Louvre in Paris welcomed nearly nine million visitors last year, a new record.",
    "Thanks to the nurses at Mount Sinai Hospital for taking such good care of my father.",
]


def comprehend_requests(port: int, operation: str) -> list[bytes]:
    headers = {"X-Amz-Target": f"Comprehend_20171127.{operation}", "Content-Type": "application/x-amz-json-1.1"}
    return [http_request("POST", "/", port, json.dumps({"Text": s, "LanguageCode": "en"}).encode(), headers)
            for s in SENTENCES]


def library_loop(fn, seconds: float) -> tuple[float, int]:
    """Calls fn(text) one at a time for `seconds`; returns (requests per second, count)."""
    for text in SENTENCES:  # warm
        fn(text)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(SENTENCES[count % len(SENTENCES)])
        count += 1
    elapsed = time.perf_counter() - start
    return count / elapsed, count


def library_calls(settings) -> dict[str, object]:
    """The one-at-a-time library calls: DetectEntities' work (spaCy NER alone, as the gateway runs it, plus the
    type mapping), the naive full-pipeline `nlp(text)`, and the sentiment engine on one text."""
    from models.catalog import CATALOG
    from models.sentiment import SentimentEngine
    from models.spacy_nlp import SpacyEngine
    from models.weights import resolve_weights
    from services.comprehend.analysis import ENTITY_TYPES, NEEDS

    engine = SpacyEngine.load(resolve_weights(CATALOG["spacy"], settings), settings)
    nlp = engine.nlp("en")
    disable = engine.components_for("en", NEEDS["entities"])
    sentiment = SentimentEngine.load(resolve_weights(CATALOG["sentiment"], settings), settings)

    def entities(text: str) -> list:
        return [(ENTITY_TYPES.get(ent.label_, "OTHER"), ent.start_char, ent.end_char)
                for ent in nlp(text, disable=disable).ents]

    def entities_full(text: str) -> list:
        return [(ENTITY_TYPES.get(ent.label_, "OTHER"), ent.start_char, ent.end_char) for ent in nlp(text).ents]

    def score(text: str) -> dict:
        return sentiment.score_many([text])[0]

    return {"DetectEntities": entities, "DetectEntities (full pipeline)": entities_full, "DetectSentiment": score}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    print(f"comprehend_throughput: concurrency={args.concurrency}, measured={args.seconds:g}s per target and round, "
          f"rounds={args.rounds}, cpus={os.cpu_count()}")
    from services.gateway.config import Settings

    calls = library_calls(Settings(models_dir=MODELS_DIR))
    library: dict[str, list[float]] = {name: [] for name in calls}
    gateway: dict[str, list[float]] = {"DetectEntities": [], "DetectSentiment": []}

    workdir = Path(tempfile.mkdtemp(prefix="aigate-bench-"))
    process = None
    try:
        port = free_port()
        log_path = workdir / "gateway.log"
        env = {**os.environ, "AIGATE_LOG_LEVEL": "WARNING", "AIGATE_MODELS_DIR": str(MODELS_DIR)}
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(
                [*aigate_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir",
                 str(workdir / "data"), "--no-worker"], cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        try:
            wait_http_ok(port, "/ready", process, timeout=120)
            targets = {operation: Target(operation, port, comprehend_requests(port, operation)) for operation in gateway}
            for target in targets.values():
                warm_up(target)
            # Rounds alternate library and gateway runs, so that load from elsewhere on a shared machine hits both
            # sides alike; the medians are reported.
            for _ in range(args.rounds):
                for name, fn in calls.items():
                    library[name].append(library_loop(fn, args.seconds)[0])
                for operation, target in targets.items():
                    result = run_load(target, args.concurrency, args.warmup, args.seconds)
                    if result.errors:
                        print(f"  {operation} errors: {result.statuses} {result.error_kinds}")
                    gateway[operation].append(result.rps)
        except Exception:
            print(f"gateway log:\n{tail(log_path)}", file=sys.stderr)
            raise
        finally:
            stop(process)
            process = None
    finally:
        stop(process)
        shutil.rmtree(workdir, ignore_errors=True)

    library = {name: statistics.median(values) for name, values in library.items()}
    gateway = {name: statistics.median(values) for name, values in gateway.items()}
    print()
    print(f"medians of {args.rounds} alternating rounds")
    print(f"{'operation':<16} {'gateway c=' + str(args.concurrency) + ' req/s':>20} {'library 1-at-a-time req/s':>26} "
          f"{'ratio':>7}")
    ratios = []
    for operation in ("DetectEntities", "DetectSentiment"):
        ratio = gateway[operation] / library[operation] if library[operation] else 0.0
        ratios.append(ratio)
        print(f"{operation:<16} {gateway[operation]:>20.1f} {library[operation]:>26.1f} {ratio:>7.2f}")
    full = library["DetectEntities (full pipeline)"]
    print(f"(library DetectEntities with spaCy's whole pipeline, nlp(text): {full:.1f} req/s; "
          f"gateway/that = {gateway['DetectEntities'] / full if full else 0.0:.2f})")
    print()
    whole = gateway["DetectEntities"] / full if full else 0.0
    print(f"comprehend_throughput: {min(ratios):.2f}x the one-at-a-time library loop "
          f"(DetectEntities {ratios[0]:.2f}x the NER-only loop, {whole:.2f}x whole-pipeline nlp(text); "
          f"DetectSentiment {ratios[1]:.2f}x) (goal >= {GOAL:.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
