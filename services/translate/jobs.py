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
from sqlalchemy import func

from services.gateway.context import Principal, RequestContext
from services.gateway.errors import ServiceError
from services.gateway.jobs import COMPLETED, Job, JobRun
from services.gateway.kit.inputs import list_input_objects, relative_name
from services.gateway.kit.jobs import Submission, named, stored_form, submitted_between
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError
from services.translate import documents, translation
from services.translate.engines import ROUTER, UnsupportedPair
from services.translate.errors import InvalidFilter, InvalidRequest, ResourceNotFound
from services.translate.languages import normalize
from services.translate.terminology import TERMINOLOGIES, TermSet

log = logging.getLogger("aigate.translate")

KIND = "translate.text"
QUEUE = "translate"
MAX_DOCUMENT_BYTES = 20 * 1024 * 1024  # AWS: 20 MB per document
MAX_TARGETS = 10
COMPLETED_WITH_ERROR = "COMPLETED_WITH_ERROR"


def output_folder(request: dict, account_id: str, job_id: str) -> str:
    prefix = request["OutputDataConfig"]["S3Uri"].rstrip("/")
    return f"{prefix}/{account_id}-TranslateText-{job_id}"


def job_not_found(job_id: str) -> ResourceNotFound:
    return ResourceNotFound(f"The job {job_id} does not exist.")


def accept(ctx: RequestContext, request: dict) -> Submission:
    """StartTextTranslationJob's checks; the job stores the request as it came (less its ClientToken)."""
    source = request["SourceLanguageCode"]
    targets = [normalize(code) for code in request["TargetLanguageCodes"]]
    if len(targets) > MAX_TARGETS:
        raise InvalidRequest(f"At most {MAX_TARGETS} target languages per job.")
    if len(set(targets)) != len(targets):
        raise InvalidRequest("TargetLanguageCodes contains duplicates.")
    documents.check_content_type(request["InputDataConfig"]["ContentType"])
    if source.lower() != "auto":
        for target in targets:
            # TranslateText's rule (translation.resolve_pair): unknown codes are refused; a target equal to the
            # source is accepted and its documents come out unchanged.
            translation.check_known(normalize(source), target)
            if normalize(source) != target and not ROUTER.supports(normalize(source), target):
                raise UnsupportedPair(normalize(source), target)
        for target in targets:  # unknown terminologies fail now, not in the worker
            TermSet.load(ctx.principal, request.get("TerminologyNames"), normalize(source), target)
    else:
        for target in targets:
            translation.check_known("en", target)  # only the target can be checked before detection
        for name in request.get("TerminologyNames") or []:
            TERMINOLOGIES.get(ctx, name)
    if request.get("ParallelDataNames"):
        raise ResourceNotFound(f"The parallel data {request['ParallelDataNames'][0]} does not exist "
                               f"(parallel data is not supported by this gateway).")
    return Submission(request=stored_form(request, "ClientToken"), name=request.get("JobName"),
                      client_token=request.get("ClientToken"))


def status(job: Job) -> str:
    if job.status == COMPLETED and (job.result or {}).get("DocumentsWithErrorsCount"):
        return COMPLETED_WITH_ERROR
    return job.status


def started(ctx: RequestContext, job: Job) -> dict:
    return {"JobId": job.job_id, "JobStatus": status(job)}


def stopped(job: Job) -> dict:
    """StopTextTranslationJob's answer (a job that has ended answers its status as it is)."""
    return {"JobId": job.job_id, "JobStatus": status(job)}


def list_where(request: dict) -> list:
    """ListTextTranslationJobs' Filter as conditions on the job table."""
    found = request.get("Filter") or {}
    if "SubmittedBeforeTime" in found and "SubmittedAfterTime" in found:
        raise InvalidFilter("Specify SubmittedBeforeTime or SubmittedAfterTime, not both.")
    conditions = [*named(found.get("JobName")),
                  *submitted_between(found.get("SubmittedBeforeTime"), found.get("SubmittedAfterTime"))]
    wanted = found.get("JobStatus")
    if wanted in (COMPLETED, COMPLETED_WITH_ERROR):
        # COMPLETED_WITH_ERROR is a COMPLETED job some of whose documents failed (status() above).
        with_errors = func.coalesce(Job.result["DocumentsWithErrorsCount"].as_integer(), 0)
        conditions += [Job.status == COMPLETED, with_errors > 0 if wanted == COMPLETED_WITH_ERROR else with_errors == 0]
    elif wanted:
        conditions.append(Job.status == wanted)
    return conditions


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
        "OutputDataConfig": {**request["OutputDataConfig"],
                             "S3Uri": output_folder(request, job.account_id, job.job_id) + "/"},
        "DataAccessRoleArn": request["DataAccessRoleArn"],
        "Settings": request.get("Settings"),
    }


def _list_inputs(account_id: str, input_uri: str) -> list[str]:
    return list_input_objects(
        account_id, input_uri,
        unreadable=lambda error: InvalidRequest(f"Cannot read the input location: {error}"),
        empty=lambda uri: InvalidRequest(f"No documents found under {uri}."))


def _relative(input_uri: str, uri: str) -> str:
    # The input S3Uri names a folder (with or without its final slash) or a key prefix within one.
    folder = input_uri.endswith("/") or uri.startswith(input_uri + "/")
    return relative_name(input_uri.rstrip("/") + "/" if folder else input_uri, uri)


def _translate_file(account_id: str, region: str, request: dict, folder: str, uri: str) -> list[dict]:
    """One input document into every target language; returns one detail record per target."""
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
                           # a document already in the target language is passed through, not charged
                           "charactersTranslated": 0 if outcome and outcome.source == outcome.target else len(sample),
                           "appliedTerminologies": outcome.applied_terminologies if outcome else []})
        except ServiceError as error:  # this document fails; the others go on
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
            raise InvalidRequest(f"Cannot write the output: {error}") from None


def run_translation_job(run: JobRun) -> dict:
    """The job's work: list the inputs, translate each document (one checkpointed step each), write the details."""
    account_id, region = run.principal.account_id, run.principal.region
    request = run.request
    folder = output_folder(request, account_id, run.job_id)
    files = run.step(_list_inputs, account_id, request["InputDataConfig"]["S3Uri"], name="list-inputs")
    records: list[dict] = []
    for index, uri in enumerate(files):
        records.extend(run.step(_translate_file, account_id, region, request, folder, uri, name="translate-file"))
        run.progress(index + 1, len(files))
    run.step(_write_details, account_id, folder, request, records, name="write-details")
    failed_files = {r["sourceFile"] for r in records if "error" in r}
    if len(failed_files) == len(files):
        first = next(r for r in records if "error" in r)["error"]
        raise InvalidRequest(f"No document could be translated: {first['errorCode']}: {first['errorMessage']}")
    return {"InputDocumentsCount": len(files), "TranslatedDocumentsCount": len(files) - len(failed_files),
            "DocumentsWithErrorsCount": len(failed_files), "OutputUri": folder + "/"}
