"""Rekognition speed, one run, side by side:

1. DetectLabels and DetectFaces requests per second through the gateway (boto3 at concurrency 8 against a running
   `aigate serve`, its model worker processes doing the work) vs the same analysis called in this process one
   image at a time (decode + engines, no HTTP). Goals: gateway overhead <= 10% on one stream (concurrency 1), and
   the gateway at concurrency 8 >= 1.5x the one-at-a-time loop (worker processes in parallel);
2. a 60 s video's StartLabelDetection wall time through the gateway and its real-time factor (wall / duration).

    .venv/bin/python bench/rekognition_speed.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.gateway.config import Settings  # noqa: E402
from tests.conftest import GatewayProcess  # noqa: E402
from tests.photos import photo_bytes  # noqa: E402

PHOTOS = ["obama", "biden", "astronaut", "coffee", "chelsea", "zidane", "bus", "group"]


def direct_rates(images: list[bytes], rounds: int) -> dict[str, float]:
    """Requests per second of the analysis in this process, one image at a time."""
    from services.gateway.runtime import start_model_worker
    from services.rekognition import analysis

    start_model_worker(Settings())  # this process's engine registry, as a model worker has
    calls = {"DetectLabels": lambda data: analysis.image_labels(data, {}),
             "DetectFaces": lambda data: analysis.image_faces(data, ["DEFAULT"])}
    rates = {}
    for name, call in calls.items():
        call(images[0])  # load and warm
        started = time.perf_counter()
        for _ in range(rounds):
            for data in images:
                call(data)
        rates[name] = rounds * len(images) / (time.perf_counter() - started)
    return rates


def gateway_rates(rekognition, images: list[bytes], rounds: int, concurrency: int) -> dict[str, float]:
    calls = {"DetectLabels": lambda data: rekognition.detect_labels(Image={"Bytes": data}),
             "DetectFaces": lambda data: rekognition.detect_faces(Image={"Bytes": data})}
    rates = {}
    for name, call in calls.items():
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(call, images[:concurrency]))  # every worker process loads its engines
            work = images * rounds
            started = time.perf_counter()
            list(pool.map(call, work))
            rates[name] = len(work) / (time.perf_counter() - started)
    return rates


def sixty_second_video() -> bytes:
    """60 s of 640x480 H.264 at 10 fps: six of the photos, ten seconds each."""
    import io

    import av
    import numpy as np
    from PIL import Image

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("h264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        for name in PHOTOS[:6]:
            frame = av.VideoFrame.from_ndarray(np.asarray(Image.open(io.BytesIO(photo_bytes(name))).convert("RGB")
                                                          .resize((640, 480))), format="rgb24")
            for _ in range(100):
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def video_label_seconds(gateway, rekognition) -> float:
    import requests

    requests.put(f"{gateway.url}/v1/blobs/bench/sixty.mp4", data=sixty_second_video(), timeout=60).raise_for_status()
    started = time.perf_counter()
    job = rekognition.start_label_detection(Video={"S3Object": {"Bucket": "bench", "Name": "sixty.mp4"}})["JobId"]
    while rekognition.get_label_detection(JobId=job, MaxResults=1)["JobStatus"] == "IN_PROGRESS":
        time.sleep(0.5)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    images = [photo_bytes(name) for name in PHOTOS]
    with tempfile.TemporaryDirectory() as folder:
        gateway = GatewayProcess(Path(folder) / "data").start(timeout=120)
        try:
            rekognition = gateway.client("rekognition", read_timeout=300, max_pool_connections=16)
            one = gateway_rates(rekognition, images, arguments.rounds, 1)
            eight = gateway_rates(rekognition, images, arguments.rounds, 8)
            video_seconds = video_label_seconds(gateway, rekognition)
        finally:
            gateway.stop()
    direct = direct_rates(images, arguments.rounds)
    print(f"{'operation':14} {'direct 1-at-a-time':>19} {'gateway c=1':>12} {'gateway c=8':>12} "
          f"{'overhead c=1':>13} {'c=8 / direct':>13}")
    worst_speedup = None
    for name in direct:
        overhead = 1 - one[name] / direct[name]
        speedup = eight[name] / direct[name]
        worst_speedup = speedup if worst_speedup is None else min(worst_speedup, speedup)
        print(f"{name:14} {direct[name]:17.2f}/s {one[name]:10.2f}/s {eight[name]:10.2f}/s {overhead:12.1%} "
              f"{speedup:12.2f}x")
    print(f"60 s video, StartLabelDetection: {video_seconds:.1f} s wall, real-time factor {video_seconds / 60:.2f}")
    print(f"rekognition_speed: {worst_speedup:.2f}x the one-at-a-time loop at concurrency 8 (goal >= 1.5x)")


if __name__ == "__main__":
    main()
