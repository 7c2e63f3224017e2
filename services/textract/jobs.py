"""Asynchronous Textract: StartDocumentTextDetection / StartDocumentAnalysis / StartExpenseAnalysis on documents in S3
(PDF and TIFF up to 3,000 pages, or one image), Get* with paging (blocks for text and analysis, at most 1,000 a call;
ExpenseDocuments for expenses, one per page, at most 20 a call).

A job is one checkpointed step per batch of pages (one page per model worker process, read in parallel): each page's
blocks (or its ExpenseDocument) go to a file under the gateway's data folder (`<data_dir>/textract/<account>/<job id>/page-<n>.json`), so
a job restarted after a kill resumes at the first unfinished batch. When the request has an OutputConfig the answer is also written where AWS writes it:
`s3://<S3Bucket>/<S3Prefix>/<JobId>/<n>`, one Get* response of a full page of results per file.
A damaged page fails the job with the reason; the job ends SUCCEEDED only when every page was read.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from services.gateway.context import Principal, RequestContext
from services.gateway.jobs import COMPLETED, FAILED, Job, JobRun
from services.gateway.kit.jobs import Submission, stored_form
from services.gateway.kit.tokens import decode_token, encode_token
from services.gateway.runtime import runtime
from services.textract import analysis, documents
from services.textract.errors import INVALID_PARAMETERS, InvalidJobId, InvalidParameter
from services.textract.features import check_features
from services.textract.reading import MAX_ASYNC_BYTES, Document

TEXT_KIND, ANALYSIS_KIND = "textract.text-detection", "textract.document-analysis"
EXPENSE_KIND = "textract.expense-analysis"
QUEUE = "textract"
MAX_RESULTS = 1000  # blocks per GetDocumentTextDetection / GetDocumentAnalysis call
MAX_EXPENSE_RESULTS = 20  # ExpenseDocuments per GetExpenseAnalysis call
MAX_ASYNC_QUERIES = 30
MODEL_VERSION = "1.0"
# gateway job status -> Textract JobStatus
STATUSES = {"SUBMITTED": "IN_PROGRESS", "IN_PROGRESS": "IN_PROGRESS", "STOP_REQUESTED": "IN_PROGRESS",
            COMPLETED: "SUCCEEDED", FAILED: "FAILED", "STOPPED": "FAILED"}


def job_not_found(job_id: str) -> InvalidJobId:
    return InvalidJobId("An invalid job identifier was passed.")


def accept_text(ctx: RequestContext, request: dict) -> Submission:
    return _accept(request)


def accept_analysis(ctx: RequestContext, request: dict) -> Submission:
    check_features(request, max_queries=MAX_ASYNC_QUERIES)
    return _accept(request)


def accept_expense(ctx: RequestContext, request: dict) -> Submission:
    return _accept(request)


def _accept(request: dict) -> Submission:
    documents.s3_uri(request["DocumentLocation"]["S3Object"])
    output = request.get("OutputConfig")
    if output is not None and not output.get("S3Bucket"):
        raise InvalidParameter(INVALID_PARAMETERS)
    if request.get("KMSKeyId"):
        # Output is written unencrypted by this gateway: a KMS key would be accepted and ignored.
        raise InvalidParameter("KMSKeyId is not supported by this gateway: output is not encrypted with KMS.")
    return Submission(request=stored_form(request, "ClientRequestToken"), client_token=request.get("ClientRequestToken"))


def started(ctx: RequestContext, job: Job) -> dict:
    return {"JobId": job.job_id}


# ---------------------------------------------------------------------- the runner


def _results_dir(principal: Principal, job_id: str) -> Path:
    return Path(runtime().settings.data_dir) / "textract" / principal.account_id / job_id


def _count_pages(principal: Principal, location: dict) -> int:
    data = documents.read_s3_object(principal, location["S3Object"], MAX_ASYNC_BYTES)
    with Document(data, sync=False) as document:
        return document.page_count


def _read_pages(principal: Principal, job_id: str, request: dict, indexes: list[int], page_count: int,
                kind: str) -> int:
    """Pages `indexes`, in parallel over the model workers; each page's blocks (or ExpenseDocument) to its file. The
    document is read again for each batch (a step holds no state between checkpoints); reading is cheap next to OCR."""
    data = documents.read_s3_object(principal, request["DocumentLocation"]["S3Object"], MAX_ASYNC_BYTES)
    if kind == EXPENSE_KIND:
        results: list = analysis.expense_documents(data, indexes, False)
    else:
        analyze = kind == ANALYSIS_KIND
        features = list(request.get("FeatureTypes") or []) if analyze else None
        queries = (request.get("QueriesConfig") or {}).get("Queries") or []
        queries_of = {i: analysis.queries_for_page(queries, i + 1, page_count) for i in indexes} if analyze else {}
        results = analysis.pages_blocks(data, indexes, False, features, queries_of, page_member=True)
    folder = _results_dir(principal, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    for index, result in zip(indexes, results):
        path = folder / f"page-{index + 1}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_bytes(orjson.dumps(result))
        os.replace(temporary, path)
    return len(results)


def _write_output(principal: Principal, job_id: str, request: dict, page_count: int, kind: str) -> None:
    output = request.get("OutputConfig")
    if not output:
        return
    prefix = (output.get("S3Prefix") or "").strip("/")
    base = f"s3://{output['S3Bucket']}/{prefix + '/' if prefix else ''}{job_id}"
    blobs = runtime().blobs
    blobs.write(f"{base}/.s3_access_check", b"", principal.account_id)
    token, number = None, 1
    while True:
        read, limit = _reader(kind)
        response = read(principal, job_id, page_count, token, limit)
        response = {"DocumentMetadata": {"Pages": page_count}, "JobStatus": "SUCCEEDED", **response,
                    MODEL_KEYS[kind]: MODEL_VERSION}
        blobs.write(f"{base}/{number}", orjson.dumps(response), principal.account_id, content_type="application/json")
        token = response.get("NextToken")
        if not token:
            break
        number += 1


MODEL_KEYS = {TEXT_KIND: "DetectDocumentTextModelVersion", ANALYSIS_KIND: "AnalyzeDocumentModelVersion",
              EXPENSE_KIND: "AnalyzeExpenseModelVersion"}


def _run(run: JobRun, kind: str) -> dict:
    request = run.request
    page_count = run.step(_count_pages, run.principal, request["DocumentLocation"], name="count-pages")
    batch = max(1, runtime().settings.model_worker_count)  # one page per model worker at a time
    for first in range(0, page_count, batch):
        indexes = list(range(first, min(first + batch, page_count)))
        run.step(_read_pages, run.principal, run.job_id, request, indexes, page_count, kind,
                 name=f"pages-{indexes[0] + 1}-{indexes[-1] + 1}")
        run.progress(indexes[-1] + 1, page_count)
    run.step(_write_output, run.principal, run.job_id, request, page_count, kind, name="write-output")
    return {"Pages": page_count}


def run_text_detection(run: JobRun) -> dict:
    return _run(run, TEXT_KIND)


def run_document_analysis(run: JobRun) -> dict:
    return _run(run, ANALYSIS_KIND)


def run_expense_analysis(run: JobRun) -> dict:
    return _run(run, EXPENSE_KIND)


# ---------------------------------------------------------------------- Get*


def result_page(principal: Principal, job_id: str, page_count: int, token: str | None, max_results: int) -> dict:
    """Up to `max_results` blocks from the position `token` holds ([page index, block offset])."""
    if token:
        try:
            page_index, offset = decode_token(f"textract/{job_id}", token)
        except ValueError:
            raise InvalidParameter(INVALID_PARAMETERS) from None
    else:
        page_index, offset = 0, 0
    folder = _results_dir(principal, job_id)
    blocks: list[dict] = []
    while page_index < page_count and len(blocks) < max_results:
        page_blocks = orjson.loads((folder / f"page-{page_index + 1}.json").read_bytes())
        wanted = max_results - len(blocks)
        blocks += page_blocks[offset:offset + wanted]
        if offset + wanted < len(page_blocks):
            offset += wanted
            break
        page_index, offset = page_index + 1, 0
    response: dict = {"Blocks": blocks}
    if page_index < page_count:
        response["NextToken"] = encode_token(f"textract/{job_id}", [page_index, offset])
    return response


def expense_page(principal: Principal, job_id: str, page_count: int, token: str | None, max_results: int) -> dict:
    """Up to `max_results` ExpenseDocuments (one per page) from the page index `token` holds."""
    if token:
        try:
            [first] = decode_token(f"textract/{job_id}", token)
        except ValueError:
            raise InvalidParameter(INVALID_PARAMETERS) from None
    else:
        first = 0
    folder = _results_dir(principal, job_id)
    last = min(page_count, first + max_results)
    response: dict = {"ExpenseDocuments": [orjson.loads((folder / f"page-{i + 1}.json").read_bytes())
                                           for i in range(first, last)]}
    if last < page_count:
        response["NextToken"] = encode_token(f"textract/{job_id}", [last])
    return response


def _reader(kind: str):
    """How a job kind's results are paged: (the page reader, the most results one Get* call answers)."""
    return (expense_page, MAX_EXPENSE_RESULTS) if kind == EXPENSE_KIND else (result_page, MAX_RESULTS)


def get_results(ctx: RequestContext, job: Job, request: dict, kind: str) -> dict:
    status = STATUSES.get(job.status, "IN_PROGRESS")
    read, limit = _reader(kind)
    max_results = request.get("MaxResults") or limit
    if max_results < 1:
        raise InvalidParameter(INVALID_PARAMETERS)
    max_results = min(max_results, limit)  # AWS answers at most its limit for a larger MaxResults
    response: dict = {"JobStatus": status}
    if status == "SUCCEEDED":
        page_count = (job.result or {}).get("Pages", 0)
        response["DocumentMetadata"] = {"Pages": page_count}
        response.update(read(ctx.principal, job.job_id, page_count, request.get("NextToken"), max_results))
    elif status == "FAILED":
        response["StatusMessage"] = job.message or "The job failed."
    response[MODEL_KEYS[kind]] = MODEL_VERSION
    return response
