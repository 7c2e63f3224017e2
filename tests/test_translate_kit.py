"""Translate on the service kit, through unmodified boto3 against a running gateway: ListTerminologies,
ListLanguages and ListTextTranslationJobs paging and their invalid-token error, terminology tags through the
kit's tag store (given on ImportTerminology, replaced by a re-import, dropped on delete, the per-resource limit),
and the text translation job API (ClientToken idempotency, List filters, Stop of an ended job).

Each test works in a region of its own, so what other modules create does not show in its listings. No
document is translated: the jobs read an input prefix that holds nothing, so they fail at once."""

from __future__ import annotations

import datetime as dt
import uuid

from tests.helpers import error_code, error_code_and_message, unique, wait_for_status

ROLE = "arn:aws:iam::000000000000:role/TranslateAccess"
CSV = b"en,es\nhouse,vivienda\n"


def fresh_region(gateway, region: str):
    return gateway.client("translate", region=region)


def import_csv(translate, name: str, **kwargs) -> dict:
    return translate.import_terminology(Name=name, MergeStrategy="OVERWRITE",
                                        TerminologyData={"File": CSV, "Format": "CSV"}, **kwargs)["TerminologyProperties"]


def test_list_terminologies_pages(gateway):
    translate = fresh_region(gateway, "eu-central-1")
    names = sorted(unique("term") for _ in range(3))
    for name in names:
        import_csv(translate, name)
    try:
        first = translate.list_terminologies(MaxResults=1)
        assert [item["Name"] for item in first["TerminologyPropertiesList"]] == names[:1] and first["NextToken"]
        second = translate.list_terminologies(MaxResults=2, NextToken=first["NextToken"])
        assert [item["Name"] for item in second["TerminologyPropertiesList"]] == names[1:]
        assert "NextToken" not in second
        whole = translate.list_terminologies()
        assert [item["Name"] for item in whole["TerminologyPropertiesList"]] == names and "NextToken" not in whole
        assert whole["TerminologyPropertiesList"][0]["Arn"] == \
            f"arn:aws:translate:eu-central-1:000000000000:terminology/{names[0]}/LATEST"
        for token in ("garbage", first["NextToken"] + "x"):
            assert error_code_and_message(lambda: translate.list_terminologies(NextToken=token)) == \
                ("InvalidParameterValueException", "Invalid NextToken.")
        # A token of another listing is not one of this listing's.
        languages = translate.list_languages(MaxResults=1)
        assert error_code(lambda: translate.list_terminologies(NextToken=languages["NextToken"])) == \
            "InvalidParameterValueException"
    finally:
        for name in names:
            translate.delete_terminology(Name=name)
    assert translate.list_terminologies()["TerminologyPropertiesList"] == []


def test_list_languages_pages(translate):
    every = translate.list_languages()
    assert "NextToken" not in every and every["DisplayLanguageCode"] == "en"
    codes, token = [], None
    while True:
        page = translate.list_languages(MaxResults=3, **({"NextToken": token} if token else {}))
        assert len(page["Languages"]) <= 3 and page["DisplayLanguageCode"] == "en"
        codes += [language["LanguageCode"] for language in page["Languages"]]
        token = page.get("NextToken")
        if not token:
            break
    assert codes == [language["LanguageCode"] for language in every["Languages"]]
    assert error_code_and_message(lambda: translate.list_languages(NextToken="bogus")) == \
        ("InvalidParameterValueException", "Invalid NextToken.")


def test_terminology_tags_in_the_tag_store(gateway):
    translate = fresh_region(gateway, "eu-central-1")
    name = unique("tagged")
    arn = import_csv(translate, name, Tags=[{"Key": "team", "Value": "docs"}, {"Key": "env", "Value": "dev"}])["Arn"]
    try:
        assert translate.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
            {"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "docs"}]
        # The ARN without its version names the same terminology.
        assert len(translate.list_tags_for_resource(ResourceArn=arn.removesuffix("/LATEST"))["Tags"]) == 2
        translate.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "prod"}])
        assert {"Key": "env", "Value": "prod"} in translate.list_tags_for_resource(ResourceArn=arn)["Tags"]
        # A re-import replaces the terminology, tags included.
        import_csv(translate, name, Tags=[{"Key": "owner", "Value": "me"}])
        assert translate.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "owner", "Value": "me"}]
        too_many = [{"Key": f"k{index}", "Value": "v"} for index in range(50)]
        assert error_code(lambda: translate.tag_resource(ResourceArn=arn, Tags=too_many)) == "TooManyTagsException"
        assert error_code(lambda: import_csv(translate, unique("many"), Tags=too_many + [{"Key": "x", "Value": "y"}])) \
            == "TooManyTagsException"
        # Another region's ARN, another account's, another service's.
        elsewhere = arn.replace("eu-central-1", "us-east-1")
        assert error_code(lambda: translate.list_tags_for_resource(ResourceArn=elsewhere)) == \
            "ResourceNotFoundException"
        assert error_code(lambda: translate.untag_resource(ResourceArn=arn.replace("000000000000", "111111111111"),
                                                           TagKeys=["owner"])) == "ResourceNotFoundException"
        for bad in ("arn:aws:s3:::bucket", "not-an-arn", arn.replace("terminology/", "parallel-data/")):
            assert error_code(lambda: translate.list_tags_for_resource(ResourceArn=bad)) == \
                "InvalidParameterValueException"
    finally:
        translate.delete_terminology(Name=name)
    assert error_code(lambda: translate.list_tags_for_resource(ResourceArn=arn)) == "ResourceNotFoundException"
    # Deleting dropped the tags: the same name imported again starts without any.
    import_csv(translate, name)
    assert translate.list_tags_for_resource(ResourceArn=arn)["Tags"] == []
    translate.delete_terminology(Name=name)


def start_job(translate, bucket: str, **overrides) -> dict:
    args = dict(InputDataConfig={"S3Uri": f"s3://{bucket}/nothing-here/", "ContentType": "text/plain"},
                OutputDataConfig={"S3Uri": f"s3://{bucket}/out/"}, DataAccessRoleArn=ROLE,
                SourceLanguageCode="en", TargetLanguageCodes=["es"], ClientToken=uuid.uuid4().hex)
    args.update(overrides)
    return translate.start_text_translation_job(**args)


def wait_job(translate, job_id: str) -> dict:
    return wait_for_status(
        lambda: translate.describe_text_translation_job(JobId=job_id)["TextTranslationJobProperties"], "JobStatus",
        ("COMPLETED", "COMPLETED_WITH_ERROR", "FAILED", "STOPPED"), 120, 0.2, what=f"translation job {job_id}")


def test_text_translation_jobs_list_and_idempotency(gateway, bucket):
    translate = fresh_region(gateway, "ap-southeast-2")
    token = uuid.uuid4().hex
    first = start_job(translate, bucket, JobName="kit-a", ClientToken=token)
    again = start_job(translate, bucket, JobName="kit-a", ClientToken=token)
    assert again["JobId"] == first["JobId"]
    ids = [first["JobId"]] + [start_job(translate, bucket, JobName=f"kit-{letter}")["JobId"] for letter in "bc"]
    for job_id in ids:
        props = wait_job(translate, job_id)
        assert props["JobStatus"] == "FAILED" and "No documents" in props["Message"]
        assert props["OutputDataConfig"]["S3Uri"] == f"s3://{bucket}/out/000000000000-TranslateText-{job_id}/"
        # Stop of an ended job answers its status.
        stopped = translate.stop_text_translation_job(JobId=job_id)
        assert (stopped["JobId"], stopped["JobStatus"]) == (job_id, "FAILED")

    listed, token_ = [], None
    while True:
        page = translate.list_text_translation_jobs(MaxResults=1, **({"NextToken": token_} if token_ else {}))
        assert len(page["TextTranslationJobPropertiesList"]) <= 1
        listed += [item["JobId"] for item in page["TextTranslationJobPropertiesList"]]
        token_ = page.get("NextToken")
        if not token_:
            break
    assert listed == list(reversed(ids))  # newest first

    def names(**filter_) -> list[str]:
        return [item["JobName"] for item in
                translate.list_text_translation_jobs(Filter=filter_)["TextTranslationJobPropertiesList"]]

    assert names(JobName="kit-b") == ["kit-b"]
    assert names(JobStatus="FAILED") == ["kit-c", "kit-b", "kit-a"]
    assert names(JobStatus="COMPLETED") == [] and names(JobStatus="COMPLETED_WITH_ERROR") == []
    assert names(SubmittedAfterTime=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)) == []
    assert names(SubmittedBeforeTime=dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)) == \
        ["kit-c", "kit-b", "kit-a"]
    now = dt.datetime.now(dt.timezone.utc)
    assert error_code(lambda: names(SubmittedBeforeTime=now, SubmittedAfterTime=now)) == "InvalidFilterException"
    assert error_code_and_message(lambda: translate.list_text_translation_jobs(NextToken="garbage")) == \
        ("InvalidParameterValueException", "Invalid NextToken.")
    assert error_code_and_message(lambda: translate.describe_text_translation_job(JobId="0" * 32)) == \
        ("ResourceNotFoundException", f"The job {'0' * 32} does not exist.")
    assert error_code(lambda: translate.stop_text_translation_job(JobId="0" * 32)) == "ResourceNotFoundException"
    # Jobs are scoped to their region.
    assert error_code(lambda: gateway.client("translate").describe_text_translation_job(JobId=ids[0])) == \
        "ResourceNotFoundException"
