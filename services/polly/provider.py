"""Polly operations, keyed by AWS operation name."""

from __future__ import annotations

import itertools
import logging

from services.gateway.context import RequestContext
from services.gateway.errors import ServiceError
from services.gateway.kit.jobs import JobApi
from services.gateway.kit.paging import Paging
from services.gateway.kit.tags import Tagging, drop_tags
from services.gateway.registry import ServiceProvider
from services.polly import lexicons, speech, tasks
from services.polly.encode import CONTENT_TYPES
from services.polly.errors import InvalidNextToken, ResourceNotFound, ServiceFailure, TooManyTags
from services.polly.lexicons import LEXICONS, PollyLexicon
from services.polly.voices import VOICES, language_name, supported_engines

log = logging.getLogger("aigate.polly")
provider = ServiceProvider("polly")

# DescribeVoices has no page size: every voice in one page, as AWS answers it.
PAGING = Paging("polly", invalid_token=lambda token: InvalidNextToken("The NextToken is invalid."),
                default_limit=100, limits={"DescribeVoices": 1000})

# Lexicon tags (the model's TagResource, UntagResource, ListTagsForResource and PutLexicon's Tags).
TAGGING = Tagging("polly", exists=lexicons.tagged_lexicon_exists,
                  not_found=lambda arn: ResourceNotFound(f"The resource {arn} does not exist."),
                  too_many=lambda limit: TooManyTags(f"A resource can have at most {limit} tags."), max_tags=50)
TAGGING.register(provider)

# StartSpeechSynthesisTask, GetSpeechSynthesisTask, ListSpeechSynthesisTasks
SYNTHESIS_TASKS = JobApi(
    service="polly", kind=tasks.KIND, queue=tasks.QUEUE,
    start="StartSpeechSynthesisTask", describe="GetSpeechSynthesisTask", list="ListSpeechSynthesisTasks",
    id_member="TaskId", describe_member="SynthesisTask", not_found=tasks.task_not_found,
    accept=tasks.accept, started=tasks.started, properties=tasks.task_dict, list_where=tasks.list_where,
    paging=PAGING,
).register(provider)
SYNTHESIS_TASKS.runner(tasks.run_synthesis_task)


@provider.operation("SynthesizeSpeech")
def synthesize_speech(ctx: RequestContext, request: dict) -> dict:
    plan_ = speech.plan(request)
    sentences = speech.prepare(plan_, ctx)
    backend_ = speech.backend(plan_)
    stream = speech.stream_audio(plan_, backend_, sentences)
    # Say the first sentence before answering: a failing engine is then an AWS error, not a cut-off 200 stream.
    try:
        first = next(stream)
    except StopIteration:
        first = b""
    except ServiceError:
        raise
    except Exception as error:
        log.exception("speech synthesis failed")
        raise ServiceFailure(f"Speech synthesis failed: {type(error).__name__}: {error}") from None
    return {"AudioStream": itertools.chain([first], stream),
            "ContentType": CONTENT_TYPES[plan_.output_format], "RequestCharacters": plan_.billed}


@provider.operation("DescribeVoices")
def describe_voices(ctx: RequestContext, request: dict) -> dict:
    engine, language = request.get("Engine"), request.get("LanguageCode")
    include_additional = request.get("IncludeAdditionalLanguageCodes", False)
    voices = []
    for voice in VOICES.values():
        if engine and engine not in supported_engines(voice):
            continue
        if language and voice.language != language and not (include_additional and language in voice.additional):
            continue
        entry = {"Gender": voice.gender, "Id": voice.id, "LanguageCode": voice.language,
                 "LanguageName": language_name(voice.language), "Name": voice.id,
                 "SupportedEngines": supported_engines(voice)}
        if voice.additional:
            entry["AdditionalLanguageCodes"] = list(voice.additional)
        voices.append(entry)
    return PAGING.page(ctx, request, voices)


@provider.operation("PutLexicon")
def put_lexicon(ctx: RequestContext, request: dict) -> dict:
    tags = TAGGING.check_new(request.get("Tags"))
    row = lexicons.put(ctx, request["Name"], request["Content"])
    TAGGING.tag(ctx, row.arn, tags)
    return {}


@provider.operation("GetLexicon")
def get_lexicon(ctx: RequestContext, request: dict) -> dict:
    found = LEXICONS.get(ctx, request["Name"])
    return {"Lexicon": {"Content": found.content, "Name": found.name}, "LexiconAttributes": found.attributes()}


@provider.operation("ListLexicons")
def list_lexicons(ctx: RequestContext, request: dict) -> dict:
    return PAGING.page_query(ctx, request, LEXICONS.query(ctx), [(PollyLexicon.name, False)],
                             lambda found: {"Name": found.name, "Attributes": found.attributes()})


@provider.operation("DeleteLexicon")
def delete_lexicon(ctx: RequestContext, request: dict) -> dict:
    drop_tags(LEXICONS.delete(ctx, request["Name"]).arn)
    return {}
