"""Comprehend's asynchronous analysis jobs: read every document under an input S3 prefix (one per file or one per
line), analyse them in checkpointed batches, and write `output.tar.gz` where AWS writes it:
`<OutputDataConfig.S3Uri>/<account>-<TAG>-<job id>/output/output.tar.gz`, holding one JSON line per document."""

from __future__ import annotations

import io
import tarfile
import time
from dataclasses import dataclass
from typing import Callable

import orjson

from services.comprehend.language import detect_languages_many
from services.gateway.context import RequestContext
from services.gateway.errors import ServiceError
from services.gateway.jobs import Job, JobRun, job_kind
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError

QUEUE = "comprehend"
FILES_PER_STEP = 25
# Per-document limit of Comprehend's asynchronous jobs.
MAX_DOCUMENT_BYTES = 1_000_000


@dataclass(frozen=True)
class JobType:
    kind: str  # job kind in the gateway's job table
    arn_resource: str  # e.g. dominant-language-detection-job
    output_tag: str  # the <TAG> of the output folder name
    properties_key: str  # the Describe*/List* member name of the properties
    analyze: Callable[[list[str]], list[dict]]  # documents -> one result object per document


DOMINANT_LANGUAGE = JobType(
    kind="comprehend.dominant-language",
    arn_resource="dominant-language-detection-job",
    output_tag="LANGUAGE",
    properties_key="DominantLanguageDetectionJobProperties",
    analyze=lambda texts: [{"Languages": found} for found in detect_languages_many(texts)],
)


def output_location(job_type: JobType, job: Job) -> str:
    prefix = job.request["OutputDataConfig"]["S3Uri"].rstrip("/")
    return f"{prefix}/{job.account_id}-{job_type.output_tag}-{job.job_id}/output/output.tar.gz"


def job_arn(job_type: JobType, job: Job) -> str:
    return f"arn:aws:comprehend:{job.region}:{job.account_id}:{job_type.arn_resource}/{job.job_id}"


def start_job(ctx: RequestContext, job_type: JobType, request: dict) -> dict:
    token = request.get("ClientRequestToken")
    stored = orjson.loads(orjson.dumps({key: value for key, value in request.items() if key != "ClientRequestToken"}))
    job = runtime().jobs.submit(ctx.principal, job_type.kind, stored, name=request.get("JobName"), client_token=token)
    return {"JobId": job.job_id, "JobArn": job_arn(job_type, job), "JobStatus": job.status}


def job_properties(job_type: JobType, job: Job) -> dict:
    request = job.request
    return {
        "JobId": job.job_id,
        "JobArn": job_arn(job_type, job),
        "JobName": job.name,
        "JobStatus": job.status,
        "Message": job.message,
        "SubmitTime": job.time("created_at"),
        "EndTime": job.time("ended_at"),
        "InputDataConfig": {"InputFormat": "ONE_DOC_PER_FILE", **request["InputDataConfig"]},
        "OutputDataConfig": {**request["OutputDataConfig"], "S3Uri": output_location(job_type, job)},
        "DataAccessRoleArn": request.get("DataAccessRoleArn"),
        "VolumeKmsKeyId": request.get("VolumeKmsKeyId"),
        "VpcConfig": request.get("VpcConfig"),
    }


def _list_inputs(account_id: str, input_uri: str) -> list[str]:
    try:
        uris = [uri for uri in runtime().blobs.list(input_uri, account_id) if not uri.endswith("/")]
    except BlobError as error:
        raise ServiceError("InvalidRequestException", f"NO_READ_ACCESS_TO_INPUT: {error}") from None
    if not uris:
        raise ServiceError("InvalidRequestException", f"INPUT_NOT_FOUND: no documents under {input_uri}")
    return uris


def _relative_name(input_uri: str, uri: str) -> str:
    base = input_uri if input_uri.endswith("/") else input_uri.rsplit("/", 1)[0] + "/"
    return uri[len(base):] if uri.startswith(base) else uri.rsplit("/", 1)[-1]


def _analyze_files(job_type: JobType, account_id: str, input_uri: str, input_format: str, uris: list[str]) -> list[str]:
    """One batch of files -> output lines (JSON), errors included as AWS reports them per document."""
    documents: list[tuple[dict, str]] = []
    lines: list[dict] = []
    for uri in uris:
        name = _relative_name(input_uri, uri)
        try:
            data = runtime().blobs.read(uri, account_id, max_bytes=None if input_format == "ONE_DOC_PER_LINE" else MAX_DOCUMENT_BYTES)
            text = data.decode("utf-8")
        except BlobError as error:
            lines.append({"File": name, "ErrorCode": "DOCUMENT_READ_ERROR", "ErrorMessage": str(error)})
            continue
        except UnicodeDecodeError:
            lines.append({"File": name, "ErrorCode": "INVALID_ENCODING", "ErrorMessage": "Document is not UTF-8 text"})
            continue
        if input_format == "ONE_DOC_PER_LINE":
            for number, line in enumerate(text.splitlines()):
                if line.strip():
                    documents.append(({"File": name, "Line": number}, line))
        else:
            documents.append(({"File": name}, text))

    analysable = []
    for key, text in documents:
        size = len(text.encode("utf-8"))
        if size > MAX_DOCUMENT_BYTES:
            lines.append({**key, "ErrorCode": "DOCUMENT_SIZE_EXCEEDED",
                          "ErrorMessage": f"Document size {size} bytes exceeds the limit of {MAX_DOCUMENT_BYTES} bytes"})
        else:
            analysable.append((key, text))
    results = job_type.analyze([text for _, text in analysable])
    lines.extend({**key, **result} for (key, _), result in zip(analysable, results))
    return [orjson.dumps(line).decode() for line in lines]


def _write_output(account_id: str, output_uri: str, lines: list[str]) -> None:
    content = ("\n".join(lines) + "\n").encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("output")
        info.size = len(content)
        info.mtime = int(time.time())
        archive.addfile(info, io.BytesIO(content))
    try:
        runtime().blobs.write(output_uri, buffer.getvalue(), account_id, content_type="application/gzip")
    except BlobError as error:
        raise ServiceError("InvalidRequestException", f"NO_WRITE_ACCESS_TO_OUTPUT: {error}") from None


def run_document_job(job_type: JobType, run: JobRun) -> dict:
    job = runtime().jobs.store.load(run.job_id)
    account_id = run.principal.account_id
    input_uri = run.request["InputDataConfig"]["S3Uri"]
    input_format = run.request["InputDataConfig"].get("InputFormat", "ONE_DOC_PER_FILE")
    output_uri = output_location(job_type, job)

    files = run.step(_list_inputs, account_id, input_uri, name="list-inputs")
    lines: list[str] = []
    for start in range(0, len(files), FILES_PER_STEP):
        batch = files[start:start + FILES_PER_STEP]
        lines.extend(run.step(_analyze_files, job_type, account_id, input_uri, input_format, batch, name="analyze"))
        run.progress(start + len(batch), len(files))
    run.step(_write_output, account_id, output_uri, lines, name="write-output")
    return {"OutputUri": output_uri, "Files": len(files), "Documents": len(lines)}


@job_kind(DOMINANT_LANGUAGE.kind, QUEUE)
def run_dominant_language_job(run: JobRun) -> dict:
    return run_document_job(DOMINANT_LANGUAGE, run)
