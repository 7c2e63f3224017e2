"""Translation throughput, sentences per second, through the gateway (boto3 TranslateText against a running
`aigate serve`) vs calling the Apertium engine directly in this process, on the same sentences, one run.

Two request shapes: one sentence per request (the worst case for the gateway: its fixed cost per HTTP request is
compared with ~3 ms of Apertium work) and one 10-sentence paragraph per request (how documents and most
applications send text). The headline overhead is the paragraph case.

    .venv/bin/python bench/translate_speed.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.registry import ModelRegistry  # noqa: E402
from services.gateway.config import Settings  # noqa: E402
from tests.conftest import GatewayProcess  # noqa: E402

SENTENCES = [
    "The committee will publish its annual report on renewable energy next Tuesday.",
    "My brother works in a hospital near the old market.",
    "We eat bread and cheese every morning before school.",
    "The children are playing in the park with their dog.",
    "The train leaves at eight o'clock from the central station.",
    "She bought a new car last week because the old one broke.",
    "The city has many old churches and a beautiful river.",
    "The doctor said that I must rest for three days.",
    "They live in a small village near the sea.",
    "The government will build a new school in the north of the country.",
] * 6  # 60 sentences
PARAGRAPHS = [" ".join(SENTENCES[i:i + 10]) for i in range(0, len(SENTENCES), 10)]
CLIENTS = 2
ROUNDS = 3


def rate(fn, items, sentences_per_item: int, clients: int = 1) -> float:
    started = time.perf_counter()
    if clients == 1:
        for item in items:
            fn(item)
    else:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(fn, items))
    return len(items) * sentences_per_item / (time.perf_counter() - started)


def main() -> None:
    registry = ModelRegistry(Settings())
    engine = registry.get("apertium")
    engine.translate(SENTENCES[:3], "en", "es")  # warm the pipeline
    best: dict[str, float] = {}

    def keep(label: str, value: float) -> None:
        best[label] = max(best.get(label, 0.0), value)

    with tempfile.TemporaryDirectory() as tmp:
        gateway = GatewayProcess(Path(tmp) / "data", env={"AIGATE_LOG_LEVEL": "WARNING"}).start()
        try:
            client = gateway.client("translate")

            def call(text: str) -> str:
                return client.translate_text(Text=text, SourceLanguageCode="en",
                                             TargetLanguageCode="es")["TranslatedText"]

            for text in SENTENCES[:3]:
                call(text)  # load the engine in the gateway
            # The machine is shared: interleave the two sides and keep each one's best of ROUNDS.
            for _ in range(ROUNDS):
                keep("direct_sentence", rate(lambda s: engine.translate([s], "en", "es"), SENTENCES, 1))
                keep("gateway_sentence", rate(call, SENTENCES, 1))
                keep("direct_paragraph", rate(lambda p: engine.translate([p], "en", "es"), PARAGRAPHS * 3, 10))
                keep("gateway_paragraph", rate(call, PARAGRAPHS * 3, 10))
                keep("gateway_concurrent", rate(call, PARAGRAPHS * 3, 10, clients=CLIENTS))
        finally:
            gateway.stop()
            registry.close()
    direct_sentence, gateway_sentence = best["direct_sentence"], best["gateway_sentence"]
    direct_paragraph, gateway_paragraph = best["direct_paragraph"], best["gateway_paragraph"]
    gateway_concurrent = best["gateway_concurrent"]

    def overhead(direct: float, through: float) -> float:
        return 100.0 * (direct - through) / direct

    print(f"{'request shape':32s} {'direct sent/s':>14s} {'gateway sent/s':>15s} {'overhead':>9s}")
    print(f"{'1 sentence per request':32s} {direct_sentence:14.1f} {gateway_sentence:15.1f} "
          f"{overhead(direct_sentence, gateway_sentence):8.1f}%")
    print(f"{'10-sentence paragraph':32s} {direct_paragraph:14.1f} {gateway_paragraph:15.1f} "
          f"{overhead(direct_paragraph, gateway_paragraph):8.1f}%")
    print(f"{f'10-sentence, {CLIENTS} clients':32s} {direct_paragraph:14.1f} {gateway_concurrent:15.1f} "
          f"{overhead(direct_paragraph, gateway_concurrent):8.1f}%")
    print(f"translate_speed: {overhead(direct_paragraph, gateway_paragraph):.1f}% gateway overhead "
          f"({gateway_paragraph:.0f} vs {direct_paragraph:.0f} sentences/s, 10-sentence requests) (goal <= 20%)")


if __name__ == "__main__":
    main()
