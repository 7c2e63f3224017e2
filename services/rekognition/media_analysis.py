"""Amazon Rekognition bulk analysis: StartMediaAnalysisJob, GetMediaAnalysisJob, ListMediaAnalysisJobs.

The input manifest is JSON lines, one image a line: `{"source-ref": "s3://bucket/key.jpg"}`. Each image gets
DetectModerationLabels' answer (OperationsConfig.DetectModerationLabels.MinConfidence, default 50), and the job
writes two objects under OutputConfig (AWS Developer Guide, "Bulk analysis output manifests"):

- `<S3KeyPrefix>/<JobId>/results.jsonl`: one line per image analysed, in manifest order,
  `{"source-ref": ..., "detect-moderation-labels": {"ModerationLabels": [...], "ModerationModelVersion": "7.0"}}`;
- `<S3KeyPrefix>/<JobId>/manifest-summary.json`: `{"version": "1.0", "statistics": {"total-json-lines",
  "valid-json-lines", "invalid-json-lines"}, "errors": [{"line-numer", "source-ref", "code", "message"}]}`
  ("line-numer" is spelled as AWS's guide spells it). A line that is not JSON, has no usable source-ref, or names
  an image that cannot be read or is no JPEG/PNG within Rekognition's limits is one of these errors (its code and
  message are the exception DetectModerationLabels would answer for that image); it is not handled further and
  does not fail the job.

The guide names the two files but not their keys; the names above are this gateway's choice. Neither the guide
nor the API reference states a limit on the manifest: this gateway takes at most MAX_MANIFEST_LINES images and
MAX_MANIFEST_BYTES bytes, checked at Start (InvalidManifestException, "a provided manifest file is empty or larger
than the allowed limit") and again when the job reads it (FailureDetails INVALID_MANIFEST).

A job (queue "rekognition") is checkpointed steps: `read-manifest` (checks the output location, parses the
manifest into `<data_dir>/rekognition/<account>/media-analysis/<job id>/lines.json`), one step per batch of
images (read and checked here, analysed on the model worker processes in parallel, answers to `batch-<n>.json`),
`write-output` (the two objects), `drop-work`. A job killed mid-way resumes at its first unfinished batch.
"""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from services.gateway.context import Principal, RequestContext
from services.gateway.errors import ServiceError
from services.gateway.jobs import COMPLETED, FAILED, INTERNAL_FAILURE_MESSAGE, SUBMITTED, Job, JobRun
from services.gateway.kit.jobs import JobApi, Submission, stored_form
from services.gateway.kit.paging import Paging
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError, BlobStore, BlobTooLarge
from services.rekognition import analysis, images, job_files
from services.rekognition.errors import (INVALID_PARAMETERS, S3_UNREADABLE, InvalidPaginationToken, InvalidParameter,
                                         InvalidS3Object, NotImplemented_, errors, job_not_found)
from services.rekognition.images import read_image
from services.rekognition.moderation import MODERATION_MODEL_VERSION

InvalidManifest = errors.InvalidManifestException

QUEUE = "rekognition"
KIND = "rekognition.media-analysis"
DEFAULT_MIN_CONFIDENCE = 50.0  # DetectModerationLabels' default
MAX_MANIFEST_LINES = 10_000  # this gateway's limits (AWS documents none)
MAX_MANIFEST_BYTES = 10 * 1024 * 1024
IMAGES_PER_WORKER = 4  # a batch (one checkpointed step) is this many images per model worker
RESULTS_NAME, SUMMARY_NAME = "results.jsonl", "manifest-summary.json"
SUMMARY_VERSION = "1.0"

MANIFEST_EMPTY = "The manifest file is empty."
MANIFEST_TOO_LARGE = f"The manifest file is larger than the allowed limit of {MAX_MANIFEST_BYTES} bytes."
MANIFEST_TOO_MANY = f"The manifest file has more than the allowed limit of {MAX_MANIFEST_LINES} JSON lines."
OUTPUT_UNWRITABLE = ("Unable to write to the output location. Check that OutputConfig.S3Bucket exists and is "
                     "writable.")
# FailureDetails.Code of a failed job, from the message its runner failed with (the job row keeps the message).
FAILURE_CODES = {S3_UNREADABLE: "INVALID_S3_OBJECT", MANIFEST_EMPTY: "INVALID_MANIFEST",
                 MANIFEST_TOO_LARGE: "INVALID_MANIFEST", MANIFEST_TOO_MANY: "INVALID_MANIFEST",
                 OUTPUT_UNWRITABLE: "INVALID_OUTPUT_CONFIG"}
# Gateway job states -> AWS's; a job is queued as soon as it is accepted, so CREATED is never answered.
STATUSES = {SUBMITTED: "QUEUED", "IN_PROGRESS": "IN_PROGRESS", "STOP_REQUESTED": "IN_PROGRESS",
            COMPLETED: "SUCCEEDED", FAILED: "FAILED", "STOPPED": "FAILED"}

_PAGING = Paging("rekognition", invalid_token=lambda token: InvalidPaginationToken("Invalid pagination token"),
                 default_limit=100)


# ------------------------------------------------------------------ the manifest


def _manifest_uri(request: dict) -> str:
    return images.s3_object_uri(request["Input"]["S3Object"])


def _read_manifest(principal: Principal, request: dict) -> list[tuple[int, str]]:
    """(line number from 1, text) of each non-blank line, within the limits."""
    try:
        data = runtime().blobs.read(_manifest_uri(request), principal.account_id, max_bytes=MAX_MANIFEST_BYTES)
    except BlobTooLarge:
        raise InvalidManifest(MANIFEST_TOO_LARGE) from None
    except BlobError:
        raise InvalidS3Object(S3_UNREADABLE) from None
    lines = [(number, line) for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1)
             if line.strip()]
    if not lines:
        raise InvalidManifest(MANIFEST_EMPTY)
    if len(lines) > MAX_MANIFEST_LINES:
        raise InvalidManifest(MANIFEST_TOO_MANY)
    return lines


def _line_error(number: int, code: str, message: str, source_ref: str | None = None) -> dict:
    entry: dict = {"line-numer": number}
    if source_ref is not None:
        entry["source-ref"] = source_ref
    return {**entry, "code": code, "message": message}


def parse_line(number: int, text: str) -> dict:
    """{"line-numer", "source-ref"} of a usable line, else its error entry (it has a "code")."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _line_error(number, InvalidManifest.code_name, "The JSON line is not valid JSON.")
    source_ref = value.get("source-ref") if isinstance(value, dict) else None
    if not isinstance(source_ref, str) or not source_ref:
        return _line_error(number, InvalidManifest.code_name, "The JSON line has no source-ref.")
    bucket, _, key = source_ref.removeprefix("s3://").partition("/")
    if not source_ref.startswith("s3://") or not bucket or not key:
        return _line_error(number, InvalidParameter.code_name, "The source-ref is not an s3://bucket/key URI.",
                           source_ref)
    return {"line-numer": number, "source-ref": source_ref}


# ------------------------------------------------------------------ Start


def _accept(ctx: RequestContext, request: dict) -> Submission:
    settings = request["OperationsConfig"].get("DetectModerationLabels")
    if settings is None:
        raise InvalidParameter(INVALID_PARAMETERS)  # DetectModerationLabels is the only operation there is
    if settings.get("ProjectVersion"):
        raise NotImplemented_("Custom moderation adapters (ProjectVersion) are not supported by this gateway")
    if request.get("KmsKeyId"):
        raise NotImplemented_("KmsKeyId is not supported by this gateway: results are written unencrypted")
    # AWS refuses a missing, empty or oversized manifest at Start; the job reads it again (it may change).
    _read_manifest(ctx.principal, request)
    return Submission(request=stored_form(request, "ClientRequestToken"), name=request.get("JobName"),
                      client_token=request.get("ClientRequestToken"))


# ------------------------------------------------------------------ the runner


def _work_dir(principal: Principal, job_id: str) -> Path:
    return job_files.job_folder(principal, "media-analysis", job_id)


def _output_uri(request: dict, job_id: str, name: str) -> str:
    output = request["OutputConfig"]
    return BlobStore.join(f"s3://{output['S3Bucket']}", output.get("S3KeyPrefix") or "", job_id, name)


def _prepare(principal: Principal, job_id: str, request: dict) -> int:
    """Check the output location and parse the manifest into lines.json; the number of lines."""
    try:
        runtime().blobs.list(_output_uri(request, job_id, ""), principal.account_id)
    except BlobError:
        raise InvalidParameter(OUTPUT_UNWRITABLE) from None
    lines = [parse_line(number, text) for number, text in _read_manifest(principal, request)]
    folder = _work_dir(principal, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    job_files.write_json(folder / "lines.json", lines)
    return len(lines)


def _moderate(principal: Principal, line: dict, min_confidence: float) -> dict:
    """The line with its "result" (DetectModerationLabels' answer) or its error's "code" and "message"."""
    if "code" in line:
        return line
    bucket, _, key = line["source-ref"].removeprefix("s3://").partition("/")
    try:
        data = read_image(principal, {"S3Object": {"Bucket": bucket, "Name": key}}).data
        labels = analysis.on_worker(analysis.image_moderation, data, min_confidence)
    except ServiceError as error:  # this image's error, as DetectModerationLabels would answer it
        return _line_error(line["line-numer"], error.code, error.message, line["source-ref"])
    return {**line, "result": {"ModerationLabels": labels, "ModerationModelVersion": MODERATION_MODEL_VERSION}}


def _analyse_batch(principal: Principal, job_id: str, request: dict, first: int, count: int, workers: int) -> int:
    folder = _work_dir(principal, job_id)
    lines = orjson.loads((folder / "lines.json").read_bytes())[first:first + count]
    min_confidence = request["OperationsConfig"]["DetectModerationLabels"].get("MinConfidence",
                                                                               DEFAULT_MIN_CONFIDENCE)
    with ThreadPoolExecutor(workers) as pool:  # one image per model worker at a time
        done = list(pool.map(lambda line: _moderate(principal, line, min_confidence), lines))
    job_files.write_json(folder / f"batch-{first}.json", done)
    return len(done)


def _write_output(principal: Principal, job_id: str, request: dict, firsts: list[int]) -> dict:
    """Write results.jsonl and manifest-summary.json; the statistics."""
    folder = _work_dir(principal, job_id)
    lines = [line for first in firsts for line in orjson.loads((folder / f"batch-{first}.json").read_bytes())]
    results = b"".join(orjson.dumps({"source-ref": line["source-ref"], "detect-moderation-labels": line["result"]})
                       + b"\n" for line in lines if "result" in line)
    errors_ = [line for line in lines if "code" in line]
    statistics = {"total-json-lines": len(lines), "valid-json-lines": len(lines) - len(errors_),
                  "invalid-json-lines": len(errors_)}
    summary = {"version": SUMMARY_VERSION, "statistics": statistics, "errors": errors_}
    try:
        runtime().blobs.write(_output_uri(request, job_id, RESULTS_NAME), results, principal.account_id,
                              "application/jsonl")
        runtime().blobs.write(_output_uri(request, job_id, SUMMARY_NAME), orjson.dumps(summary),
                              principal.account_id, "application/json")
    except BlobError:
        raise InvalidParameter(OUTPUT_UNWRITABLE) from None
    return statistics


def _drop_work(principal: Principal, job_id: str) -> None:
    shutil.rmtree(_work_dir(principal, job_id), ignore_errors=True)


def _run(run: JobRun) -> dict:
    total = run.step(_prepare, run.principal, run.job_id, run.request, name="read-manifest")
    workers = max(1, runtime().settings.model_worker_count)
    size = workers * IMAGES_PER_WORKER
    firsts = list(range(0, total, size))
    for first in firsts:
        count = min(size, total - first)
        run.step(_analyse_batch, run.principal, run.job_id, run.request, first, count, workers,
                 name=f"images-{first}-{first + count - 1}")
        run.progress(first + count, total)
    statistics = run.step(_write_output, run.principal, run.job_id, run.request, firsts, name="write-output")
    run.step(_drop_work, run.principal, run.job_id, name="drop-work")
    return {"statistics": statistics}


# ------------------------------------------------------------------ Get / List


def _s3_object(request: dict, job_id: str, name: str) -> dict:
    uri = _output_uri(request, job_id, name)
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return {"Bucket": bucket, "Name": key}


def description(job: Job) -> dict:
    """The MediaAnalysisJobDescription shape (GetMediaAnalysisJob answers the same members, flat)."""
    request, status = job.request, STATUSES.get(job.status, "IN_PROGRESS")
    out: dict = {"JobId": job.job_id, "OperationsConfig": request["OperationsConfig"], "Status": status,
                 "CreationTimestamp": job.time("created_at"), "Input": request["Input"],
                 "OutputConfig": request["OutputConfig"]}
    if job.name:
        out["JobName"] = job.name
    if status == "FAILED":
        message = job.message or INTERNAL_FAILURE_MESSAGE
        out["FailureDetails"] = {"Code": FAILURE_CODES.get(message, "INTERNAL_ERROR"), "Message": message}
    if status in ("SUCCEEDED", "FAILED") and job.time("ended_at"):
        out["CompletionTimestamp"] = job.time("ended_at")
    if status == "SUCCEEDED":
        out["Results"] = {"S3Object": _s3_object(request, job.job_id, RESULTS_NAME),
                          "ModelVersions": {"Moderation": MODERATION_MODEL_VERSION}}
        out["ManifestSummary"] = {"S3Object": _s3_object(request, job.job_id, SUMMARY_NAME)}
    return out


MEDIA_ANALYSIS_JOBS = JobApi(service="rekognition", kind=KIND, queue=QUEUE, start="StartMediaAnalysisJob",
                             list="ListMediaAnalysisJobs", describe="", id_member="JobId", describe_member="",
                             not_found=job_not_found, properties=description, accept=_accept,
                             started=lambda ctx, job: {"JobId": job.job_id}, paging=_PAGING)
MEDIA_ANALYSIS_JOBS.runner(_run)


def get_media_analysis_job(ctx: RequestContext, request: dict) -> dict:
    return description(MEDIA_ANALYSIS_JOBS.get(ctx, request["JobId"]))


def register(provider) -> None:
    """The media-analysis operations on Rekognition's provider (called by provider.py, which this module does not
    import: the import would close a cycle)."""
    MEDIA_ANALYSIS_JOBS.register(provider)
    provider.operation("GetMediaAnalysisJob")(get_media_analysis_job)
