"""Amazon Translate operations, keyed by AWS operation name."""

from __future__ import annotations

from services.gateway.context import RequestContext
from services.gateway.kit.jobs import JobApi
from services.gateway.kit.paging import Paging
from services.gateway.kit.tags import Tagging, drop_tags
from services.gateway.registry import ServiceProvider
from services.translate import documents, jobs, terminology, translation
from services.translate.engines import ROUTER
from services.translate.errors import InvalidParameterValue, InvalidRequest, ResourceNotFound, TooManyTags
from services.translate.languages import check_display_language, language_name
from services.translate.terminology import TERMINOLOGIES, TranslateTerminology

provider = ServiceProvider("translate")

PAGING = Paging("translate", invalid_token=lambda token: InvalidParameterValue("Invalid NextToken."),
                default_limit=100, limits={"ListLanguages": 500})

TAGGING = Tagging("translate", exists=terminology.tagged_terminology_exists,
                  not_found=lambda arn: ResourceNotFound(f"The resource {arn} does not exist."),
                  too_many=lambda limit: TooManyTags(f"A resource can have at most {limit} tags."), max_tags=50,
                  canonical=terminology.canonical_arn)
TAGGING.register(provider)  # TagResource, UntagResource, ListTagsForResource (terminologies)

# StartTextTranslationJob, DescribeTextTranslationJob, ListTextTranslationJobs, StopTextTranslationJob
TRANSLATION_JOBS = JobApi(
    service="translate", kind=jobs.KIND, queue=jobs.QUEUE,
    start="StartTextTranslationJob", describe="DescribeTextTranslationJob", list="ListTextTranslationJobs",
    stop="StopTextTranslationJob", id_member="JobId", describe_member="TextTranslationJobProperties",
    not_found=jobs.job_not_found, accept=jobs.accept, started=jobs.started, properties=jobs.properties,
    list_where=jobs.list_where, stopped=jobs.stopped, paging=PAGING,
).register(provider)
TRANSLATION_JOBS.runner(jobs.run_translation_job)


@provider.operation("TranslateText")
def translate_text(ctx: RequestContext, request: dict) -> dict:
    text = request["Text"]
    translation.check_text_size(text)
    if not text.strip():
        raise InvalidRequest("Text must contain something to translate.")
    outcome = translation.translate(ctx.principal, [text], request["SourceLanguageCode"],
                                    request["TargetLanguageCode"], request.get("TerminologyNames"),
                                    request.get("Settings"))
    response = {"TranslatedText": outcome.texts[0], "SourceLanguageCode": outcome.source,
                "TargetLanguageCode": outcome.target, "AppliedTerminologies": outcome.applied_terminologies}
    if outcome.applied_settings:
        response["AppliedSettings"] = outcome.applied_settings
    return response


@provider.operation("TranslateDocument")
def translate_document(ctx: RequestContext, request: dict) -> dict:
    document = request["Document"]
    content, content_type = document["Content"], document["ContentType"]
    documents.check_content_type(content_type)
    sample = documents.document_sample(content, content_type)
    state: dict = {}

    def translate_segments(texts: list[str]) -> list[str]:
        outcome = translation.translate(ctx.principal, texts, request["SourceLanguageCode"],
                                        request["TargetLanguageCode"], request.get("TerminologyNames"),
                                        request.get("Settings"), sample=sample)
        state["outcome"] = outcome
        return outcome.texts

    translated = documents.translate_document(content, content_type, translate_segments)
    outcome = state.get("outcome")
    if outcome is None:  # nothing to translate in the document: still check the pair
        source, target = translation.resolve_pair(request["SourceLanguageCode"], request["TargetLanguageCode"],
                                                  sample or "")
        applied_terms, applied_settings = [], {}
    else:
        source, target = outcome.source, outcome.target
        applied_terms, applied_settings = outcome.applied_terminologies, outcome.applied_settings
    response = {"TranslatedDocument": {"Content": translated}, "SourceLanguageCode": source,
                "TargetLanguageCode": target, "AppliedTerminologies": applied_terms}
    if applied_settings:
        response["AppliedSettings"] = applied_settings
    return response


@provider.operation("ListLanguages")
def list_languages(ctx: RequestContext, request: dict) -> dict:
    display = request.get("DisplayLanguageCode", "en")
    check_display_language(display)
    return PAGING.page(ctx, request, sorted(ROUTER.languages()),
                       lambda code: {"LanguageName": language_name(code, display), "LanguageCode": code},
                       DisplayLanguageCode=display)


# ------------------------------------------------------------------------------------------ terminologies


@provider.operation("ImportTerminology")
def import_terminology(ctx: RequestContext, request: dict) -> dict:
    tags = TAGGING.check_new(request.get("Tags"))
    row = terminology.import_terminology(ctx, request)
    drop_tags(row.arn)  # an import replaces the terminology, its tags included
    TAGGING.tag(ctx, row.arn, tags)
    return {"TerminologyProperties": row.properties()}


@provider.operation("GetTerminology")
def get_terminology(ctx: RequestContext, request: dict) -> dict:
    row = TERMINOLOGIES.get(ctx, request["Name"])
    fmt = request.get("TerminologyDataFormat") or row.format
    properties = row.properties()
    properties["Format"] = fmt
    return {"TerminologyProperties": properties,
            "TerminologyDataLocation": terminology.data_location(terminology.export_data(row, fmt), fmt)}


@provider.operation("ListTerminologies")
def list_terminologies(ctx: RequestContext, request: dict) -> dict:
    return PAGING.page_query(ctx, request, TERMINOLOGIES.query(ctx), [(TranslateTerminology.name, False)],
                             TranslateTerminology.properties)


@provider.operation("DeleteTerminology")
def delete_terminology(ctx: RequestContext, request: dict) -> dict:
    row = TERMINOLOGIES.delete(ctx, request["Name"])
    drop_tags(row.arn)
    return {}
