"""Amazon Personalize's control plane, keyed by AWS operation name.

Dataset groups, schemas, datasets, solutions, campaigns, filters and event trackers are rows (store.py); dataset
imports, solution versions and batch inference jobs are rows whose creation is a durable job (training.py runs
them). Operations without a handler answer NotImplementedException; a setting of an implemented operation that this
gateway cannot honour answers NotImplementedException naming it — never accepted and ignored.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets

from sqlalchemy import select

from services.gateway.context import Principal, RequestContext
from services.gateway.errors import ServiceError
from services.gateway.kit.paging import Paging
from services.gateway.kit.resources import session
from services.gateway.kit.tags import Tagging, drop_tags
from services.gateway.jobs import periodic
from services.gateway.kit.times import aware, utcnow
from services.gateway.registry import ServiceProvider
from services.gateway.runtime import runtime
from services.personalize import attribution, autotrain, datasets, training
from services.personalize.autotrain import AUTOMATIC, MANUAL
from services.personalize.errors import (
    InvalidInput, InvalidNextToken, LimitExceeded, ResourceAlreadyExists, ResourceInUse, TooManyTags,
)
from services.personalize.errors import errors as personalize_errors
from services.personalize.filters import parse_filter
from services.personalize.recipes import (
    LISTED_SINCE, PERSONALIZED_ACTIONS, PERSONALIZED_RANKING, RECIPES, RELATED_ITEMS, USER_PERSONALIZATION,
    USER_SEGMENTATION, recipe,
)
from services.personalize.schemas import DATASET_TYPES, check_dataset_schema, parse_schema
from services.personalize.store import (
    ACTIVE, ANY, BATCH_INFERENCE_JOB, BATCH_SEGMENT_JOB, BUSY, CAMPAIGN, DATA_DELETION_JOB, DATASET, DATASET_GROUP,
    EVENT_TRACKER, EXPORT_JOB, FILTER, IMPORT_JOB, METRIC_ATTRIBUTION, RECOMMENDER, SCHEMA, SERVICE, SOLUTION,
    SOLUTION_VERSION, TABLES, WORDS, PersonalizeResource, already_exists, children, get, kind_of, not_found, resource_arn,
)

provider = ServiceProvider("personalize")
log = logging.getLogger("aigate.personalize")

PAGING = Paging("personalize", invalid_token=lambda token: InvalidNextToken("The nextToken is not valid."),
                default_limit=100)

DOMAINS = ("ECOMMERCE", "VIDEO_ON_DEMAND")
# AWS's default quotas.
MAX_DATASET_GROUPS = 500
MAX_SCHEMAS = 500
MAX_FILTERS = 10  # per dataset group
MAX_EVENT_TRACKERS = 1  # per dataset group
MAX_CAMPAIGNS = 500
MAX_PROVISIONED_TPS = 500  # minProvisionedTPS is recorded; every campaign serves from the gateway's processes
MAX_BATCH_RESULTS = 500
MAX_SEGMENT_USERS = 5_000_000


def _exists(principal: Principal, arn: str) -> bool:
    kind = kind_of(arn)
    if kind is None:
        raise InvalidInput(f"The ARN {arn} is not a valid Amazon Personalize ARN.")
    return kind in TABLES and TABLES[kind].exists(principal, arn)


TAGGING = Tagging("personalize", exists=_exists, not_found=not_found,
                  too_many=lambda limit: TooManyTags(f"A resource can have at most {limit} tags."), max_tags=50)
TAGGING.register(provider)  # TagResource, UntagResource, ListTagsForResource


# ------------------------------------------------------------------------------------------------ shared


def _create(ctx: RequestContext, kind: str, arn: str, name: str, spec: dict, parent: str | None = None,
            details: dict | None = None, job_kind: str | None = None) -> PersonalizeResource:
    """The row (ResourceAlreadyExists when the ARN is taken), its tags, and its creation job if it has one."""
    tags = TAGGING.check_new(spec.get("tags"))
    stored = {key: value for key, value in spec.items() if key != "tags"}
    now = utcnow()
    # A row whose job is still to be queued reads as failed, with why: should the process die before the job is
    # queued, the resource is not left pending forever. Once the job exists, its status is the row's.
    pending = {"status": "CREATE FAILED", "message": "The gateway stopped before this resource's work was queued; "
                                                     "delete it and create it again."} if job_kind else {}
    with session() as db:
        row = TABLES[kind].create(ctx, db, arn=arn, kind=kind, name=name, parent_arn=parent, spec=stored,
                                  details=details or {}, created_at=now, modified_at=now, **pending)
    if job_kind is not None:
        job = runtime().jobs.submit(ctx.principal, job_kind, stored, name=arn, details={"arn": arn})
        row = TABLES[kind].update(ctx, arn, job_id=job.job_id, status=ACTIVE, message=None)
    TAGGING.tag(ctx, arn, tags)
    return row


def _status(row: PersonalizeResource) -> str:
    return row.state()[0]


def _times(row: PersonalizeResource) -> dict:
    return {"creationDateTime": row.created, "lastUpdatedDateTime": row.last_modified()}


def _common(row: PersonalizeResource) -> dict:
    status, reason, _ = row.state()
    out = {"status": status, **_times(row)}
    if reason and status in ("CREATE FAILED", "CREATE STOPPED"):
        out["failureReason"] = reason
    return out


def _listed(ctx: RequestContext, kind: str, parent: str | None = None, parent_kind: str | None = None
            ) -> list[PersonalizeResource]:
    """The caller's resources of a kind, newest first, of one parent when the List* names one."""
    if parent is not None:
        get(ctx, parent_kind, parent)
        where = (PersonalizeResource.parent_arn == parent,)
    else:
        where = ()
    return TABLES[kind].list(ctx, *where, order_by=(PersonalizeResource.created_at.desc(), PersonalizeResource.arn))


def _check_deletable(ctx: RequestContext, row: PersonalizeResource) -> None:
    status = _status(row)
    if status in BUSY:
        raise ResourceInUse(f"The {WORDS[row.kind]} {row.arn} cannot be deleted while its status is {status}.")


def _remove(ctx: RequestContext, row: PersonalizeResource) -> None:
    """A resource's row, job, data files and tags."""
    if row.job_id is not None:
        runtime().jobs.store.delete(ctx.principal, None, row.job_id)
    training.remove_data(row)
    ANY.delete(ctx, row.arn)
    drop_tags(row.arn)


def _need_active(row: PersonalizeResource) -> None:
    status = _status(row)
    if status != ACTIVE:
        raise ResourceInUse(f"The {WORDS[row.kind]} {row.arn} is not ACTIVE; its status is {status}.")


def _not_implemented(setting: str, why: str) -> ServiceError:
    return personalize_errors.NotImplementedException(f"{setting} is not implemented by this gateway: {why}.")


def _no_kms(request: dict) -> None:
    if request.get("kmsKeyArn"):
        raise _not_implemented("kmsKeyArn", "data is stored in the gateway's own data folder, not under a KMS key")


# ------------------------------------------------------------------------------------------------ dataset groups


@provider.operation("CreateDatasetGroup")
def create_dataset_group(ctx: RequestContext, request: dict) -> dict:
    _no_kms(request)
    domain = request.get("domain")
    if domain is not None and domain not in DOMAINS:
        raise InvalidInput(f"Domain {domain} is not valid; valid domains are {', '.join(DOMAINS)}.")
    if TABLES[DATASET_GROUP].count(ctx) >= MAX_DATASET_GROUPS:
        raise LimitExceeded(f"You can have at most {MAX_DATASET_GROUPS} dataset groups.")
    arn = resource_arn(ctx, DATASET_GROUP, request["name"])
    _create(ctx, DATASET_GROUP, arn, request["name"], request)
    out = {"datasetGroupArn": arn}
    if domain:
        out["domain"] = domain
    return out


def _dataset_group(row: PersonalizeResource) -> dict:
    out = {"name": row.name, "datasetGroupArn": row.arn, **_common(row)}
    for member in ("roleArn", "domain"):
        if row.spec.get(member):
            out[member] = row.spec[member]
    return out


@provider.operation("DescribeDatasetGroup")
def describe_dataset_group(ctx: RequestContext, request: dict) -> dict:
    return {"datasetGroup": _dataset_group(get(ctx, DATASET_GROUP, request["datasetGroupArn"]))}


@provider.operation("ListDatasetGroups")
def list_dataset_groups(ctx: RequestContext, request: dict) -> dict:
    def summary(row):
        out = {"name": row.name, "datasetGroupArn": row.arn, **_common(row)}
        if row.spec.get("domain"):
            out["domain"] = row.spec["domain"]
        return out
    return PAGING.page(ctx, request, _listed(ctx, DATASET_GROUP), summary)


@provider.operation("DeleteDatasetGroup")
def delete_dataset_group(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, DATASET_GROUP, request["datasetGroupArn"])
    deletions = children(ctx, row.arn, DATA_DELETION_JOB)  # records of past work: they go with the group
    users = [child for child in children(ctx, row.arn) if child.kind != DATA_DELETION_JOB]
    if users:
        raise ResourceInUse(f"The dataset group {row.arn} still has the {WORDS[users[0].kind]} {users[0].arn}; "
                            f"delete its datasets, solutions, filters, event trackers and metric attributions "
                            f"first.")
    for job in deletions:
        _check_deletable(ctx, job)
    for job in deletions:
        _remove(ctx, job)
    _remove(ctx, row)
    return {}


# ------------------------------------------------------------------------------------------------ schemas


@provider.operation("CreateSchema")
def create_schema(ctx: RequestContext, request: dict) -> dict:
    domain = request.get("domain")
    if domain is not None and domain not in DOMAINS:
        raise InvalidInput(f"Domain {domain} is not valid; valid domains are {', '.join(DOMAINS)}.")
    parse_schema(request["schema"])
    if TABLES[SCHEMA].count(ctx) >= MAX_SCHEMAS:
        raise LimitExceeded(f"You can have at most {MAX_SCHEMAS} schemas.")
    arn = resource_arn(ctx, SCHEMA, request["name"])
    _create(ctx, SCHEMA, arn, request["name"], request)
    return {"schemaArn": arn}


def _schema(row: PersonalizeResource) -> dict:
    out = {"name": row.name, "schemaArn": row.arn, "schema": row.spec["schema"], **_times(row)}
    if row.spec.get("domain"):
        out["domain"] = row.spec["domain"]
    return out


@provider.operation("DescribeSchema")
def describe_schema(ctx: RequestContext, request: dict) -> dict:
    return {"schema": _schema(get(ctx, SCHEMA, request["schemaArn"]))}


@provider.operation("ListSchemas")
def list_schemas(ctx: RequestContext, request: dict) -> dict:
    def summary(row):
        out = {"name": row.name, "schemaArn": row.arn, **_times(row)}
        if row.spec.get("domain"):
            out["domain"] = row.spec["domain"]
        return out
    return PAGING.page(ctx, request, _listed(ctx, SCHEMA), summary)


@provider.operation("DeleteSchema")
def delete_schema(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, SCHEMA, request["schemaArn"])
    users = [dataset for dataset in TABLES[DATASET].list(ctx) if dataset.spec["schemaArn"] == row.arn]
    if users:
        raise ResourceInUse(f"The schema {row.arn} is used by the dataset {users[0].arn}.")
    _remove(ctx, row)
    return {}


# ------------------------------------------------------------------------------------------------ datasets


def dataset_type_word(dataset_type: str) -> str:
    """The dataset type as AWS spells it in ARNs and answers (INTERACTIONS, ITEMS, ...)."""
    return dataset_type.upper()


@provider.operation("CreateDataset")
def create_dataset(ctx: RequestContext, request: dict) -> dict:
    group = get(ctx, DATASET_GROUP, request["datasetGroupArn"])
    schema_row = get(ctx, SCHEMA, request["schemaArn"])
    dataset_type = request["datasetType"]
    canonical = {name.upper(): name for name in DATASET_TYPES}.get(dataset_type.upper())
    if canonical is None:
        raise InvalidInput(f"Dataset type {dataset_type} is not valid; valid types are {', '.join(DATASET_TYPES)}.")
    domain = group.spec.get("domain")
    if (schema_row.spec.get("domain") or None) != (domain or None):
        raise InvalidInput(f"The schema {schema_row.arn} is for domain {schema_row.spec.get('domain') or 'custom'}; "
                           f"the dataset group {group.arn} is {domain or 'custom'}.")
    check_dataset_schema(parse_schema(schema_row.spec["schema"]), canonical, domain)
    arn = resource_arn(ctx, DATASET, group.name, dataset_type_word(canonical))
    if ANY.find(ctx, arn) is not None:
        raise already_exists(arn)
    _create(ctx, DATASET, arn, request["name"], {**request, "datasetType": canonical}, parent=group.arn)
    return {"datasetArn": arn}


def _dataset(ctx: RequestContext, row: PersonalizeResource) -> dict:
    out = {"name": row.name, "datasetArn": row.arn, "datasetGroupArn": row.parent_arn,
           "datasetType": dataset_type_word(row.spec["datasetType"]), "schemaArn": row.spec["schemaArn"],
           **_common(row)}
    update = row.details.get("latestDatasetUpdate")
    if update:
        out["latestDatasetUpdate"] = {**update, "creationDateTime": row.created,
                                      "lastUpdatedDateTime": row.last_modified()}
    tracker = _tracker_of(ctx, row.parent_arn) if row.spec["datasetType"] == "Interactions" else None
    if tracker is not None:
        out["trackingId"] = tracker.details["trackingId"]
    return out


@provider.operation("DescribeDataset")
def describe_dataset(ctx: RequestContext, request: dict) -> dict:
    return {"dataset": _dataset(ctx, get(ctx, DATASET, request["datasetArn"]))}


@provider.operation("ListDatasets")
def list_datasets(ctx: RequestContext, request: dict) -> dict:
    rows = _listed(ctx, DATASET, request.get("datasetGroupArn"), DATASET_GROUP)
    return PAGING.page(ctx, request, rows, lambda row: {
        "name": row.name, "datasetArn": row.arn, "datasetType": dataset_type_word(row.spec["datasetType"]),
        **_common(row)})


@provider.operation("UpdateDataset")
def update_dataset(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, DATASET, request["datasetArn"])
    group = get(ctx, DATASET_GROUP, row.parent_arn)
    schema_row = get(ctx, SCHEMA, request["schemaArn"])
    check_dataset_schema(parse_schema(schema_row.spec["schema"]), row.spec["datasetType"], group.spec.get("domain"))
    old = parse_schema(get(ctx, SCHEMA, row.spec["schemaArn"]).spec["schema"])
    new = parse_schema(schema_row.spec["schema"])
    missing = [field.name for field in old.fields if field.name not in {f.name for f in new.fields}]
    if missing:
        raise InvalidInput(f"The new schema must keep the dataset's fields; it drops {', '.join(missing)}.")
    TABLES[DATASET].update(ctx, row.arn, spec={**row.spec, "schemaArn": schema_row.arn}, modified_at=utcnow(),
                           details={**row.details, "latestDatasetUpdate": {"schemaArn": schema_row.arn,
                                                                           "status": ACTIVE}})
    return {"datasetArn": row.arn}


@provider.operation("DeleteDataset")
def delete_dataset(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, DATASET, request["datasetArn"])
    for job in children(ctx, row.arn, IMPORT_JOB):
        if _status(job) in BUSY:
            raise ResourceInUse(f"The dataset {row.arn} has the dataset import job {job.arn} in progress.")
    for job in children(ctx, row.arn):
        _remove(ctx, job)
    datasets.forget_records(ctx.principal, row.arn)
    if row.spec["datasetType"] in ("Interactions", "Action_Interactions"):  # the recorded ones go with it
        datasets.forget_events(ctx.principal, row.parent_arn,
                               "item" if row.spec["datasetType"] == "Interactions" else "action")
    _remove(ctx, row)
    return {}


# ------------------------------------------------------------------------------------------------ imports


@provider.operation("CreateDatasetImportJob")
def create_dataset_import_job(ctx: RequestContext, request: dict) -> dict:
    dataset = get(ctx, DATASET, request["datasetArn"])
    location = request["dataSource"].get("dataLocation") or ""
    if not location.startswith("s3://"):
        raise InvalidInput(f"The data location {location or '(none)'} is not valid: it must be an s3:// path.")
    if request.get("publishAttributionMetricsToS3"):
        _check_publishable(ctx, dataset)
    mode = request.get("importMode") or "FULL"
    if mode not in ("FULL", "INCREMENTAL"):
        raise InvalidInput(f"Import mode {mode} is not valid; valid modes are FULL and INCREMENTAL.")
    if any(_status(job) in BUSY for job in children(ctx, dataset.arn, IMPORT_JOB)):
        raise ResourceInUse(f"The dataset {dataset.arn} already has a dataset import job in progress.")
    arn = resource_arn(ctx, IMPORT_JOB, request["jobName"])
    _create(ctx, IMPORT_JOB, arn, request["jobName"], {**request, "importMode": mode}, parent=dataset.arn,
            job_kind=training.IMPORT_KIND)
    return {"datasetImportJobArn": arn}


@provider.operation("DescribeDatasetImportJob")
def describe_dataset_import_job(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, IMPORT_JOB, request["datasetImportJobArn"])
    out = {"jobName": row.name, "datasetImportJobArn": row.arn, "datasetArn": row.parent_arn,
           "dataSource": row.spec["dataSource"], "importMode": row.spec["importMode"], **_common(row),
           "publishAttributionMetricsToS3": bool(row.spec.get("publishAttributionMetricsToS3"))}
    if row.spec.get("roleArn"):
        out["roleArn"] = row.spec["roleArn"]
    return {"datasetImportJob": out}


@provider.operation("ListDatasetImportJobs")
def list_dataset_import_jobs(ctx: RequestContext, request: dict) -> dict:
    rows = _listed(ctx, IMPORT_JOB, request.get("datasetArn"), DATASET)
    return PAGING.page(ctx, request, rows, lambda row: {
        "datasetImportJobArn": row.arn, "jobName": row.name, "importMode": row.spec["importMode"],
        **_common(row)})


# ------------------------------------------------------------------------------------------------ recipes


def _recipe(item) -> dict:
    out = {"name": item.name, "recipeArn": item.arn, "algorithmArn": item.algorithm_arn,
           "featureTransformationArn": item.feature_transformation_arn, "status": ACTIVE,
           "description": item.description, "recipeType": item.recipe_type, "creationDateTime": LISTED_SINCE,
           "lastUpdatedDateTime": LISTED_SINCE}
    return out


@provider.operation("ListRecipes")
def list_recipes(ctx: RequestContext, request: dict) -> dict:
    domain = request.get("domain")
    if domain is not None and domain not in DOMAINS:
        raise InvalidInput(f"Domain {domain} is not valid; valid domains are {', '.join(DOMAINS)}.")
    items = [item for item in RECIPES.values() if item.domain == domain or domain is None]
    items.sort(key=lambda item: item.name)

    def summary(item):
        out = {"name": item.name, "recipeArn": item.arn, "status": ACTIVE, "creationDateTime": LISTED_SINCE,
               "lastUpdatedDateTime": LISTED_SINCE}
        if item.domain:
            out["domain"] = item.domain
        return out
    return PAGING.page(ctx, request, items, summary)


@provider.operation("DescribeRecipe")
def describe_recipe(ctx: RequestContext, request: dict) -> dict:
    item = recipe(request["recipeArn"])
    if item is None:
        raise not_found(request["recipeArn"])
    return {"recipe": _recipe(item)}


@provider.operation("DescribeAlgorithm")
def describe_algorithm(ctx: RequestContext, request: dict) -> dict:
    arn = request["algorithmArn"]
    item = next((item for item in RECIPES.values() if item.algorithm_arn == arn), None)
    if item is None:
        raise not_found(arn)
    defaults = training.default_hyperparameters(item.algorithm)
    return {"algorithm": {
        "name": item.algorithm, "algorithmArn": arn, "defaultHyperParameters": defaults,
        "defaultHyperParameterRanges": training.hyperparameter_ranges(item.algorithm),
        "defaultResourceConfig": {"maxNumberOfTrainingJobs": "20", "maxParallelTrainingJobs": "1"},
        "trainingInputMode": "File", "creationDateTime": LISTED_SINCE, "lastUpdatedDateTime": LISTED_SINCE}}


@provider.operation("DescribeFeatureTransformation")
def describe_feature_transformation(ctx: RequestContext, request: dict) -> dict:
    arn = request["featureTransformationArn"]
    item = next((item for item in RECIPES.values() if item.feature_transformation_arn == arn), None)
    if item is None:
        raise not_found(arn)
    return {"featureTransformation": {
        "name": item.algorithm, "featureTransformationArn": arn, "defaultParameters": {},
        "creationDateTime": LISTED_SINCE, "lastUpdatedDateTime": LISTED_SINCE, "status": ACTIVE}}


# ------------------------------------------------------------------------------------------------ solutions


@provider.operation("CreateSolution")
def create_solution(ctx: RequestContext, request: dict) -> dict:
    group = get(ctx, DATASET_GROUP, request["datasetGroupArn"])
    config = request.get("solutionConfig") or {}
    if request.get("performAutoML"):
        names = (config.get("autoMLConfig") or {}).get("recipeList") or []
        if request.get("recipeArn"):
            raise InvalidInput("recipeArn and performAutoML cannot both be given.")
        if not names:
            raise InvalidInput("performAutoML needs solutionConfig.autoMLConfig.recipeList.")
        chosen = [recipe(arn) for arn in names]
    else:
        if not request.get("recipeArn"):
            raise InvalidInput("A solution needs a recipeArn (or performAutoML with an autoMLConfig).")
        chosen = [recipe(request["recipeArn"])]
    for arn, item in zip(names if request.get("performAutoML") else [request["recipeArn"]], chosen):
        if item is None:
            raise not_found(arn)
        if item.domain:
            raise InvalidInput(f"The recipe {arn} is a domain recipe: use CreateRecommender for it.")
    if len({item.recipe_type for item in chosen}) > 1:
        raise InvalidInput("The recipes of autoMLConfig.recipeList must be of one recipe type.")
    autotrain.schedule_days(config.get("autoTrainingConfig"))
    for member in ("optimizationObjective", "eventsConfig"):
        if config.get(member):
            raise _not_implemented(f"solutionConfig.{member}", "the algorithms here optimise relevance only")
    for member in ("trainingDataConfig", "featureTransformationParameters"):
        if config.get(member):
            raise _not_implemented(f"solutionConfig.{member}", "every column of the datasets is used as the "
                                   "algorithm reads it")
    if request.get("performIncrementalUpdate"):
        raise _not_implemented("performIncrementalUpdate", "incremental updates come with automatic training; "
                               "create a solution version with trainingMode UPDATE instead")
    threshold = config.get("eventValueThreshold")
    if threshold is not None:
        try:
            float(threshold)
        except ValueError:
            raise InvalidInput(f"eventValueThreshold {threshold} is not a number.") from None
    training.check_hyperparameters(chosen[0].algorithm, config.get("algorithmHyperParameters") or {})
    training.check_hpo_config(config.get("hpoConfig") or {})
    present = {row.spec["datasetType"] for row in children(ctx, group.arn, DATASET)}
    needed = ("Actions", "Action_Interactions") if chosen[0].recipe_type == PERSONALIZED_ACTIONS else ("Interactions",)
    for dataset_type in needed:
        if dataset_type not in present:
            raise InvalidInput(f"The dataset group {group.arn} has no {dataset_type} dataset, which the recipe "
                               f"{chosen[0].name} trains on.")
    arn = resource_arn(ctx, SOLUTION, request["name"])
    # performAutoTraining is on unless the request turns it off (AWS's default).
    spec = {**request, "performAutoTraining": request.get("performAutoTraining", True) is not False}
    _create(ctx, SOLUTION, arn, request["name"], spec, parent=group.arn)
    return {"solutionArn": arn}


def _config(spec: dict) -> dict:
    return spec.get("solutionConfig") or {}


def _latest_version(ctx: RequestContext | Principal, solution_arn: str) -> PersonalizeResource | None:
    versions = children(ctx, solution_arn, SOLUTION_VERSION)
    return versions[-1] if versions else None


def _version_summary(row: PersonalizeResource) -> dict:
    out = {"solutionVersionArn": row.arn, "trainingMode": row.spec.get("trainingMode") or "FULL",
           "trainingType": row.spec.get("trainingType") or MANUAL, **_common(row)}
    return out


def _solution(ctx: RequestContext, row: PersonalizeResource) -> dict:
    spec = row.spec
    out = {"name": row.name, "solutionArn": row.arn, "performHPO": bool(spec.get("performHPO")),
           "performAutoML": bool(spec.get("performAutoML")), "performAutoTraining": bool(spec.get("performAutoTraining")),
           "performIncrementalUpdate": bool(spec.get("performIncrementalUpdate")),
           "datasetGroupArn": row.parent_arn, "solutionConfig": _config(spec), **_common(row)}
    if spec.get("recipeArn"):
        out["recipeArn"] = spec["recipeArn"]
    if spec.get("eventType"):
        out["eventType"] = spec["eventType"]
    update = row.details.get("latestSolutionUpdate")
    if update:
        when = dt.datetime.fromisoformat(update["creationDateTime"])
        out["latestSolutionUpdate"] = {**update, "creationDateTime": when, "lastUpdatedDateTime": when}
    latest = _latest_version(ctx, row.arn)
    if latest is not None:
        out["latestSolutionVersion"] = _version_summary(latest)
        best = (latest.state()[2] or {}).get("recipeArn")
        if spec.get("performAutoML") and best:
            out["autoMLResult"] = {"bestRecipeArn": best}
    return out


@provider.operation("DescribeSolution")
def describe_solution(ctx: RequestContext, request: dict) -> dict:
    return {"solution": _solution(ctx, get(ctx, SOLUTION, request["solutionArn"]))}


@provider.operation("ListSolutions")
def list_solutions(ctx: RequestContext, request: dict) -> dict:
    rows = _listed(ctx, SOLUTION, request.get("datasetGroupArn"), DATASET_GROUP)

    def summary(row):
        out = {"name": row.name, "solutionArn": row.arn, **_common(row)}
        if row.spec.get("recipeArn"):
            out["recipeArn"] = row.spec["recipeArn"]
        return out
    return PAGING.page(ctx, request, rows, summary)


@provider.operation("UpdateSolution")
def update_solution(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, SOLUTION, request["solutionArn"])
    if request.get("performIncrementalUpdate"):
        raise _not_implemented("performIncrementalUpdate", "incremental updates need a streaming-trained model; "
                               "create a solution version with trainingMode UPDATE instead")
    update = request.get("solutionUpdateConfig") or {}
    if update.get("eventsConfig"):
        raise _not_implemented("solutionUpdateConfig.eventsConfig", "the algorithms here weigh every event alike")
    _need_active(row)
    spec, details = dict(row.spec), dict(row.details)
    if "autoTrainingConfig" in update:
        autotrain.schedule_days(update["autoTrainingConfig"])
        spec["solutionConfig"] = {**_config(spec), "autoTrainingConfig": update["autoTrainingConfig"]}
    turned_on = request.get("performAutoTraining") is True and not spec.get("performAutoTraining")
    if "performAutoTraining" in request:
        spec["performAutoTraining"] = bool(request["performAutoTraining"])
    now = utcnow()
    if turned_on:  # the first automatic training counts from this update, as from a solution's creation
        details["autoTrainingSince"] = now.isoformat()
    # The update applies at once, so its summary reads ACTIVE (AWS: CREATE PENDING > CREATE IN_PROGRESS > ACTIVE).
    details["latestSolutionUpdate"] = {
        "solutionUpdateConfig": {"autoTrainingConfig": (spec.get("solutionConfig") or {}).get(
            "autoTrainingConfig") or {"schedulingExpression": autotrain.DEFAULT_SCHEDULE}},
        "status": ACTIVE, "performAutoTraining": bool(spec.get("performAutoTraining")),
        "performIncrementalUpdate": False, "creationDateTime": now.isoformat()}
    TABLES[SOLUTION].update(ctx, row.arn, spec=spec, details=details, modified_at=now)
    return {"solutionArn": row.arn}


@provider.operation("DeleteSolution")
def delete_solution(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, SOLUTION, request["solutionArn"])
    versions = children(ctx, row.arn, SOLUTION_VERSION)
    for version in versions:
        _check_deletable(ctx, version)
        campaign = next((c for c in TABLES[CAMPAIGN].list(ctx) if c.spec["solutionVersionArn"] == version.arn), None)
        if campaign is not None:
            raise ResourceInUse(f"The solution version {version.arn} is used by the campaign {campaign.arn}.")
    for version in versions:
        _remove(ctx, version)
    _remove(ctx, row)
    return {}


# ------------------------------------------------------------------------------------------------ versions


@provider.operation("CreateSolutionVersion")
def create_solution_version(ctx: RequestContext, request: dict) -> dict:
    solution = get(ctx, SOLUTION, request["solutionArn"])
    mode = request.get("trainingMode") or "FULL"
    if mode not in ("FULL", "UPDATE", "AUTOTRAIN"):
        raise InvalidInput(f"Training mode {mode} is not valid; valid modes are FULL and UPDATE.")
    if mode == "AUTOTRAIN":
        raise InvalidInput("The AUTOTRAIN training mode is set by automatic training, not by CreateSolutionVersion.")
    versions = children(ctx, solution.arn, SOLUTION_VERSION)
    if any(_status(version) in BUSY for version in versions):
        raise ResourceInUse(f"The solution {solution.arn} already has a solution version in training.")
    if mode == "UPDATE" and not any(_status(version) == ACTIVE for version in versions):
        raise InvalidInput("An UPDATE needs an ACTIVE solution version to update; train a FULL one first.")
    if mode == "UPDATE" and recipe(solution.spec.get("recipeArn", "")) is not None and \
            recipe(solution.spec["recipeArn"]).recipe_type not in (USER_PERSONALIZATION,):
        raise InvalidInput("trainingMode UPDATE is only for user-personalization recipes.")
    return {"solutionVersionArn": _start_version(ctx, solution, request, mode, MANUAL)}


def _start_version(ctx: RequestContext, solution: PersonalizeResource, request: dict, mode: str,
                   training_type: str) -> str:
    """A solution version of the solution as it is now, and its training job."""
    arn = resource_arn(ctx, SOLUTION_VERSION, solution.name, secrets.token_hex(4))
    spec = {**request, "trainingMode": mode, "trainingType": training_type, "snapshot": {
        key: solution.spec.get(key) for key in (
            "recipeArn", "eventType", "performHPO", "performAutoML", "performIncrementalUpdate", "solutionConfig")}}
    _create(ctx, SOLUTION_VERSION, arn, request.get("name") or arn.rsplit("/", 1)[-1], spec, parent=solution.arn,
            job_kind=training.SOLUTION_VERSION_KIND, details={"datasetGroupArn": solution.parent_arn})
    return arn


@periodic("personalize.auto-training")
def auto_train(now: dt.datetime) -> None:
    """Start the automatic solution versions that are due (performAutoTraining), in every account."""
    delay = runtime().settings.personalize_auto_training_delay_s
    with session() as db:
        solutions = db.scalars(select(PersonalizeResource).where(PersonalizeResource.kind == SOLUTION)).all()
    for solution in solutions:
        if not solution.spec.get("performAutoTraining"):
            continue
        principal = Principal(solution.account_id, solution.region)
        versions = children(principal, solution.arn, SOLUTION_VERSION)
        if any(_status(version) in BUSY for version in versions):
            continue  # one training at a time: the slot is served when this one ends
        since = solution.details.get("autoTrainingSince")
        slot = autotrain.due_slot(
            aware(dt.datetime.fromisoformat(since)) if since else solution.created,
            autotrain.schedule_days(_config(solution.spec).get("autoTrainingConfig")), delay,
            [(version.created, version.spec.get("trainingType") or MANUAL) for version in versions], now)
        if slot is not None:
            ctx = RequestContext(SERVICE, "CreateSolutionVersion", principal, f"auto-training-{slot.isoformat()}")
            arn = _start_version(ctx, solution, {"solutionArn": solution.arn}, "AUTOTRAIN", AUTOMATIC)
            log.info("automatic training", extra={"fields": {"solution": solution.arn, "solutionVersion": arn}})


@provider.operation("DescribeSolutionVersion")
def describe_solution_version(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, SOLUTION_VERSION, request["solutionVersionArn"])
    snapshot = row.spec["snapshot"]
    _, _, result = row.state()
    out = {"name": row.name, "solutionVersionArn": row.arn, "solutionArn": row.parent_arn,
           "performHPO": bool(snapshot.get("performHPO")), "performAutoML": bool(snapshot.get("performAutoML")),
           "performIncrementalUpdate": bool(snapshot.get("performIncrementalUpdate")),
           "datasetGroupArn": row.details["datasetGroupArn"], "solutionConfig": snapshot.get("solutionConfig") or {},
           "trainingMode": row.spec["trainingMode"], "trainingType": row.spec.get("trainingType") or MANUAL,
           **_common(row)}
    if snapshot.get("recipeArn") or (result or {}).get("recipeArn"):
        out["recipeArn"] = snapshot.get("recipeArn") or result["recipeArn"]
    if snapshot.get("eventType"):
        out["eventType"] = snapshot["eventType"]
    if result:
        out["trainingHours"] = result["trainingHours"]
        if snapshot.get("performHPO"):
            out["tunedHPOParams"] = {"algorithmHyperParameters": result["hyperparameters"]}
    return {"solutionVersion": out}


@provider.operation("ListSolutionVersions")
def list_solution_versions(ctx: RequestContext, request: dict) -> dict:
    rows = _listed(ctx, SOLUTION_VERSION, request.get("solutionArn"), SOLUTION)
    return PAGING.page(ctx, request, rows, _version_summary)


@provider.operation("StopSolutionVersionCreation")
def stop_solution_version_creation(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, SOLUTION_VERSION, request["solutionVersionArn"])
    status = _status(row)
    if status not in ("CREATE PENDING", "CREATE IN_PROGRESS"):
        raise ResourceInUse(f"The solution version {row.arn} cannot be stopped: its status is {status}.")
    runtime().jobs.store.request_stop(ctx.principal, row.job().kind, row.job_id)
    return {}


@provider.operation("GetSolutionMetrics")
def get_solution_metrics(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, SOLUTION_VERSION, request["solutionVersionArn"])
    _need_active(row)
    return {"solutionVersionArn": row.arn, "metrics": row.state()[2]["metrics"]}


# ------------------------------------------------------------------------------------------------ campaigns


def _campaign_config(ctx: RequestContext, version: PersonalizeResource, config: dict | None) -> dict:
    config = dict(config or {})
    exploration = config.get("itemExplorationConfig")
    if exploration:
        item = recipe(version.spec["snapshot"].get("recipeArn") or "")
        if item is None or item.name not in ("aws-user-personalization", "aws-user-personalization-v2"):
            raise InvalidInput("itemExplorationConfig is only for user-personalization solution versions.")
        for key, value in exploration.items():
            if key not in ("explorationWeight", "explorationItemAgeCutOff"):
                raise InvalidInput(f"itemExplorationConfig key {key} is not valid; valid keys are explorationWeight "
                                   f"and explorationItemAgeCutOff.")
            try:
                number = float(value)
            except ValueError:
                raise InvalidInput(f"itemExplorationConfig {key} {value} is not a number.") from None
            if key == "explorationWeight" and not 0 <= number <= 1:
                raise InvalidInput(f"explorationWeight must be between 0 and 1; it is {value}.")
            if key == "explorationItemAgeCutOff" and number <= 0:
                raise InvalidInput(f"explorationItemAgeCutOff must be greater than 0; it is {value}.")
    if config.get("rankingInfluence"):
        raise _not_implemented("rankingInfluence", "ranking influence is for Trending-Now in domain recommenders")
    return config


@provider.operation("CreateCampaign")
def create_campaign(ctx: RequestContext, request: dict) -> dict:
    version = get(ctx, SOLUTION_VERSION, request["solutionVersionArn"])
    _need_active(version)
    config = _campaign_config(ctx, version, request.get("campaignConfig"))
    tps = request.get("minProvisionedTPS", 1)
    if not 1 <= tps <= MAX_PROVISIONED_TPS:
        raise InvalidInput(f"minProvisionedTPS must be between 1 and {MAX_PROVISIONED_TPS}.")
    if TABLES[CAMPAIGN].count(ctx) >= MAX_CAMPAIGNS:
        raise LimitExceeded(f"You can have at most {MAX_CAMPAIGNS} campaigns.")
    arn = resource_arn(ctx, CAMPAIGN, request["name"])
    _create(ctx, CAMPAIGN, arn, request["name"], {**request, "minProvisionedTPS": tps, "campaignConfig": config},
            parent=version.parent_arn)
    return {"campaignArn": arn}


def _campaign(row: PersonalizeResource) -> dict:
    config = row.spec.get("campaignConfig") or {}
    out = {"name": row.name, "campaignArn": row.arn, "solutionVersionArn": row.spec["solutionVersionArn"],
           "minProvisionedTPS": row.spec["minProvisionedTPS"], "campaignConfig": config, **_common(row)}
    update = row.details.get("latestCampaignUpdate")
    if update:
        out["latestCampaignUpdate"] = {**update, "status": ACTIVE, "creationDateTime": row.last_modified(),
                                       "lastUpdatedDateTime": row.last_modified()}
    return out


@provider.operation("DescribeCampaign")
def describe_campaign(ctx: RequestContext, request: dict) -> dict:
    return {"campaign": _campaign(get(ctx, CAMPAIGN, request["campaignArn"]))}


@provider.operation("ListCampaigns")
def list_campaigns(ctx: RequestContext, request: dict) -> dict:
    rows = _listed(ctx, CAMPAIGN, request.get("solutionArn"), SOLUTION)
    return PAGING.page(ctx, request, rows, lambda row: {"name": row.name, "campaignArn": row.arn, **_common(row)})


@provider.operation("UpdateCampaign")
def update_campaign(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, CAMPAIGN, request["campaignArn"])
    version = get(ctx, SOLUTION_VERSION, request.get("solutionVersionArn") or row.spec["solutionVersionArn"])
    _need_active(version)
    if version.parent_arn != row.parent_arn:
        raise InvalidInput(f"The solution version {version.arn} is not of the campaign's solution {row.parent_arn}.")
    config = _campaign_config(ctx, version, request.get("campaignConfig", row.spec.get("campaignConfig")))
    spec = {**row.spec, "solutionVersionArn": version.arn, "campaignConfig": config,
            "minProvisionedTPS": request.get("minProvisionedTPS", row.spec["minProvisionedTPS"])}
    update = {"solutionVersionArn": version.arn, "minProvisionedTPS": spec["minProvisionedTPS"],
              "campaignConfig": config}
    TABLES[CAMPAIGN].update(ctx, row.arn, spec=spec, modified_at=utcnow(),
                            details={**row.details, "latestCampaignUpdate": update})
    return {"campaignArn": row.arn}


@provider.operation("DeleteCampaign")
def delete_campaign(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, CAMPAIGN, request["campaignArn"])
    _remove(ctx, row)
    return {}


# ------------------------------------------------------------------------------------------------ filters


@provider.operation("CreateFilter")
def create_filter(ctx: RequestContext, request: dict) -> dict:
    group = get(ctx, DATASET_GROUP, request["datasetGroupArn"])
    expression = parse_filter(request["filterExpression"], datasets.dataset_fields(ctx.principal, group.arn))
    missing = [name for name in expression.datasets if name not in datasets.dataset_types(ctx.principal, group.arn)]
    if missing:
        raise InvalidInput(f"The filter expression uses the {missing[0]} dataset, which the dataset group "
                           f"{group.arn} does not have.")
    if len(children(ctx, group.arn, FILTER)) >= MAX_FILTERS:
        raise LimitExceeded(f"A dataset group can have at most {MAX_FILTERS} filters.")
    arn = resource_arn(ctx, FILTER, request["name"])
    _create(ctx, FILTER, arn, request["name"], request, parent=group.arn)
    return {"filterArn": arn}


def _filter(row: PersonalizeResource) -> dict:
    return {"name": row.name, "filterArn": row.arn, "datasetGroupArn": row.parent_arn,
            "filterExpression": row.spec["filterExpression"], **_common(row)}


@provider.operation("DescribeFilter")
def describe_filter(ctx: RequestContext, request: dict) -> dict:
    return {"filter": _filter(get(ctx, FILTER, request["filterArn"]))}


@provider.operation("ListFilters")
def list_filters(ctx: RequestContext, request: dict) -> dict:
    rows = _listed(ctx, FILTER, request.get("datasetGroupArn"), DATASET_GROUP)
    return PAGING.page(ctx, request, rows, lambda row: {
        "name": row.name, "filterArn": row.arn, "datasetGroupArn": row.parent_arn, **_common(row)})


@provider.operation("DeleteFilter")
def delete_filter(ctx: RequestContext, request: dict) -> dict:
    _remove(ctx, get(ctx, FILTER, request["filterArn"]))
    return {}


# ------------------------------------------------------------------------------------------------ event trackers


def _tracker_of(ctx: RequestContext | Principal, group_arn: str) -> PersonalizeResource | None:
    trackers = children(ctx, group_arn, EVENT_TRACKER)
    return trackers[0] if trackers else None


@provider.operation("CreateEventTracker")
def create_event_tracker(ctx: RequestContext, request: dict) -> dict:
    group = get(ctx, DATASET_GROUP, request["datasetGroupArn"])
    if len(children(ctx, group.arn, EVENT_TRACKER)) >= MAX_EVENT_TRACKERS:
        raise ResourceInUse(f"The dataset group {group.arn} already has an event tracker.")
    if any(row.name == request["name"] for row in TABLES[EVENT_TRACKER].list(ctx)):
        raise already_exists(f"event tracker {request['name']}")
    tracking_id = _tracking_id()
    arn = resource_arn(ctx, EVENT_TRACKER, secrets.token_hex(4))
    _create(ctx, EVENT_TRACKER, arn, request["name"], request, parent=group.arn,
            details={"trackingId": tracking_id})
    return {"eventTrackerArn": arn, "trackingId": tracking_id}


def _tracking_id() -> str:
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}"


def _event_tracker(row: PersonalizeResource) -> dict:
    return {"name": row.name, "eventTrackerArn": row.arn, "accountId": row.account_id,
            "trackingId": row.details["trackingId"], "datasetGroupArn": row.parent_arn, **_common(row)}


@provider.operation("DescribeEventTracker")
def describe_event_tracker(ctx: RequestContext, request: dict) -> dict:
    return {"eventTracker": _event_tracker(get(ctx, EVENT_TRACKER, request["eventTrackerArn"]))}


@provider.operation("ListEventTrackers")
def list_event_trackers(ctx: RequestContext, request: dict) -> dict:
    rows = _listed(ctx, EVENT_TRACKER, request.get("datasetGroupArn"), DATASET_GROUP)
    return PAGING.page(ctx, request, rows, lambda row: {"name": row.name, "eventTrackerArn": row.arn,
                                                        **_common(row)})


@provider.operation("DeleteEventTracker")
def delete_event_tracker(ctx: RequestContext, request: dict) -> dict:
    _remove(ctx, get(ctx, EVENT_TRACKER, request["eventTrackerArn"]))
    return {}


# ------------------------------------------------------------------------------------------------ metric attributions
# "Guidelines and requirements for a metric attribution": at most one per dataset group, at most 10 metrics each, an
# Interactions dataset with an EVENT_TYPE column. Reports go to S3 from the imports that ask for them (training.py
# writes them); CloudWatch, where AWS also sends PutEvents and incremental-import metrics, is not served here.

MAX_METRIC_ATTRIBUTIONS = 1  # per dataset group
MAX_METRICS = 10  # per metric attribution


def _attribution_of(ctx: RequestContext | Principal, group_arn: str) -> PersonalizeResource | None:
    found = children(ctx, group_arn, METRIC_ATTRIBUTION)
    return found[0] if found else None


def _check_metrics_output(config: dict) -> None:
    destination = config.get("s3DataDestination")
    if not destination:
        return
    if not destination["path"].startswith("s3://"):
        raise InvalidInput(f"The s3DataDestination path {destination['path']} is not valid: it must be an s3:// "
                           f"path.")
    if destination.get("kmsKeyArn"):
        raise _not_implemented("metricsOutputConfig.s3DataDestination.kmsKeyArn",
                               "objects are written as the gateway's blob store holds them")


def _check_metrics(ctx: RequestContext, group_arn: str, metrics: list[dict]) -> None:
    """Every metric's expression against the group's schemas, and names unique."""
    found = datasets.datasets(ctx.principal, group_arn)
    interactions = found.get("Interactions")
    if interactions is None:
        raise InvalidInput(f"The dataset group {group_arn} has no Interactions dataset: a metric attribution reports "
                           f"on interactions.")
    schemas = {kind: datasets.schema_of(ctx.principal, row) for kind, row in found.items()
               if kind in attribution.SUMMABLE}
    if schemas["Interactions"].field("EVENT_TYPE") is None:
        raise InvalidInput(f"The Interactions dataset {interactions.arn} has no EVENT_TYPE column, which a metric "
                           f"attribution needs.")
    seen: set[str] = set()
    for metric in metrics:
        if metric["metricName"] in seen:
            raise InvalidInput(f"The metric name {metric['metricName']} is given more than once: metric names must be "
                               f"unique within a metric attribution.")
        seen.add(metric["metricName"])
        attribution.parse_expression(metric, schemas)


def _metric(metric: dict) -> dict:
    return {"eventType": metric["eventType"], "metricName": metric["metricName"], "expression": metric["expression"]}


@provider.operation("CreateMetricAttribution")
def create_metric_attribution(ctx: RequestContext, request: dict) -> dict:
    group = get(ctx, DATASET_GROUP, request["datasetGroupArn"])
    existing = _attribution_of(ctx, group.arn)
    arn = resource_arn(ctx, METRIC_ATTRIBUTION, request["name"])
    if existing is not None and existing.arn != arn:  # the same name: ResourceAlreadyExists below
        raise LimitExceeded(f"The dataset group {group.arn} already has the metric attribution {existing.arn}; a "
                            f"dataset group can have at most {MAX_METRIC_ATTRIBUTIONS}.")
    metrics = [_metric(metric) for metric in request["metrics"]]
    if not metrics:
        raise InvalidInput("A metric attribution needs at least one metric.")
    if len(metrics) > MAX_METRICS:  # the model says so too; requests that skip its validation land here
        raise LimitExceeded(f"A metric attribution can have at most {MAX_METRICS} metrics; {len(metrics)} were given.")
    _check_metrics(ctx, group.arn, metrics)
    _check_metrics_output(request["metricsOutputConfig"])
    _create(ctx, METRIC_ATTRIBUTION, arn, request["name"], {**request, "metrics": metrics}, parent=group.arn)
    return {"metricAttributionArn": arn}


def _metric_attribution_summary(row: PersonalizeResource) -> dict:
    return {"name": row.name, "metricAttributionArn": row.arn, **_common(row)}


@provider.operation("DescribeMetricAttribution")
def describe_metric_attribution(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, METRIC_ATTRIBUTION, request["metricAttributionArn"])
    return {"metricAttribution": {**_metric_attribution_summary(row), "datasetGroupArn": row.parent_arn,
                                  "metricsOutputConfig": row.spec["metricsOutputConfig"]}}


@provider.operation("ListMetricAttributions")
def list_metric_attributions(ctx: RequestContext, request: dict) -> dict:
    rows = _listed(ctx, METRIC_ATTRIBUTION, request.get("datasetGroupArn"), DATASET_GROUP)
    return PAGING.page(ctx, request, rows, _metric_attribution_summary)


@provider.operation("ListMetricAttributionMetrics")
def list_metric_attribution_metrics(ctx: RequestContext, request: dict) -> dict:
    if not request.get("metricAttributionArn"):
        raise InvalidInput("ListMetricAttributionMetrics needs the metricAttributionArn of the metric attribution "
                           "whose metrics to list.")
    row = get(ctx, METRIC_ATTRIBUTION, request["metricAttributionArn"])
    return PAGING.page(ctx, request, row.spec["metrics"])


@provider.operation("UpdateMetricAttribution")
def update_metric_attribution(ctx: RequestContext, request: dict) -> dict:
    """removeMetrics first, then addMetrics (so one call can replace a metric), then metricsOutputConfig."""
    if not request.get("metricAttributionArn"):
        raise InvalidInput("UpdateMetricAttribution needs the metricAttributionArn of the metric attribution to "
                           "update.")
    row = get(ctx, METRIC_ATTRIBUTION, request["metricAttributionArn"])
    metrics = list(row.spec["metrics"])
    names = [metric["metricName"] for metric in metrics]
    for name in request.get("removeMetrics") or []:
        if name not in names:
            raise InvalidInput(f"The metric attribution {row.arn} has no metric named {name} to remove; its metrics "
                               f"are {', '.join(names) or 'none'}.")
        index = names.index(name)
        del names[index], metrics[index]
    for metric in request.get("addMetrics") or []:
        if metric["metricName"] in names:
            raise ResourceAlreadyExists(f"The metric attribution {row.arn} already has a metric named "
                                        f"{metric['metricName']}.")
        names.append(metric["metricName"])
        metrics.append(_metric(metric))
    if not metrics:
        raise InvalidInput(f"The update would leave the metric attribution {row.arn} without metrics; it needs at "
                           f"least one.")
    if len(metrics) > MAX_METRICS:
        raise InvalidInput(f"The update would give the metric attribution {row.arn} {len(metrics)} metrics; it can "
                           f"have at most {MAX_METRICS}.")
    _check_metrics(ctx, row.parent_arn, metrics)
    output = request.get("metricsOutputConfig") or row.spec["metricsOutputConfig"]
    _check_metrics_output(output)
    TABLES[METRIC_ATTRIBUTION].update(ctx, row.arn, spec={**row.spec, "metrics": metrics,
                                                          "metricsOutputConfig": output}, modified_at=utcnow())
    return {"metricAttributionArn": row.arn}


@provider.operation("DeleteMetricAttribution")
def delete_metric_attribution(ctx: RequestContext, request: dict) -> dict:
    _remove(ctx, get(ctx, METRIC_ATTRIBUTION, request["metricAttributionArn"]))
    return {}


def _check_publishable(ctx: RequestContext, dataset: PersonalizeResource) -> None:
    """CreateDatasetImportJob's publishAttributionMetricsToS3: an Interactions import into a group whose metric
    attribution has an S3 path ("Publishing metric attribution reports to Amazon S3")."""
    if dataset.spec["datasetType"] != "Interactions":
        raise InvalidInput(f"publishAttributionMetricsToS3 is for imports into an Interactions dataset; "
                           f"{dataset.arn} is an {dataset.spec['datasetType']} dataset.")
    found = _attribution_of(ctx, dataset.parent_arn)
    if found is None:
        raise InvalidInput(f"publishAttributionMetricsToS3 needs a metric attribution, and the dataset group "
                           f"{dataset.parent_arn} has none: create one with an s3DataDestination first.")
    if not (found.spec["metricsOutputConfig"].get("s3DataDestination") or {}).get("path"):
        raise InvalidInput(f"publishAttributionMetricsToS3 needs an S3 path, and the metric attribution {found.arn} "
                           f"has no metricsOutputConfig.s3DataDestination.")


# ------------------------------------------------------------------------------------------------ batch inference


@provider.operation("CreateBatchInferenceJob")
def create_batch_inference_job(ctx: RequestContext, request: dict) -> dict:
    version = get(ctx, SOLUTION_VERSION, request["solutionVersionArn"])
    _need_active(version)
    item = recipe(version.spec["snapshot"].get("recipeArn") or (version.state()[2] or {}).get("recipeArn") or "")
    if item is not None and item.recipe_type not in (USER_PERSONALIZATION, PERSONALIZED_RANKING, RELATED_ITEMS):
        raise InvalidInput(f"Batch inference jobs are for user-personalization, ranking and related-items solution "
                           f"versions; {version.arn} is {item.recipe_type}: use CreateBatchSegmentJob.")
    for member in ("themeGenerationConfig",):
        if request.get(member):
            raise _not_implemented(member, "themes need a generative model, which this gateway does not run")
    if (request.get("batchInferenceJobMode") or "BATCH_INFERENCE") != "BATCH_INFERENCE":
        raise _not_implemented("batchInferenceJobMode THEME_GENERATION", "themes need a generative model")
    if request.get("filterArn"):
        filter_row = get(ctx, FILTER, request["filterArn"])
        if filter_row.parent_arn != version.details["datasetGroupArn"]:
            raise InvalidInput(f"The filter {filter_row.arn} is not of the solution version's dataset group.")
    results = request.get("numResults", 25)
    if not 1 <= results <= MAX_BATCH_RESULTS:
        raise InvalidInput(f"numResults must be between 1 and {MAX_BATCH_RESULTS}.")
    for member, path in (("jobInput", request["jobInput"]["s3DataSource"]["path"]),
                         ("jobOutput", request["jobOutput"]["s3DataDestination"]["path"])):
        if not path.startswith("s3://"):
            raise InvalidInput(f"The {member} path {path} is not valid: it must be an s3:// path.")
    arn = resource_arn(ctx, BATCH_INFERENCE_JOB, request["jobName"])
    _create(ctx, BATCH_INFERENCE_JOB, arn, request["jobName"], {**request, "numResults": results},
            parent=version.arn, job_kind=training.BATCH_INFERENCE_KIND)
    return {"batchInferenceJobArn": arn}


@provider.operation("DescribeBatchInferenceJob")
def describe_batch_inference_job(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, BATCH_INFERENCE_JOB, request["batchInferenceJobArn"])
    spec = row.spec
    out = {"jobName": row.name, "batchInferenceJobArn": row.arn, "solutionVersionArn": spec["solutionVersionArn"],
           "numResults": spec["numResults"], "jobInput": spec["jobInput"], "jobOutput": spec["jobOutput"],
           "roleArn": spec["roleArn"], "batchInferenceJobMode": "BATCH_INFERENCE",
           "batchInferenceJobConfig": spec.get("batchInferenceJobConfig") or {}, **_common(row)}
    if spec.get("filterArn"):
        out["filterArn"] = spec["filterArn"]
    return {"batchInferenceJob": out}


@provider.operation("ListBatchInferenceJobs")
def list_batch_inference_jobs(ctx: RequestContext, request: dict) -> dict:
    rows = _listed(ctx, BATCH_INFERENCE_JOB, request.get("solutionVersionArn"), SOLUTION_VERSION)
    return PAGING.page(ctx, request, rows, lambda row: {
        "batchInferenceJobArn": row.arn, "jobName": row.name, "solutionVersionArn": row.spec["solutionVersionArn"],
        "batchInferenceJobMode": "BATCH_INFERENCE", **_common(row)})


# ------------------------------------------------------------------------------------------------ recommenders


def _check_recommender_config(config: dict | None) -> dict:
    config = dict(config or {})
    if config.get("trainingDataConfig"):
        raise _not_implemented("recommenderConfig.trainingDataConfig", "every dataset column is used in training")
    rps = config.get("minRecommendationRequestsPerSecond", 1)
    if rps < 1:
        raise InvalidInput("minRecommendationRequestsPerSecond must be at least 1.")
    return {**config, "minRecommendationRequestsPerSecond": rps}


@provider.operation("CreateRecommender")
def create_recommender(ctx: RequestContext, request: dict) -> dict:
    group = get(ctx, DATASET_GROUP, request["datasetGroupArn"])
    item = recipe(request["recipeArn"])
    if item is None:
        raise not_found(request["recipeArn"])
    domain = group.spec.get("domain")
    if not domain:
        raise InvalidInput(f"The dataset group {group.arn} is not a domain dataset group: recommenders are for "
                           f"ECOMMERCE and VIDEO_ON_DEMAND dataset groups.")
    if item.domain != domain:
        raise InvalidInput(f"The use case {item.arn} is not of the dataset group's domain {domain}.")
    config = _check_recommender_config(request.get("recommenderConfig"))
    arn = resource_arn(ctx, RECOMMENDER, request["name"])
    spec = {**request, "recommenderConfig": config,
            "snapshot": {"recipeArn": item.arn, "performHPO": False, "performAutoML": False, "solutionConfig": {}}}
    _create(ctx, RECOMMENDER, arn, request["name"], spec, parent=group.arn, job_kind=training.SOLUTION_VERSION_KIND,
            details={"datasetGroupArn": group.arn})
    return {"recommenderArn": arn}


def _recommender(row: PersonalizeResource) -> dict:
    out = {"recommenderArn": row.arn, "datasetGroupArn": row.parent_arn, "name": row.name,
           "recipeArn": row.spec["recipeArn"], "recommenderConfig": row.spec["recommenderConfig"], **_common(row)}
    update = row.details.get("latestRecommenderUpdate")
    if update:
        out["latestRecommenderUpdate"] = {**update, "status": ACTIVE, "creationDateTime": row.last_modified(),
                                          "lastUpdatedDateTime": row.last_modified()}
    result = row.state()[2]
    if result:
        out["modelMetrics"] = result["metrics"]
    return out


@provider.operation("DescribeRecommender")
def describe_recommender(ctx: RequestContext, request: dict) -> dict:
    return {"recommender": _recommender(get(ctx, RECOMMENDER, request["recommenderArn"]))}


@provider.operation("ListRecommenders")
def list_recommenders(ctx: RequestContext, request: dict) -> dict:
    rows = _listed(ctx, RECOMMENDER, request.get("datasetGroupArn"), DATASET_GROUP)
    return PAGING.page(ctx, request, rows, lambda row: {
        "name": row.name, "recommenderArn": row.arn, "datasetGroupArn": row.parent_arn,
        "recipeArn": row.spec["recipeArn"], "recommenderConfig": row.spec["recommenderConfig"], **_common(row)})


@provider.operation("UpdateRecommender")
def update_recommender(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, RECOMMENDER, request["recommenderArn"])
    _need_trained(row)
    config = _check_recommender_config({**row.spec["recommenderConfig"], **request["recommenderConfig"]})
    TABLES[RECOMMENDER].update(ctx, row.arn, spec={**row.spec, "recommenderConfig": config}, modified_at=utcnow(),
                               details={**row.details, "latestRecommenderUpdate": {"recommenderConfig": config}})
    return {"recommenderArn": row.arn}


def _need_trained(row: PersonalizeResource) -> None:
    job = row.job()
    if job is None or job.result is None:
        raise ResourceInUse(f"The recommender {row.arn} is still being created; its status is {_status(row)}.")


@provider.operation("StopRecommender")
def stop_recommender(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, RECOMMENDER, request["recommenderArn"])
    _need_trained(row)
    if _status(row) != ACTIVE:
        raise ResourceInUse(f"The recommender {row.arn} is not ACTIVE; its status is {_status(row)}.")
    TABLES[RECOMMENDER].update(ctx, row.arn, status="INACTIVE", modified_at=utcnow())
    return {"recommenderArn": row.arn}


@provider.operation("StartRecommender")
def start_recommender(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, RECOMMENDER, request["recommenderArn"])
    _need_trained(row)
    if _status(row) != "INACTIVE":
        raise ResourceInUse(f"The recommender {row.arn} is not INACTIVE; its status is {_status(row)}.")
    TABLES[RECOMMENDER].update(ctx, row.arn, status=ACTIVE, modified_at=utcnow())
    return {"recommenderArn": row.arn}


@provider.operation("DeleteRecommender")
def delete_recommender(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, RECOMMENDER, request["recommenderArn"])
    _check_deletable(ctx, row)
    _remove(ctx, row)
    return {}


# ------------------------------------------------------------------------------------------------ batch segments


@provider.operation("CreateBatchSegmentJob")
def create_batch_segment_job(ctx: RequestContext, request: dict) -> dict:
    version = get(ctx, SOLUTION_VERSION, request["solutionVersionArn"])
    _need_active(version)
    item = recipe(version.spec["snapshot"].get("recipeArn") or "")
    if item is None or item.recipe_type != USER_SEGMENTATION:
        raise InvalidInput(f"Batch segment jobs need a USER_SEGMENTATION solution version (aws-item-affinity or "
                           f"aws-item-attribute-affinity); {version.arn} is not one.")
    if request.get("filterArn"):
        filter_row = get(ctx, FILTER, request["filterArn"])
        if filter_row.parent_arn != version.details["datasetGroupArn"]:
            raise InvalidInput(f"The filter {filter_row.arn} is not of the solution version's dataset group.")
        if parse_filter(filter_row.spec["filterExpression"]).target != "UserID":
            raise InvalidInput(f"The filter {filter_row.arn} filters items: a batch segment job needs a UserID "
                               f"filter.")
    results = request.get("numResults", 25)
    if not 1 <= results <= MAX_SEGMENT_USERS:
        raise InvalidInput(f"numResults must be between 1 and {MAX_SEGMENT_USERS}.")
    _check_paths(request)
    arn = resource_arn(ctx, BATCH_SEGMENT_JOB, request["jobName"])
    _create(ctx, BATCH_SEGMENT_JOB, arn, request["jobName"], {**request, "numResults": results}, parent=version.arn,
            job_kind=training.BATCH_SEGMENT_KIND)
    return {"batchSegmentJobArn": arn}


def _check_paths(request: dict) -> None:
    for member, path in (("jobInput", request["jobInput"]["s3DataSource"]["path"]),
                         ("jobOutput", request["jobOutput"]["s3DataDestination"]["path"])):
        if not path.startswith("s3://"):
            raise InvalidInput(f"The {member} path {path} is not valid: it must be an s3:// path.")
    for member in ("jobInput", "jobOutput"):
        location = request[member].get("s3DataSource") or request[member].get("s3DataDestination")
        if location.get("kmsKeyArn"):
            raise _not_implemented(f"{member} kmsKeyArn", "objects are written as the gateway's blob store holds "
                                                          "them")


@provider.operation("DescribeBatchSegmentJob")
def describe_batch_segment_job(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, BATCH_SEGMENT_JOB, request["batchSegmentJobArn"])
    spec = row.spec
    out = {"jobName": row.name, "batchSegmentJobArn": row.arn, "solutionVersionArn": spec["solutionVersionArn"],
           "numResults": spec["numResults"], "jobInput": spec["jobInput"], "jobOutput": spec["jobOutput"],
           "roleArn": spec["roleArn"], **_common(row)}
    if spec.get("filterArn"):
        out["filterArn"] = spec["filterArn"]
    return {"batchSegmentJob": out}


@provider.operation("ListBatchSegmentJobs")
def list_batch_segment_jobs(ctx: RequestContext, request: dict) -> dict:
    rows = _listed(ctx, BATCH_SEGMENT_JOB, request.get("solutionVersionArn"), SOLUTION_VERSION)
    return PAGING.page(ctx, request, rows, lambda row: {
        "batchSegmentJobArn": row.arn, "jobName": row.name, "solutionVersionArn": row.spec["solutionVersionArn"],
        **_common(row)})


# ------------------------------------------------------------------------------------------------ exports


@provider.operation("CreateDatasetExportJob")
def create_dataset_export_job(ctx: RequestContext, request: dict) -> dict:
    dataset = get(ctx, DATASET, request["datasetArn"])
    mode = request.get("ingestionMode") or "PUT"
    if mode not in ("BULK", "PUT", "ALL"):
        raise InvalidInput(f"Ingestion mode {mode} is not valid; valid modes are BULK, PUT and ALL.")
    destination = request["jobOutput"]["s3DataDestination"]
    if not destination["path"].startswith("s3://"):
        raise InvalidInput(f"The jobOutput path {destination['path']} is not valid: it must be an s3:// path.")
    if destination.get("kmsKeyArn"):
        raise _not_implemented("kmsKeyArn", "objects are written as the gateway's blob store holds them")
    arn = resource_arn(ctx, EXPORT_JOB, request["jobName"])
    _create(ctx, EXPORT_JOB, arn, request["jobName"], {**request, "ingestionMode": mode}, parent=dataset.arn,
            job_kind=training.EXPORT_KIND)
    return {"datasetExportJobArn": arn}


@provider.operation("DescribeDatasetExportJob")
def describe_dataset_export_job(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, EXPORT_JOB, request["datasetExportJobArn"])
    return {"datasetExportJob": {
        "jobName": row.name, "datasetExportJobArn": row.arn, "datasetArn": row.parent_arn,
        "ingestionMode": row.spec["ingestionMode"], "roleArn": row.spec["roleArn"],
        "jobOutput": row.spec["jobOutput"], **_common(row)}}


@provider.operation("ListDatasetExportJobs")
def list_dataset_export_jobs(ctx: RequestContext, request: dict) -> dict:
    rows = _listed(ctx, EXPORT_JOB, request.get("datasetArn"), DATASET)
    return PAGING.page(ctx, request, rows, lambda row: {"datasetExportJobArn": row.arn, "jobName": row.name,
                                                        **_common(row)})


# ------------------------------------------------------------------------------------------------ data deletion


@provider.operation("CreateDataDeletionJob")
def create_data_deletion_job(ctx: RequestContext, request: dict) -> dict:
    group = get(ctx, DATASET_GROUP, request["datasetGroupArn"])
    location = request["dataSource"].get("dataLocation") or ""
    if not location.startswith("s3://"):
        raise InvalidInput(f"The data location {location or '(none)'} is not valid: it must be an s3:// path.")
    arn = resource_arn(ctx, DATA_DELETION_JOB, request["jobName"])
    _create(ctx, DATA_DELETION_JOB, arn, request["jobName"], request, parent=group.arn,
            job_kind=training.DATA_DELETION_KIND)
    return {"dataDeletionJobArn": arn}


def _deletion(row: PersonalizeResource) -> dict:
    status, reason, result = row.state()
    out = {"jobName": row.name, "dataDeletionJobArn": row.arn, "datasetGroupArn": row.parent_arn,
           "status": status, **_times(row)}
    if reason and status == "FAILED":
        out["failureReason"] = reason
    return out


@provider.operation("DescribeDataDeletionJob")
def describe_data_deletion_job(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, DATA_DELETION_JOB, request["dataDeletionJobArn"])
    out = {**_deletion(row), "dataSource": row.spec["dataSource"], "roleArn": row.spec["roleArn"]}
    result = row.state()[2]
    if result:
        out["numDeleted"] = result["numDeleted"]
    return {"dataDeletionJob": out}


@provider.operation("ListDataDeletionJobs")
def list_data_deletion_jobs(ctx: RequestContext, request: dict) -> dict:
    rows = _listed(ctx, DATA_DELETION_JOB, request.get("datasetGroupArn"), DATASET_GROUP)
    return PAGING.page(ctx, request, rows, _deletion)
