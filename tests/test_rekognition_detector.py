"""The user-supplied object detector (models/detector.py) on its real loading path: an Ultralytics-format ONNX file
(one output of shape (1, 4 + classes, anchors), `names` and `imgsz` in the file's metadata) read from the models
folder, letterboxed, decoded and NMS-filtered, its boxes answered as DetectLabels' Instances through a gateway.

No trained detector can be had here, so the test builds a tiny ONNX graph itself whose output is a fixed set of
candidate boxes (the input is read, multiplied by zero): the boxes it must come back with are known exactly."""

from __future__ import annotations

import io

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


def detector_onnx() -> bytes:
    output = np.array(CANDIDATES, dtype=np.float32).T[None]  # (1, 6, anchors)
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["candidates"], value=helper.make_tensor(
            "value", TensorProto.FLOAT, output.shape, output.flatten().tolist())),
         helper.make_node("ReduceSum", ["images"], ["total"], keepdims=0),
         helper.make_node("Constant", [], ["zero"], value=helper.make_tensor("z", TensorProto.FLOAT, [], [0.0])),
         helper.make_node("Mul", ["total", "zero"], ["nothing"]),
         helper.make_node("Add", ["candidates", "nothing"], ["output0"])],
        "tiny-detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, list(output.shape))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    helper.set_model_props(model, {"names": "{0: 'person', 1: 'dog'}", "imgsz": f"[{SIZE}, {SIZE}]"})
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_engine_decodes_letterboxes_and_suppresses(tmp_path):
    from models.detector import ObjectDetectorEngine

    (tmp_path / "detector.onnx").write_bytes(detector_onnx())
    engine = ObjectDetectorEngine.load(ResolvedWeights(tmp_path, "test"))
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
