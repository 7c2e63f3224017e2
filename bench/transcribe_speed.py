"""Real-time factor (processing seconds per audio second) of the same recording, in one run:

1. a StartTranscriptionJob through a running gateway (boto3; from the Start call to COMPLETED, output written),
2. faster-whisper called directly on the same weights and settings (decode + Whisper base int8, beam 5, word
   timestamps),
3. openai-whisper (PyTorch) on a `.pt` rebuilt from the same Whisper base weights (beam 5, word timestamps).

Also checks that two concurrent jobs share the one loaded model (the gateway log shows one load).

    .venv/bin/python bench/transcribe_speed.py [--no-openai]

The recording: the five LibriVox clips of Debian's pocketsphinx-testdata, joined with half-second pauses.
Each of the first two is timed three times, alternating, and the fastest run kept (the machine is shared;
the best run is the one least disturbed). The gateway figure uses the job's own CreationTime/CompletionTime."""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import uuid
import wave
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.audio import decode  # noqa: E402
from models.registry import ModelRegistry  # noqa: E402
from services.gateway.config import Settings  # noqa: E402
from tests.conftest import GatewayProcess  # noqa: E402
from tests.test_transcribe import librivox  # noqa: E402

GOAL_OVERHEAD = 0.10


def recording() -> bytes:
    pause = np.zeros(8000, dtype=np.int16)
    pieces = []
    for path, _ in librivox():
        with wave.open(str(path)) as handle:
            pieces += [np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2"), pause]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes(np.concatenate(pieces).tobytes())
    return buffer.getvalue()


def gateway_job(client, uri: str) -> float:
    """Seconds from the job's creation to its completion, by the gateway's own timestamps (so the client's
    polling interval neither adds to the figure nor loads the CPU the job runs on)."""
    name = f"bench-{uuid.uuid4().hex[:8]}"
    client.start_transcription_job(TranscriptionJobName=name, Media={"MediaFileUri": uri}, LanguageCode="en-US")
    while True:
        job = client.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
        if job["TranscriptionJobStatus"] in ("COMPLETED", "FAILED"):
            break
        time.sleep(0.5)
    assert job["TranscriptionJobStatus"] == "COMPLETED", job.get("FailureReason")
    return (job["CompletionTime"] - job["CreationTime"]).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-openai", action="store_true")
    args = parser.parse_args()
    data = recording()
    seconds = decode(data).duration
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gateway = GatewayProcess(tmp / "gw", env={"AIGATE_S3_ENDPOINT_URL": ""}).start()
        try:
            client = gateway.client("transcribe")
            requests.put(f"{gateway.url}/v1/blobs/bench/rec.wav", data=data, timeout=60).raise_for_status()
            uri = "s3://bench/rec.wav"
            gateway_job(client, uri)  # warm-up: the first job loads the model
            settings = Settings(data_dir=tmp / "direct", models_dir=tmp / "models")
            with ModelRegistry(settings) as registry:
                engine = registry.get("whisper-base")
                engine.transcribe(decode(data).mono()[:16000 * 5], language="en")  # warm-up
                direct, through = [], []
                for _ in range(3):
                    started = time.perf_counter()
                    engine.transcribe(decode(data).mono(), language="en", beam_size=5)
                    direct.append(time.perf_counter() - started)
                    through.append(gateway_job(client, uri))
                figures["gateway job (StartTranscriptionJob -> COMPLETED)"] = min(through) / seconds
                figures["faster-whisper direct (same weights, beam 5)"] = min(direct) / seconds
                if not args.no_openai:
                    from models.whisper import ct2_to_openai_checkpoint

                    ct2_to_openai_checkpoint(engine.folder, tmp / "models" / "openai-whisper" / "base.pt")
                    registry.unload("whisper-base")
                    reference = registry.get("openai-whisper")
                    started = time.perf_counter()
                    reference.transcribe(decode(data).mono(), language="en", beam_size=5)
                    figures["openai-whisper (same weights, beam 5)"] = (time.perf_counter() - started) / seconds

            # Two jobs at once share the loaded engine: the gateway loads it once in its life.
            names = []
            started = time.perf_counter()
            for _ in range(2):
                name = f"bench-{uuid.uuid4().hex[:8]}"
                client.start_transcription_job(TranscriptionJobName=name, Media={"MediaFileUri": uri},
                                               LanguageCode="en-US")
                names.append(name)
            for name in names:
                while client.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"][
                        "TranscriptionJobStatus"] not in ("COMPLETED", "FAILED"):
                    time.sleep(0.25)
            concurrent = (time.perf_counter() - started) / (2 * seconds)
            loads = gateway.log().count("loaded engine whisper-base")
        finally:
            gateway.stop()
    print(f"recording: {seconds:.1f} s (5 LibriVox clips); real-time factor = processing s / audio s, lower is better")
    for label, rtf in figures.items():
        print(f"  {label:56} RTF {rtf:6.3f}")
    print(f"  {'two concurrent gateway jobs, per audio second':56} RTF {concurrent:6.3f}  (model loads: {loads})")
    gateway_rtf = figures["gateway job (StartTranscriptionJob -> COMPLETED)"]
    direct_rtf = figures["faster-whisper direct (same weights, beam 5)"]
    overhead = gateway_rtf / direct_rtf - 1
    if "openai-whisper (same weights, beam 5)" in figures:
        speedup = figures["openai-whisper (same weights, beam 5)"] / direct_rtf
        print(f"  faster-whisper is {speedup:.1f}x faster than openai-whisper on the same weights (goal >= 3x)")
    print(f"transcribe_speed: gateway overhead {overhead:+.1%} over faster-whisper direct "
          f"(goal <= {GOAL_OVERHEAD:.0%})")


if __name__ == "__main__":
    main()
