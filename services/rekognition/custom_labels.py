"""Amazon Rekognition Custom Labels: projects, datasets, model versions trained as durable jobs, and
DetectCustomLabels.

A model is a linear probe on the image classifier's embedding (EfficientNet-Lite0's 1280-d pooled features,
models/vision.py `features`): logistic regression over the labels — one softmax over them when every image has one
label, one yes/no model per label when images have several. Each label's assumed threshold is the confidence that
maximises its F1 on out-of-fold predictions over the training images (so the test dataset only measures); test
images give precision, recall and F1 per label in the evaluation summary written to OutputConfig, and the F1
averaged over labels in DescribeProjectVersions' EvaluationResult.

Training (queue "rekognition", kind "rekognition.custom-labels") is checkpointed steps: `snapshot` writes the
training and test entries as they are at the start to the job's folder; `features-*` reads each batch of images from
the blob store, checks them (a bad one is ERROR_INVALID_IMAGE in the validation manifest, not a failed job) and
embeds them (or their regions) on the model workers; `fit` trains and saves the probe; `evaluate` writes the summary, validation and
manifest-summary files. A job killed mid-way resumes at the first unfinished step.

Datasets with bounding boxes train an object-detection model (custom_detection.py): the object detector switched
on in this gateway proposes regions and the probe labels each (with a BACKGROUND class); without a detector such a
version fails with ERROR_DETECTOR_REQUIRED. Projects of the CONTENT_MODERATION feature (moderation adapters) are
refused with NotImplementedException.

StartProjectVersion loads the probe in this process and the version is RUNNING when the call answers (Amazon
Rekognition provisions inference units meanwhile); Min/MaxInferenceUnits are kept and shown, and do not change
how requests are served.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import orjson
from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.context import Principal, RequestContext
from services.gateway.db import Base
from services.gateway.errors import ServiceError
from services.gateway.jobs import COMPLETED, FAILED, STOPPED, JobRun, job_kind
from services.gateway.kit.paging import Paging
from services.gateway.kit.resources import JobBacked, ResourceTable, ScopedByArn, session
from services.gateway.kit.tags import Tagging, drop_tags
from services.gateway.kit.times import aware, utcnow
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError
from services.rekognition import analysis, custom_detection, images, job_files, projects
from services.rekognition.errors import (InvalidPaginationToken, InvalidParameter, LimitExceeded, NotImplemented_,
                                         ResourceInUse, ResourceNotFound)
from services.rekognition.projects import (CONTENT_MODERATION, CUSTOM_LABELS, DATASETS, PROJECTS, TEST, TRAIN,
                                          ResourceNotReady)


QUEUE, KIND = "rekognition", "rekognition.custom-labels"
FEATURE_BATCH = 16  # images embedded per step on each model worker
MAX_INVALID_SHARE = 0.2  # more unusable lines than this fails training (ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST)
MAX_VERSIONS_PER_PROJECT = 100
TRAINING_STATUSES = {"SUBMITTED": "TRAINING_IN_PROGRESS", "IN_PROGRESS": "TRAINING_IN_PROGRESS",
                     "STOP_REQUESTED": "TRAINING_IN_PROGRESS", COMPLETED: "TRAINING_COMPLETED",
                     FAILED: "TRAINING_FAILED", STOPPED: "TRAINING_FAILED"}
STATUS_MESSAGES = {"TRAINING_IN_PROGRESS": "The model is being trained.",
                   "TRAINING_COMPLETED": "The model is ready to run.", "RUNNING": "The model is running.",
                   "STOPPED": "The model is stopped.", "STARTING": "The model is starting.",
                   "STOPPING": "The model is stopping."}

_PAGING = Paging("rekognition", invalid_token=lambda token: InvalidPaginationToken("Invalid pagination token"))


# A training job's terminal error: the job fails with its message, which leads with Amazon Rekognition Custom
# Labels' error code (ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST, ...), as DescribeProjectVersions' StatusMessage.
TrainingFailed = InvalidParameter


class RekognitionProjectVersion(JobBacked, ScopedByArn, Base):
    __tablename__ = "rekognition_project_versions"

    arn: Mapped[str] = mapped_column(String(700), primary_key=True)
    project_arn: Mapped[str] = mapped_column(String(600), index=True)
    version_name: Mapped[str] = mapped_column(String(255))
    spec: Mapped[dict] = mapped_column(JSON)  # the CreateProjectVersion request as accepted (tags left out)
    job_id: Mapped[str | None] = mapped_column(String(64))
    # After training: STARTING / RUNNING / STOPPING / STOPPED (None: the training job's status).
    status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    min_inference_units: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_inference_units: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    modified_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    def state(self) -> tuple[str, str | None]:
        """(AWS status, StatusMessage) as of now."""
        job = self.job()
        if job is None:  # the job was never queued (the process died between the row and the job)
            return "TRAINING_FAILED", "The gateway stopped before training was queued; create the version again."
        training = TRAINING_STATUSES.get(job.status, "TRAINING_IN_PROGRESS")
        if training != "TRAINING_COMPLETED":
            return training, (job.message if training == "TRAINING_FAILED" else STATUS_MESSAGES[training])
        status = self.status or training
        return status, STATUS_MESSAGES.get(status, self.message)


VERSIONS = ResourceTable(RekognitionProjectVersion, key="arn",
                         not_found=lambda arn: ResourceNotFound(f"The project version {arn} does not exist."))


def is_version_resource(principal: Principal, arn: str) -> bool:
    return ":project/" in arn and "/version/" in arn and VERSIONS.exists(principal, arn)


# ------------------------------------------------------------------ projects


def create_project(ctx: RequestContext, request: dict, tagging: Tagging) -> dict:
    tags = tagging.check_new(request.get("Tags"))
    project = projects.create_project(ctx, request["ProjectName"], request.get("Feature") or CUSTOM_LABELS,
                                      request.get("AutoUpdate") if request.get("Feature") == CONTENT_MODERATION
                                      else None)
    tagging.tag(ctx, project.arn, tags)
    return {"ProjectArn": project.arn}


def describe_projects(ctx: RequestContext, request: dict) -> dict:
    where = []
    if request.get("ProjectNames"):
        where.append(projects.RekognitionProject.name.in_(request["ProjectNames"]))
    if request.get("Features"):
        where.append(projects.RekognitionProject.feature.in_(request["Features"]))
    else:  # without Features, Amazon Rekognition lists Custom Labels projects only
        where.append(projects.RekognitionProject.feature == CUSTOM_LABELS)
    query = PROJECTS.query(ctx, *where)
    return _PAGING.page_query(ctx, request, query, [(projects.RekognitionProject.created_at, True),
                                                    (projects.RekognitionProject.arn, True)],
                              projects.project_description)


def delete_project(ctx: RequestContext, request: dict) -> dict:
    project = PROJECTS.get(ctx, request["ProjectArn"])
    if VERSIONS.count(ctx, RekognitionProjectVersion.project_arn == project.arn):
        raise ResourceInUse(f"The project {project.arn} has models; delete them before the project.")
    for dataset in projects.datasets_of(ctx, project.arn):
        drop_tags(dataset.arn)
    projects.delete_project(ctx, project)
    drop_tags(project.arn)
    return {"Status": "DELETING"}


# ------------------------------------------------------------------ datasets


def create_dataset(ctx: RequestContext, request: dict, tagging: Tagging) -> dict:
    tags = tagging.check_new(request.get("Tags"))
    project = PROJECTS.get(ctx, request["ProjectArn"])
    dataset = projects.create_dataset(ctx, project, request["DatasetType"], request.get("DatasetSource"))
    tagging.tag(ctx, dataset.arn, tags)
    return {"DatasetArn": dataset.arn}


def describe_dataset(ctx: RequestContext, request: dict) -> dict:
    return {"DatasetDescription": projects.dataset_description(DATASETS.get(ctx, request["DatasetArn"]))}


def delete_dataset(ctx: RequestContext, request: dict) -> dict:
    dataset = DATASETS.get(ctx, request["DatasetArn"])
    projects.delete_dataset(ctx, dataset)
    drop_tags(dataset.arn)
    return {}


def list_dataset_entries(ctx: RequestContext, request: dict) -> dict:
    dataset = projects.ready(DATASETS.get(ctx, request["DatasetArn"]))
    return _PAGING.page_query(ctx, request, projects.entries_query(dataset, request),
                              [(projects.RekognitionDatasetEntry.id, False)], lambda row: row.line)


def list_dataset_labels(ctx: RequestContext, request: dict) -> dict:
    dataset = projects.ready(DATASETS.get(ctx, request["DatasetArn"]))
    return _PAGING.page(ctx, request, projects.label_descriptions(dataset))


def update_dataset_entries(ctx: RequestContext, request: dict) -> dict:
    dataset = projects.ready(DATASETS.get(ctx, request["DatasetArn"]))
    projects.update_entries(ctx, dataset, request["Changes"]["GroundTruth"])
    return {}


def distribute_dataset_entries(ctx: RequestContext, request: dict) -> dict:
    found = [DATASETS.get(ctx, item["Arn"]) for item in request["Datasets"]]
    by_type = {dataset.dataset_type: dataset for dataset in found}
    if set(by_type) != {TRAIN, TEST} or found[0].project_arn != found[1].project_arn:
        raise InvalidParameter("Datasets must name the training dataset and the test dataset of one project.")
    projects.distribute(ctx, by_type[TRAIN], by_type[TEST])
    return {}


# ------------------------------------------------------------------ model versions


def _assets(data: dict | None) -> list[dict]:
    return [(asset.get("GroundTruthManifest") or {}).get("S3Object") or {} for asset in (data or {}).get("Assets") or []]


def _sources(ctx: RequestContext, project: projects.RekognitionProject, request: dict) -> dict:
    """Where training reads its entries: {"train": ..., "test": ...}, each {"manifests": [S3Object]} or
    {"dataset": arn} (test may be {"auto": True}: 20% of the training entries)."""
    datasets = {dataset.dataset_type: dataset for dataset in projects.datasets_of(ctx, project.arn)}
    training = _assets(request.get("TrainingData"))
    if training:
        train = {"manifests": training}
    elif TRAIN in datasets:
        train = {"dataset": datasets[TRAIN].arn}
    else:
        raise InvalidParameter(f"The project {project.arn} has no training dataset and TrainingData names no "
                               "manifest.")
    testing = request.get("TestingData") or {}
    if testing.get("AutoCreate"):
        if _assets(testing):
            raise InvalidParameter("TestingData can set AutoCreate or Assets, not both.")
        test = {"auto": True}
    elif _assets(testing):
        test = {"manifests": _assets(testing)}
    elif TEST in datasets and projects.entry_count(datasets[TEST].arn):
        test = {"dataset": datasets[TEST].arn}
    elif training:
        raise InvalidParameter("TestingData needs Assets or AutoCreate when TrainingData is given.")
    else:
        raise InvalidParameter(f"The project {project.arn} has no test dataset with entries: create one, or "
                               "distribute the training dataset (DistributeDatasetEntries).")
    for dataset in (datasets.get(TRAIN), datasets.get(TEST)):
        if dataset is not None and dataset.status == "CREATE_FAILED" and dataset.arn in (train.get("dataset"),
                                                                                         test.get("dataset")):
            raise ResourceNotReady(f"The dataset {dataset.arn} is not ready: {dataset.status}.")
    return {"train": train, "test": test}


def create_project_version(ctx: RequestContext, request: dict, tagging: Tagging) -> dict:
    project = PROJECTS.get(ctx, request["ProjectArn"])
    if project.feature == CONTENT_MODERATION:
        raise NotImplemented_("Custom moderation adapters (CONTENT_MODERATION projects) cannot be trained by this "
                              "gateway")
    if request.get("KmsKeyId"):
        raise InvalidParameter("KmsKeyId is not supported by this gateway: no AWS KMS key can be used here.")
    name = request["VersionName"]
    versions = VERSIONS.list(ctx, RekognitionProjectVersion.project_arn == project.arn)
    if any(version.version_name == name for version in versions):
        raise ResourceInUse(f"The version name {name} is already in use in project {project.arn}.")
    if len(versions) >= MAX_VERSIONS_PER_PROJECT:
        raise LimitExceeded(f"A project can have at most {MAX_VERSIONS_PER_PROJECT} models.")
    output = request["OutputConfig"]
    if not output.get("S3Bucket"):
        raise InvalidParameter("OutputConfig needs an S3Bucket.")
    tags = tagging.check_new(request.get("Tags"))
    sources = _sources(ctx, project, request)
    arn = f"{project.arn.rsplit('/', 1)[0]}/version/{name}/{projects._millis()}"
    spec = {key: value for key, value in request.items() if key != "Tags"}
    now = utcnow()
    with session() as db:
        VERSIONS.create(ctx, db, arn=arn, project_arn=project.arn, version_name=name, spec=spec, created_at=now,
                        modified_at=now)
    job = runtime().jobs.submit(ctx.principal, KIND, spec, name=arn, details={"arn": arn, "sources": sources})
    VERSIONS.update(ctx, arn, job_id=job.job_id)
    tagging.tag(ctx, arn, tags)
    return {"ProjectVersionArn": arn}


def _version_description(version: RekognitionProjectVersion) -> dict:
    status, message = version.state()
    job = version.job()
    spec = version.spec
    out = {"ProjectVersionArn": version.arn, "CreationTimestamp": aware(version.created_at), "Status": status,
           "OutputConfig": spec["OutputConfig"], "Feature": CUSTOM_LABELS}
    if message:
        out["StatusMessage"] = message
    if spec.get("VersionDescription"):
        out["VersionDescription"] = spec["VersionDescription"]
    if version.min_inference_units is not None:
        out["MinInferenceUnits"] = version.min_inference_units
    if version.max_inference_units is not None:
        out["MaxInferenceUnits"] = version.max_inference_units
    result = (job.result or {}) if job is not None else {}
    if job is not None and job.status in (COMPLETED, FAILED, STOPPED) and job.ended_at is not None:
        out["TrainingEndTimestamp"] = aware(job.ended_at)
        started = aware(job.started_at) or aware(job.created_at)
        out["BillableTrainingTimeInSeconds"] = max(0, int((aware(job.ended_at) - started).total_seconds()))
    training_input = {"Assets": spec["TrainingData"]["Assets"]} if (spec.get("TrainingData") or {}).get("Assets") \
        else {"Assets": []}
    testing_input = dict(spec.get("TestingData") or {"Assets": []})
    testing_input.setdefault("Assets", [])
    out["TrainingDataResult"] = {"Input": training_input, **result.get("TrainingDataResult", {})}
    out["TestingDataResult"] = {"Input": testing_input, **result.get("TestingDataResult", {})}
    if "EvaluationResult" in result:
        out["EvaluationResult"] = result["EvaluationResult"]
    if "ManifestSummary" in result:
        out["ManifestSummary"] = result["ManifestSummary"]
    return out


def describe_project_versions(ctx: RequestContext, request: dict) -> dict:
    project = PROJECTS.get(ctx, request["ProjectArn"])
    where = [RekognitionProjectVersion.project_arn == project.arn]
    if request.get("VersionNames"):
        where.append(RekognitionProjectVersion.version_name.in_(request["VersionNames"]))
    return _PAGING.page_query(ctx, request, VERSIONS.query(ctx, *where),
                              [(RekognitionProjectVersion.created_at, True), (RekognitionProjectVersion.arn, True)],
                              _version_description)


def start_project_version(ctx: RequestContext, request: dict) -> dict:
    version = VERSIONS.get(ctx, request["ProjectVersionArn"])
    status, _ = version.state()
    if status not in ("TRAINING_COMPLETED", "STOPPED"):
        raise ResourceInUse(f"The project version {version.arn} cannot be started while it is {status}.")
    minimum, maximum = request["MinInferenceUnits"], request.get("MaxInferenceUnits")
    if maximum is not None and maximum < minimum:
        raise InvalidParameter("MaxInferenceUnits must be at least MinInferenceUnits.")
    if _model(version).detection:  # loaded now, so the first DetectCustomLabels does not wait for it
        _detector_on(version.arn)
    VERSIONS.update(ctx, version.arn, status="RUNNING", min_inference_units=minimum, max_inference_units=maximum,
                    modified_at=utcnow())
    return {"Status": "STARTING"}


def stop_project_version(ctx: RequestContext, request: dict) -> dict:
    version = VERSIONS.get(ctx, request["ProjectVersionArn"])
    status, _ = version.state()
    if status != "RUNNING":
        raise ResourceInUse(f"The project version {version.arn} is not running (it is {status}).")
    VERSIONS.update(ctx, version.arn, status="STOPPED", modified_at=utcnow())
    _MODELS.pop(version.arn, None)
    return {"Status": "STOPPING"}


def delete_project_version(ctx: RequestContext, request: dict) -> dict:
    version = VERSIONS.get(ctx, request["ProjectVersionArn"])
    status, _ = version.state()
    if status in ("RUNNING", "STARTING", "TRAINING_IN_PROGRESS"):
        raise ResourceInUse(f"The project version {version.arn} cannot be deleted while it is {status}.")
    VERSIONS.delete(ctx, version.arn)
    if version.job_id is not None:
        runtime().jobs.store.delete(ctx.principal, KIND, version.job_id)
        shutil.rmtree(_job_dir(ctx.principal, version.job_id), ignore_errors=True)
    shutil.rmtree(_model_dir(ctx.principal, version.arn), ignore_errors=True)
    _MODELS.pop(version.arn, None)
    drop_tags(version.arn)
    return {"Status": "DELETING"}


# ------------------------------------------------------------------ DetectCustomLabels


def detect_custom_labels(ctx: RequestContext, request: dict) -> dict:
    version = VERSIONS.find(ctx, request["ProjectVersionArn"])
    if version is None:
        raise ResourceNotFound(f"The project version {request['ProjectVersionArn']} does not exist.")
    status, _ = version.state()
    if status != "RUNNING":
        raise ResourceNotReady(f"ProjectVersion {version.arn} is not running (it is {status}).")
    image = images.read_image(ctx.principal, request.get("Image"))
    model = _model(version)
    min_confidence = request.get("MinConfidence")
    if model.detection:
        _detector_on(version.arn)
        found = custom_detection.detected(model, analysis.on_worker(custom_detection.regions, image.data, []),
                                          min_confidence)
    else:
        vector = np.asarray(analysis.on_worker(image_features, [image.data])[0], dtype=np.float32)
        scores = model.confidences(vector[None, :])[0]
        found = []
        for label, confidence, threshold in zip(model.labels, scores, model.thresholds):
            keep = confidence >= min_confidence if min_confidence is not None else confidence >= threshold
            if keep:
                found.append({"Name": label, "Confidence": float(confidence)})
        found.sort(key=lambda item: -item["Confidence"])
    if request.get("MaxResults") is not None:
        found = found[:request["MaxResults"]]
    return {"CustomLabels": found}


def _detector_on(arn: str) -> None:
    if not custom_detection.enabled():
        raise ResourceNotReady(f"ProjectVersion {arn} detects objects, and no object detector is switched on in this "
                               "gateway to propose their regions.")


# ------------------------------------------------------------------ the probe


class Probe:
    """Logistic regression on L2-normalised embeddings; confidences in percent, thresholds per label."""

    def __init__(self, labels: list[str], coef: np.ndarray, intercept: np.ndarray, multiclass: bool,
                 thresholds: np.ndarray, detection: bool = False):
        self.labels, self.coef, self.intercept = labels, coef, intercept
        self.multiclass, self.thresholds = multiclass, thresholds
        self.detection = detection  # labels regions (custom_detection), not whole images

    @staticmethod
    def normalised(vectors: np.ndarray) -> np.ndarray:
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    def confidences(self, vectors: np.ndarray) -> np.ndarray:
        logits = self.normalised(vectors) @ self.coef.T + self.intercept
        if self.multiclass:
            logits = logits - logits.max(axis=1, keepdims=True)
            exp = np.exp(logits)
            return 100.0 * exp / exp.sum(axis=1, keepdims=True)
        return 100.0 / (1.0 + np.exp(-logits))

    def save(self, path: Path) -> None:
        temporary = path.with_name("model.tmp.npz")
        np.savez(temporary, labels=np.array(self.labels, dtype=object), coef=self.coef, intercept=self.intercept,
                 multiclass=np.array(self.multiclass), thresholds=self.thresholds,
                 detection=np.array(self.detection))
        os.replace(temporary, path)

    @classmethod
    def load(cls, path: Path) -> "Probe":
        with np.load(path, allow_pickle=True) as stored:
            return cls(list(stored["labels"]), stored["coef"], stored["intercept"], bool(stored["multiclass"]),
                       stored["thresholds"], bool(stored["detection"]))


def fit_probe(vectors: np.ndarray, label_sets: list[list[str]], labels: list[str]) -> Probe:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_predict

    x = Probe.normalised(vectors)
    multiclass = all(len(found) == 1 for found in label_sets)
    c = 10.0  # embeddings are unit length: a weak penalty, as linear probes on frozen features use
    if multiclass:
        y = np.array([labels.index(found[0]) for found in label_sets])
        model = LogisticRegression(C=c, max_iter=2000).fit(x, y)
        coef, intercept = model.coef_, model.intercept_
        if len(labels) == 2:  # sklearn answers one row for two classes: spell both out for the softmax
            coef, intercept = np.vstack([-coef[0] / 2, coef[0] / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        folds = min(5, int(np.bincount(y).min()))
        out_of_fold = cross_val_predict(LogisticRegression(C=c, max_iter=2000), x, y, method="predict_proba",
                                        cv=StratifiedKFold(folds, shuffle=True, random_state=0)) * 100 \
            if folds >= 2 else None
        truth = np.eye(len(labels), dtype=bool)[y]
    else:
        truth = np.array([[label in found for label in labels] for found in label_sets])
        rows, intercepts, columns = [], [], []
        for j in range(len(labels)):
            model = LogisticRegression(C=c, max_iter=2000).fit(x, truth[:, j])
            rows.append(model.coef_[0])
            intercepts.append(model.intercept_[0])
            folds = min(5, int(truth[:, j].sum()), int((~truth[:, j]).sum()))
            columns.append(cross_val_predict(LogisticRegression(C=c, max_iter=2000), x, truth[:, j],
                                             method="predict_proba", cv=KFold(folds, shuffle=True, random_state=0)
                                             )[:, 1] * 100 if folds >= 2 else None)
        coef, intercept = np.array(rows), np.array(intercepts)
        out_of_fold = np.stack(columns, axis=1) if all(column is not None for column in columns) else None
    thresholds = np.array([_best_threshold(out_of_fold[:, j], truth[:, j]) if out_of_fold is not None else 50.0
                           for j in range(len(labels))])
    return Probe(labels, coef, intercept, multiclass, thresholds)


def _best_threshold(scores: np.ndarray, truth: np.ndarray) -> float:
    """The confidence at which the label's F1 is best (midway to the next score, so it is not on a sample)."""
    best, chosen = -1.0, 50.0
    ordered = np.sort(np.unique(scores))
    for i, candidate in enumerate(ordered):
        f1 = _f1(scores >= candidate, truth)[2]
        if f1 > best:
            best = f1
            chosen = float((candidate + ordered[i - 1]) / 2) if i > 0 else float(candidate) * 0.99
    return chosen


def _f1(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = float(np.sum(predicted & truth))
    precision = tp / max(1.0, float(np.sum(predicted)))
    recall = tp / max(1.0, float(np.sum(truth)))
    return precision, recall, (2 * precision * recall / (precision + recall) if precision + recall else 0.0)


_MODELS: dict[str, Probe] = {}
_MODELS_LOCK = threading.Lock()


def _model(version: RekognitionProjectVersion) -> Probe:
    with _MODELS_LOCK:
        if version.arn not in _MODELS:
            path = _model_dir(Principal(version.account_id, version.region), version.arn) / "model.npz"
            if not path.exists():
                raise ResourceNotReady(f"ProjectVersion {version.arn} has no trained model.")
            _MODELS[version.arn] = Probe.load(path)
        return _MODELS[version.arn]


# ------------------------------------------------------------------ on the model workers


def image_features(datas: list[bytes]) -> list[list[float]]:
    """The classifier's embedding of each image (images.decode checks the pixels)."""
    engine = runtime().models.get("imagenet-labels")
    return [engine.features(images.decode(data)).astype(np.float32).tolist() for data in datas]


# ------------------------------------------------------------------ the training job


def _job_dir(principal: Principal, job_id: str) -> Path:
    return job_files.job_folder(principal, "custom-labels-jobs", job_id)


def _model_dir(principal: Principal, arn: str) -> Path:
    key = hashlib.sha256(arn.encode()).hexdigest()[:32]
    return Path(runtime().settings.data_dir) / "rekognition" / principal.account_id / "custom-labels-models" / key


def _source_entries(principal: Principal, source: dict) -> list[projects.Entry]:
    if "dataset" in source:
        return [projects.read_line(orjson.loads(row.line)) for row in projects.entry_rows(source["dataset"])]
    entries: list[projects.Entry] = []
    for s3_object in source["manifests"]:
        try:
            entries.extend(projects.parse_manifest(projects.read_manifest(principal, s3_object)))
        except projects.ManifestError as error:
            raise TrainingFailed(f"{error.code}: {error.message}") from None
        except ServiceError as error:
            raise TrainingFailed(f"ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT: {error.message}") from None
    return entries


def _snapshot(principal: Principal, job_id: str, sources: dict) -> dict:
    """The entries training and testing use, as they are now: {"train": n, "test": n, "labels": [...], "detection":
    whether the model locates objects (the training entries have bounding boxes)}."""
    train = _source_entries(principal, sources["train"])
    detection = any(entry.boxes for entry in train if not entry.has_errors)
    if detection and not custom_detection.enabled():
        raise TrainingFailed("ERROR_DETECTOR_REQUIRED: The datasets have bounding boxes: an object detection model "
                             "needs an object detector to propose regions, and none is switched on in this gateway "
                             "(AIGATE_REKOGNITION_OBJECT_DETECTOR with a detector in the models folder, or the "
                             "opt-in AIGATE_REKOGNITION_AGPL_YOLO11N_SEG).")
    if sources["test"].get("auto"):
        moved = set(projects.distributed_refs([entry.source_ref for entry in train]))
        test = [entry for entry in train if entry.source_ref in moved]
        train = [entry for entry in train if entry.source_ref not in moved]
    else:
        test = _source_entries(principal, sources["test"])
    for kind, entries in (("train", train), ("test", test)):
        lines = [entry.line for entry in entries]
        if not lines:
            raise TrainingFailed(f"ERROR_EMPTY_MANIFEST: The {'training' if kind == 'train' else 'testing'} "
                                 "manifest has no JSON lines.")
        usable = [entry for entry in entries if not entry.has_errors and entry.labels]
        if len(usable) < (1 - MAX_INVALID_SHARE) * len(entries):
            raise TrainingFailed("ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST: The manifest file contains too many "
                                 "invalid rows.")
    labels = sorted({label for entry in train if not entry.has_errors
                     for label in (entry.boxes if detection else entry.labels)})
    if len(labels) < (1 if detection else 2):  # a classifier tells labels apart; a detector tells one from background
        raise TrainingFailed("ERROR_INSUFFICIENT_LABELS: The training manifest needs at least "
                             f"{'one label' if detection else 'two labels'}.")
    folder = _job_dir(principal, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    for kind, entries in (("train", train), ("test", test)):
        job_files.write_json(folder / f"{kind}.json", [entry.line for entry in entries])
    return {"train": len(train), "test": len(test), "labels": labels, "detection": detection}


def _lines(principal: Principal, job_id: str, kind: str) -> list[dict]:
    return orjson.loads((_job_dir(principal, job_id) / f"{kind}.json").read_bytes())


def _embed(principal: Principal, job_id: str, kind: str, first: int, count: int,
           detection: bool = False) -> list[dict | None]:
    """Embed lines first..first+count of a snapshot on the model workers (whole images, or the regions of each for
    a detection model); per line None or its image error."""
    lines = _lines(principal, job_id, kind)[first:first + count]
    usable, datas, problems = [], [], []
    for line in lines:
        entry = projects.read_line(line)
        if entry.has_errors or not (entry.labels or detection):  # an image without objects is all background
            problems.append({"code": "WARNING_NO_ANNOTATIONS", "message": "The JSON line has no usable labels."}
                            if not entry.has_errors else None)
            continue
        try:
            image = images.check_image(runtime().blobs.read(entry.source_ref, principal.account_id,
                                                            max_bytes=images.MAX_S3_BYTES))
        except (BlobError, ServiceError):
            problems.append({"code": "ERROR_INVALID_IMAGE", "message": "The image is invalid."})
            continue
        problems.append(None)
        usable.append(len(problems) - 1)
        datas.append(image.data)
    if detection:
        return _embed_regions(principal, job_id, kind, first, lines, usable, datas, problems)
    workers = max(1, runtime().settings.model_worker_count)
    share = max(1, -(-len(datas) // workers))
    batches = [datas[i:i + share] for i in range(0, len(datas), share)]

    def embed(batch: list[bytes]):
        try:
            return analysis.on_worker(image_features, batch)
        except ServiceError:  # a damaged file inside a valid header: embed one by one to find it
            out = []
            for data in batch:
                try:
                    out.extend(analysis.on_worker(image_features, [data]))
                except ServiceError:
                    out.append(None)
            return out

    with ThreadPoolExecutor(max(1, len(batches))) as pool:
        vectors = [vector for batch in pool.map(embed, batches) for vector in batch]
    features = np.zeros((len(lines), 1280), dtype=np.float32)
    for index, vector in zip(usable, vectors):
        if vector is None:
            problems[index] = {"code": "ERROR_INVALID_IMAGE", "message": "The image is invalid."}
        else:
            features[index] = vector
    np.save(_job_dir(principal, job_id) / f"features-{kind}-{first}.npy", features)
    return problems


def _embed_regions(principal: Principal, job_id: str, kind: str, first: int, lines: list[dict], usable: list[int],
                   datas: list[bytes], problems: list) -> list[dict | None]:
    """The regions of each usable image (its boxes and the detector's proposals), one image per model worker call:
    `regions-<kind>-<first>.npy` (the embeddings) beside `.json` ({line: {"known": n, "proposals": [boxes]}})."""
    truths = [[box for _, box in custom_detection.known_boxes(projects.read_line(lines[i]).boxes)] for i in usable]

    def embed(item):
        try:
            return analysis.on_worker(custom_detection.regions, *item)
        except ServiceError:
            return None

    with ThreadPoolExecutor(max(1, runtime().settings.model_worker_count)) as pool:
        found = list(pool.map(embed, zip(datas, truths)))
    meta, vectors = {}, []
    for index, regions in zip(usable, found):
        if regions is None:
            problems[index] = {"code": "ERROR_INVALID_IMAGE", "message": "The image is invalid."}
            continue
        meta[str(first + index)] = {"known": len(regions["known"]),
                                    "proposals": [proposal["box"] for proposal in regions["proposals"]]}
        vectors.extend(regions["known"] + [proposal["vector"] for proposal in regions["proposals"]])
    folder = _job_dir(principal, job_id)
    np.save(folder / f"regions-{kind}-{first}.npy", np.asarray(vectors, dtype=np.float32).reshape(-1, 1280))
    job_files.write_json(folder / f"regions-{kind}-{first}.json", meta)
    return problems


def _regions(principal: Principal, job_id: str, kind: str) -> list[tuple[list[tuple[str, dict]], dict]]:
    """(ground truth, regions as custom_detection.regions answers them) of each usable image of a snapshot."""
    folder = _job_dir(principal, job_id)
    lines = _lines(principal, job_id, kind)
    out = []
    for first in range(0, len(lines), FEATURE_BATCH):
        meta = orjson.loads((folder / f"regions-{kind}-{first}.json").read_bytes())
        vectors = np.load(folder / f"regions-{kind}-{first}.npy")
        at = 0
        for line_number in sorted(meta, key=int):
            item = meta[line_number]
            known, boxes = item["known"], item["proposals"]
            found = {"known": vectors[at:at + known].tolist(),
                     "proposals": [{"box": box, "vector": vector}
                                   for box, vector in zip(boxes, vectors[at + known:at + known + len(boxes)].tolist())]}
            at += known + len(boxes)
            out.append((custom_detection.known_boxes(projects.read_line(lines[int(line_number)]).boxes), found))
    return out


def _gathered(principal: Principal, job_id: str, kind: str, problems: list) -> tuple[np.ndarray, list[list[str]],
                                                                                   list[int]]:
    """(embeddings, labels, line numbers) of a snapshot's usable lines."""
    folder = _job_dir(principal, job_id)
    lines = _lines(principal, job_id, kind)
    vectors = np.concatenate([np.load(folder / f"features-{kind}-{first}.npy")
                              for first in range(0, len(lines), FEATURE_BATCH)]) if lines else np.zeros((0, 1280))
    keep = [i for i, line in enumerate(lines) if problems[i] is None and not line.get("errors")]
    return vectors[keep], [projects.read_line(lines[i]).labels for i in keep], keep


def _fit(principal: Principal, job_id: str, arn: str, labels: list[str], problems: list,
         detection: bool = False) -> int:
    if detection:
        return _fit_regions(principal, job_id, arn, labels)
    vectors, label_sets, _ = _gathered(principal, job_id, "train", problems)
    if len({label for found in label_sets for label in found}) < 2:
        raise TrainingFailed("ERROR_INSUFFICIENT_LABELS: The training images that could be read carry fewer than "
                             "two labels.")
    present = [label for label in labels if any(label in found for found in label_sets)]
    probe = fit_probe(vectors, label_sets, present)
    folder = _model_dir(principal, arn)
    folder.mkdir(parents=True, exist_ok=True)
    probe.save(folder / "model.npz")
    return len(label_sets)


def _fit_regions(principal: Principal, job_id: str, arn: str, labels: list[str]) -> int:
    vectors, region_labels = [], []
    images_ = _regions(principal, job_id, "train")
    for truth, found in images_:
        more_vectors, more_labels = custom_detection.training_samples(found, truth)
        vectors.extend(more_vectors)
        region_labels.extend(more_labels)
    present = [label for label in labels if label in region_labels]
    if not present:
        raise TrainingFailed("ERROR_INSUFFICIENT_LABELS: No bounding box of the training images could be read.")
    classes = present + ([custom_detection.BACKGROUND] if custom_detection.BACKGROUND in region_labels else [])
    if len(classes) < 2:
        raise TrainingFailed("ERROR_INSUFFICIENT_LABELS: A detection model needs background as well as objects: the "
                             "detector proposed no region away from the labelled boxes.")
    probe = fit_probe(np.asarray(vectors, dtype=np.float32), [[label] for label in region_labels], classes)
    probe.detection = True
    folder = _model_dir(principal, arn)
    folder.mkdir(parents=True, exist_ok=True)
    probe.save(folder / "model.npz")
    return len(images_)


def _output_uri(request: dict, *parts: str) -> str:
    output = request["OutputConfig"]
    prefix = output.get("S3KeyPrefix") or ""
    return runtime().blobs.join(f"s3://{output['S3Bucket']}/{prefix}".rstrip("/"), *parts)


def _evaluate(principal: Principal, job_id: str, arn: str, request: dict, problems: dict, trained: int) -> dict:
    """Metrics on the test images, and the files Amazon Rekognition writes to OutputConfig; the job's result."""
    probe = Probe.load(_model_dir(principal, arn) / "model.npz")
    label_results, tested_images, confusion = _detection_metrics(principal, job_id, probe) if probe.detection \
        else _classification_metrics(principal, job_id, probe, problems["test"])
    tested = [result for result in label_results if result["NumberOfTestingImages"]]
    mean = {key: float(np.mean([result["Metrics"][key] for result in tested])) if tested else 0.0
            for key in ("F1Score", "Precision", "Recall")}
    project, version = projects.project_name(arn), arn.split("/version/", 1)[1].split("/", 1)[0]
    summary = {"Version": 1,
               "AggregatedEvaluationResults": {**({"ConfusionMatrix": confusion} if confusion else {}), **mean},
               "EvaluationDetails": {"EvaluationEndTimestamp": utcnow().replace(tzinfo=None).isoformat(),
                                     "Labels": [label for label in probe.labels
                                                if label != custom_detection.BACKGROUND],
                                     "NumberOfTestingImages": tested_images, "NumberOfTrainingImages": trained,
                                     "ProjectVersionArn": arn},
               "LabelEvaluationResults": sorted(label_results, key=lambda result: -result["Metrics"]["F1Score"])}
    return _write_outputs(principal, job_id, request, problems, project, version, summary, mean["F1Score"])


def _classification_metrics(principal: Principal, job_id: str, probe: Probe, problems: list
                            ) -> tuple[list[dict], int, list[dict]]:
    """(per-label results, test images, confusion matrix) of an image-level model on the test images."""
    vectors, label_sets, _ = _gathered(principal, job_id, "test", problems)
    if not label_sets:
        raise TrainingFailed("ERROR_NO_VALID_TEST_IMAGES: No image of the test dataset could be read.")
    scores = probe.confidences(vectors)
    truth = np.array([[label in found for label in probe.labels] for found in label_sets])
    predicted = scores >= probe.thresholds[None, :]
    label_results = []
    for j, label in enumerate(probe.labels):
        precision, recall, f1 = _f1(predicted[:, j], truth[:, j])
        label_results.append({"Label": label, "Metrics": {"F1Score": f1, "Precision": precision, "Recall": recall,
                                                          "Threshold": float(probe.thresholds[j]) / 100},
                              "NumberOfTestingImages": int(truth[:, j].sum())})
    confusion = []
    if probe.multiclass:
        chosen = scores.argmax(axis=1)
        for i, actual in enumerate(probe.labels):
            rows = truth[:, i]
            for j, guessed in enumerate(probe.labels):
                share = float(np.mean(chosen[rows] == j)) if rows.any() else 0.0
                confusion.append({"GroundTruthLabel": actual, "PredictedLabel": guessed, "Value": share})
    return label_results, len(label_sets), confusion


def _detection_metrics(principal: Principal, job_id: str, probe: Probe) -> tuple[list[dict], int, list[dict]]:
    """(per-label results, test images, no confusion matrix) of a detection model: boxes matched at IoU 0.5."""
    tested = _regions(principal, job_id, "test")
    if not tested:
        raise TrainingFailed("ERROR_NO_VALID_TEST_IMAGES: No image of the test dataset could be read.")
    labels = [label for label in probe.labels if label != custom_detection.BACKGROUND]
    totals = {label: [0, 0, 0] for label in labels}
    images_with = {label: 0 for label in labels}
    for truth, found in tested:
        for label, (tp, fp, fn) in custom_detection.matches(custom_detection.detected(probe, found, None), truth,
                                                            labels).items():
            totals[label] = [totals[label][0] + tp, totals[label][1] + fp, totals[label][2] + fn]
        for label in {label for label, _ in truth}:
            if label in images_with:
                images_with[label] += 1
    results = []
    for label in labels:
        tp, fp, fn = totals[label]
        precision, recall = tp / max(1, tp + fp), tp / max(1, tp + fn)
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        results.append({"Label": label, "Metrics": {"F1Score": f1, "Precision": precision, "Recall": recall,
                                                    "Threshold": float(probe.thresholds[probe.labels.index(label)])
                                                    / 100},
                        "NumberOfTestingImages": images_with[label]})
    return results, len(tested), []


def _write_outputs(principal: Principal, job_id: str, request: dict, problems: dict, project: str, version: str,
                   summary: dict, f1: float) -> dict:
    """The evaluation summary, validation manifests and manifest summary in OutputConfig; the job's result."""
    blobs = runtime().blobs
    names = {"summary": f"EvaluationResultSummary-{project}-{version}.json",
             "train": f"{version}/manifests/output/training_validation.manifest",
             "test": f"{version}/manifests/output/testing_validation.manifest",
             "manifest-summary": f"{version}/manifests/output/manifest_summary.json"}
    try:
        blobs.write(_output_uri(request, names["summary"]), orjson.dumps(summary), principal.account_id,
                    content_type="application/json")
        errors_by_kind = {}
        for kind in ("train", "test"):
            lines = _lines(principal, job_id, kind)
            validated = []
            for line, problem in zip(lines, problems[kind]):
                if problem is not None:
                    line = {**line, "errors": [*(line.get("errors") or []), problem]}
                validated.append(orjson.dumps(line))
            errors_by_kind[kind] = sum(1 for line, problem in zip(lines, problems[kind])
                                       if problem is not None or line.get("errors"))
            blobs.write(_output_uri(request, names[kind]), b"\n".join(validated) + b"\n", principal.account_id)
        manifest_summary = {"version": 1, "statistics": {
            "total_json_lines": {kind: len(problems[kind]) for kind in ("train", "test")},
            "valid_json_lines": {kind: len(problems[kind]) - errors_by_kind[kind] for kind in ("train", "test")},
            "invalid_json_lines": errors_by_kind}, "errors": []}
        blobs.write(_output_uri(request, names["manifest-summary"]), orjson.dumps(manifest_summary),
                    principal.account_id, content_type="application/json")
    except BlobError as error:
        raise TrainingFailed(f"ERROR_OUTPUT_INACCESSIBLE: The output location could not be written ({error}).") \
            from None

    def asset(name: str) -> dict:
        output = request["OutputConfig"]
        key = f"{(output.get('S3KeyPrefix') or '').rstrip('/')}/{name}".lstrip("/")
        return {"GroundTruthManifest": {"S3Object": {"Bucket": output["S3Bucket"], "Name": key}}}

    return {"EvaluationResult": {"F1Score": f1,
                                 "Summary": {"S3Object": asset(names["summary"])["GroundTruthManifest"]["S3Object"]}},
            "TrainingDataResult": {"Output": {"Assets": [asset(names["train"])]},
                                   "Validation": {"Assets": [asset(names["train"])]}},
            "TestingDataResult": {"Output": {"Assets": [asset(names["test"])], "AutoCreate": False},
                                  "Validation": {"Assets": [asset(names["test"])]}},
            "ManifestSummary": {"S3Object": asset(names["manifest-summary"])["GroundTruthManifest"]["S3Object"]}}


@job_kind(KIND, QUEUE)
def _train(run: JobRun) -> dict:
    arn, sources = run.details["arn"], run.details["sources"]
    counts = run.step(_snapshot, run.principal, run.job_id, sources, name="snapshot")
    problems: dict[str, list] = {"train": [], "test": []}
    total = counts["train"] + counts["test"]
    done = 0
    for kind in ("train", "test"):
        for first in range(0, counts[kind], FEATURE_BATCH):
            problems[kind].extend(run.step(_embed, run.principal, run.job_id, kind, first, FEATURE_BATCH,
                                           counts["detection"], name=f"features-{kind}-{first}"))
            done += min(FEATURE_BATCH, counts[kind] - first)
            run.progress(done, total + 1)
    trained = run.step(_fit, run.principal, run.job_id, arn, counts["labels"], problems["train"],
                       counts["detection"], name="fit")
    result = run.step(_evaluate, run.principal, run.job_id, arn, run.request, problems, trained, name="evaluate")
    for name in os.listdir(_job_dir(run.principal, run.job_id)):  # the embeddings are not needed once evaluated
        if name.startswith(("features-", "regions-")):
            (_job_dir(run.principal, run.job_id) / name).unlink(missing_ok=True)
    return result


# ------------------------------------------------------------------ registration


def register(provider, tagging: Tagging) -> None:
    """The Custom Labels operations on Rekognition's provider (called by provider.py, which this module does not
    import)."""
    handlers = {
        "CreateProject": lambda ctx, request: create_project(ctx, request, tagging),
        "DescribeProjects": describe_projects, "DeleteProject": delete_project,
        "CreateDataset": lambda ctx, request: create_dataset(ctx, request, tagging),
        "DescribeDataset": describe_dataset, "DeleteDataset": delete_dataset,
        "ListDatasetEntries": list_dataset_entries, "ListDatasetLabels": list_dataset_labels,
        "UpdateDatasetEntries": update_dataset_entries, "DistributeDatasetEntries": distribute_dataset_entries,
        "CreateProjectVersion": lambda ctx, request: create_project_version(ctx, request, tagging),
        "DescribeProjectVersions": describe_project_versions, "StartProjectVersion": start_project_version,
        "StopProjectVersion": stop_project_version, "DeleteProjectVersion": delete_project_version,
        "DetectCustomLabels": detect_custom_labels,
    }
    for operation, handler in handlers.items():
        provider.operation(operation)(handler)
    no_copy = ("Copying models between projects (and accounts) relies on project policies between AWS accounts, "
               "which this gateway does not keep")
    for operation in ("CopyProjectVersion", "PutProjectPolicy", "ListProjectPolicies", "DeleteProjectPolicy"):
        provider.operation(operation)(_refuse(no_copy))


def _refuse(reason: str):
    def handler(ctx: RequestContext, request: dict) -> dict:
        raise NotImplemented_(reason)
    return handler

