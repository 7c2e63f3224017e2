"""Polly speed: real-time factor of SynthesizeSpeech (neural, mp3) through a running `aigate serve` vs the engine
called directly in this process, and the time to the first audio byte of a long paragraph (the gateway streams
per sentence, so it should arrive long before the whole text is synthesized).

    .venv/bin/python bench/polly_speed.py [--runs 3]

Three paths, run in turn (interleaved, so a busy shared machine slows them alike), medians of `--runs` runs after
one warm-up each:
  piper-tts     PiperVoice.synthesize on the whole text (the upstream library, no alignment, no encoding)
  aigate engine the service's own pipeline in-process: text -> sentences -> models/piper_tts -> mp3
  gateway       boto3 synthesize_speech through HTTP, audio read to the end
RTF = seconds / audio seconds (lower is faster), by wall clock and by CPU time (this process's for the in-process
paths, the gateway process's for the gateway: the CPU figure is the steadier one on a machine shared with other
work). Overhead (the goal line) = gateway CPU RTF / aigate-engine CPU RTF - 1: the same text to the same mp3, over
HTTP or called in-process. The gap between piper-tts and the aigate engine (per-word phonemization, duration
output, resampling and mp3 encoding, which piper-tts does not do) is printed beside it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PARAGRAPH = (
    "The city council met on Tuesday evening to discuss the new transport plan. "
    "After a long debate, the members agreed to extend the tram line to the northern districts. "
    "Construction is expected to begin next spring and to last about two years. "
    "During that time, buses will replace the trams on the busiest sections of the route. "
    "Residents who live near the works will receive letters explaining the changes. "
    "The mayor said that the project would cut travel times by a third for many commuters. "
    "Critics argued that the money would be better spent on cycling lanes and wider pavements. "
    "A public consultation will open next month, and everyone is invited to share their views. "
    "The final decision will be taken at the end of the year, once the consultation has closed. "
    "Until then, the council will publish regular updates on its website and in the local newspaper."
)
GOAL_OVERHEAD = 0.10


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gateway(data_dir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "AIGATE_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([sys.executable, "-m", "services.gateway.cli", "serve", "--host", "127.0.0.1",
                                "--port", str(port), "--data-dir", data_dir, "--no-worker"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/ready", timeout=1).status_code == 200:
                return process, url
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("gateway did not start")


def mp3_seconds(data: bytes) -> float:
    import io

    import av

    container = av.open(io.BytesIO(data))
    stream = container.streams.audio[0]
    return sum(frame.samples for frame in container.decode(stream)) / stream.codec_context.sample_rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import boto3
    from botocore.config import Config

    from models.catalog import CATALOG
    from models.piper_tts import PiperEngine
    from models.weights import resolve_weights
    from services.gateway.config import Settings
    from services.gateway.context import Principal
    from services.polly import speech as polly
    from services.polly.synth import Backend

    weights = resolve_weights(CATALOG["piper"], Settings())
    from piper.voice import PiperVoice

    upstream = PiperVoice.load(weights.path)
    engine = PiperEngine.load(weights)
    request = {"Text": PARAGRAPH, "VoiceId": "Joanna", "Engine": "neural", "OutputFormat": "mp3"}

    def run_upstream() -> tuple[float, float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        samples = sum(len(chunk.audio_float_array) for chunk in upstream.synthesize(PARAGRAPH))
        return time.perf_counter() - started, time.process_time() - cpu, samples / upstream.config.sample_rate

    def run_engine() -> tuple[float, float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        plan = polly.plan(request)
        sentences = polly.prepare(plan, Principal("000000000000", "us-east-1"), [])
        data = b"".join(polly.stream_audio(plan, Backend("piper", engine), sentences))
        return time.perf_counter() - started, time.process_time() - cpu, mp3_seconds(data)

    with tempfile.TemporaryDirectory() as data_dir:
        process, url = start_gateway(data_dir)
        ticks = os.sysconf("SC_CLK_TCK")

        def server_cpu() -> float:
            fields = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

        try:
            client = boto3.client("polly", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                                  aws_secret_access_key="bench", config=Config(retries={"max_attempts": 1},
                                                                               read_timeout=300))

            def run_gateway() -> tuple[float, float, float]:
                started, cpu = time.perf_counter(), server_cpu()
                data = client.synthesize_speech(**request)["AudioStream"].read()
                wall = time.perf_counter() - started
                return wall, server_cpu() - cpu, mp3_seconds(data)

            def first_byte() -> tuple[float, float]:
                started = time.perf_counter()
                with requests.post(url + "/v1/speech", json=request, stream=True, timeout=300) as response:
                    chunks = response.iter_content(chunk_size=None)
                    next(chunks)
                    first = time.perf_counter() - started
                    for _ in chunks:
                        pass
                return first, time.perf_counter() - started

            paths = {"piper-tts": run_upstream, "aigate engine": run_engine, "gateway": run_gateway}
            runs: dict[str, list] = {label: [] for label in paths}
            for fn in paths.values():
                fn()  # warm-up (model load)
            first_runs = []
            for _ in range(args.runs):
                for label, fn in paths.items():
                    runs[label].append(fn())
                first_runs.append(first_byte())
            results = {}
            for label, measured in runs.items():
                wall = statistics.median(r[0] for r in measured)
                cpu = statistics.median(r[1] for r in measured)
                audio = statistics.median(r[2] for r in measured)
                results[label] = (wall, cpu, audio)
            ttfb = statistics.median(r[0] for r in first_runs)
            total = statistics.median(r[1] for r in first_runs)
        finally:
            process.terminate()
            process.wait(15)

    print(f"text: {len(PARAGRAPH)} characters, 10 sentences; medians of {args.runs} interleaved runs")
    print(f"{'path':<15}{'wall s':>9}{'cpu s':>9}{'audio s':>9}{'RTF wall':>10}{'RTF cpu':>9}")
    for label, (wall, cpu, audio) in results.items():
        print(f"{label:<15}{wall:>9.2f}{cpu:>9.2f}{audio:>9.2f}{wall / audio:>10.3f}{cpu / audio:>9.3f}")
    rtf = {label: (wall / audio, cpu / audio) for label, (wall, cpu, audio) in results.items()}
    overhead = rtf["gateway"][1] / rtf["aigate engine"][1] - 1
    print(f"gateway vs the aigate engine in-process: wall RTF {rtf['gateway'][0] / rtf['aigate engine'][0] - 1:+.1%}, "
          f"CPU RTF {overhead:+.1%}")
    print(f"gateway vs piper-tts (raw PCM, no encoding): wall RTF {rtf['gateway'][0] / rtf['piper-tts'][0] - 1:+.1%}, "
          f"CPU RTF {rtf['gateway'][1] / rtf['piper-tts'][1] - 1:+.1%}")
    print(f"time to first audio byte: {ttfb:.2f} s; whole response: {total:.2f} s")
    print(f"polly_speed: overhead {overhead:+.1%} (CPU RTF {rtf['gateway'][1]:.3f} vs {rtf['aigate engine'][1]:.3f}), "
          f"first byte {ttfb:.2f} s of {total:.2f} s (goal overhead <= {GOAL_OVERHEAD:.0%}, first byte before the "
          f"whole text)")


if __name__ == "__main__":
    main()
