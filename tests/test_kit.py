"""Unit tests of the service kit (services/gateway/kit/) and of the job store it builds on, against a real SQLite
metadata database: no gateway process, no DBOS launch, no models.

Test-only tables (prefix `kittest_`) are declared on the shared `Base` at import, so `Runtime.build` creates them
with the rest of the schema. Also here: two source scans that keep the services on the kit (no
`ServiceError("<literal>", ...)` outside the gateway; every `errors = ServiceErrors(...)` names a served service
whose provider exists).
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import pickle
from pathlib import Path
from typing import Iterator

import botocore.loaders
import pytest
from sqlalchemy import DateTime, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from services.gateway import jobs as jobs_module
from services.gateway.config import Settings
from services.gateway.context import Principal, RequestContext
from services.gateway.db import Base
from services.gateway.errors import ServiceError
from services.gateway.jobs import (COMPLETED, FAILED, IN_PROGRESS, JOB_KINDS, STOP_REQUESTED, STOPPED, SUBMITTED, Job,
                                   JobKind,
                                   JobManager, JobRun, JobStopped, register_queue)
from services.gateway.kit.arns import Arn, build_arn, owned, parse_arn
from services.gateway.kit.errors import COMMON_ERRORS, ServiceErrors
from services.gateway.kit.jobs import (JobApi, Submission, in_statuses, is_active, name_contains, named,
                                       reverse_statuses, stored_form, submitted_between)
from services.gateway.kit.inputs import list_input_objects, relative_name
from services.gateway.kit.paging import PageSpec, Paging, page_spec
from services.gateway.kit.resources import ResourceTable, Scoped, ScopedByArn
from services.gateway.kit.tags import (ResourceTag, Tagging, drop_tags, get_tags, put_tags, remove_tags, tag_members,
                                       tags_from_wire, tags_to_wire)
from services.gateway.kit.times import aware, utcnow
from services.gateway.kit.tokens import decode_token, encode_token
from services.gateway.protocol.service_models import SERVED_SERVICES, service_spec
from services.gateway.registry import PROVIDER_MODULES, ServiceProvider, load_providers
from services.gateway.runtime import Runtime

ROOT = Path(__file__).resolve().parent.parent
LOADER = botocore.loaders.create_loader()

MAX_PAGES = 20  # a paging loop that runs longer is a bug (a token that does not advance), not a slow test
ME = Principal("111111111111", "us-east-1")
OTHER_ACCOUNT = Principal("222222222222", "us-east-1")
OTHER_REGION = Principal("111111111111", "eu-west-1")


# ---------------------------------------------------------------- test-only tables


class KitWidget(Scoped, Base):
    """A resource named within its account + region."""

    __tablename__ = "kittest_widgets"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="plain")
    size: Mapped[int] = mapped_column(Integer, default=0)


class KitRecord(ScopedByArn, Base):
    """A resource keyed by its ARN."""

    __tablename__ = "kittest_records"
    arn: Mapped[str] = mapped_column(String(256), primary_key=True)
    note: Mapped[str] = mapped_column(String(64), default="")


class KitEvent(Scoped, Base):
    """Rows to page through: ordered by (created_at desc, id desc) or (rank desc, id desc)."""

    __tablename__ = "kittest_events"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    rank: Mapped[int] = mapped_column(Integer)


COMPREHEND = ServiceErrors("comprehend")
POLLY = ServiceErrors("polly")


@pytest.fixture
def rt(tmp_path, monkeypatch) -> Iterator[Runtime]:
    # The kit's tables (jobs, resource_tags) and this file's are declared by the imports above; the providers are
    # not needed here, and a service in the middle of its migration must not take the kit's tests down with it
    # (test_service_errors_belong_to_served_services imports them all).
    monkeypatch.setattr("services.gateway.runtime.load_providers", dict)
    runtime = Runtime.build(Settings(data_dir=tmp_path, model_workers=0))
    try:
        yield runtime
    finally:
        runtime.close()


def ctx(service: str, operation: str, principal: Principal = ME) -> RequestContext:
    return RequestContext(service, operation, principal, "req")


# ================================================================ errors


def _model_status(service: str, code: str) -> int:
    shape = LOADER.load_service_model(service, "service-2")["shapes"][code]
    assert shape.get("exception"), f"{service} {code} is not an error shape"
    return (shape.get("error") or {}).get("httpStatusCode") or (500 if shape.get("fault") else 400)


def test_error_from_model():
    error = COMPREHEND.JobNotFoundException("m")
    assert isinstance(error, ServiceError)
    assert isinstance(error, COMPREHEND.JobNotFoundException)
    assert (error.code, error.message, str(error)) == ("JobNotFoundException", "m", "m")
    assert error.status == _model_status("comprehend", "JobNotFoundException") == 404
    assert error.sender_fault is True
    assert COMPREHEND.JobNotFoundException.__name__ == "JobNotFoundException"


@pytest.mark.parametrize("service, code", [
    ("comprehend", "TooManyRequestsException"),  # 429
    ("comprehend", "InternalServerException"),  # 500, a fault
    ("transcribe", "ConflictException"),  # 409
    ("polly", "ServiceQuotaExceededException"),  # 402
    ("stepfunctions", "ExecutionDoesNotExist"),  # no httpStatusCode: 400
    ("rekognition", "ThrottlingException"),  # a fault without httpStatusCode: 500, not the common 400
    ("textract", "InternalServerError"),  # a fault without httpStatusCode: 500
])
def test_error_status_is_the_models(service, code):
    error = ServiceErrors(service).error(code, "x")
    assert error.code == code
    assert error.status == _model_status(service, code)
    assert error.sender_fault is (error.status < 500)


def test_error_status_override():
    assert COMPREHEND.JobNotFoundException("m", 418).status == 418


def test_unknown_code_fails_at_attribute_access():
    with pytest.raises(AttributeError, match="NoSuchThingException"):
        COMPREHEND.NoSuchThingException  # noqa: B018
    with pytest.raises(AttributeError):
        COMPREHEND.error("NoSuchThingException", "m")
    assert "NoSuchThingException" not in COMPREHEND
    assert not hasattr(COMPREHEND, "NoSuchThingException")
    # A code of another service's model is not this one's.
    with pytest.raises(AttributeError):
        ServiceErrors("translate").JobNotFoundException  # noqa: B018


@pytest.mark.parametrize("service", SERVED_SERVICES)
def test_common_errors_exist_for_every_service(service):
    errors = ServiceErrors(service)
    for code in ("ValidationException", "ThrottlingException", "AccessDeniedException", "SerializationException",
                 "UnknownOperationException", "InternalFailure", "ServiceUnavailable", "NotImplementedException",
                 "RequestEntityTooLargeException"):
        assert code in errors
        assert getattr(errors, code)("m").code == code
    assert set(COMMON_ERRORS) <= errors.codes
    assert set(service_spec(service).error_statuses) <= errors.codes


def test_error_pickle_round_trip():
    error = COMPREHEND.JobNotFoundException("gone")
    back = pickle.loads(pickle.dumps(error))
    assert isinstance(back, ServiceError)
    assert (back.code, back.message, back.status, back.sender_fault) == ("JobNotFoundException", "gone", 404, True)
    fault = pickle.loads(pickle.dumps(COMPREHEND.InternalServerException("boom")))
    assert (fault.code, fault.status, fault.sender_fault) == ("InternalServerException", 500, False)


def test_error_class_survives_pickle():
    """DBOS checkpoints a step's exception and re-raises the unpickled one on replay: a runner's
    `except errors.X:` must match on replay as it did on the first run."""
    back = pickle.loads(pickle.dumps(COMPREHEND.JobNotFoundException("gone")))
    assert isinstance(back, COMPREHEND.JobNotFoundException), type(back)


# ================================================================ arns


def test_arn_round_trip():
    text = build_arn("translate", "us-east-1", "111111111111", "terminology/name/LATEST")
    assert text == "arn:aws:translate:us-east-1:111111111111:terminology/name/LATEST"
    arn = parse_arn(text)
    assert arn == Arn("aws", "translate", "us-east-1", "111111111111", "terminology/name/LATEST")
    assert str(arn) == text
    assert build_arn("s3", "cn-north-1", "1", "x", partition="aws-cn").startswith("arn:aws-cn:s3:cn-north-1:1:")


@pytest.mark.parametrize("resource, kind, ident, path", [
    ("stateMachine:name", "stateMachine", "name", ["stateMachine", "name"]),
    ("terminology/name/LATEST", "terminology", "name/LATEST", ["terminology", "name", "LATEST"]),
    ("transcription-job/name", "transcription-job", "name", ["transcription-job", "name"]),
    ("execution:machine:run-1", "execution", "machine:run-1", ["execution", "machine", "run-1"]),
    ("bucket", "bucket", "", ["bucket"]),
])
def test_arn_resource_parts(resource, kind, ident, path):
    arn = parse_arn(build_arn("svc", "us-east-1", "111111111111", resource))
    assert (arn.resource_type, arn.resource_id, arn.path) == (kind, ident, path)


@pytest.mark.parametrize("text", ["not-an-arn", "", "arn:aws:comprehend:us-east-1:111111111111:", "arn:aws:s3",
                                  None, 42])
def test_parse_arn_rejects(text):
    assert parse_arn(text) is None


def test_parse_arn_requires_the_arn_prefix():
    # botocore's ArnParser only splits on ':' and never looks at the first field.
    assert parse_arn("foo:aws:comprehend:us-east-1:111111111111:document-classifier/x") is None


def test_parse_arn_empty_region_and_account():
    # ArnParser keeps empty fields as ''.
    arn = parse_arn("arn:aws:s3:::bucket")
    assert arn == Arn("aws", "s3", "", "", "bucket")
    assert (arn.resource_type, arn.resource_id) == ("bucket", "")
    assert not owned(arn, "s3", "111111111111", "us-east-1")


def test_owned():
    arn = parse_arn("arn:aws:transcribe:us-east-1:111111111111:vocabulary/v")
    assert owned(arn, "transcribe", "111111111111", "us-east-1")
    assert not owned(arn, "comprehend", "111111111111", "us-east-1")
    assert not owned(arn, "transcribe", "222222222222", "us-east-1")
    assert not owned(arn, "transcribe", "111111111111", "eu-west-1")
    assert not owned(None, "transcribe", "111111111111", "us-east-1")
    assert not owned(parse_arn("not-an-arn"), "transcribe", "111111111111", "us-east-1")


# ================================================================ times


def test_times():
    now = utcnow()
    assert now.tzinfo is not None and now.utcoffset() == dt.timedelta(0)
    naive = dt.datetime(2024, 1, 2, 3, 4, 5)
    assert aware(naive) == naive.replace(tzinfo=dt.timezone.utc)
    paris = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert aware(paris) is paris
    assert aware(None) is None


# ================================================================ tokens


def test_token_round_trip_plain():
    for position in (0, 17, ["a", 3, None, 1.5], "text"):
        token = encode_token("ListThings", position)
        assert isinstance(token, str) and "=" not in token
        assert decode_token("ListThings", token) == position


def test_token_round_trip_datetimes():
    when = dt.datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone.utc)
    back = decode_token("ListThings", encode_token("ListThings", [when, "id-1"]))
    assert back == [when, "id-1"]
    assert isinstance(back[0], dt.datetime) and back[0].tzinfo is not None


def test_token_naive_datetime_is_utc():
    naive = dt.datetime(2024, 1, 2, 3, 4, 5)
    back = decode_token("ListThings", encode_token("ListThings", [naive, "id-1"]))
    assert back[0] == naive.replace(tzinfo=dt.timezone.utc)


def test_token_of_another_scope():
    with pytest.raises(ValueError):
        decode_token("ListOthers", encode_token("ListThings", 3))


@pytest.mark.parametrize("garbage", ["", "garbage", "!!!!", "eyJhIjoxfQ", "bnVsbA", "WzFd", "W10"])
def test_token_garbage(garbage):
    # "eyJhIjoxfQ" is {"a":1}, "bnVsbA" null, "WzFd" [1], "W10" []: JSON, but not [scope, position].
    with pytest.raises(ValueError):
        decode_token("ListThings", garbage)


# ================================================================ paging: specs


def _paginator(service: str, operation: str) -> dict | None:
    try:
        model = LOADER.load_service_model(service, "paginators-1")
    except Exception:
        return None
    return model.get("pagination", {}).get(operation)


@pytest.mark.parametrize("service, operation", [
    ("comprehend", "ListDocumentClassificationJobs"),
    ("comprehend", "ListEntityRecognizers"),
    ("stepfunctions", "ListExecutions"),
    ("stepfunctions", "ListStateMachines"),
    ("stepfunctions", "GetExecutionHistory"),
    ("polly", "ListSpeechSynthesisTasks"),
    ("polly", "DescribeVoices"),
    ("polly", "ListLexicons"),
    ("translate", "ListTerminologies"),
])
def test_page_spec_follows_paginators_json(service, operation):
    config = _paginator(service, operation)
    assert config is not None
    assert page_spec(service, operation) == PageSpec(config["input_token"], config["output_token"],
                                                     config.get("limit_key"), config["result_key"])


@pytest.mark.parametrize("operation, result", [
    ("ListTranscriptionJobs", "TranscriptionJobSummaries"),
    ("ListVocabularies", "Vocabularies"),
    ("ListCallAnalyticsJobs", "CallAnalyticsJobSummaries"),
    ("ListMedicalTranscriptionJobs", "MedicalTranscriptionJobSummaries"),
])
def test_page_spec_without_paginator_falls_back_to_shapes(operation, result):
    assert _paginator("transcribe", operation) is None  # transcribe's paginators-1.json is empty
    assert page_spec("transcribe", operation) == PageSpec("NextToken", "NextToken", "MaxResults", result)


def test_page_spec_of_unpaginated_operation():
    with pytest.raises(ValueError):
        page_spec("comprehend", "DetectDominantLanguage")


# ================================================================ paging: lists


POLLY_PAGING = Paging("polly", invalid_token=lambda token: POLLY.InvalidNextTokenException(f"bad token {token}"))
LIST_TASKS = ctx("polly", "ListSpeechSynthesisTasks")


def test_page_over_a_list():
    items = [1, 2, 3, 4, 5]
    pages, request = [], {"MaxResults": 2}
    for _ in range(MAX_PAGES):
        page = POLLY_PAGING.page(LIST_TASKS, request, items, convert=lambda n: {"N": n}, Status="ALL")
        pages.append(page)
        assert page["Status"] == "ALL"
        if "NextToken" not in page:
            break
        request = {"MaxResults": 2, "NextToken": page["NextToken"]}
    else:
        pytest.fail("the pages never end")
    assert [[item["N"] for item in page["SynthesisTasks"]] for page in pages] == [[1, 2], [3, 4], [5]]
    assert all("NextToken" in page for page in pages[:-1])


def test_page_default_limit_and_empty():
    paging = Paging("polly", invalid_token=POLLY_PAGING.invalid_token, default_limit=3)
    page = paging.page(LIST_TASKS, {}, list(range(5)))
    assert page["SynthesisTasks"] == [0, 1, 2] and "NextToken" in page
    empty = paging.page(LIST_TASKS, {}, [])
    assert empty == {"SynthesisTasks": []}
    exact = paging.page(LIST_TASKS, {"MaxResults": 5}, list(range(5)))
    assert exact == {"SynthesisTasks": [0, 1, 2, 3, 4]}


def test_page_limits_per_operation():
    paging = Paging("polly", invalid_token=POLLY_PAGING.invalid_token, default_limit=2,
                    limits={"DescribeVoices": 1000})
    assert "NextToken" not in paging.page(ctx("polly", "DescribeVoices"), {}, list(range(300)))
    assert len(paging.page(LIST_TASKS, {}, list(range(300)))["SynthesisTasks"]) == 2
    assert len(paging.page(LIST_TASKS, {"MaxResults": 7}, list(range(300)))["SynthesisTasks"]) == 7


@pytest.mark.parametrize("token", [
    "garbage",
    encode_token("DescribeVoices", 2),  # another operation's token
    encode_token("ListSpeechSynthesisTasks", 99),  # past the end
    encode_token("ListSpeechSynthesisTasks", -1),
    encode_token("ListSpeechSynthesisTasks", ["a", "b"]),  # a keyset position
])
def test_page_invalid_token(token):
    with pytest.raises(ServiceError) as raised:
        POLLY_PAGING.page(LIST_TASKS, {"NextToken": token}, [1, 2, 3, 4, 5])
    assert isinstance(raised.value, POLLY.InvalidNextTokenException)
    assert raised.value.code == "InvalidNextTokenException"


def test_page_token_of_another_operation_from_a_real_page():
    first = POLLY_PAGING.page(ctx("polly", "DescribeVoices"), {}, list(range(200)))
    with pytest.raises(ServiceError) as raised:
        POLLY_PAGING.page(LIST_TASKS, {"NextToken": first["NextToken"]}, list(range(200)))
    assert raised.value.code == "InvalidNextTokenException"


# ================================================================ paging: SQL queries (keyset)


COMPREHEND_PAGING = Paging("comprehend", invalid_token=lambda token: COMPREHEND.InvalidRequestException(
    "Invalid NextToken"))
LIST_JOBS = ctx("comprehend", "ListDocumentClassificationJobs")
RESULTS = "DocumentClassificationJobPropertiesList"
BASE_TIME = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.timezone.utc)

ORDERS = {
    "created_at": [(KitEvent.created_at, True), (KitEvent.id, True)],
    "rank": [(KitEvent.rank, True), (KitEvent.id, True)],
}


def _add_events(runtime: Runtime, rows: list[tuple[str, int]], principal: Principal = ME) -> None:
    """(id, minutes after BASE_TIME); rank = the same minutes, so both orders have the same ties."""
    with runtime.db.session() as session:
        for ident, minutes in rows:
            session.add(KitEvent(id=ident, account_id=principal.account_id, region=principal.region,
                                 created_at=BASE_TIME + dt.timedelta(minutes=minutes), rank=minutes))


def _expected(rows: list[tuple[str, int]]) -> list[str]:
    return [ident for ident, _ in sorted(rows, key=lambda row: (row[1], row[0]), reverse=True)]


def _query(principal: Principal = ME):
    return select(KitEvent).where(KitEvent.account_id == principal.account_id, KitEvent.region == principal.region)


def _page(order: str, request: dict) -> dict:
    return COMPREHEND_PAGING.page_query(LIST_JOBS, request, _query(), ORDERS[order], lambda row: row.id,
                                        Extra="kept")


def _all_pages(order: str, limit: int) -> list[list[str]]:
    pages, request = [], {"MaxResults": limit}
    for _ in range(MAX_PAGES):
        page = _page(order, request)
        assert page["Extra"] == "kept"
        pages.append(page[RESULTS])
        if "NextToken" not in page:
            return pages
        request = {"MaxResults": limit, "NextToken": page["NextToken"]}
    pytest.fail(f"the pages never end: {pages[:5]}...")


ROWS = [("a", 0), ("b", 5), ("c", 5), ("d", 5), ("e", 9), ("f", 1), ("g", 5)]


@pytest.mark.parametrize("order", ["created_at", "rank"])
def test_page_query_keyset_with_ties(rt, order):
    _add_events(rt, ROWS)
    _add_events(rt, [("z", 5)], OTHER_ACCOUNT)  # never listed
    pages = _all_pages(order, 2)
    assert [len(page) for page in pages] == [2, 2, 2, 1]
    assert [ident for page in pages for ident in page] == _expected(ROWS)


@pytest.mark.parametrize("order", ["created_at", "rank"])
def test_page_query_inserts_before_the_cursor_do_not_shift(rt, order):
    _add_events(rt, ROWS)
    first = _page(order, {"MaxResults": 3})
    assert first[RESULTS] == _expected(ROWS)[:3]
    # Newer rows (and a tie of the cursor's value that sorts before it) arrive between the pages.
    _add_events(rt, [("x", 20), ("y", 9), ("h", 5)])
    rest = []
    request = {"MaxResults": 3, "NextToken": first["NextToken"]}
    for _ in range(MAX_PAGES):
        page = _page(order, request)
        rest.extend(page[RESULTS])
        if "NextToken" not in page:
            break
        request = {"MaxResults": 3, "NextToken": page["NextToken"]}
    else:
        pytest.fail(f"the pages never end: {rest[:10]}...")
    assert rest == _expected(ROWS)[3:]


@pytest.mark.parametrize("token", [
    "garbage",
    encode_token("ListEntityRecognizers", ["b", "a"]),  # another operation's
    encode_token("ListDocumentClassificationJobs", 2),  # an offset, not a keyset position
    encode_token("ListDocumentClassificationJobs", ["only-one"]),  # wrong arity
])
def test_page_query_invalid_token(rt, token):
    _add_events(rt, ROWS)
    with pytest.raises(ServiceError) as raised:
        _page("rank", {"MaxResults": 2, "NextToken": token})
    assert isinstance(raised.value, COMPREHEND.InvalidRequestException)


def test_page_query_single_page(rt):
    _add_events(rt, ROWS)
    page = _page("rank", {})
    assert page == {"Extra": "kept", RESULTS: _expected(ROWS)}


# ================================================================ resources


NOT_FOUND = COMPREHEND.ResourceNotFoundException
CONFLICT = COMPREHEND.ResourceInUseException
WIDGETS = ResourceTable(KitWidget, key="name", not_found=lambda name: NOT_FOUND(f"no widget {name}"),
                        conflict=lambda name: CONFLICT(f"widget {name} exists"))
BIG_WIDGETS = ResourceTable(KitWidget, key="name", not_found=lambda name: NOT_FOUND(f"no big widget {name}"),
                            where=(KitWidget.kind == "big",))
RECORDS = ResourceTable(KitRecord, key="arn", not_found=lambda arn: NOT_FOUND(f"no record {arn}"))


def test_resource_create_get_find(rt):
    created = WIDGETS.create(ctx("comprehend", "CreateThing"), name="w1", size=3)
    assert (created.account_id, created.region, created.name, created.size) == (ME.account_id, ME.region, "w1", 3)
    row = WIDGETS.get(ME, "w1")
    assert (row.name, row.size, row.kind) == ("w1", 3, "plain")
    assert WIDGETS.find(ctx("comprehend", "DescribeThing"), "w1").name == "w1"
    assert WIDGETS.find(ME, "w2") is None
    assert WIDGETS.exists(ME, "w1") and not WIDGETS.exists(ME, "w2")


def test_resource_conflict_on_duplicate(rt):
    WIDGETS.create(ME, name="w1")
    with pytest.raises(ServiceError) as raised:
        WIDGETS.create(ME, name="w1", size=9)
    assert isinstance(raised.value, CONFLICT) and "w1" in raised.value.message
    assert WIDGETS.get(ME, "w1").size == 0
    # The same name in another scope is another resource.
    WIDGETS.create(OTHER_ACCOUNT, name="w1", size=1)
    WIDGETS.create(OTHER_REGION, name="w1", size=2)
    assert [WIDGETS.get(p, "w1").size for p in (ME, OTHER_ACCOUNT, OTHER_REGION)] == [0, 1, 2]


def test_resource_without_conflict_error(rt):
    RECORDS.create(ME, arn="arn:aws:svc:us-east-1:111111111111:r/1")
    with pytest.raises(ValueError):
        RECORDS.create(ME, arn="arn:aws:svc:us-east-1:111111111111:r/1")


def test_resource_not_found_and_scoping(rt):
    WIDGETS.create(OTHER_ACCOUNT, name="theirs")
    WIDGETS.create(OTHER_REGION, name="elsewhere")
    for name in ("missing", "theirs", "elsewhere"):
        with pytest.raises(ServiceError) as raised:
            WIDGETS.get(ME, name)
        assert isinstance(raised.value, NOT_FOUND) and raised.value.status == 404
        assert WIDGETS.find(ME, name) is None
        with pytest.raises(ServiceError):
            WIDGETS.update(ME, name, size=5)
        with pytest.raises(ServiceError):
            WIDGETS.delete(ME, name)
        with pytest.raises(ServiceError):
            with WIDGETS.editing(ME, name):
                pass
    assert WIDGETS.list(ME) == []
    assert WIDGETS.get(OTHER_ACCOUNT, "theirs").size == 0  # untouched


def test_resource_list(rt):
    for name, size in (("c", 1), ("a", 3), ("b", 2)):
        WIDGETS.create(ME, name=name, size=size)
    WIDGETS.create(OTHER_ACCOUNT, name="z")
    assert [row.name for row in WIDGETS.list(ME)] == ["a", "b", "c"]  # by key by default
    assert [row.name for row in WIDGETS.list(ME, order_by=[KitWidget.size.desc()])] == ["a", "b", "c"]
    assert [row.name for row in WIDGETS.list(ME, order_by=[KitWidget.size])] == ["c", "b", "a"]
    assert [row.name for row in WIDGETS.list(ME, KitWidget.size >= 2)] == ["a", "b"]
    with rt.db.session() as session:
        assert sorted(row.name for row in session.scalars(WIDGETS.query(ME))) == ["a", "b", "c"]


def test_resource_update_and_editing(rt):
    WIDGETS.create(ME, name="w", size=1)
    WIDGETS.create(OTHER_ACCOUNT, name="w", size=1)
    updated = WIDGETS.update(ME, "w", size=7, kind="big")
    assert (updated.size, updated.kind) == (7, "big")
    assert WIDGETS.get(ME, "w").size == 7
    with WIDGETS.editing(ME, "w") as row:
        row.size += 1
    assert WIDGETS.get(ME, "w").size == 8
    with pytest.raises(RuntimeError):
        with WIDGETS.editing(ME, "w") as row:
            row.size = 100
            raise RuntimeError("rolled back")
    assert WIDGETS.get(ME, "w").size == 8
    assert WIDGETS.get(OTHER_ACCOUNT, "w").size == 1


def test_resource_delete(rt):
    WIDGETS.create(ME, name="w", size=4)
    WIDGETS.create(OTHER_REGION, name="w")
    deleted = WIDGETS.delete(ME, "w")
    assert (deleted.name, deleted.size) == ("w", 4)
    assert WIDGETS.find(ME, "w") is None
    assert WIDGETS.exists(OTHER_REGION, "w")
    with pytest.raises(ServiceError):
        WIDGETS.delete(ME, "w")


def test_resource_where_conditions(rt):
    WIDGETS.create(ME, name="small")
    WIDGETS.create(ME, name="large", kind="big")
    assert [row.name for row in BIG_WIDGETS.list(ME)] == ["large"]
    assert BIG_WIDGETS.get(ME, "large").kind == "big"
    with pytest.raises(ServiceError) as raised:
        BIG_WIDGETS.get(ME, "small")
    assert "no big widget small" == raised.value.message
    with pytest.raises(ServiceError):
        BIG_WIDGETS.delete(ME, "small")
    assert WIDGETS.exists(ME, "small")


def test_resource_keyed_by_arn(rt):
    arn = "arn:aws:svc:us-east-1:111111111111:r/1"
    RECORDS.create(ME, arn=arn, note="n")
    assert RECORDS.get(ME, arn).note == "n"
    with pytest.raises(ServiceError):
        RECORDS.get(OTHER_ACCOUNT, arn)
    assert RECORDS.update(ME, arn, note="m").note == "m"
    assert [row.arn for row in RECORDS.list(ME)] == [arn]
    RECORDS.delete(ME, arn)
    assert RECORDS.list(ME) == []


def test_resource_create_inside_a_transaction(rt):
    with pytest.raises(RuntimeError):
        with rt.db.session() as db:
            WIDGETS.create(ME, db, name="w", size=1)
            assert WIDGETS.find(ME, "w", db).size == 1  # visible inside the transaction
            raise RuntimeError("rolled back")
    assert WIDGETS.find(ME, "w") is None
    with rt.db.session() as db:
        WIDGETS.create(ctx("comprehend", "CreateThing"), db, name="w", size=2)
        with pytest.raises(ServiceError):
            WIDGETS.create(ME, db, name="w")
    assert WIDGETS.get(ME, "w").size == 2


def test_resource_count(rt):
    for name, kind in (("a", "big"), ("b", "plain"), ("c", "big")):
        WIDGETS.create(ME, name=name, kind=kind)
    WIDGETS.create(OTHER_ACCOUNT, name="a", kind="big")
    assert WIDGETS.count(ME) == 3
    assert WIDGETS.count(ME, KitWidget.name != "a") == 2
    assert BIG_WIDGETS.count(ME) == 2
    assert WIDGETS.count(OTHER_REGION) == 0
    with rt.db.session() as db:
        assert WIDGETS.count(ME, db=db) == 3


def test_resource_put(rt):
    too_many = lambda limit: COMPREHEND.ResourceLimitExceededException(f"at most {limit}")  # noqa: E731
    row, new = WIDGETS.put(ME, "a", {"size": 1}, created={"kind": "big"}, limit=2, over_limit=too_many)
    assert new and (row.name, row.size, row.kind) == ("a", 1, "big")
    row, new = WIDGETS.put(ME, "a", {"size": 5}, created={"kind": "plain"}, limit=2, over_limit=too_many)
    assert not new and (row.size, row.kind) == (5, "big")  # `created` only for a new row
    assert (WIDGETS.get(ME, "a").size, WIDGETS.get(ME, "a").kind) == (5, "big")
    WIDGETS.put(ME, "b", {"size": 2}, limit=2, over_limit=too_many)
    with pytest.raises(ServiceError) as raised:
        WIDGETS.put(ME, "c", {"size": 3}, limit=2, over_limit=too_many)
    assert raised.value.code == "ResourceLimitExceededException" and WIDGETS.find(ME, "c") is None
    row, new = WIDGETS.put(ME, "b", {"size": 9}, limit=2, over_limit=too_many)  # replacing is within the limit
    assert not new and WIDGETS.get(ME, "b").size == 9
    row, new = WIDGETS.put(OTHER_ACCOUNT, "c", {"size": 3}, limit=2, over_limit=too_many)  # per scope
    assert new
    with pytest.raises(ValueError):
        WIDGETS.put(ME, "d", {}, limit=1)


# ================================================================ tags


@pytest.mark.parametrize("wire", [
    {"a": "1", "b": "2"},
    [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
    [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}],
    [{"tagKey": "a", "tagValue": "1"}, {"tagKey": "b", "tagValue": "2"}],
    [{"TagKey": "a", "TagValue": "1"}, {"TagKey": "b", "TagValue": "2"}],
])
def test_tags_from_wire(wire):
    assert tags_from_wire(wire) == {"a": "1", "b": "2"}


def test_tags_from_wire_edges():
    assert tags_from_wire(None) == {} and tags_from_wire([]) == {} and tags_from_wire({}) == {}
    assert tags_from_wire([{"Key": "a"}, {"Key": "b", "Value": None}]) == {"a": "", "b": ""}
    assert tags_from_wire({"a": None}) == {"a": ""}
    assert tags_from_wire([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]) == {"a": "2"}


@pytest.mark.parametrize("service, shape, expected", [
    ("comprehend", "TagList", [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": ""}]),
    ("stepfunctions", "TagList", [{"key": "a", "value": "1"}, {"key": "b", "value": ""}]),
    ("personalize", "Tags", [{"tagKey": "a", "tagValue": "1"}, {"tagKey": "b", "tagValue": ""}]),
    ("rekognition", "TagMap", {"a": "1", "b": ""}),
])
def test_tags_to_wire(service, shape, expected):
    model_shape = service_spec(service).model.shape_for(shape)
    assert tags_to_wire(model_shape, {"a": "1", "b": ""}) == expected
    assert tags_from_wire(tags_to_wire(model_shape, {"a": "1", "b": ""})) == {"a": "1", "b": ""}


@pytest.mark.parametrize("service, arn, tags, keys, listed, echoes", [
    ("comprehend", "ResourceArn", "Tags", "TagKeys", "Tags", True),
    ("transcribe", "ResourceArn", "Tags", "TagKeys", "Tags", True),
    ("stepfunctions", "resourceArn", "tags", "tagKeys", "tags", False),
    ("textract", "ResourceARN", "Tags", "TagKeys", "Tags", False),
    ("lexv2-models", "resourceARN", "tags", "tagKeys", "tags", False),
    ("personalize", "resourceArn", "tags", "tagKeys", "tags", False),
])
def test_tag_members(service, arn, tags, keys, listed, echoes):
    members = tag_members(service)
    assert (members.arn, members.tags, members.keys, members.listed, members.echoes_arn) == (
        arn, tags, keys, listed, echoes)
    assert members.listed_shape is service_spec(service).operation("ListTagsForResource").output_shape.members[listed]


ARN_1 = "arn:aws:comprehend:us-east-1:111111111111:document-classifier/one"
ARN_2 = "arn:aws:comprehend:us-east-1:111111111111:document-classifier/two"


def _tagging(known: set[str], max_tags: int = 3) -> Tagging:
    return Tagging("comprehend", exists=lambda principal, arn: principal == ME and arn in known,
                   not_found=lambda arn: NOT_FOUND(f"no resource {arn}"),
                   too_many=lambda limit: COMPREHEND.TooManyTagsException(f"at most {limit} tags"),
                   max_tags=max_tags)


def test_tag_store(rt):
    put_tags(ME, ARN_1, {"b": "2", "a": "1"})
    put_tags(ME, ARN_2, {"x": "9"})
    put_tags(ME, ARN_1, {"a": "one"})  # overwrite
    put_tags(ME, ARN_1, {})
    assert get_tags(ARN_1) == {"a": "one", "b": "2"}
    assert list(get_tags(ARN_1)) == ["a", "b"]
    with rt.db.session() as session:
        assert {row.account_id for row in session.scalars(select(ResourceTag))} == {ME.account_id}
    remove_tags(ARN_1, ["a", "not-there"])
    assert get_tags(ARN_1) == {"b": "2"}
    drop_tags(ARN_1)
    assert get_tags(ARN_1) == {}
    assert get_tags(ARN_2) == {"x": "9"}


def test_tagging_tag_and_limits(rt):
    tagging = _tagging({ARN_1})
    tagging.tag(ctx("comprehend", "TagResource"), ARN_1, [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    tagging.tag(ME, ARN_1, {"c": "3"})
    tagging.tag(ME, ARN_1, {"a": "again"})  # overwriting does not count twice
    tagging.tag(ME, ARN_1, None)
    assert get_tags(ARN_1) == {"a": "again", "b": "2", "c": "3"}
    with pytest.raises(ServiceError) as raised:
        tagging.tag(ME, ARN_1, {"d": "4"})
    assert raised.value.code == "TooManyTagsException" and "3" in raised.value.message
    assert get_tags(ARN_1) == {"a": "again", "b": "2", "c": "3"}


def test_tagging_check(rt):
    tagging = _tagging({ARN_1})
    tagging.check(ME, ARN_1)
    tagging.check(ctx("comprehend", "ListTagsForResource"), ARN_1)
    for principal, arn in ((ME, ARN_2), (OTHER_ACCOUNT, ARN_1)):
        with pytest.raises(ServiceError) as raised:
            tagging.check(principal, arn)
        assert isinstance(raised.value, NOT_FOUND) and arn in raised.value.message


def test_tagging_check_new():
    tagging = _tagging(set(), max_tags=2)
    assert tagging.check_new([{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]) == {"a": "1", "b": "2"}
    assert tagging.check_new(None) == {}
    with pytest.raises(ServiceError) as raised:
        tagging.check_new({"a": "1", "b": "2", "c": "3"})
    assert isinstance(raised.value, COMPREHEND.TooManyTagsException)


def test_tagging_register_operations(rt):
    tagging = _tagging({ARN_1}, max_tags=5)
    provider = ServiceProvider("comprehend")
    tagging.register(provider)
    assert set(provider.operations) == {"TagResource", "UntagResource", "ListTagsForResource"}
    call = lambda name, request: provider.operations[name].handler(ctx("comprehend", name), request)  # noqa: E731
    assert call("TagResource", {"ResourceArn": ARN_1, "Tags": [{"Key": "a", "Value": "1"},
                                                                {"Key": "b", "Value": "2"}]}) == {}
    assert call("UntagResource", {"ResourceArn": ARN_1, "TagKeys": ["a"]}) == {}
    assert call("ListTagsForResource", {"ResourceArn": ARN_1}) == {
        "ResourceArn": ARN_1, "Tags": [{"Key": "b", "Value": "2"}]}
    with pytest.raises(ServiceError) as raised:
        call("ListTagsForResource", {"ResourceArn": ARN_2})
    assert isinstance(raised.value, NOT_FOUND)


def test_tagging_listed_in_a_describe_shape(rt):
    arn = "arn:aws:transcribe:us-east-1:111111111111:transcription-job/j"
    tagging = Tagging("transcribe", exists=lambda principal, found: True, not_found=NOT_FOUND,
                      too_many=lambda limit: COMPREHEND.TooManyTagsException("x"))
    put_tags(ME, arn, {"k": "v"})
    assert tagging.listed("GetTranscriptionJob", "TranscriptionJob.Tags", arn) == [{"Key": "k", "Value": "v"}]


def test_tagging_canonical_arn(rt):
    short = "arn:aws:translate:us-east-1:111111111111:terminology/t"
    tagging = Tagging("translate", exists=lambda principal, arn: arn.startswith(short), not_found=NOT_FOUND,
                      too_many=lambda limit: COMPREHEND.TooManyTagsException("x"),
                      canonical=lambda arn: arn.removesuffix("/LATEST"))
    assert tagging.key(short + "/LATEST") == short
    provider = ServiceProvider("translate")
    tagging.register(provider)
    call = lambda name, request: provider.operations[name].handler(ctx("translate", name), request)  # noqa: E731
    call("TagResource", {"ResourceArn": short + "/LATEST", "Tags": [{"Key": "a", "Value": "1"}]})
    assert call("ListTagsForResource", {"ResourceArn": short}) == {"Tags": [{"Key": "a", "Value": "1"}]}
    call("UntagResource", {"ResourceArn": short + "/LATEST", "TagKeys": ["a"]})
    assert get_tags(short) == {} and get_tags(short + "/LATEST") == {}


# ================================================================ job store


TEST_KIND = JobKind("kittest.kind", "kittest-queue", lambda run: None)
OTHER_KIND = JobKind("kittest.other", "kittest-queue", lambda run: None)


def test_job_details_stored(rt):
    job, created = rt.jobs.store.create(ME, TEST_KIND, "n", {"A": 1}, None, details={"lexicons": ["x"]})
    assert created
    assert rt.jobs.store.load(job.job_id).details == {"lexicons": ["x"]}
    plain, _ = rt.jobs.store.create(ME, TEST_KIND, "m", {"A": 1}, None)
    assert rt.jobs.store.load(plain.job_id).details is None


def test_job_find_by_name(rt):
    store = rt.jobs.store
    mine, _ = store.create(ME, TEST_KIND, "job-a", {}, None)
    store.create(ME, OTHER_KIND, "job-b", {}, None)
    store.create(OTHER_ACCOUNT, TEST_KIND, "job-c", {}, None)
    store.create(OTHER_REGION, TEST_KIND, "job-d", {}, None)
    assert store.find_by_name(ME, TEST_KIND.name, "job-a").job_id == mine.job_id
    assert store.find_by_name(ME, TEST_KIND.name, "job-b") is None  # another kind
    assert store.find_by_name(ME, TEST_KIND.name, "job-c") is None  # another account
    assert store.find_by_name(ME, TEST_KIND.name, "job-d") is None  # another region
    assert store.find_by_name(ME, TEST_KIND.name, "nope") is None
    assert store.find_by_name(OTHER_ACCOUNT, TEST_KIND.name, "job-c") is not None


@pytest.mark.parametrize("status, stopped_to", [(SUBMITTED, STOPPED), (IN_PROGRESS, STOP_REQUESTED),
                                                (COMPLETED, None)])
def test_job_delete(rt, monkeypatch, status, stopped_to):
    store = rt.jobs.store
    job, _ = store.create(ME, TEST_KIND, "j", {}, None)
    keep, _ = store.create(ME, TEST_KIND, "k", {}, None)
    store.update(job.job_id, status=status)
    seen = []
    original = store.request_stop

    def spy(principal, kind, job_id):
        result = original(principal, kind, job_id)
        seen.append(result.status)
        return result

    monkeypatch.setattr(store, "request_stop", spy)
    assert store.delete(OTHER_ACCOUNT, TEST_KIND.name, job.job_id) is False
    assert store.delete(ME, OTHER_KIND.name, job.job_id) is False
    assert store.load(job.job_id) is not None and seen == []
    assert store.delete(ME, TEST_KIND.name, job.job_id) is True
    assert seen == ([stopped_to] if stopped_to else [])
    assert store.load(job.job_id) is None and store.get(ME, TEST_KIND.name, job.job_id) is None
    assert store.load(keep.job_id) is not None
    assert store.delete(ME, TEST_KIND.name, job.job_id) is False


def test_deleted_running_job_stops_at_its_next_step(rt, monkeypatch):
    """JobStore.delete: "an active one is stopped first: its workflow ends at its next step". The step is
    JobRun.progress; DBOS.run_step is replaced by a plain call (what a first, non-replayed run does)."""
    monkeypatch.setattr(jobs_module.DBOS, "run_step", staticmethod(lambda options, fn, *args: fn(*args)))
    store = rt.jobs.store
    job, _ = store.create(ME, TEST_KIND, "j", {}, None)
    store.update(job.job_id, status=IN_PROGRESS)
    run = JobRun(store, store.load(job.job_id))
    run.progress(1, 4)  # running: no stop
    store.delete(ME, TEST_KIND.name, job.job_id)
    with pytest.raises(JobStopped):
        run.progress(2, 4)


def test_job_list_pages(rt):
    store = rt.jobs.store
    ids = [store.create(ME, TEST_KIND, f"j{i}", {}, None)[0].job_id for i in range(5)]
    seen, token = [], None
    for _ in range(10):
        jobs, token = store.list(ME, TEST_KIND.name, next_token=token, max_results=2)
        seen.extend(job.job_id for job in jobs)
        if token is None:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == 5


def test_register_queue():
    assert "kittest-extra-queue" not in JobManager.queues()
    try:
        register_queue("kittest-extra-queue")
        register_queue("kittest-extra-queue")
        queues = JobManager.queues()
        assert queues.count("kittest-extra-queue") == 1
        assert queues == sorted(queues)
    finally:
        jobs_module.EXTRA_QUEUES.discard("kittest-extra-queue")


def test_job_details_reach_the_run(rt):
    job, _ = rt.jobs.store.create(ME, TEST_KIND, "j", {"R": 1}, None, details={"d": 2})
    run = JobRun(rt.jobs.store, rt.jobs.store.load(job.job_id))
    assert (run.request, run.details, run.name, run.principal) == ({"R": 1}, {"d": 2}, "j", Principal(
        ME.account_id, ME.region))
    bare, _ = rt.jobs.store.create(ME, TEST_KIND, None, {}, None)
    assert JobRun(rt.jobs.store, rt.jobs.store.load(bare.job_id)).details == {}
    assert isinstance(rt.jobs.store.load(job.job_id), Job)


# ================================================================ a job kind's API (kit/jobs.py)


TRANSCRIBE = ServiceErrors("transcribe")
JOB_ARN = "arn:aws:transcribe:{region}:{account}:transcription-job/{name}"
AWS_STATUS = {SUBMITTED: "QUEUED", IN_PROGRESS: "IN_PROGRESS", STOP_REQUESTED: "IN_PROGRESS", COMPLETED: "COMPLETED",
              FAILED: "FAILED", STOPPED: "FAILED"}


def _job_arn(job: Job) -> str:
    return JOB_ARN.format(region=job.region, account=job.account_id, name=job.name)


def _accept(context: RequestContext, request: dict) -> Submission:
    if not request.get("Media"):
        raise TRANSCRIBE.BadRequestException("Media is required")
    return Submission(stored_form(request, "Tags"), name=request["TranscriptionJobName"],
                      details={"accepted_by": context.request_id}, tags=request.get("Tags"))


JOB_TAGGING = Tagging("transcribe", exists=lambda principal, arn: TRANSCRIPTIONS.find(
    principal, arn.rsplit("/", 1)[-1]) is not None, not_found=lambda arn: TRANSCRIBE.NotFoundException(arn),
    too_many=lambda limit: TRANSCRIBE.BadRequestException(f"at most {limit} tags"), max_tags=2)
TRANSCRIPTIONS = JobApi(
    service="transcribe", kind="kittest.transcription", queue="kittest-queue",
    start="StartTranscriptionJob", describe="GetTranscriptionJob", list="ListTranscriptionJobs",
    delete="DeleteTranscriptionJob", id_member="TranscriptionJobName", describe_member="TranscriptionJob",
    not_found=lambda name: TRANSCRIBE.NotFoundException(f"no job {name}"),
    properties=lambda job: {"TranscriptionJobName": job.name, "TranscriptionJobStatus": AWS_STATUS[job.status]},
    accept=_accept, started=lambda context, job: {"TranscriptionJob": {"TranscriptionJobName": job.name}},
    paging=Paging("transcribe", invalid_token=lambda token: TRANSCRIBE.BadRequestException("bad NextToken")),
    by_name=True, name_taken=lambda name: TRANSCRIBE.ConflictException(f"{name} exists"),
    list_where=lambda request: [*in_statuses(reverse_statuses(AWS_STATUS).get(request["Status"]) if "Status" in
                                             request else None), *name_contains(request.get("JobNameContains"))],
    list_extra=lambda request: {"Status": request["Status"]} if "Status" in request else {},
    stopped=lambda job: {"Status": job.status}, arn=_job_arn, tagging=JOB_TAGGING)


@pytest.fixture
def transcriptions(rt, monkeypatch) -> Iterator[ServiceProvider]:
    monkeypatch.setattr(JobManager, "_enqueue", staticmethod(lambda job: None))  # no DBOS: jobs stay SUBMITTED
    TRANSCRIPTIONS.runner(lambda run: None)
    provider = ServiceProvider("transcribe")
    TRANSCRIPTIONS.register(provider)
    try:
        yield provider
    finally:
        JOB_KINDS.pop(TRANSCRIPTIONS.kind, None)


def _call(provider: ServiceProvider, operation: str, request: dict, principal: Principal = ME) -> dict:
    return provider.operations[operation].handler(ctx("transcribe", operation, principal), request)


def _start(provider: ServiceProvider, name: str, principal: Principal = ME, **extra) -> dict:
    request = {"TranscriptionJobName": name, "Media": {"MediaFileUri": "s3://b/a.wav"}, **extra}
    return _call(provider, "StartTranscriptionJob", request, principal)


def test_job_api_start_get_delete(rt, transcriptions):
    assert set(transcriptions.operations) == {"StartTranscriptionJob", "GetTranscriptionJob", "ListTranscriptionJobs",
                                              "DeleteTranscriptionJob"}
    assert _start(transcriptions, "j0", Tags=[{"Key": "a", "Value": "1"}]) == {
        "TranscriptionJob": {"TranscriptionJobName": "j0"}}
    job = rt.jobs.store.find_by_name(ME, TRANSCRIPTIONS.kind, "j0")
    assert job.request == {"TranscriptionJobName": "j0", "Media": {"MediaFileUri": "s3://b/a.wav"}}  # as it came
    assert job.details == {"accepted_by": "req"}
    assert get_tags(_job_arn(job)) == {"a": "1"}
    assert _call(transcriptions, "GetTranscriptionJob", {"TranscriptionJobName": "j0"}) == {
        "TranscriptionJob": {"TranscriptionJobName": "j0", "TranscriptionJobStatus": "QUEUED"}}
    with pytest.raises(ServiceError) as raised:
        _start(transcriptions, "j0")
    assert isinstance(raised.value, TRANSCRIBE.ConflictException)
    _start(transcriptions, "j0", OTHER_ACCOUNT)  # names are unique per account
    with pytest.raises(ServiceError) as raised:
        _call(transcriptions, "StartTranscriptionJob", {"TranscriptionJobName": "bad"})
    assert raised.value.code == "BadRequestException"
    with pytest.raises(ServiceError, match="at most 2 tags"):
        _start(transcriptions, "many", Tags={"a": "1", "b": "2", "c": "3"})
    assert rt.jobs.store.find_by_name(ME, TRANSCRIPTIONS.kind, "many") is None  # refused before it was created
    with pytest.raises(ServiceError) as raised:
        _call(transcriptions, "GetTranscriptionJob", {"TranscriptionJobName": "j0"}, OTHER_REGION)
    assert isinstance(raised.value, TRANSCRIBE.NotFoundException)
    assert _call(transcriptions, "DeleteTranscriptionJob", {"TranscriptionJobName": "j0"}) == {}
    assert rt.jobs.store.load(job.job_id) is None and get_tags(_job_arn(job)) == {}
    with pytest.raises(ServiceError):
        _call(transcriptions, "GetTranscriptionJob", {"TranscriptionJobName": "j0"})
    assert rt.jobs.store.find_by_name(OTHER_ACCOUNT, TRANSCRIPTIONS.kind, "j0") is not None


def test_job_api_list_pages_and_filters(rt, transcriptions):
    names = ["a_b", "axb", "c", "d", "e"]
    for name in names:
        _start(transcriptions, name)
    _start(transcriptions, "theirs", OTHER_ACCOUNT)
    store = rt.jobs.store
    store.update(store.find_by_name(ME, TRANSCRIPTIONS.kind, "c").job_id, status=IN_PROGRESS)
    store.update(store.find_by_name(ME, TRANSCRIPTIONS.kind, "d").job_id, status=STOP_REQUESTED)
    seen, request = [], {"MaxResults": 2}
    for _ in range(MAX_PAGES):
        page = _call(transcriptions, "ListTranscriptionJobs", request)
        seen.extend(item["TranscriptionJobName"] for item in page["TranscriptionJobSummaries"])
        if "NextToken" not in page:
            break
        request = {"MaxResults": 2, "NextToken": page["NextToken"]}
    assert sorted(seen) == sorted(names) and len(seen) == len(names)
    jobs = {name: store.find_by_name(ME, TRANSCRIPTIONS.kind, name) for name in names}
    assert seen == sorted(names, key=lambda name: (jobs[name].time("created_at"), jobs[name].job_id), reverse=True)
    running = _call(transcriptions, "ListTranscriptionJobs", {"Status": "IN_PROGRESS"})
    assert running["Status"] == "IN_PROGRESS"
    assert sorted(item["TranscriptionJobName"] for item in running["TranscriptionJobSummaries"]) == ["c", "d"]
    contains = _call(transcriptions, "ListTranscriptionJobs", {"JobNameContains": "A_B"})  # '_' is no wildcard
    assert [item["TranscriptionJobName"] for item in contains["TranscriptionJobSummaries"]] == ["a_b"]
    with pytest.raises(ServiceError) as raised:
        _call(transcriptions, "ListTranscriptionJobs", {"NextToken": "garbage"})
    assert raised.value.message == "bad NextToken"


def test_job_api_stop(rt, transcriptions):
    _start(transcriptions, "queued")
    _start(transcriptions, "running")
    store = rt.jobs.store
    store.update(store.find_by_name(ME, TRANSCRIPTIONS.kind, "running").job_id, status=IN_PROGRESS)
    stop = lambda name: TRANSCRIPTIONS.handle_stop(ctx("transcribe", "StopX"), {"TranscriptionJobName": name})  # noqa
    assert stop("queued") == {"Status": STOPPED}
    assert stop("queued") == {"Status": STOPPED}  # ended: answered as it is
    assert stop("running") == {"Status": STOP_REQUESTED}
    assert is_active(store.find_by_name(ME, TRANSCRIPTIONS.kind, "running"))
    assert not is_active(store.find_by_name(ME, TRANSCRIPTIONS.kind, "queued"))
    with pytest.raises(ServiceError):
        stop("missing")


def test_job_list_filters(rt):
    store = rt.jobs.store
    for name in ("a%b", "aXb", "a_b", "plain"):
        store.create(ME, TEST_KIND, name, {}, None)
    created = {job.name: job.time("created_at") for job in store.list(ME, TEST_KIND.name)[0]}

    def names(*conditions) -> list[str]:
        with rt.db.session() as session:
            return sorted(job.name for job in session.scalars(select(Job).where(Job.kind == TEST_KIND.name,
                                                                                 *conditions)))

    assert names(*name_contains("%")) == ["a%b"]
    assert names(*name_contains("_")) == ["a_b"]
    assert names(*name_contains("axb")) == ["aXb"]
    assert names(*name_contains(None)) == names() == ["a%b", "aXb", "a_b", "plain"]
    assert names(*named("plain")) == ["plain"] and named(None) == [] and named("") == []
    assert names(*in_statuses([SUBMITTED])) == names() and names(*in_statuses([])) == []
    assert in_statuses(None) == []
    assert names(*submitted_between(after=created["plain"] + dt.timedelta(seconds=1))) == []
    assert names(*submitted_between(before=created["plain"] + dt.timedelta(seconds=1))) == names()
    assert submitted_between() == []
    assert reverse_statuses({"A": "X", "B": "Y", "C": "X"}) == {"X": ["A", "C"], "Y": ["B"]}


def test_stored_form():
    when = dt.datetime(2024, 1, 2, tzinfo=dt.timezone.utc)
    assert stored_form({"A": when, "B": [1, {"C": "d"}], "Tags": [1]}, "Tags") == {
        "A": when.isoformat(), "B": [1, {"C": "d"}]}


# ================================================================ inputs


@pytest.mark.parametrize("input_uri, uri, name", [
    ("s3://b/in/", "s3://b/in/a.txt", "a.txt"),
    ("s3://b/in/", "s3://b/in/sub/a.txt", "sub/a.txt"),
    ("s3://b/in", "s3://b/in/a.txt", "in/a.txt"),  # a prefix without '/': named from its folder
    ("s3://b/in/doc", "s3://b/in/doc-1.txt", "doc-1.txt"),
    ("s3://b/in/a.txt", "s3://b/in/a.txt", "a.txt"),  # one object: its file name
    ("s3://b/in/", "s3://other/x/y.txt", "y.txt"),  # not under the prefix: the file name
])
def test_relative_name(input_uri, uri, name):
    assert relative_name(input_uri, uri) == name


def test_list_input_objects(rt):
    account = ME.account_id
    for key in ("in/b.txt", "in/a.txt", "in/sub/c.txt", "other/d.txt"):
        rt.blobs.write(f"s3://bucket/{key}", b"x", account)
    unreadable = lambda error: COMPREHEND.InvalidRequestException(f"NO_READ_ACCESS_TO_INPUT: {error}")  # noqa: E731
    empty = lambda uri: COMPREHEND.InvalidRequestException(f"INPUT_NOT_FOUND: {uri}")  # noqa: E731
    assert list_input_objects(account, "s3://bucket/in/", unreadable, empty) == [
        "s3://bucket/in/a.txt", "s3://bucket/in/b.txt", "s3://bucket/in/sub/c.txt"]
    assert list_input_objects(account, "s3://bucket/in/a.txt", unreadable, empty) == ["s3://bucket/in/a.txt"]
    with pytest.raises(ServiceError, match="INPUT_NOT_FOUND"):
        list_input_objects(account, "s3://bucket/nothing/", unreadable, empty)
    with pytest.raises(ServiceError, match="NO_READ_ACCESS_TO_INPUT"):
        list_input_objects(account, "ftp://bucket/in/", unreadable, empty)


# ================================================================ the services use the kit


def _source_files(*tops: str, exclude: tuple[str, ...] = ()) -> list[Path]:
    files = []
    for top in tops:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if not any(relative.startswith(prefix) for prefix in exclude):
                files.append(path)
    return files


def _is_service_error(func: ast.expr) -> bool:
    return (isinstance(func, ast.Name) and func.id == "ServiceError") or (
        isinstance(func, ast.Attribute) and func.attr == "ServiceError")


def _literal_code(call: ast.Call) -> str | None:
    candidates = call.args[:1] + [keyword.value for keyword in call.keywords if keyword.arg == "code"]
    for node in candidates:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
    return None


def test_services_raise_model_checked_errors():
    """Outside the gateway, an error is `errors.<Code>(message)` of the service's ServiceErrors (checked against
    the botocore model at import), never `ServiceError("<Code>", ...)` (a typo would reach production)."""
    offenders = []
    for path in _source_files("services", "orchestrator", exclude=("services/gateway/",)):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_service_error(node.func) and (code := _literal_code(node)):
                offenders.append(f"{path.relative_to(ROOT).as_posix()}:{node.lineno}: ServiceError({code!r}, ...)")
    assert not offenders, f"{len(offenders)} literal ServiceError codes:\n" + "\n".join(offenders)


def _declares_service_errors(path: Path) -> bool:
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in tree.body:
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) \
            else []
        if any(isinstance(target, ast.Name) and target.id == "errors" for target in targets) and \
                isinstance(value, ast.Call) and isinstance(value.func, (ast.Name, ast.Attribute)) and \
                (value.func.id if isinstance(value.func, ast.Name) else value.func.attr) == "ServiceErrors":
            return True
    return False


def test_service_errors_belong_to_served_services():
    """Every `errors = ServiceErrors(...)` of a service package is built for a served service whose provider
    exists and lives in that same package (lex serves two botocore services, the orchestrator stepfunctions)."""
    providers = load_providers()
    declared, problems = [], []
    for path in _source_files("services", "orchestrator", exclude=("services/gateway/",)):
        if not _declares_service_errors(path):
            continue
        relative = path.relative_to(ROOT)
        module_name = ".".join(relative.with_suffix("").parts).removesuffix(".__init__")
        module = importlib.import_module(module_name)
        errors = module.errors
        declared.append(f"{module_name}: {getattr(errors, 'service', None)}")
        if not isinstance(errors, ServiceErrors):
            problems.append(f"{relative}: errors is a {type(errors).__name__}")
            continue
        service = errors.service
        if service not in providers:
            problems.append(f"{relative}: ServiceErrors({service!r}) is not a served service")
            continue
        if not providers[service].operations:
            problems.append(f"{relative}: ServiceErrors({service!r}): that service's provider has no operations")
        package = module_name.split(".")[:2] if module_name.startswith("services.") else module_name.split(".")[:1]
        if PROVIDER_MODULES[service].split(".")[:len(package)] != package:
            problems.append(f"{relative}: ServiceErrors({service!r}) but that provider is {PROVIDER_MODULES[service]}")
    assert not problems, "\n".join(problems)
