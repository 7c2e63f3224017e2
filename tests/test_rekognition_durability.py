"""Rekognition's durable jobs killed with their gateway mid-way resume after the restart and answer every piece of
work once (local blob store, SQLite): a stored-video job on a 60 s clip of six 10-second scenes, each with its own
number written on it, read by StartTextDetection; a bulk-analysis job over a manifest of 60 photos."""

from __future__ import annotations

import io

import json

import av
import numpy as np
import pytest
import requests

from tests.conftest import GatewayProcess
from tests.helpers import poll
from tests.photos import photo_bytes
from tests.test_rekognition_media_analysis import PHOTOS, finished, start

pytestmark = pytest.mark.slow

SCENES, SCENE_SECONDS, FPS, WIDTH, HEIGHT = 6, 10, 5, 480, 240


def numbered_scenes() -> bytes:
    import cv2

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("h264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        for scene in range(1, SCENES + 1):
            frame = np.full((HEIGHT, WIDTH, 3), 255, np.uint8)
            cv2.putText(frame, f"SCENE {scene}", (40, 150), cv2.FONT_HERSHEY_SIMPLEX, 2.5, (0, 0, 0), 6)
            for _ in range(SCENE_SECONDS * FPS):
                for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def kill_mid_way(gateway: GatewayProcess, job_id: str) -> None:
    """kill -9 the gateway once the job is between 20% and 90% done."""
    record = poll(lambda: requests.get(f"{gateway.url}/v1/jobs/{job_id}", timeout=10).json(),
                  lambda record: record["Status"] == "IN_PROGRESS" and record["Progress"] >= 0.2,
                  timeout=180, interval=0.05, raise_on_timeout=False)
    assert 0.2 <= record["Progress"] < 0.9, f"job too fast to interrupt: {record}"
    gateway.kill()


def test_killed_video_job_resumes_and_reads_every_scene(tmp_path):
    gateway = GatewayProcess(tmp_path / "data").start()
    try:
        response = requests.put(f"{gateway.url}/v1/blobs/videos/in/scenes.mp4", data=numbered_scenes(), timeout=10)
        assert response.status_code == 200
        rekognition = gateway.client("rekognition")
        job_id = rekognition.start_text_detection(Video={"S3Object": {"Bucket": "videos", "Name": "in/scenes.mp4"}})[
            "JobId"]
        kill_mid_way(gateway, job_id)

        gateway.start()
        rekognition = gateway.client("rekognition", read_timeout=120)
        result = poll(lambda: rekognition.get_text_detection(JobId=job_id),
                      lambda result: result["JobStatus"] != "IN_PROGRESS", timeout=300, interval=0.5,
                      what=f"video job {job_id} to end after the restart")
        assert result["JobStatus"] == "SUCCEEDED", result.get("StatusMessage")
        lines = [(item["Timestamp"], item["TextDetection"]["DetectedText"]) for item in result["TextDetections"]
                 if item["TextDetection"]["Type"] == "LINE"]
        assert result["VideoMetadata"]["DurationMillis"] == pytest.approx(SCENES * SCENE_SECONDS * 1000, abs=500)
        for scene in range(1, SCENES + 1):
            start, end = (scene - 1) * SCENE_SECONDS * 1000, scene * SCENE_SECONDS * 1000
            seen = {text for timestamp, text in lines if start <= timestamp < end}
            assert seen == {f"SCENE {scene}"}, (scene, seen)
        # Two samples a second, each answered once: no window was read twice.
        timestamps = [timestamp for timestamp, _ in lines]
        assert len(timestamps) == len(set(timestamps)) == SCENES * SCENE_SECONDS * 2
    finally:
        gateway.stop()


def test_killed_media_analysis_job_resumes_and_answers_every_image_once(tmp_path):
    gateway = GatewayProcess(tmp_path / "data").start()  # local blob store, SQLite
    try:
        names = [PHOTOS[n % len(PHOTOS)] for n in range(60)]
        for name in PHOTOS:
            response = requests.put(f"{gateway.url}/v1/blobs/media/in/{name}.jpg", data=photo_bytes(name), timeout=10)
            assert response.status_code == 200
        manifest = "".join(json.dumps({"source-ref": f"s3://media/in/{name}.jpg"}) + "\n" for name in names)
        assert requests.put(f"{gateway.url}/v1/blobs/media/manifest.jsonl", data=manifest.encode(),
                            timeout=10).status_code == 200
        rekognition = gateway.client("rekognition")
        job_id = start(rekognition, "media")
        kill_mid_way(gateway, job_id)

        gateway.start()
        rekognition = gateway.client("rekognition", read_timeout=120)
        job = finished(rekognition, job_id)
        assert job["Status"] == "SUCCEEDED", job
        results = requests.get(f"{gateway.url}/v1/blobs/media/out/{job_id}/results.jsonl", timeout=10)
        refs = [json.loads(line)["source-ref"] for line in results.text.splitlines()]
        assert refs == [f"s3://media/in/{name}.jpg" for name in names]  # each once, in manifest order
        summary = requests.get(f"{gateway.url}/v1/blobs/media/out/{job_id}/manifest-summary.json", timeout=10).json()
        assert summary["statistics"] == {"total-json-lines": 60, "valid-json-lines": 60, "invalid-json-lines": 0}
    finally:
        gateway.stop()
