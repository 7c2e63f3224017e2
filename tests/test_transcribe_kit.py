"""Transcribe on the service kit, through unmodified boto3 against a running gateway: tags (TagResource,
UntagResource, ListTagsForResource, tags given at creation, tags dropped on delete), List* paging and its
invalid-token error, and jobs addressed by name (conflict on a name in use, not found after a delete).

No speech is recognised here: the jobs read a media URI that names nothing, so they fail at once."""

from __future__ import annotations

import uuid

import pytest

ACCOUNT = "000000000000"  # the gateway's default account (auth off)
REGION = "us-east-1"


def arn(resource: str) -> str:
    return f"arn:aws:transcribe:{REGION}:{ACCOUNT}:{resource}"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def as_dict(tags: list[dict]) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tags}


@pytest.fixture(scope="module")
def transcribe(gateway):
    return gateway.client("transcribe", region=REGION)


def start_job(transcribe, name: str, **kwargs) -> dict:
    return transcribe.start_transcription_job(
        TranscriptionJobName=name, LanguageCode="en-US",
        Media={"MediaFileUri": f"s3://no-such-bucket-{uuid.uuid4().hex[:8]}/nothing.wav"}, **kwargs)


def test_tags_on_a_transcription_job(transcribe):
    name = unique("tagged-job")
    job_arn = arn(f"transcription-job/{name}")
    started = start_job(transcribe, name, Tags=[{"Key": "team", "Value": "speech"}, {"Key": "env", "Value": ""}])
    assert as_dict(started["TranscriptionJob"]["Tags"]) == {"team": "speech", "env": ""}
    got = transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
    assert as_dict(got["Tags"]) == {"team": "speech", "env": ""}

    listed = transcribe.list_tags_for_resource(ResourceArn=job_arn)
    assert listed["ResourceArn"] == job_arn and as_dict(listed["Tags"]) == {"team": "speech", "env": ""}
    transcribe.tag_resource(ResourceArn=job_arn, Tags=[{"Key": "team", "Value": "voice"},
                                                        {"Key": "cost", "Value": "42"}])
    assert as_dict(transcribe.list_tags_for_resource(ResourceArn=job_arn)["Tags"]) == {
        "team": "voice", "env": "", "cost": "42"}
    transcribe.untag_resource(ResourceArn=job_arn, TagKeys=["env", "not-there"])
    assert as_dict(transcribe.list_tags_for_resource(ResourceArn=job_arn)["Tags"]) == {"team": "voice", "cost": "42"}
    got = transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
    assert as_dict(got["Tags"]) == {"team": "voice", "cost": "42"}  # read from the tag store, not the request

    transcribe.delete_transcription_job(TranscriptionJobName=name)
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.list_tags_for_resource(ResourceArn=job_arn)
    # A new job of that name starts with no tags of the old one.
    start_job(transcribe, name)
    assert "Tags" not in transcribe.get_transcription_job(TranscriptionJobName=name)["TranscriptionJob"]
    assert transcribe.list_tags_for_resource(ResourceArn=job_arn)["Tags"] == []
    transcribe.delete_transcription_job(TranscriptionJobName=name)


def test_tags_on_a_vocabulary_and_a_filter_and_a_category(transcribe):
    name = unique("tagged-vocab")
    vocab_arn = arn(f"vocabulary/{name}")
    transcribe.create_vocabulary(VocabularyName=name, LanguageCode="en-US", Phrases=["Zyntrofex"],
                                 Tags=[{"Key": "project", "Value": "launch"}])
    assert as_dict(transcribe.list_tags_for_resource(ResourceArn=vocab_arn)["Tags"]) == {"project": "launch"}
    transcribe.tag_resource(ResourceArn=vocab_arn, Tags=[{"Key": "owner", "Value": "ana"}])
    transcribe.untag_resource(ResourceArn=vocab_arn, TagKeys=["project"])
    assert as_dict(transcribe.list_tags_for_resource(ResourceArn=vocab_arn)["Tags"]) == {"owner": "ana"}
    transcribe.delete_vocabulary(VocabularyName=name)
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.list_tags_for_resource(ResourceArn=vocab_arn)
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.tag_resource(ResourceArn=vocab_arn, Tags=[{"Key": "a", "Value": "b"}])
    # Recreated: the old tags are gone.
    transcribe.create_vocabulary(VocabularyName=name, LanguageCode="en-US", Phrases=["Zyntrofex"])
    assert transcribe.list_tags_for_resource(ResourceArn=vocab_arn)["Tags"] == []
    transcribe.delete_vocabulary(VocabularyName=name)

    filter_name = unique("tagged-filter")
    transcribe.create_vocabulary_filter(VocabularyFilterName=filter_name, LanguageCode="en-US", Words=["darn"],
                                        Tags=[{"Key": "k", "Value": "v"}])
    filter_arn = arn(f"vocabulary-filter/{filter_name}")
    assert as_dict(transcribe.list_tags_for_resource(ResourceArn=filter_arn)["Tags"]) == {"k": "v"}
    transcribe.delete_vocabulary_filter(VocabularyFilterName=filter_name)
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.list_tags_for_resource(ResourceArn=filter_arn)

    category = unique("tagged-cat")
    created = transcribe.create_call_analytics_category(
        CategoryName=category, Rules=[{"NonTalkTimeFilter": {"Threshold": 5000}}],
        Tags=[{"Key": "queue", "Value": "billing"}])["CategoryProperties"]
    assert as_dict(created["Tags"]) == {"queue": "billing"}
    category_arn = arn(f"analytics-category/{category}")
    assert as_dict(transcribe.list_tags_for_resource(ResourceArn=category_arn)["Tags"]) == {"queue": "billing"}
    got = transcribe.get_call_analytics_category(CategoryName=category)["CategoryProperties"]
    assert as_dict(got["Tags"]) == {"queue": "billing"}
    transcribe.delete_call_analytics_category(CategoryName=category)
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.list_tags_for_resource(ResourceArn=category_arn)


def test_tag_errors(transcribe):
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.list_tags_for_resource(ResourceArn=arn("transcription-job/never-started-anywhere"))
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.tag_resource(ResourceArn=arn("vocabulary/no-such-vocabulary"), Tags=[{"Key": "a", "Value": "b"}])
    with pytest.raises(transcribe.exceptions.NotFoundException):  # another account's: not the caller's
        transcribe.list_tags_for_resource(ResourceArn="arn:aws:transcribe:us-east-1:111122223333:vocabulary/x")
    with pytest.raises(transcribe.exceptions.BadRequestException, match="resource type"):
        transcribe.list_tags_for_resource(ResourceArn=arn("widget/x"))

    name = unique("many-tags")
    transcribe.create_vocabulary(VocabularyName=name, LanguageCode="en-US", Phrases=["hello"],
                                 Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(150)])
    with pytest.raises(transcribe.exceptions.BadRequestException, match="200"):
        transcribe.tag_resource(ResourceArn=arn(f"vocabulary/{name}"),
                                Tags=[{"Key": f"x{i}", "Value": "v"} for i in range(51)])
    transcribe.tag_resource(ResourceArn=arn(f"vocabulary/{name}"),
                            Tags=[{"Key": f"x{i}", "Value": "v"} for i in range(50)])
    assert len(transcribe.list_tags_for_resource(ResourceArn=arn(f"vocabulary/{name}"))["Tags"]) == 200
    transcribe.delete_vocabulary(VocabularyName=name)


def test_paging_across_vocabularies(transcribe):
    prefix = unique("paged")
    names = [f"{prefix}-{i}" for i in range(3)]
    for name in reversed(names):
        transcribe.create_vocabulary(VocabularyName=name, LanguageCode="en-US", Phrases=["hello"])
    seen, token, pages = [], None, 0
    while True:
        page = transcribe.list_vocabularies(NameContains=prefix.upper(), MaxResults=1,
                                            **({"NextToken": token} if token else {}))
        assert len(page["Vocabularies"]) == 1
        seen += [v["VocabularyName"] for v in page["Vocabularies"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names and pages == 3
    ready = transcribe.list_vocabularies(NameContains=prefix, StateEquals="READY")
    assert ready["Status"] == "READY" and [v["VocabularyName"] for v in ready["Vocabularies"]] == names
    assert transcribe.list_vocabularies(NameContains=prefix, StateEquals="FAILED")["Vocabularies"] == []
    with pytest.raises(transcribe.exceptions.BadRequestException, match="The NextToken is not valid."):
        transcribe.list_vocabularies(NextToken="not-a-token")
    with pytest.raises(transcribe.exceptions.BadRequestException, match="The NextToken is not valid."):
        transcribe.list_transcription_jobs(NextToken="not-a-token")
    for name in names:
        transcribe.delete_vocabulary(VocabularyName=name)


def test_jobs_by_name(transcribe):
    prefix = unique("named")
    first, second = f"{prefix}-a", f"{prefix}-b"
    start_job(transcribe, first)
    with pytest.raises(transcribe.exceptions.ConflictException,
                       match="The requested job name already exists. Use a different job name."):
        start_job(transcribe, first)
    start_job(transcribe, second)
    # Newest first, one a page, filtered case-insensitively by name.
    page = transcribe.list_transcription_jobs(JobNameContains=prefix.upper(), MaxResults=1)
    assert [j["TranscriptionJobName"] for j in page["TranscriptionJobSummaries"]] == [second]
    page = transcribe.list_transcription_jobs(JobNameContains=prefix, MaxResults=1, NextToken=page["NextToken"])
    assert [j["TranscriptionJobName"] for j in page["TranscriptionJobSummaries"]] == [first]
    assert "NextToken" not in page
    queued = transcribe.list_transcription_jobs(JobNameContains=prefix, Status="COMPLETED")
    assert queued["Status"] == "COMPLETED" and queued["TranscriptionJobSummaries"] == []

    transcribe.delete_transcription_job(TranscriptionJobName=first)
    message = "The requested job couldn't be found. Check the job name and try your request again."
    with pytest.raises(transcribe.exceptions.NotFoundException, match=message):
        transcribe.get_transcription_job(TranscriptionJobName=first)
    with pytest.raises(transcribe.exceptions.NotFoundException, match=message):
        transcribe.delete_transcription_job(TranscriptionJobName=first)
    start_job(transcribe, first)  # a deleted job's name is free again
    for name in (first, second):
        transcribe.delete_transcription_job(TranscriptionJobName=name)

    call = unique("named-call")
    transcribe.start_call_analytics_job(CallAnalyticsJobName=call, Media={"MediaFileUri": "s3://no-such/x.wav"},
                                        Tags=[{"Key": "k", "Value": "v"}])
    with pytest.raises(transcribe.exceptions.ConflictException):
        transcribe.start_call_analytics_job(CallAnalyticsJobName=call, Media={"MediaFileUri": "s3://no-such/x.wav"})
    got = transcribe.get_call_analytics_job(CallAnalyticsJobName=call)["CallAnalyticsJob"]
    assert as_dict(got["Tags"]) == {"k": "v"}
    assert as_dict(transcribe.list_tags_for_resource(ResourceArn=arn(f"analytics/{call}"))["Tags"]) == {"k": "v"}
    transcribe.delete_call_analytics_job(CallAnalyticsJobName=call)
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.get_call_analytics_job(CallAnalyticsJobName=call)
    with pytest.raises(transcribe.exceptions.NotFoundException):
        transcribe.list_tags_for_resource(ResourceArn=arn(f"analytics/{call}"))


def test_an_internal_error_fails_a_job_in_generic_words():
    """A runner's unexpected exception (a bug) fails the job with the job kit's generic FailureReason (the
    exception and its trace go to the log only). Service errors pass as they are: their message is AWS's."""
    from services.gateway.jobs import INTERNAL_FAILURE_MESSAGE, failure_message
    from services.transcribe.errors import BadRequest

    try:
        {"Media": {}}["Media"]["MediaFileUri"]
    except KeyError as error:
        reason = failure_message(error)
    assert reason == INTERNAL_FAILURE_MESSAGE and "KeyError" not in reason and "MediaFileUri" not in reason
    assert failure_message(BadRequest("Unsupported media format.")) == "Unsupported media format."
