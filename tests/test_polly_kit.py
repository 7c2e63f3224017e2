"""Polly on the service kit, through unmodified boto3 against a running gateway: ListLexicons and DescribeVoices
through one paginator (every lexicon and every voice in one page, the invalid-token error), lexicons scoped to
account and region, lexicon tags in the kit's tag store (PutLexicon's Tags, TagResource, UntagResource,
ListTagsForResource, dropped on delete), and synthesis tasks as a job API: GetSpeechSynthesisTask still shows
RequestCharacters, Engine and SampleRate (kept in the job's details, not in the stored request), the lexicons as
they were when the task was accepted, ListSpeechSynthesisTasks paging and its Status filter.

Each test works in a region of its own, so what other modules create does not show in its listings."""

from __future__ import annotations

from tests.helpers import error_code, error_code_and_message, unique, wait_for_synthesis_task

PLS = """<?xml version="1.0" encoding="UTF-8"?>
<lexicon version="1.0" xmlns="http://www.w3.org/2005/01/pronunciation-lexicon"
         alphabet="ipa" xml:lang="en-US">
  <lexeme><grapheme>W3C</grapheme><alias>World Wide Web Consortium</alias></lexeme>
</lexicon>"""


def lexicon_name() -> str:
    return unique("lx", 8).replace("-", "")  # Polly lexicon names are letters and digits, at most 20


def test_list_lexicons_one_page_and_bad_tokens(gateway):
    polly = gateway.client("polly", region="eu-west-3")
    names = sorted(lexicon_name() for _ in range(3))
    for name in names:
        polly.put_lexicon(Name=name, Content=PLS)
    try:
        listed = polly.list_lexicons()
        assert [item["Name"] for item in listed["Lexicons"]] == names and "NextToken" not in listed
        attributes = listed["Lexicons"][0]["Attributes"]
        assert attributes["LexiconArn"] == f"arn:aws:polly:eu-west-3:000000000000:lexicon/{names[0]}"
        assert attributes["LexemesCount"] == 1 and attributes["Alphabet"] == "ipa"
        assert "LastModified" in attributes
        for token in ("garbage", "e30"):
            assert error_code_and_message(lambda: polly.list_lexicons(NextToken=token)) == \
                ("InvalidNextTokenException", "The NextToken is invalid.")
        # Another region does not see them.
        other = gateway.client("polly", region="eu-north-1")
        assert not set(names) & {item["Name"] for item in other.list_lexicons()["Lexicons"]}
        assert error_code(lambda: other.delete_lexicon(Name=names[0])) == "LexiconNotFoundException"
    finally:
        for name in names:
            polly.delete_lexicon(Name=name)
    assert polly.list_lexicons()["Lexicons"] == []


def test_describe_voices_one_page(polly):
    voices = polly.describe_voices()
    assert len(voices["Voices"]) > 100 and "NextToken" not in voices  # more than one default page: still one
    assert len({voice["Id"] for voice in voices["Voices"]}) == len(voices["Voices"])
    assert error_code_and_message(lambda: polly.describe_voices(NextToken="bogus")) == \
        ("InvalidNextTokenException", "The NextToken is invalid.")


def test_lexicon_tags(gateway):
    polly = gateway.client("polly", region="eu-west-3")
    name = lexicon_name()
    polly.put_lexicon(Name=name, Content=PLS, Tags={"team": "voice"})
    arn = polly.get_lexicon(Name=name)["LexiconAttributes"]["LexiconArn"]
    try:
        assert polly.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"team": "voice"}
        polly.tag_resource(ResourceArn=arn, Tags={"env": "prod"})
        polly.untag_resource(ResourceArn=arn, TagKeys=["team"])
        assert polly.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "prod"}
        polly.put_lexicon(Name=name, Content=PLS, Tags={"owner": "me"})  # an overwrite adds its tags
        assert polly.list_tags_for_resource(ResourceArn=arn)["Tags"] == {"env": "prod", "owner": "me"}
        too_many = {f"k{index}": "v" for index in range(49)}
        assert error_code(lambda: polly.tag_resource(ResourceArn=arn, Tags=too_many)) == "TooManyTagsException"
        for missing in (arn + "x", arn.replace("eu-west-3", "us-east-1"), "arn:aws:s3:::bucket"):
            assert error_code(lambda: polly.list_tags_for_resource(ResourceArn=missing)) == \
                "ResourceNotFoundException"
    finally:
        polly.delete_lexicon(Name=name)
    assert error_code(lambda: polly.list_tags_for_resource(ResourceArn=arn)) == "ResourceNotFoundException"
    polly.put_lexicon(Name=name, Content=PLS)  # deleting dropped the tags
    assert polly.list_tags_for_resource(ResourceArn=arn)["Tags"] == {}
    polly.delete_lexicon(Name=name)


def test_synthesis_tasks_as_a_job_api(gateway, bucket):
    polly = gateway.client("polly", region="ca-central-1")
    lexicon = lexicon_name()
    polly.put_lexicon(Name=lexicon, Content=PLS)
    text = "The W3C met today."
    first = polly.start_speech_synthesis_task(Text=text, VoiceId="Joanna", OutputFormat="mp3", SampleRate="16000",
                                              LexiconNames=[lexicon], OutputS3BucketName=bucket)["SynthesisTask"]
    # The task speaks with the lexicon as it was when accepted, even once it is deleted.
    polly.delete_lexicon(Name=lexicon)
    second = polly.start_speech_synthesis_task(Text="Hello there.", VoiceId="Matthew", Engine="neural",
                                               OutputFormat="ogg_vorbis", OutputS3BucketName=bucket,
                                               OutputS3KeyPrefix="kit/")["SynthesisTask"]
    for task, engine, rate, characters in ((first, "standard", "16000", len(text)),
                                           (second, "neural", "24000", len("Hello there."))):
        assert (task["Engine"], task["SampleRate"], task["RequestCharacters"]) == (engine, rate, characters)
        done = wait_for_synthesis_task(polly, task["TaskId"])
        assert done["TaskStatus"] == "completed", done
        got = polly.get_speech_synthesis_task(TaskId=task["TaskId"])["SynthesisTask"]
        assert (got["Engine"], got["SampleRate"], got["RequestCharacters"]) == (engine, rate, characters)
    assert polly.get_speech_synthesis_task(TaskId=first["TaskId"])["SynthesisTask"]["LexiconNames"] == [lexicon]
    assert second["OutputUri"].endswith(f"/{bucket}/kit/{second['TaskId']}.ogg")

    pages, token = [], None
    while True:
        page = polly.list_speech_synthesis_tasks(MaxResults=1, **({"NextToken": token} if token else {}))
        pages.append([item["TaskId"] for item in page["SynthesisTasks"]])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == [[second["TaskId"]], [first["TaskId"]]]  # newest first, one a page
    listed = polly.list_speech_synthesis_tasks()["SynthesisTasks"]
    assert [item["RequestCharacters"] for item in listed] == [len("Hello there."), len(text)]
    assert {item["TaskId"] for item in polly.list_speech_synthesis_tasks(Status="completed")["SynthesisTasks"]} == \
        {first["TaskId"], second["TaskId"]}
    assert polly.list_speech_synthesis_tasks(Status="failed")["SynthesisTasks"] == []
    assert error_code_and_message(lambda: polly.list_speech_synthesis_tasks(NextToken="garbage")) == \
        ("InvalidNextTokenException", "The NextToken is invalid.")
    # Tasks are scoped to their region.
    assert error_code(lambda: gateway.client("polly").get_speech_synthesis_task(TaskId=first["TaskId"])) == \
        "SynthesisTaskNotFoundException"
