"""Comprehend's asynchronous analysis jobs, one framework for every job type: read every document under an input
S3 prefix (one per file or one per line), analyse them in checkpointed batches, and write where AWS writes:

- most types: `<OutputDataConfig.S3Uri>/<account>-<TAG>-<job id>/output/output.tar.gz`, one JSON line per document
  (`{"File", ["Line"], ...result}` or `{"File", ["Line"], "ErrorCode", "ErrorMessage"}`);
- per-file types (PII): `<...>/output/<input file>.out` for each input file;
- corpus types (topics): the whole corpus modelled at once, named CSV files in output.tar.gz.

A `JobType` says what a type analyses and how; `job_api()` makes it a kit JobApi (Start/Describe/List/Stop on the
durable job runner) whose runner is `run_document_job`.
"""

from __future__ import annotations

import io
import tarfile
import time
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Callable

import orjson

from services.comprehend.errors import InvalidFilter, InvalidRequest, JobNotFound
from services.gateway.context import Principal, RequestContext
from services.gateway.errors import ServiceError
from services.gateway.jobs import Job, JobRun
from services.gateway.kit.arns import build_arn
from services.gateway.kit.inputs import list_input_objects, relative_name
from services.gateway.kit.jobs import JobApi, Submission, in_statuses, named, stored_form, submitted_between
from services.gateway.kit.paging import Paging
from services.gateway.kit.tags import Tagging
from services.gateway.protocol.service_models import service_spec
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
    properties_key: str  # the Describe* member (and botocore shape) of the properties
    # (documents, the Start* request, the caller) -> one result object per document
    analyze: Callable[[list[str], dict, Principal], list[dict]]
    max_document_bytes: int = MAX_DOCUMENT_BYTES
    # Jobs that write one output object per input file (PII) instead of output.tar.gz: (request, file name,
    # input format, [(key, text, result)]) -> bytes written to `<output folder>/<file name>.out`.
    per_file_output: Callable[[dict, str, str, list[tuple[dict, str, dict]]], bytes] | None = None
    # Jobs over the whole corpus at once (topics): (request, [(key, text)]) -> {archive member name: bytes}.
    corpus_output: Callable[[dict, list[tuple[dict, str]]], dict[str, bytes]] | None = None
    # (Start* request, caller's RequestContext) -> None, or raises the service's error for a bad request
    check_request: Callable[[dict, RequestContext], None] | None = None


# ---------------------------------------------------------------------------------------------------------------
# The job API of a type: Start*/Describe*/List*/Stop* from one declaration
# ---------------------------------------------------------------------------------------------------------------


def job_api(job_type: JobType, *, start: str, describe: str, list: str, stop: str | None = None,
            paging: Paging, tagging: Tagging) -> JobApi:
    """The kit declaration of one document-job type's operations; its runner is `run_document_job`."""
    api = JobApi(
        service="comprehend", kind=job_type.kind, queue=QUEUE,
        start=start, describe=describe, list=list, stop=stop,
        id_member="JobId", describe_member=job_type.properties_key,
        not_found=job_not_found, properties=partial(job_properties, job_type),
        accept=partial(accept_job, job_type), started=partial(job_started, job_type),
        paging=paging, list_where=list_filter, stop_ended=stop_refused, stopped=stop_answer,
        arn=partial(job_arn, job_type), tagging=tagging)
    api.runner(partial(run_document_job, job_type))
    return api


def job_not_found(job_id: str) -> ServiceError:
    return JobNotFound(f"Job {job_id} does not exist.")


def job_arn(job_type: JobType, job: Job) -> str:
    return build_arn("comprehend", job.region, job.account_id, f"{job_type.arn_resource}/{job.job_id}")


def accept_job(job_type: JobType, ctx: RequestContext, request: dict) -> Submission:
    if job_type.check_request is not None:
        job_type.check_request(request, ctx)
    return Submission(request=stored_form(request, "ClientRequestToken"), name=request.get("JobName"),
                      client_token=request.get("ClientRequestToken"), tags=request.get("Tags"))


def job_started(job_type: JobType, ctx: RequestContext, job: Job) -> dict:
    return {"JobId": job.job_id, "JobArn": job_arn(job_type, job), "JobStatus": job.status}


def list_filter(request: dict) -> list:
    """List*Jobs' Filter (JobName, JobStatus, one of SubmitTimeBefore / SubmitTimeAfter) as conditions on Job."""
    found = request.get("Filter", {})
    if "SubmitTimeBefore" in found and "SubmitTimeAfter" in found:
        raise InvalidFilter("Specify SubmitTimeBefore or SubmitTimeAfter, not both.")
    status = found.get("JobStatus")  # Comprehend's job statuses are the gateway's
    return [*in_statuses([status] if status else None), *named(found.get("JobName")),
            *submitted_between(found.get("SubmitTimeBefore"), found.get("SubmitTimeAfter"))]


def stop_refused(job: Job) -> ServiceError:
    # AWS refuses to stop a job that has already ended.
    return InvalidRequest(f"Job {job.job_id} has already ended with status {job.status}.")


def stop_answer(job: Job) -> dict:
    return {"JobId": job.job_id, "JobStatus": job.status}


def output_folder(job_type: JobType, request: dict, account_id: str, job_id: str) -> str:
    prefix = request["OutputDataConfig"]["S3Uri"].rstrip("/")
    return f"{prefix}/{account_id}-{job_type.output_tag}-{job_id}/output/"


def output_location(job_type: JobType, request: dict, account_id: str, job_id: str) -> str:
    """Where Describe* says the output is: the archive, or (per-file jobs) the folder of `.out` files."""
    folder = output_folder(job_type, request, account_id, job_id)
    return folder if job_type.per_file_output is not None else folder + "output.tar.gz"


def job_properties(job_type: JobType, job: Job) -> dict:
    """The Describe*/List* properties: every member the type's botocore shape has, from the stored request."""
    request = job.request
    values = {
        **{key: value for key, value in request.items() if key not in ("Tags", "ClientRequestToken")},
        "JobId": job.job_id,
        "JobArn": job_arn(job_type, job),
        "JobName": job.name,
        "JobStatus": job.status,
        "Message": job.message,
        "SubmitTime": job.time("created_at"),
        "EndTime": job.time("ended_at"),
        "InputDataConfig": {"InputFormat": "ONE_DOC_PER_FILE", **request["InputDataConfig"]},
        "OutputDataConfig": {**request["OutputDataConfig"],
                             "S3Uri": output_location(job_type, request, job.account_id, job.job_id)},
    }
    members = _shape_members(job_type.properties_key)
    return {key: value for key, value in values.items() if key in members and value is not None}


@lru_cache(maxsize=None)
def _shape_members(shape: str) -> frozenset[str]:
    return frozenset(service_spec("comprehend").model.shape_for(shape).members)


# ---------------------------------------------------------------------------------------------------------------
# Reading inputs, writing outputs
# ---------------------------------------------------------------------------------------------------------------


def input_objects(account_id: str, input_uri: str) -> list[str]:
    """The objects under an input prefix, or Comprehend's reasons for a job failing on its input."""
    return list_input_objects(
        account_id, input_uri,
        unreadable=lambda error: InvalidRequest(f"NO_READ_ACCESS_TO_INPUT: {error}"),
        empty=lambda uri: InvalidRequest(f"INPUT_NOT_FOUND: no documents under {uri}"))


def _read_documents(job_type: JobType, account_id: str, input_uri: str, input_format: str,
                    uris: list[str]) -> tuple[list[tuple[dict, str]], list[dict]]:
    """Files -> ([(key, text)] to analyse, [error lines]) with keys {"File"} or {"File", "Line"}."""
    documents: list[tuple[dict, str]] = []
    errors: list[dict] = []
    for uri in uris:
        name = relative_name(input_uri, uri)
        try:
            limit = None if input_format == "ONE_DOC_PER_LINE" else max(job_type.max_document_bytes, MAX_DOCUMENT_BYTES)
            data = runtime().blobs.read(uri, account_id, max_bytes=limit)
            text = data.decode("utf-8")
        except BlobError as error:
            errors.append({"File": name, "ErrorCode": "DOCUMENT_READ_ERROR", "ErrorMessage": str(error)})
            continue
        except UnicodeDecodeError:
            errors.append({"File": name, "ErrorCode": "INVALID_ENCODING", "ErrorMessage": "Document is not UTF-8 text"})
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
        if size > job_type.max_document_bytes:
            errors.append({**key, "ErrorCode": "DOCUMENT_SIZE_EXCEEDED",
                           "ErrorMessage": f"Document size {size} bytes exceeds the limit of "
                                           f"{job_type.max_document_bytes} bytes"})
        else:
            analysable.append((key, text))
    return analysable, errors


def _analyze_files(job_type: JobType, principal: Principal, input_uri: str, input_format: str, uris: list[str],
                   request: dict) -> list[str]:
    """One batch of files -> output lines (JSON), errors included as AWS reports them per document."""
    analysable, lines = _read_documents(job_type, principal.account_id, input_uri, input_format, uris)
    results = job_type.analyze([text for _, text in analysable], request, principal) if analysable else []
    lines.extend({**key, **result} for (key, _), result in zip(analysable, results))
    return [orjson.dumps(line).decode() for line in lines]


def _analyze_files_to_objects(job_type: JobType, principal: Principal, input_uri: str, input_format: str,
                              uris: list[str], request: dict, folder: str) -> list[str]:
    """Per-file output (PII): analyse a batch of files and write `<folder><file>.out` for each; returns the
    error lines of documents that could not be analysed."""
    account_id = principal.account_id
    analysable, errors = _read_documents(job_type, account_id, input_uri, input_format, uris)
    results = job_type.analyze([text for _, text in analysable], request, principal) if analysable else []
    by_file: dict[str, list[tuple[dict, str, dict]]] = {}
    for (key, text), result in zip(analysable, results):
        by_file.setdefault(key["File"], []).append((key, text, result))
    for name, items in by_file.items():
        data = job_type.per_file_output(request, name, input_format, items)
        try:
            runtime().blobs.write(folder + name + ".out", data, account_id, content_type="text/plain")
        except BlobError as error:
            raise InvalidRequest(f"NO_WRITE_ACCESS_TO_OUTPUT: {error}") from None
    return [orjson.dumps(line).decode() for line in errors]


def _corpus(job_type: JobType, account_id: str, input_uri: str, input_format: str, uris: list[str]) -> list:
    analysable, _errors = _read_documents(job_type, account_id, input_uri, input_format, uris)
    return [[key, text] for key, text in analysable]


def write_archive(account_id: str, output_uri: str, members: dict[str, bytes]) -> None:
    """`members` as a gzipped tar at `output_uri` (AWS's output.tar.gz)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = int(time.time())
            archive.addfile(info, io.BytesIO(content))
    try:
        runtime().blobs.write(output_uri, buffer.getvalue(), account_id, content_type="application/gzip")
    except BlobError as error:
        raise InvalidRequest(f"NO_WRITE_ACCESS_TO_OUTPUT: {error}") from None


def _write_output(account_id: str, output_uri: str, lines: list[str]) -> None:
    write_archive(account_id, output_uri, {"output": ("\n".join(lines) + "\n").encode()})


def _write_corpus_output(job_type: JobType, account_id: str, output_uri: str, request: dict, documents: list) -> None:
    members = job_type.corpus_output(request, [(key, text) for key, text in documents])
    write_archive(account_id, output_uri, members)


# ---------------------------------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------------------------------


def run_document_job(job_type: JobType, run: JobRun) -> dict:
    principal = run.principal  # the caller: custom models and outputs are per account
    account_id = principal.account_id
    request = run.request
    input_uri = request["InputDataConfig"]["S3Uri"]
    input_format = request["InputDataConfig"].get("InputFormat", "ONE_DOC_PER_FILE")
    output_uri = output_location(job_type, request, account_id, run.job_id)

    files = run.step(input_objects, account_id, input_uri, name="list-inputs")
    if job_type.corpus_output is not None:
        documents: list = []
        for start in range(0, len(files), FILES_PER_STEP):
            batch = files[start:start + FILES_PER_STEP]
            documents.extend(run.step(_corpus, job_type, account_id, input_uri, input_format, batch, name="read"))
            run.progress(start + len(batch), 2 * len(files))
        if not documents:
            raise InvalidRequest("INPUT_NOT_FOUND: no readable UTF-8 documents in the input")
        run.step(_write_corpus_output, job_type, account_id, output_uri, request, documents, name="model-and-write")
        return {"OutputUri": output_uri, "Files": len(files), "Documents": len(documents)}

    lines: list[str] = []
    for start in range(0, len(files), FILES_PER_STEP):
        batch = files[start:start + FILES_PER_STEP]
        if job_type.per_file_output is not None:
            lines.extend(run.step(_analyze_files_to_objects, job_type, principal, input_uri, input_format, batch,
                                  request, output_uri, name="analyze"))
        else:
            lines.extend(run.step(_analyze_files, job_type, principal, input_uri, input_format, batch, request,
                                  name="analyze"))
        run.progress(start + len(batch), len(files))
    if job_type.per_file_output is None:
        run.step(_write_output, account_id, output_uri, lines, name="write-output")
    return {"OutputUri": output_uri, "Files": len(files), "Documents": len(lines)}
