"""Amazon Textract operations, keyed by AWS operation name."""

from __future__ import annotations

from services.gateway.context import RequestContext
from services.gateway.kit.jobs import JobApi
from services.gateway.kit.paging import Paging
from services.gateway.registry import ServiceProvider
from services.textract import analysis, documents, jobs
from services.textract.features import check_features
from services.textract.errors import INVALID_PARAMETERS, InvalidParameter
from services.textract.reading import MAX_SYNC_BYTES, Document

provider = ServiceProvider("textract")

MAX_SYNC_QUERIES = 15
MODEL_VERSION = jobs.MODEL_VERSION

_PAGING = Paging("textract", invalid_token=lambda token: InvalidParameter(INVALID_PARAMETERS))


def _job_api(kind: str, start: str, accept) -> JobApi:
    # Textract's Get* answer results, not properties: JobApi gives Start*, the Get* handlers are below.
    return JobApi(service="textract", kind=kind, queue=jobs.QUEUE, start=start, describe="", id_member="JobId",
                  describe_member="", not_found=jobs.job_not_found, properties=lambda job: {}, accept=accept,
                  started=jobs.started, paging=_PAGING).register(provider)


TEXT_JOBS = _job_api(jobs.TEXT_KIND, "StartDocumentTextDetection", jobs.accept_text)
TEXT_JOBS.runner(jobs.run_text_detection)
ANALYSIS_JOBS = _job_api(jobs.ANALYSIS_KIND, "StartDocumentAnalysis", jobs.accept_analysis)
ANALYSIS_JOBS.runner(jobs.run_document_analysis)
EXPENSE_JOBS = _job_api(jobs.EXPENSE_KIND, "StartExpenseAnalysis", jobs.accept_expense)
EXPENSE_JOBS.runner(jobs.run_expense_analysis)


@provider.operation("DetectDocumentText")
def detect_document_text(ctx: RequestContext, request: dict) -> dict:
    data = documents.request_document(ctx.principal, request["Document"], MAX_SYNC_BYTES)
    Document(data, sync=True).close()  # format, size and page count refused here, before any work is queued
    [blocks] = analysis.pages_blocks(data, [0], True, None, {}, page_member=False)
    return {"DocumentMetadata": {"Pages": 1}, "Blocks": blocks, "DetectDocumentTextModelVersion": MODEL_VERSION}


@provider.operation("AnalyzeDocument")
def analyze_document(ctx: RequestContext, request: dict) -> dict:
    check_features(request, max_queries=MAX_SYNC_QUERIES)
    data = documents.request_document(ctx.principal, request["Document"], MAX_SYNC_BYTES)
    Document(data, sync=True).close()
    queries = analysis.queries_for_page((request.get("QueriesConfig") or {}).get("Queries") or [], 1, 1)
    [blocks] = analysis.pages_blocks(data, [0], True, list(request["FeatureTypes"]), {0: queries}, page_member=False)
    return {"DocumentMetadata": {"Pages": 1}, "Blocks": blocks, "AnalyzeDocumentModelVersion": MODEL_VERSION}


@provider.operation("AnalyzeExpense")
def analyze_expense(ctx: RequestContext, request: dict) -> dict:
    data = documents.request_document(ctx.principal, request["Document"], MAX_SYNC_BYTES)
    Document(data, sync=True).close()
    [expense_document] = analysis.expense_documents(data, [0], True)
    return {"DocumentMetadata": {"Pages": 1}, "ExpenseDocuments": [expense_document]}


@provider.operation("AnalyzeID")
def analyze_id(ctx: RequestContext, request: dict) -> dict:
    datas = [documents.request_document(ctx.principal, page, MAX_SYNC_BYTES) for page in request["DocumentPages"]]
    for data in datas:
        Document(data, sync=True).close()
    return {"IdentityDocuments": analysis.identity_documents(datas), "DocumentMetadata": {"Pages": len(datas)},
            "AnalyzeIDModelVersion": MODEL_VERSION}


@provider.operation("GetDocumentTextDetection")
def get_document_text_detection(ctx: RequestContext, request: dict) -> dict:
    return jobs.get_results(ctx, TEXT_JOBS.get(ctx, request["JobId"]), request, jobs.TEXT_KIND)


@provider.operation("GetDocumentAnalysis")
def get_document_analysis(ctx: RequestContext, request: dict) -> dict:
    return jobs.get_results(ctx, ANALYSIS_JOBS.get(ctx, request["JobId"]), request, jobs.ANALYSIS_KIND)


@provider.operation("GetExpenseAnalysis")
def get_expense_analysis(ctx: RequestContext, request: dict) -> dict:
    return jobs.get_results(ctx, EXPENSE_JOBS.get(ctx, request["JobId"]), request, jobs.EXPENSE_KIND)
