"""Amazon Rekognition Custom Labels object detection through boto3, on a gateway with an object detector switched on:
training from Ground Truth bounding boxes, evaluation at IoU 0.5, and DetectCustomLabels' boxes.

The detector here is a stand-in the test builds (tests/test_rekognition_detector.py's constant-output ONNX graph
in the Ultralytics layout, loaded through the real ObjectDetectorEngine path): it proposes the same grid of regions
on every image — 64-pixel cells and 128-pixel blocks of a 256-pixel picture. The custom labels come from the
gateway's probe on the classifier's embedding of each region, which is what is measured: pictures of a gravel
photograph with patches of the brick and grass photographs pasted into grid cells (training patches from the top
of each photograph, test and query ones from the bottom). With a real detector the proposals are its
boxes instead (yolo11n-seg or the user's own)."""

from __future__ import annotations

import io
import time

import numpy as np
import orjson
import pytest
from botocore.exceptions import ClientError
from PIL import Image

from tests.conftest import GatewayProcess, s3_env
from tests.helpers import make_bucket, unique
from tests.photos import photo
from tests.test_rekognition_detector import detector_onnx

SIDE, CELL = 256, 64
# Proposals in network pixels (the network side is SIDE: a SIDE-square picture is not letterboxed): centre x,
# centre y, width, height, score.
GRID = [(CELL // 2 + CELL * i, CELL // 2 + CELL * j, CELL, CELL, 0.9) for i in range(4) for j in range(4)] + \
       [(CELL + CELL * i, CELL + CELL * j, 2 * CELL, 2 * CELL, 0.8) for i in range(3) for j in range(3)]
OBJECTS = ("brick", "grass")


def grid_detector() -> bytes:
    return detector_onnx([np.array(GRID, dtype=np.float32).T[None]],
                         {"names": "{0: 'object'}", "imgsz": f"[{SIDE}, {SIDE}]"}, size=SIDE)


def texture(name: str, x: int, y: int, side: int) -> Image.Image:
    with Image.open(photo(name)) as opened:
        return opened.convert("RGB").crop((x, y, x + side, y + side))


def picture(rng: np.random.Generator, bottom: bool) -> tuple[bytes, list[tuple[str, tuple[int, int]]]]:
    """A gravel picture with two or three patches in distinct cells: (PNG, [(label, (column, row))])."""
    band = 256 if bottom else 0  # rows of the brick and grass photographs the patches come from
    # The gravel is background, anywhere in its photograph for training and test alike: a model must know all of
    # the background it will be shown, and the objects it finds are the held-out ones.
    canvas = texture("gravel", int(rng.integers(0, 256)), int(rng.integers(0, 256)), SIDE)
    cells = rng.choice(16, size=int(rng.integers(2, 4)), replace=False)
    placed = []
    for n, cell in enumerate(cells):
        label = OBJECTS[n % 2] if n < 2 else OBJECTS[int(rng.integers(0, 2))]
        column, row = int(cell % 4), int(cell // 4)
        canvas.paste(texture(label, int(rng.integers(0, 448)), band + int(rng.integers(0, 192)), CELL),
                     (column * CELL, row * CELL))
        placed.append((label, (column, row)))
    out = io.BytesIO()
    canvas.save(out, "PNG")
    return out.getvalue(), placed


def detection_line(bucket: str, key: str, placed) -> dict:
    return {"source-ref": f"s3://{bucket}/{key}",
            "bounding-box": {"image_size": [{"width": SIDE, "height": SIDE, "depth": 3}],
                             "annotations": [{"class_id": OBJECTS.index(label), "left": column * CELL,
                                              "top": row * CELL, "width": CELL, "height": CELL}
                                             for label, (column, row) in placed]},
            "bounding-box-metadata": {"objects": [{"confidence": 1} for _ in placed],
                                      "class-map": {str(i): name for i, name in enumerate(OBJECTS)},
                                      "type": "groundtruth/object-detection", "human-annotated": "yes",
                                      "creation-date": "2026-12-01T10:00:00.000", "job-name": "labeling-job/patches"}}


@pytest.fixture(scope="module")
def detecting_gateway(tmp_path_factory, s3_server):
    models = tmp_path_factory.mktemp("models")
    (models / "object-detector").mkdir()
    (models / "object-detector" / "detector.onnx").write_bytes(grid_detector())
    process = GatewayProcess(tmp_path_factory.mktemp("custom-detection") / "data",
                             env={**s3_env(s3_server), "AIGATE_MODELS_DIR": str(models),
                                  "AIGATE_REKOGNITION_OBJECT_DETECTOR": "true"})
    yield process.start()
    process.stop()


def test_object_detection_model_trains_evaluates_and_finds_boxes(detecting_gateway, s3_server):
    s3 = s3_server.client()
    rekognition = detecting_gateway.client("rekognition", read_timeout=300)
    bucket = make_bucket(s3, unique("custom-detection", 12))
    rng = np.random.default_rng(7)
    manifests = {}
    for part, count in (("train", 12), ("test", 4)):
        lines = []
        for n in range(count):
            data, placed = picture(rng, bottom=part == "test")
            key = f"{part}/{n}.png"
            s3.put_object(Bucket=bucket, Key=key, Body=data)
            lines.append(detection_line(bucket, key, placed))
        s3.put_object(Bucket=bucket, Key=f"{part}.manifest", Body=b"\n".join(orjson.dumps(line) for line in lines))
        manifests[part] = lines
    name = unique("patches")
    project = rekognition.create_project(ProjectName=name)["ProjectArn"]
    for part in ("train", "test"):
        dataset = rekognition.create_dataset(
            ProjectArn=project, DatasetType=part.upper(),
            DatasetSource={"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": f"{part}.manifest"}}})
        labels = rekognition.list_dataset_labels(DatasetArn=dataset["DatasetArn"])["DatasetLabelDescriptions"]
        boxes = sum(len(line["bounding-box"]["annotations"]) for line in manifests[part])
        assert sum(item["LabelStats"]["BoundingBoxCount"] for item in labels) == boxes
    version = rekognition.create_project_version(ProjectArn=project, VersionName="v1",
                                                 OutputConfig={"S3Bucket": bucket, "S3KeyPrefix": "out"})[
        "ProjectVersionArn"]
    deadline = time.monotonic() + 300
    while (described := rekognition.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"][0])[
            "Status"] == "TRAINING_IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(1)
    assert described["Status"] == "TRAINING_COMPLETED", described.get("StatusMessage")
    assert described["EvaluationResult"]["F1Score"] >= 0.8, described["EvaluationResult"]
    summary = orjson.loads(s3.get_object(Bucket=bucket,
                                         Key=described["EvaluationResult"]["Summary"]["S3Object"]["Name"])["Body"].read())
    assert summary["EvaluationDetails"]["Labels"] == list(OBJECTS)
    assert "ConfusionMatrix" not in summary["AggregatedEvaluationResults"]

    rekognition.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
    data, placed = picture(np.random.default_rng(99), bottom=True)
    found = rekognition.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": data})["CustomLabels"]
    boxes = {(label["Name"], round(label["Geometry"]["BoundingBox"]["Left"] * 4),
              round(label["Geometry"]["BoundingBox"]["Top"] * 4)) for label in found}
    assert {(label, column, row) for label, (column, row) in placed} <= boxes, (placed, found)
    assert len(found) <= len(placed) + 1  # at most one region beyond the patches
    for label in found:
        box = label["Geometry"]["BoundingBox"]
        assert len(label["Geometry"]["Polygon"]) == 4 and box["Width"] > 0 and 0 < label["Confidence"] <= 100
    rekognition.stop_project_version(ProjectVersionArn=version)
    with pytest.raises(ClientError) as caught:
        rekognition.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": data})
    assert caught.value.response["Error"]["Code"] == "ResourceNotReadyException"
