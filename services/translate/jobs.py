"""Batch translation jobs (StartTextTranslationJob): every document under the input prefix is translated into
each target language and written where AWS writes it:

    <OutputDataConfig.S3Uri>/<account>-TranslateText-<job id>/<target>.<input path relative to the prefix>
    <OutputDataConfig.S3Uri>/<account>-TranslateText-<job id>/details/<target>.auxiliary-translation-details.json

Each document is one checkpointed step (a restarted job resumes at the first unfinished document); the engines
stay loaded in the model registry across documents and jobs.
"""

from __future__ import annotations

import logging

import orjson

from services.gateway.context import RequestContext
from services.gateway.errors import ServiceError
from services.gateway.jobs import Job, JobRun, job_kind
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError
from services.translate import documents, translation
from services.translate.engines import ROUTER, unsupported_pair
from services.translate.languages import normalize
from services.translate.terminology import TermSet

log = logging.getLogger("aigate.translate")

KIND = "translate.text"
QUEUE = "translate"
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024  # AWS: 20 MB per document
MAX_TARGETS = 10


def output_folder(job: Job) -> str:
    prefix = job.request["OutputDataConfig"]["S3Uri"].rstrip("/")
    return f"{prefix}/{job.account_id}-TranslateText-{job.job_id}"


def start(ctx: RequestContext, request: dict) -> dict:
    source = request["SourceLanguageCode"]
    targets = [normalize(code) for code in request["TargetLanguageCodes"]]
    if len(targets) > MAX_TARGETS:
        raise ServiceError("InvalidRequestException", f"At most {MAX_TARGETS} target languages per job.")
    if len(set(targets)) != len(targets):
        raise ServiceError("InvalidRequestException", "TargetLanguageCodes contains duplicates.")
    content_type = request["InputDataConfig"]["ContentType"]
    if content_type.split(";")[0].strip().lower() not in documents.CONTENT_TYPES:
        raise ServiceError("InvalidRequestException",
                           f"Content type {content_type} is not supported; use one of "
                           f"{', '.join(documents.CONTENT_TYPES)}.")
    if source.lower() != "auto":
        for target in targets:
            if normalize(source) == target:
                raise ServiceError("InvalidRequestException", "The source and a target language are the same.")
            if not ROUTER.supports(normalize(source), target):
                raise unsupported_pair(normalize(source), target)
        for target in targets:  # unknown terminologies fail now, not in the worker
            TermSet.load(ctx.principal, request.get("TerminologyNames"), normalize(source), target)
    else:
        for name in request.get("TerminologyNames") or []:
            from services.translate.terminology import get_row
            get_row(ctx, name)
    if request.get("ParallelDataNames"):
        raise ServiceError("ResourceNotFoundException",
                           f"The parallel data {request['ParallelDataNames'][0]} does not exist "
                           f"(parallel data is not supported by this gateway).")
    stored = orjson.loads(orjson.dumps({key: value for key, value in request.items() if key != "ClientToken"}))
    job = runtime().jobs.submit(ctx.principal, KIND, stored, name=request.get("JobName"),
                                client_token=request["ClientToken"])
    return {"JobId": job.job_id, "JobStatus": status(job)}


def status(job: Job) -> str:
    if job.status == "COMPLETED" and (job.result or {}).get("DocumentsWithErrorsCount"):
        return "COMPLETED_WITH_ERROR"
    return job.status


def properties(job: Job) -> dict:
    request = job.request
    result = job.result or {}
    details = {key: result[key] for key in ("TranslatedDocumentsCount", "DocumentsWithErrorsCount",
                                            "InputDocumentsCount") if key in result}
    return {
        "JobId": job.job_id,
        "JobName": job.name,
        "JobStatus": status(job),
        "JobDetails": details or {"TranslatedDocumentsCount": 0, "DocumentsWithErrorsCount": 0,
                                  "InputDocumentsCount": 0},
        "SourceLanguageCode": request["SourceLanguageCode"],
        "TargetLanguageCodes": request["TargetLanguageCodes"],
        "TerminologyNames": request.get("TerminologyNames") or [],
        "ParallelDataNames": request.get("ParallelDataNames") or [],
        "Message": job.message,
        "SubmittedTime": job.time("created_at"),
        "EndTime": job.time("ended_at"),
        "InputDataConfig": request["InputDataConfig"],
        "OutputDataConfig": {**request["OutputDataConfig"], "S3Uri": output_folder(job) + "/"},
        "DataAccessRoleArn": request["DataAccessRoleArn"],
        "Settings": request.get("Settings"),
    }


def _list_inputs(account_id: str, input_uri: str) -> list[str]:
    try:
        uris = [uri for uri in runtime().blobs.list(input_uri, account_id) if not uri.endswith("/")]
    except BlobError as error:
        raise ServiceError("InvalidRequestException", f"Cannot read the input location: {error}") from None
    if not uris:
        raise ServiceError("InvalidRequestException", f"No documents found under {input_uri}.")
    return uris


def _relative(input_uri: str, uri: str) -> str:
    # The input S3Uri names a folder (with or without its final slash) or a key prefix within one.
    if input_uri.endswith("/") or uri.startswith(input_uri + "/"):
        base = input_uri.rstrip("/") + "/"
    else:
        base = input_uri.rsplit("/", 1)[0] + "/"
    return uri[len(base):] if uri.startswith(base) else uri.rsplit("/", 1)[-1]


def _translate_file(account_id: str, region: str, request: dict, folder: str, uri: str) -> list[dict]:
    """One input document into every target language; returns one detail record per target."""
    from services.gateway.context import Principal

    principal = Principal(account_id, region)
    input_uri = request["InputDataConfig"]["S3Uri"]
    content_type = request["InputDataConfig"]["ContentType"]
    name = _relative(input_uri, uri)
    records = []
    try:
        content = runtime().blobs.read(uri, account_id, max_bytes=MAX_DOCUMENT_BYTES)
    except BlobError as error:
        code = "DOCUMENT_SIZE_EXCEEDED" if "exceeds" in str(error) or "limit" in str(error) else "DOCUMENT_READ_ERROR"
        return [{"sourceFile": name, "targetLanguage": target, "error": {"errorCode": code,
                                                                          "errorMessage": str(error)}}
                for target in request["TargetLanguageCodes"]]
    for target in request["TargetLanguageCodes"]:
        record: dict = {"sourceFile": name, "targetLanguage": target}
        try:
            sample = documents.document_sample(content, content_type)
            state: dict = {}

            def translate_segments(texts: list[str]) -> list[str]:
                outcome = translation.translate(principal, texts, request["SourceLanguageCode"], target,
                                                request.get("TerminologyNames"), request.get("Settings"),
                                                sample=sample)
                state["outcome"] = outcome
                return outcome.texts

            translated = documents.translate_document(content, content_type, translate_segments)
            out_uri = f"{folder}/{target}.{name}"
            runtime().blobs.write(out_uri, translated, account_id, content_type=content_type)
            outcome = state.get("outcome")
            record.update({"targetFile": out_uri, "sourceLanguage": outcome.source if outcome else None,
                           "charactersTranslated": len(sample),
                           "appliedTerminologies": outcome.applied_terminologies if outcome else []})
        except ServiceError as error:
            record["error"] = {"errorCode": error.code, "errorMessage": error.message}
        except BlobError as error:
            record["error"] = {"errorCode": "DOCUMENT_WRITE_ERROR", "errorMessage": str(error)}
        records.append(record)
    return records


def _write_details(account_id: str, folder: str, request: dict, records: list[dict]) -> None:
    for target in request["TargetLanguageCodes"]:
        mine = [r for r in records if r["targetLanguage"] == target]
        details = {
            "sourceLanguageCode": request["SourceLanguageCode"],
            "targetLanguageCode": target,
            "charactersTranslated": sum(r.get("charactersTranslated", 0) for r in mine),
            "documentCountWithCustomerError": sum(1 for r in mine if "error" in r),
            "documentCountWithServerError": 0,
            "inputDataPrefix": request["InputDataConfig"]["S3Uri"],
            "outputDataPrefix": folder + "/",
            "details": mine,
        }
        try:
            runtime().blobs.write(f"{folder}/details/{target}.auxiliary-translation-details.json",
                                  orjson.dumps(details, option=orjson.OPT_INDENT_2), account_id,
                                  content_type="application/json")
        except BlobError as error:
            raise ServiceError("InvalidRequestException", f"Cannot write the output: {error}") from None


@job_kind(KIND, QUEUE)
def run_translation_job(run: JobRun) -> dict:
    job = runtime().jobs.store.load(run.job_id)
    account_id, region = run.principal.account_id, run.principal.region
    request = run.request
    folder = output_folder(job)
    files = run.step(_list_inputs, account_id, request["InputDataConfig"]["S3Uri"], name="list-inputs")
    records: list[dict] = []
    for index, uri in enumerate(files):
        records.extend(run.step(_translate_file, account_id, region, request, folder, uri, name="translate-file"))
        run.progress(index + 1, len(files))
    run.step(_write_details, account_id, folder, request, records, name="write-details")
    failed_files = {r["sourceFile"] for r in records if "error" in r}
    if len(failed_files) == len(files):
        first = next(r for r in records if "error" in r)["error"]
        raise ServiceError("InvalidRequestException",
                           f"No document could be translated: {first['errorCode']}: {first['errorMessage']}")
    return {"InputDocumentsCount": len(files), "TranslatedDocumentsCount": len(files) - len(failed_files),
            "DocumentsWithErrorsCount": len(failed_files), "OutputUri": folder + "/"}
