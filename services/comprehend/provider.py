"""Comprehend operations, keyed by AWS operation name: thin handlers over the modules beside this one.

- real-time analysis (Detect*, Batch*, ContainsPiiEntities): analysis.py, language.py;
- asynchronous analysis jobs: one kit JobApi declaration per job type (jobs.py, job_types.py, classifiers.py);
- custom classifiers and entity recognizers, their training and endpoints: custom.py, classifiers.py,
  recognizers.py, endpoints.py;
- TagResource / UntagResource / ListTagsForResource: the kit's Tagging, over every job, model and endpoint.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.concurrency import run_in_threadpool

from services.comprehend import analysis, custom, endpoints
from services.comprehend.analysis import MAX_BATCH_DOCUMENTS, TEXT_LIMITS, check_language, check_size, text_size
from services.comprehend.classifiers import CLASSIFICATION, classifier_properties, create_classifier
from services.comprehend.custom import CLASSIFIER, ENDPOINT_KINDS, ENDPOINTS, MODEL_ORDER, MODELS, RECOGNIZER
from services.comprehend.endpoints import ENDPOINT_ORDER, endpoint_properties
from services.comprehend.errors import BatchSizeLimitExceeded, InvalidRequest, ResourceNotFound, TooManyTags
from services.comprehend.job_types import (
    DOMINANT_LANGUAGE,
    ENTITIES,
    KEY_PHRASES,
    PII,
    SENTIMENT,
    TARGETED_SENTIMENT,
    TOPICS,
)
from services.comprehend.jobs import JobType, job_api
from services.comprehend.language import detect_languages_batched, detect_languages_many
from services.comprehend.recognizers import create_recognizer, recognizer_properties
from services.gateway.context import Principal, RequestContext
from services.gateway.kit.arns import owned, parse_arn
from services.gateway.kit.jobs import JobApi
from services.gateway.kit.paging import Paging
from services.gateway.kit.tags import Tagging
from services.gateway.registry import ServiceProvider

provider = ServiceProvider("comprehend")

PAGING = Paging("comprehend", invalid_token=lambda token: InvalidRequest("Invalid NextToken."), default_limit=100)


# ---------------------------------------------------------------------------------------------------------------
# Tags: TagResource, UntagResource, ListTagsForResource (and the Tags of Create*/Start* requests)
# ---------------------------------------------------------------------------------------------------------------


def resource_exists(principal: Principal, text: str) -> bool:
    """Whether `text` is the ARN of one of the caller's jobs, custom models or endpoints."""
    arn = parse_arn(text)
    if not owned(arn, "comprehend", principal.account_id, principal.region):
        return False
    if arn.resource_type in JOB_APIS:
        return JOB_APIS[arn.resource_type].find(principal, arn.resource_id) is not None
    if arn.resource_type in MODELS:
        return MODELS[arn.resource_type].exists(principal, text)
    return arn.resource_type in ENDPOINT_KINDS.values() and ENDPOINTS.exists(principal, text)


TAGGING = Tagging("comprehend", exists=resource_exists,
                  not_found=lambda arn: ResourceNotFound(f"Resource {arn} does not exist."),
                  too_many=lambda limit: TooManyTags(f"A resource can have at most {limit} tags."),
                  max_tags=200)
TAGGING.register(provider)


def _create_tagged(ctx: RequestContext, request: dict, create: Callable[[RequestContext, dict], str]) -> str:
    """Create a resource with the request's Tags (their number checked before anything is created)."""
    TAGGING.check_new(request.get("Tags"))
    arn = create(ctx, request)
    TAGGING.tag(ctx, arn, request.get("Tags"))
    return arn


# ---------------------------------------------------------------------------------------------------------------
# Real-time analysis
# ---------------------------------------------------------------------------------------------------------------


@provider.operation("DetectDominantLanguage")
async def detect_dominant_language(ctx: RequestContext, request: dict) -> dict:
    check_size("DetectDominantLanguage", request["Text"])
    return {"Languages": await detect_languages_batched(request["Text"])}


@provider.operation("DetectSentiment")
async def detect_sentiment(ctx: RequestContext, request: dict) -> dict:
    check_size("DetectSentiment", request["Text"])
    check_language("DetectSentiment", request["LanguageCode"])
    return await analysis.sentiment_one(request["Text"])


@provider.operation("DetectTargetedSentiment")
async def detect_targeted_sentiment(ctx: RequestContext, request: dict) -> dict:
    check_size("DetectTargetedSentiment", request["Text"])
    check_language("DetectTargetedSentiment", request["LanguageCode"])
    return {"Entities": await analysis.targeted_one(request["Text"])}


def _text_input(request: dict, operation: str) -> str:
    if request.get("Bytes") is not None or request.get("DocumentReaderConfig") is not None:
        raise InvalidRequest(f"{operation} with Bytes (semi-structured documents) needs a custom model endpoint; "
                             f"send the document's text in Text.")
    if not request.get("Text"):
        raise InvalidRequest("Text is required.")
    return request["Text"]


@provider.operation("DetectEntities")
async def detect_entities(ctx: RequestContext, request: dict) -> dict:
    if request.get("EndpointArn"):
        return await run_in_threadpool(endpoints.recognize, ctx, request)
    text = _text_input(request, "DetectEntities")
    check_size("DetectEntities", text)
    language = request.get("LanguageCode")
    if not language:
        raise InvalidRequest("LanguageCode is required unless EndpointArn is given.")
    check_language("DetectEntities", language)
    return {"Entities": await analysis.spacy_one("entities", text, language)}


@provider.operation("DetectKeyPhrases")
async def detect_key_phrases(ctx: RequestContext, request: dict) -> dict:
    check_size("DetectKeyPhrases", request["Text"])
    check_language("DetectKeyPhrases", request["LanguageCode"])
    return {"KeyPhrases": await analysis.spacy_one("key_phrases", request["Text"], request["LanguageCode"])}


@provider.operation("DetectSyntax")
async def detect_syntax(ctx: RequestContext, request: dict) -> dict:
    check_size("DetectSyntax", request["Text"])
    check_language("DetectSyntax", request["LanguageCode"])
    return {"SyntaxTokens": await analysis.spacy_one("syntax", request["Text"], request["LanguageCode"])}


@provider.operation("DetectPiiEntities")
async def detect_pii_entities(ctx: RequestContext, request: dict) -> dict:
    check_size("DetectPiiEntities", request["Text"])
    check_language("DetectPiiEntities", request["LanguageCode"])
    return {"Entities": await analysis.pii_one(request["Text"])}


@provider.operation("ContainsPiiEntities")
async def contains_pii_entities(ctx: RequestContext, request: dict) -> dict:
    check_size("ContainsPiiEntities", request["Text"])
    check_language("ContainsPiiEntities", request["LanguageCode"])
    return {"Labels": analysis.pii_labels(await analysis.pii_one(request["Text"]))}


# ---------------------------------------------------------------------------------------------------------------
# Batch* operations: up to 25 documents, per-document errors in ErrorList
# ---------------------------------------------------------------------------------------------------------------


def _batch(request: dict, operation: str, analyse: Callable[[list[str]], list], member: str,
           language_operation: str | None = None) -> dict:
    texts = request["TextList"]
    if len(texts) > MAX_BATCH_DOCUMENTS:
        raise BatchSizeLimitExceeded(
            f"The number of documents in the request exceeds the limit of {MAX_BATCH_DOCUMENTS}.")
    if language_operation is not None:
        check_language(language_operation, request["LanguageCode"])
    limit = TEXT_LIMITS[language_operation or operation]
    errors, valid = [], []
    for index, text in enumerate(texts):
        size = text_size(text)
        if size > limit:
            errors.append({"Index": index, "ErrorCode": "TEXT_SIZE_LIMIT_EXCEEDED",
                           "ErrorMessage": f"Document size {size} bytes exceeds the limit of {limit} bytes"})
        elif not text.strip():
            errors.append({"Index": index, "ErrorCode": "INVALID_REQUEST",
                           "ErrorMessage": "The document is empty or holds only whitespace."})
        else:
            valid.append(index)
    found = analyse([texts[index] for index in valid]) if valid else []
    results = [{"Index": index, **({member: value} if member else value)} for index, value in zip(valid, found)]
    return {"ResultList": results, "ErrorList": errors}


@provider.operation("BatchDetectDominantLanguage")
def batch_detect_dominant_language(ctx: RequestContext, request: dict) -> dict:
    return _batch(request, "DetectDominantLanguage", detect_languages_many, "Languages")


@provider.operation("BatchDetectSentiment")
def batch_detect_sentiment(ctx: RequestContext, request: dict) -> dict:
    return _batch(request, "BatchDetectSentiment", analysis.sentiment_many, "", "DetectSentiment")


@provider.operation("BatchDetectTargetedSentiment")
def batch_detect_targeted_sentiment(ctx: RequestContext, request: dict) -> dict:
    return _batch(request, "BatchDetectTargetedSentiment", analysis.targeted_many, "Entities",
                  "DetectTargetedSentiment")


@provider.operation("BatchDetectEntities")
def batch_detect_entities(ctx: RequestContext, request: dict) -> dict:
    language = request["LanguageCode"]
    return _batch(request, "BatchDetectEntities", lambda texts: analysis.spacy_many("entities", texts, language),
                  "Entities", "DetectEntities")


@provider.operation("BatchDetectKeyPhrases")
def batch_detect_key_phrases(ctx: RequestContext, request: dict) -> dict:
    language = request["LanguageCode"]
    return _batch(request, "BatchDetectKeyPhrases", lambda texts: analysis.spacy_many("key_phrases", texts, language),
                  "KeyPhrases", "DetectKeyPhrases")


@provider.operation("BatchDetectSyntax")
def batch_detect_syntax(ctx: RequestContext, request: dict) -> dict:
    language = request["LanguageCode"]
    return _batch(request, "BatchDetectSyntax", lambda texts: analysis.spacy_many("syntax", texts, language),
                  "SyntaxTokens", "DetectSyntax")


# ---------------------------------------------------------------------------------------------------------------
# Asynchronous jobs: Start/Describe/List/Stop per job type (those the botocore model has), one JobApi each
# ---------------------------------------------------------------------------------------------------------------

JOB_APIS: dict[str, JobApi] = {}  # by the resource type of the job's ARN (dominant-language-detection-job, ...)


def _job_operations(job_type: JobType, **operations: str) -> JobApi:
    api = job_api(job_type, paging=PAGING, tagging=TAGGING, **operations).register(provider)
    JOB_APIS[job_type.arn_resource] = api
    return api


DOMINANT_LANGUAGE_JOBS = _job_operations(
    DOMINANT_LANGUAGE, start="StartDominantLanguageDetectionJob", describe="DescribeDominantLanguageDetectionJob",
    list="ListDominantLanguageDetectionJobs", stop="StopDominantLanguageDetectionJob")
SENTIMENT_JOBS = _job_operations(
    SENTIMENT, start="StartSentimentDetectionJob", describe="DescribeSentimentDetectionJob",
    list="ListSentimentDetectionJobs", stop="StopSentimentDetectionJob")
TARGETED_SENTIMENT_JOBS = _job_operations(
    TARGETED_SENTIMENT, start="StartTargetedSentimentDetectionJob", describe="DescribeTargetedSentimentDetectionJob",
    list="ListTargetedSentimentDetectionJobs", stop="StopTargetedSentimentDetectionJob")
ENTITIES_JOBS = _job_operations(
    ENTITIES, start="StartEntitiesDetectionJob", describe="DescribeEntitiesDetectionJob",
    list="ListEntitiesDetectionJobs", stop="StopEntitiesDetectionJob")
KEY_PHRASES_JOBS = _job_operations(
    KEY_PHRASES, start="StartKeyPhrasesDetectionJob", describe="DescribeKeyPhrasesDetectionJob",
    list="ListKeyPhrasesDetectionJobs", stop="StopKeyPhrasesDetectionJob")
PII_JOBS = _job_operations(
    PII, start="StartPiiEntitiesDetectionJob", describe="DescribePiiEntitiesDetectionJob",
    list="ListPiiEntitiesDetectionJobs", stop="StopPiiEntitiesDetectionJob")
TOPICS_JOBS = _job_operations(  # the model has no StopTopicsDetectionJob
    TOPICS, start="StartTopicsDetectionJob", describe="DescribeTopicsDetectionJob",
    list="ListTopicsDetectionJobs")
DOCUMENT_CLASSIFICATION_JOBS = _job_operations(  # nor StopDocumentClassificationJob
    CLASSIFICATION, start="StartDocumentClassificationJob", describe="DescribeDocumentClassificationJob",
    list="ListDocumentClassificationJobs")


# ---------------------------------------------------------------------------------------------------------------
# Custom document classifiers (training: classifiers.py)
# ---------------------------------------------------------------------------------------------------------------


@provider.operation("CreateDocumentClassifier")
def create_document_classifier(ctx: RequestContext, request: dict) -> dict:
    return {"DocumentClassifierArn": _create_tagged(ctx, request, create_classifier)}


@provider.operation("DescribeDocumentClassifier")
def describe_document_classifier(ctx: RequestContext, request: dict) -> dict:
    row = MODELS[CLASSIFIER].get(ctx, request["DocumentClassifierArn"])
    return {"DocumentClassifierProperties": classifier_properties(row)}


@provider.operation("ListDocumentClassifiers")
def list_document_classifiers(ctx: RequestContext, request: dict) -> dict:
    query = custom.model_query(ctx, CLASSIFIER, request, "DocumentClassifierName")
    return PAGING.page_query(ctx, request, query, MODEL_ORDER, classifier_properties)


@provider.operation("ListDocumentClassifierSummaries")
def list_document_classifier_summaries(ctx: RequestContext, request: dict) -> dict:
    return PAGING.page(ctx, request, custom.summaries(ctx, CLASSIFIER, "DocumentClassifierName"))


@provider.operation("DeleteDocumentClassifier")
def delete_document_classifier(ctx: RequestContext, request: dict) -> dict:
    custom.delete_model(ctx, CLASSIFIER, request["DocumentClassifierArn"])
    return {}


@provider.operation("StopTrainingDocumentClassifier")
def stop_training_document_classifier(ctx: RequestContext, request: dict) -> dict:
    custom.stop_training(ctx, CLASSIFIER, request["DocumentClassifierArn"])
    return {}


# ---------------------------------------------------------------------------------------------------------------
# Custom entity recognizers (training: recognizers.py)
# ---------------------------------------------------------------------------------------------------------------


@provider.operation("CreateEntityRecognizer")
def create_entity_recognizer(ctx: RequestContext, request: dict) -> dict:
    return {"EntityRecognizerArn": _create_tagged(ctx, request, create_recognizer)}


@provider.operation("DescribeEntityRecognizer")
def describe_entity_recognizer(ctx: RequestContext, request: dict) -> dict:
    row = MODELS[RECOGNIZER].get(ctx, request["EntityRecognizerArn"])
    return {"EntityRecognizerProperties": recognizer_properties(row)}


@provider.operation("ListEntityRecognizers")
def list_entity_recognizers(ctx: RequestContext, request: dict) -> dict:
    query = custom.model_query(ctx, RECOGNIZER, request, "RecognizerName")
    return PAGING.page_query(ctx, request, query, MODEL_ORDER, recognizer_properties)


@provider.operation("ListEntityRecognizerSummaries")
def list_entity_recognizer_summaries(ctx: RequestContext, request: dict) -> dict:
    return PAGING.page(ctx, request, custom.summaries(ctx, RECOGNIZER, "RecognizerName"))


@provider.operation("DeleteEntityRecognizer")
def delete_entity_recognizer(ctx: RequestContext, request: dict) -> dict:
    custom.delete_model(ctx, RECOGNIZER, request["EntityRecognizerArn"])
    return {}


@provider.operation("StopTrainingEntityRecognizer")
def stop_training_entity_recognizer(ctx: RequestContext, request: dict) -> dict:
    custom.stop_training(ctx, RECOGNIZER, request["EntityRecognizerArn"])
    return {}


# ---------------------------------------------------------------------------------------------------------------
# Endpoints (endpoints.py); DetectEntities with an EndpointArn is above
# ---------------------------------------------------------------------------------------------------------------


@provider.operation("CreateEndpoint")
def create_endpoint(ctx: RequestContext, request: dict) -> dict:
    arn = _create_tagged(ctx, request, lambda ctx, request: endpoints.create_endpoint(ctx, request).arn)
    return {"EndpointArn": arn, "ModelArn": request["ModelArn"]}


@provider.operation("DescribeEndpoint")
def describe_endpoint(ctx: RequestContext, request: dict) -> dict:
    return {"EndpointProperties": endpoint_properties(ENDPOINTS.get(ctx, request["EndpointArn"]))}


@provider.operation("ListEndpoints")
def list_endpoints(ctx: RequestContext, request: dict) -> dict:
    return PAGING.page_query(ctx, request, endpoints.endpoint_query(ctx, request), ENDPOINT_ORDER, endpoint_properties)


@provider.operation("UpdateEndpoint")
def update_endpoint(ctx: RequestContext, request: dict) -> dict:
    return {"DesiredModelArn": endpoints.update_endpoint(ctx, request).model_arn}


@provider.operation("DeleteEndpoint")
def delete_endpoint(ctx: RequestContext, request: dict) -> dict:
    endpoints.delete_endpoint(ctx, request["EndpointArn"])
    return {}


@provider.operation("ClassifyDocument")
def classify_document(ctx: RequestContext, request: dict) -> dict:
    return endpoints.classify(ctx, request)
