"""Amazon Rekognition Custom Labels projects and their datasets, stored per account and region.

A dataset's entries are the JSON Lines of SageMaker Ground Truth manifests (one image each, keyed by its
`source-ref`), kept as given with the labels read from them: image-level labels from `groundtruth/image-classification`
and `-multilabel` attributes, objects from `groundtruth/object-detection` attributes (their `class-map`). A line
that cannot be used carries an `errors` list of Amazon Rekognition's non-terminal codes ({"code", "message"}) and is
left out of training; a manifest that cannot be read at all fails the dataset (terminal errors).

Datasets are read and checked when they are created or updated, inside the request (a manifest is at most
MAX_MANIFEST_BYTES): a dataset reaches CREATE_COMPLETE / UPDATE_COMPLETE before the call answers, where Amazon
Rekognition takes a while. Images themselves are read and checked by training (ERROR_INVALID_IMAGE there).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections import Counter
from dataclasses import dataclass

import orjson
from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text, delete, func, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway.context import Principal, RequestContext
from services.gateway.db import Base
from services.gateway.kit.arns import build_arn, owned, parse_arn
from services.gateway.kit.resources import ResourceTable, ScopedByArn, session
from services.gateway.kit.times import aware, utcnow
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError, BlobTooLarge
from services.rekognition import images
from services.rekognition.errors import (S3_UNREADABLE, InvalidParameter, InvalidS3Object, LimitExceeded,
                                         ResourceAlreadyExists, ResourceInUse, ResourceNotFound, errors)

ResourceNotReady = errors.ResourceNotReadyException

CUSTOM_LABELS, CONTENT_MODERATION = "CUSTOM_LABELS", "CONTENT_MODERATION"
TRAIN, TEST = "TRAIN", "TEST"
MAX_MANIFEST_BYTES = 1024 ** 3  # Amazon Rekognition Custom Labels' manifest file size quota (1 GB)
MAX_ENTRIES = 250_000  # its most images in a training dataset
MAX_LINE_BYTES = 100_000  # DatasetEntry's length constraint
DISTRIBUTED_SHARE = 0.2  # DistributeDatasetEntries moves 20% of the training entries to the test dataset

CLASSIFICATION = "groundtruth/image-classification"
MULTILABEL = "groundtruth/image-classification-multilabel"
DETECTION = "groundtruth/object-detection"

# Non-terminal JSON Line errors, in Amazon Rekognition Custom Labels' words.
LINE_ERRORS = {
    "ERROR_MISSING_SOURCE_REF": "The source-ref key is missing.",
    "ERROR_INVALID_SOURCE_REF_FORMAT": "The format of the source-ref value is invalid.",
    "ERROR_NO_LABEL_ATTRIBUTES": "No label attributes found.",
    "ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT": "The format of the label attribute {key} is invalid.",
    "ERROR_INVALID_BOUNDING_BOX": "The bounding box has invalid values.",
}
MANIFEST_INVALID = ("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT",
                    "The manifest file extension or contents are invalid.")
MANIFEST_TOO_LARGE = ("ERROR_MANIFEST_SIZE_TOO_LARGE", "The manifest file size exceeds the maximum supported size.")
TOO_MANY_ROWS = ("ERROR_MANIFEST_ROWS_EXCEEDS_MAXIMUM", "The manifest file has too many JSON lines.")


class RekognitionProject(ScopedByArn, Base):
    __tablename__ = "rekognition_projects"

    arn: Mapped[str] = mapped_column(String(600), primary_key=True)
    name: Mapped[str] = mapped_column(String(255), index=True)
    feature: Mapped[str] = mapped_column(String(32))
    auto_update: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class RekognitionDataset(ScopedByArn, Base):
    __tablename__ = "rekognition_datasets"

    arn: Mapped[str] = mapped_column(String(600), primary_key=True)
    project_arn: Mapped[str] = mapped_column(String(600), index=True)
    dataset_type: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(32))
    status_message: Mapped[str] = mapped_column(Text)
    status_message_code: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    def metadata_(self) -> dict:
        """The wire `DatasetMetadata` (DescribeProjects' Datasets)."""
        return {"CreationTimestamp": aware(self.created_at), "DatasetType": self.dataset_type, "DatasetArn": self.arn,
                "Status": self.status, "StatusMessage": self.status_message,
                "StatusMessageCode": self.status_message_code}


class RekognitionDatasetEntry(Base):
    """One JSON Line of a dataset, with what training and the List filters read from it."""

    __tablename__ = "rekognition_dataset_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dataset_arn: Mapped[str] = mapped_column(String(600), index=True)
    source_ref: Mapped[str] = mapped_column(Text)
    line: Mapped[str] = mapped_column(Text)  # the JSON Line as stored (with `errors` where it has them)
    labels: Mapped[list] = mapped_column(JSON)  # image-level labels and object classes, in order of appearance
    # "\n" + labels joined by "\n" + "\n": ContainsLabels is a SQL LIKE on it (a label cannot hold a newline).
    label_text: Mapped[str] = mapped_column(Text)
    boxes: Mapped[dict] = mapped_column(JSON)  # {label: bounding boxes of that label}
    labeled: Mapped[bool] = mapped_column(Boolean)
    has_errors: Mapped[bool] = mapped_column(Boolean)


PROJECTS = ResourceTable(RekognitionProject, key="arn",
                         not_found=lambda arn: ResourceNotFound(f"The project {arn} does not exist."))
DATASETS = ResourceTable(RekognitionDataset, key="arn",
                         not_found=lambda arn: ResourceNotFound(f"The dataset {arn} does not exist."))


def _millis() -> str:
    return str(int(time.time() * 1000))


def project_arn(scope: Principal | RequestContext, name: str) -> str:
    return build_arn("rekognition", scope.region, scope.account_id, f"project/{name}/{_millis()}")


def project_name(arn: str) -> str:
    return arn.split(":project/", 1)[1].split("/", 1)[0]


def is_project_resource(principal: Principal, arn: str) -> bool:
    """Whether `arn` is one of the caller's projects or datasets (Tagging's `exists` for their ARNs)."""
    parsed = parse_arn(arn)
    return owned(parsed, "rekognition", principal.account_id, principal.region) and \
        parsed.resource_type == "project" and (PROJECTS.exists(principal, arn) or DATASETS.exists(principal, arn))


# ------------------------------------------------------------------ projects


def create_project(ctx: RequestContext, name: str, feature: str, auto_update: str | None) -> RekognitionProject:
    with session() as db:
        taken = db.scalar(select(RekognitionProject).where(
            RekognitionProject.account_id == ctx.account_id, RekognitionProject.region == ctx.region,
            RekognitionProject.name == name))
        if taken is not None:
            raise ResourceInUse(f"The project {name} already exists.")
        return PROJECTS.create(ctx, db, arn=project_arn(ctx, name), name=name, feature=feature,
                               auto_update=auto_update, created_at=utcnow())


def datasets_of(scope: Principal | RequestContext, project: str) -> list[RekognitionDataset]:
    return DATASETS.list(scope, RekognitionDataset.project_arn == project, order_by=(RekognitionDataset.created_at,))


def project_description(project: RekognitionProject) -> dict:
    out = {"ProjectArn": project.arn, "CreationTimestamp": aware(project.created_at), "Status": "CREATED",
           "Datasets": [dataset.metadata_() for dataset in datasets_of(Principal(project.account_id, project.region),
                                                                       project.arn)],
           "Feature": project.feature}
    if project.auto_update is not None:
        out["AutoUpdate"] = project.auto_update
    return out


def delete_project(ctx: RequestContext, project: RekognitionProject) -> None:
    for dataset in datasets_of(ctx, project.arn):
        delete_dataset(ctx, dataset)
    PROJECTS.delete(ctx, project.arn)


# ------------------------------------------------------------------ manifests and their lines


@dataclass(frozen=True)
class Entry:
    source_ref: str
    line: dict  # the JSON Line, with `errors` added where it has some
    labels: list[str]
    boxes: dict[str, list[dict]]  # label -> [{"Left", "Top", "Width", "Height"}] as ratios of the image

    @property
    def has_errors(self) -> bool:
        return bool(self.line.get("errors"))


def _line_error(code: str, **fields: str) -> dict:
    return {"code": code, "message": LINE_ERRORS[code].format(**fields)}


def _class_name(metadata: dict, value) -> str | None:
    class_map = metadata.get("class-map") or {}
    name = class_map.get(str(value)) if isinstance(class_map, dict) else None
    return name if isinstance(name, str) and name else None


def read_line(raw: dict) -> Entry:
    """The labels and boxes of one JSON Line, and its non-terminal errors."""
    line = {key: value for key, value in raw.items() if key != "errors"}
    errors: list[dict] = []
    labels: list[str] = []
    boxes: dict[str, list[dict]] = {}
    source = line.get("source-ref")
    if not isinstance(source, str) or not source:
        errors.append(_line_error("ERROR_MISSING_SOURCE_REF"))
        source = ""
    elif not source.startswith("s3://") or "/" not in source[5:]:
        errors.append(_line_error("ERROR_INVALID_SOURCE_REF_FORMAT"))
    attributes = [key for key in line if isinstance(line.get(f"{key}-metadata"), dict)]
    for key in attributes:
        value, metadata = line[key], line[f"{key}-metadata"]
        kind = metadata.get("type")
        if kind == CLASSIFICATION:
            name = metadata.get("class-name")
            if isinstance(name, str) and name and "\n" not in name:
                labels.append(name)
            else:
                errors.append(_line_error("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", key=key))
        elif kind == MULTILABEL:
            names = [_class_name(metadata, v) for v in value] if isinstance(value, list) else [None]
            if names and all(name is not None and "\n" not in name for name in names):
                labels.extend(name for name in names if name not in labels)
            else:
                errors.append(_line_error("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", key=key))
        elif kind == DETECTION:
            found = _objects(value, metadata)
            if found is None:
                errors.append(_line_error("ERROR_INVALID_LABEL_ATTRIBUTE_FORMAT", key=key))
                continue
            for name, box in found:
                if box is None:
                    errors.append(_line_error("ERROR_INVALID_BOUNDING_BOX"))
                    continue
                boxes.setdefault(name, []).append(box)
                if name not in labels:
                    labels.append(name)
    if not attributes:
        errors.append(_line_error("ERROR_NO_LABEL_ATTRIBUTES"))
    if errors:
        line["errors"] = errors
    return Entry(source, line, labels, boxes)


def _objects(value, metadata: dict) -> list[tuple[str, dict | None]] | None:
    """(class name, box as ratios or None when invalid) of an object-detection attribute; None when malformed."""
    if not isinstance(value, dict) or not isinstance(value.get("annotations"), list):
        return None
    sizes = value.get("image_size") or [{}]
    size = sizes[0] if isinstance(sizes, list) and sizes and isinstance(sizes[0], dict) else {}
    width, height = size.get("width"), size.get("height")
    if not isinstance(width, (int, float)) or not isinstance(height, (int, float)) or width <= 0 or height <= 0:
        return None
    out = []
    for annotation in value["annotations"]:
        if not isinstance(annotation, dict):
            return None
        name = _class_name(metadata, annotation.get("class_id"))
        if name is None or "\n" in name:
            return None
        left, top = annotation.get("left"), annotation.get("top")
        box_width, box_height = annotation.get("width"), annotation.get("height")
        numbers = (left, top, box_width, box_height)
        if not all(isinstance(n, (int, float)) for n in numbers) or left < 0 or top < 0 or box_width <= 0 \
                or box_height <= 0 or left + box_width > width or top + box_height > height:
            out.append((name, None))
            continue
        out.append((name, {"Left": left / width, "Top": top / height, "Width": box_width / width,
                           "Height": box_height / height}))
    return out


class ManifestError(Exception):
    """A terminal manifest error: (code, message)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def parse_manifest(data: bytes) -> list[Entry]:
    """The entries of a manifest's JSON Lines (a later line for the same image replaces an earlier one)."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ManifestError(*MANIFEST_TOO_LARGE)
    entries: dict[str, Entry] = {}
    unnamed: list[Entry] = []
    for number, text in enumerate(data.splitlines()):
        if not text.strip():
            continue
        if len(text) > MAX_LINE_BYTES:
            raise ManifestError(*MANIFEST_INVALID)
        try:
            raw = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise ManifestError(*MANIFEST_INVALID) from None
        if not isinstance(raw, dict):
            raise ManifestError(*MANIFEST_INVALID)
        entry = read_line(raw)
        if entry.source_ref:
            entries[entry.source_ref] = entry
        else:
            unnamed.append(entry)
        if len(entries) + len(unnamed) > MAX_ENTRIES:
            raise ManifestError(*TOO_MANY_ROWS)
    return list(entries.values()) + unnamed


def read_manifest(principal: Principal, s3_object: dict) -> bytes:
    bucket, name = s3_object.get("Bucket") or "", s3_object.get("Name") or ""
    if not bucket or not name:
        raise InvalidParameter("GroundTruthManifest.S3Object needs a Bucket and a Name.")
    try:
        return runtime().blobs.read(images.s3_object_uri(s3_object), principal.account_id,
                                    max_bytes=MAX_MANIFEST_BYTES)
    except BlobTooLarge:
        raise ManifestError(*MANIFEST_TOO_LARGE) from None
    except BlobError:
        raise InvalidS3Object(S3_UNREADABLE) from None


# ------------------------------------------------------------------ datasets


def dataset_arn(project: RekognitionProject, dataset_type: str) -> str:
    return f"{project.arn.rsplit('/', 1)[0]}/dataset/{dataset_type.lower()}/{_millis()}"


def create_dataset(ctx: RequestContext, project: RekognitionProject, dataset_type: str,
                   source: dict | None) -> RekognitionDataset:
    """The dataset, filled from a manifest or a copy of another dataset (or empty)."""
    if any(dataset.dataset_type == dataset_type for dataset in datasets_of(ctx, project.arn)):
        raise ResourceAlreadyExists(f"The project {project.arn} already has a {dataset_type} dataset.")
    source = source or {}
    if source.get("GroundTruthManifest") and source.get("DatasetArn"):
        raise InvalidParameter("Specify either GroundTruthManifest or DatasetArn in DatasetSource, not both.")
    entries: list[Entry] = []
    status, code, message = "CREATE_COMPLETE", "SUCCESS", "The dataset was created successfully."
    if source.get("GroundTruthManifest"):
        try:
            entries = parse_manifest(read_manifest(ctx.principal, source["GroundTruthManifest"].get("S3Object") or {}))
        except ManifestError as error:
            status, code, message = "CREATE_FAILED", "CLIENT_ERROR", f"{error.code}: {error.message}"
    elif source.get("DatasetArn"):
        copied = DATASETS.get(ctx, source["DatasetArn"])
        entries = [read_line(orjson.loads(row.line)) for row in entry_rows(copied.arn)]
    now = utcnow()
    with session() as db:
        dataset = DATASETS.create(ctx, db, arn=dataset_arn(project, dataset_type), project_arn=project.arn,
                                  dataset_type=dataset_type, status=status, status_message=message,
                                  status_message_code=code, created_at=now, updated_at=now)
        _add_entries(db, dataset.arn, entries)
    return dataset


def _row(dataset: str, entry: Entry) -> RekognitionDatasetEntry:
    return RekognitionDatasetEntry(dataset_arn=dataset, source_ref=entry.source_ref,
                                   line=orjson.dumps(entry.line).decode(), labels=entry.labels,
                                   label_text="\n" + "\n".join(entry.labels) + "\n", boxes=entry.boxes,
                                   labeled=bool(entry.labels), has_errors=entry.has_errors)


def _add_entries(db, dataset: str, entries: list[Entry]) -> None:
    """Add entries, each replacing the entry of the same image."""
    refs = [entry.source_ref for entry in entries if entry.source_ref]
    for start in range(0, len(refs), 500):
        db.execute(delete(RekognitionDatasetEntry).where(RekognitionDatasetEntry.dataset_arn == dataset,
                                                         RekognitionDatasetEntry.source_ref.in_(refs[start:start + 500])))
    db.add_all([_row(dataset, entry) for entry in entries])


def entry_rows(dataset: str) -> list[RekognitionDatasetEntry]:
    with session() as db:
        return list(db.scalars(select(RekognitionDatasetEntry).where(RekognitionDatasetEntry.dataset_arn == dataset)
                               .order_by(RekognitionDatasetEntry.id)))


def entry_count(dataset: str) -> int:
    with session() as db:
        return db.scalar(select(func.count()).where(RekognitionDatasetEntry.dataset_arn == dataset)) or 0


def ready(dataset: RekognitionDataset) -> RekognitionDataset:
    """The dataset, when its entries can be read (a dataset whose manifest failed has none)."""
    if dataset.status == "CREATE_FAILED":
        raise ResourceNotReady(f"The dataset {dataset.arn} is not ready: {dataset.status}.")
    return dataset


def dataset_description(dataset: RekognitionDataset) -> dict:
    rows = entry_rows(dataset.arn)
    labels = {label for row in rows for label in row.labels}
    return {"CreationTimestamp": aware(dataset.created_at), "LastUpdatedTimestamp": aware(dataset.updated_at),
            "Status": dataset.status, "StatusMessage": dataset.status_message,
            "StatusMessageCode": dataset.status_message_code,
            "DatasetStats": {"LabeledEntries": sum(row.labeled for row in rows), "TotalEntries": len(rows),
                             "TotalLabels": len(labels), "ErrorEntries": sum(row.has_errors for row in rows)}}


def update_entries(ctx: RequestContext, dataset: RekognitionDataset, ground_truth: bytes) -> None:
    try:
        entries = parse_manifest(ground_truth)
    except ManifestError as error:
        raise InvalidParameter(f"{error.code}: {error.message}") from None
    if not entries:
        raise InvalidParameter("Changes.GroundTruth holds no JSON Lines.")
    if entry_count(dataset.arn) + len(entries) > MAX_ENTRIES:
        raise LimitExceeded(f"A dataset can hold at most {MAX_ENTRIES} entries.")
    with session() as db:
        _add_entries(db, dataset.arn, entries)
    DATASETS.update(ctx, dataset.arn, status="UPDATE_COMPLETE", status_message="The dataset was updated successfully.",
                    status_message_code="SUCCESS", updated_at=utcnow())


def label_descriptions(dataset: RekognitionDataset) -> list[dict]:
    entries: Counter = Counter()
    boxes: Counter = Counter()
    for row in entry_rows(dataset.arn):
        for label in row.labels:
            entries[label] += 1
            boxes[label] += len(row.boxes.get(label, []))
    return [{"LabelName": label, "LabelStats": {"EntryCount": entries[label], "BoundingBoxCount": boxes[label]}}
            for label in sorted(entries)]


def entries_query(dataset: RekognitionDataset, request: dict):
    conditions = [RekognitionDatasetEntry.dataset_arn == dataset.arn]
    if request.get("ContainsLabels"):
        conditions.append(or_(*[RekognitionDatasetEntry.label_text.contains(f"\n{label}\n", autoescape=True)
                                for label in request["ContainsLabels"]]))
    if request.get("Labeled") is not None:
        conditions.append(RekognitionDatasetEntry.labeled.is_(bool(request["Labeled"])))
    if request.get("SourceRefContains"):
        conditions.append(RekognitionDatasetEntry.source_ref.contains(request["SourceRefContains"], autoescape=True))
    if request.get("HasErrors") is not None:
        conditions.append(RekognitionDatasetEntry.has_errors.is_(bool(request["HasErrors"])))
    return select(RekognitionDatasetEntry).where(*conditions)


def distribute(ctx: RequestContext, train: RekognitionDataset, test: RekognitionDataset) -> None:
    """Move 20% of the training entries (a fixed choice by the hash of each image's source-ref) to the empty test
    dataset."""
    rows = entry_rows(train.arn)
    if not rows:
        raise InvalidParameter(f"The training dataset {train.arn} has no entries to distribute.")
    if entry_count(test.arn):
        raise InvalidParameter(f"The test dataset {test.arn} must be empty.")
    chosen = set(distributed_refs([row.source_ref for row in rows]))
    moved = {row.id for row in rows if row.source_ref in chosen}
    now = utcnow()
    with session() as db:
        for row in rows:
            if row.id in moved:
                db.execute(RekognitionDatasetEntry.__table__.update().where(RekognitionDatasetEntry.id == row.id)
                           .values(dataset_arn=test.arn))
    for dataset in (train, test):
        DATASETS.update(ctx, dataset.arn, status="UPDATE_COMPLETE",
                        status_message="The dataset was updated successfully.", status_message_code="SUCCESS",
                        updated_at=now)


def distributed_refs(refs: list[str]) -> list[str]:
    """The 20% of images that move to the test dataset: a fixed choice by the hash of each source-ref."""
    ranked = sorted(refs, key=lambda ref: hashlib.sha256(ref.encode()).hexdigest())
    return ranked[:max(1, round(len(refs) * DISTRIBUTED_SHARE))]


def delete_dataset(ctx: RequestContext, dataset: RekognitionDataset) -> None:
    with session() as db:
        db.execute(delete(RekognitionDatasetEntry).where(RekognitionDatasetEntry.dataset_arn == dataset.arn))
    DATASETS.delete(ctx, dataset.arn)
