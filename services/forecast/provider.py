"""Amazon Forecast's control plane, keyed by AWS operation name.

Dataset groups and datasets are rows (store.py); imports, predictors, forecasts and exports are rows whose creation
is a durable job (training.py runs them). Operations this gateway cannot do for real yet answer
NotImplementedException (the default for operations without a handler), or, for a setting of an implemented
operation, NotImplementedException naming the setting — never accepted and ignored.
"""

from __future__ import annotations

import datetime as dt

from services.forecast import explain, monitoring, periods, training, tuning, whatif
from services.forecast.errors import (
    InvalidInput, LimitExceeded, NotImplemented_, ResourceAlreadyExists, ResourceInUse,
)
from services.forecast.schema import DOMAINS, METADATA, TARGET, check_frequency, check_schema, finer_than
from services.forecast.store import (
    ANY, BACKTEST_EXPORT, BUSY, DATASET, DATASET_GROUP, DATASET_GROUPS, DATASETS, FORECAST, FORECAST_EXPORT,
    EXPLAINABILITY, EXPLAINABILITY_EXPORT, IMPORT_JOB, MONITOR, PREDICTOR, TABLES, WHATIF_ANALYSIS, WHATIF_EXPORT, WHATIF_FORECAST, WORDS, ForecastResource,
    checked_arn, children, get, not_found, resource_arn,
)
from services.forecast.data import check_timestamp_format
from services.forecast.selection import check_data_path, check_selector
from services.gateway.context import Principal, RequestContext
from services.gateway.errors import ServiceError
from services.gateway.kit.arns import parse_arn
from services.gateway.kit.paging import Paging
from services.gateway.kit.resources import session
from services.gateway.kit.tags import Tagging, drop_tags
from services.gateway.kit.times import utcnow
from services.gateway.registry import ServiceProvider
from services.gateway.runtime import runtime
from services.forecast.errors import InvalidNextToken

provider = ServiceProvider("forecast")

PAGING = Paging("forecast", invalid_token=lambda token: InvalidNextToken("The NextToken is not valid."),
                default_limit=100)

MAX_DATASET_GROUPS = 500  # AWS's default quotas
MAX_DATASETS = 500
DEFAULT_FORECAST_TYPES = ["0.1", "0.5", "0.9"]
MAX_HORIZON = 500


def _exists(principal: Principal, arn: str) -> bool:
    parsed = parse_arn(arn)
    if parsed is None or parsed.service != "forecast":
        raise InvalidInput(f"The ARN {arn} is not a valid Amazon Forecast ARN.")
    return parsed.resource_type in TABLES and TABLES[parsed.resource_type].exists(principal, arn)


TAGGING = Tagging("forecast", exists=_exists, not_found=not_found,
                  too_many=lambda limit: LimitExceeded(f"A resource can have at most {limit} tags."), max_tags=200)
TAGGING.register(provider)  # TagResource, UntagResource, ListTagsForResource


# ------------------------------------------------------------------------------------------------ shared


def _create(ctx: RequestContext, kind: str, arn: str, name: str, spec: dict, parent: str | None = None,
            details: dict | None = None, job_kind: str | None = None) -> ForecastResource:
    """The row (ResourceAlreadyExists when the ARN is taken), its tags, and its creation job if it has one."""
    tags = TAGGING.check_new(spec.get("Tags"))
    stored = {key: value for key, value in spec.items() if key != "Tags"}
    now = utcnow()
    table = TABLES[kind]
    # A row whose job is still to be queued reads as failed, with why: should the process die before the job is
    # queued, the resource is not left ACTIVE or pending forever. Once the job exists, its status is the row's.
    pending = {"status": "CREATE_FAILED", "message": "The gateway stopped before this resource's work was queued; "
                                                     "delete it and create it again."} if job_kind else {}
    with session() as db:
        row = table.create(ctx, db, arn=arn, kind=kind, name=name, parent_arn=parent, spec=stored,
                           details=details or {}, created_at=now, modified_at=now, **pending)
    if job_kind is not None:
        job = runtime().jobs.submit(ctx.principal, job_kind, stored, name=arn, details={"arn": arn})
        row = table.update(ctx, arn, job_id=job.job_id)
    TAGGING.tag(ctx, arn, tags)
    return row


def _status(row: ForecastResource) -> str:
    return row.state()[0]


def _common(row: ForecastResource) -> dict:
    status, message, _ = row.state()
    out = {"Status": status, "CreationTime": row.created, "LastModificationTime": row.last_modified()}
    if message:
        out["Message"] = message
    return out


def _filtered(ctx: RequestContext, kind: str, request: dict, keys: dict) -> list[ForecastResource]:
    """The caller's resources of a kind, newest first, through List*'s Filters ({filter key: how to read it})."""
    rows = TABLES[kind].list(ctx, order_by=(ForecastResource.created_at.desc(), ForecastResource.arn))
    for condition in request.get("Filters") or []:
        key, value, how = condition["Key"], condition["Value"], condition["Condition"]
        if key not in keys:
            raise InvalidInput(f"Filter key {key} is not valid; valid keys are {', '.join(keys)}.")
        read = keys[key]
        rows = [row for row in rows if (read(row) == value) == (how == "IS")]
    return rows


def _delete(ctx: RequestContext, kind: str, arn: str) -> dict:
    row = get(ctx, kind, arn)
    status = _status(row)
    if status in BUSY:
        raise ResourceInUse(f"The {WORDS[kind]} {arn} cannot be deleted while its status is {status}.")
    users = children(ctx, arn)
    if kind == DATASET:
        users = [child for child in users if child.kind != IMPORT_JOB]
    if users:
        raise ResourceInUse(f"The {WORDS[kind]} {arn} is used by {WORDS[users[0].kind]} {users[0].arn}; delete that "
                            f"first, or use DeleteResourceTree.")
    _remove(ctx, row)
    return {}


def _remove(ctx: RequestContext | Principal, row: ForecastResource) -> None:
    """A resource's row, job, data files and tags, and its dataset import jobs when it is a dataset."""
    for child in children(ctx, row.arn):
        if child.kind == IMPORT_JOB:
            _remove(ctx, child)
    if row.job_id is not None:
        principal = ctx.principal if isinstance(ctx, RequestContext) else ctx
        runtime().jobs.store.delete(principal, None, row.job_id)
    training.remove_data(row)
    ANY.delete(ctx, row.arn)
    drop_tags(row.arn)


def _need_active(row: ForecastResource, purpose: str) -> None:
    status = _status(row)
    if status != "ACTIVE":
        raise ResourceInUse(f"The {WORDS[row.kind]} {row.arn} must be ACTIVE {purpose}; its status is {status}.")


def _windows(windows: list[dict]) -> list[dict]:
    """Backtest windows as stored (epoch seconds) with their times as times again."""
    return [{key: dt.datetime.fromtimestamp(value, dt.timezone.utc) if key in ("TestWindowStart", "TestWindowEnd")
             else value for key, value in window.items()} for window in windows]


def _not_implemented(setting: str, why: str) -> ServiceError:
    return NotImplemented_(f"{setting} is not implemented by this gateway: {why}.")


# ------------------------------------------------------------------------------------------------ dataset groups


@provider.operation("CreateDatasetGroup")
def create_dataset_group(ctx: RequestContext, request: dict) -> dict:
    name, domain = request["DatasetGroupName"], request["Domain"]
    dataset_arns = _group_datasets(ctx, domain, request.get("DatasetArns") or [])
    if DATASET_GROUPS.count(ctx) >= MAX_DATASET_GROUPS:
        raise LimitExceeded(f"You can have at most {MAX_DATASET_GROUPS} dataset groups.")
    arn = resource_arn(ctx, DATASET_GROUP, name)
    _create(ctx, DATASET_GROUP, arn, name, request, details={"DatasetArns": dataset_arns})
    return {"DatasetGroupArn": arn}


def _group_datasets(ctx: RequestContext, domain: str, arns: list[str]) -> list[str]:
    """A dataset group's datasets: they exist, share its domain, and there is one of each type at most."""
    by_type: dict[str, str] = {}
    for arn in arns:
        dataset = get(ctx, DATASET, arn)
        if dataset.spec["Domain"] != domain:
            raise InvalidInput(f"The dataset {arn} is of domain {dataset.spec['Domain']}, not the dataset group's "
                               f"{domain}.")
        kind = dataset.spec["DatasetType"]
        if kind in by_type:
            raise InvalidInput(f"A dataset group can have one {kind} dataset; {by_type[kind]} and {arn} are both "
                               f"{kind}.")
        by_type[kind] = arn
    return list(arns)


def _dataset_group_properties(row: ForecastResource) -> dict:
    common = _common(row)
    common.pop("Message", None)
    return {"DatasetGroupName": row.name, "DatasetGroupArn": row.arn, "DatasetArns": row.details["DatasetArns"],
            "Domain": row.spec["Domain"], **common}


@provider.operation("DescribeDatasetGroup")
def describe_dataset_group(ctx: RequestContext, request: dict) -> dict:
    return _dataset_group_properties(get(ctx, DATASET_GROUP, request["DatasetGroupArn"]))


@provider.operation("ListDatasetGroups")
def list_dataset_groups(ctx: RequestContext, request: dict) -> dict:
    return PAGING.page(ctx, request, _filtered(ctx, DATASET_GROUP, request, {}), lambda row: {
        "DatasetGroupArn": row.arn, "DatasetGroupName": row.name, "CreationTime": row.created,
        "LastModificationTime": row.last_modified()})


@provider.operation("UpdateDatasetGroup")
def update_dataset_group(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, DATASET_GROUP, request["DatasetGroupArn"])
    arns = _group_datasets(ctx, row.spec["Domain"], request["DatasetArns"])
    DATASET_GROUPS.update(ctx, row.arn, details={**row.details, "DatasetArns": arns}, modified_at=utcnow())
    return {}


@provider.operation("DeleteDatasetGroup")
def delete_dataset_group(ctx: RequestContext, request: dict) -> dict:
    return _delete(ctx, DATASET_GROUP, request["DatasetGroupArn"])


# ------------------------------------------------------------------------------------------------ datasets


@provider.operation("CreateDataset")
def create_dataset(ctx: RequestContext, request: dict) -> dict:
    if request.get("EncryptionConfig"):
        raise _not_implemented("EncryptionConfig", "data is stored in the gateway's own data folder, not under a "
                                                   "KMS key")
    check_schema(request["Domain"], request["DatasetType"], request["Schema"], request.get("DataFrequency"))
    if DATASETS.count(ctx) >= MAX_DATASETS:
        raise LimitExceeded(f"You can have at most {MAX_DATASETS} datasets.")
    arn = resource_arn(ctx, DATASET, request["DatasetName"])
    _create(ctx, DATASET, arn, request["DatasetName"], request)
    return {"DatasetArn": arn}


@provider.operation("DescribeDataset")
def describe_dataset(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, DATASET, request["DatasetArn"])
    common = _common(row)
    common.pop("Message", None)
    out = {"DatasetArn": row.arn, "DatasetName": row.name, "Domain": row.spec["Domain"],
           "DatasetType": row.spec["DatasetType"], "Schema": row.spec["Schema"], **common}
    if row.spec.get("DataFrequency"):
        out["DataFrequency"] = row.spec["DataFrequency"]
    return out


@provider.operation("ListDatasets")
def list_datasets(ctx: RequestContext, request: dict) -> dict:
    return PAGING.page(ctx, request, _filtered(ctx, DATASET, request, {}), lambda row: {
        "DatasetArn": row.arn, "DatasetName": row.name, "DatasetType": row.spec["DatasetType"],
        "Domain": row.spec["Domain"], "CreationTime": row.created, "LastModificationTime": row.last_modified()})


@provider.operation("DeleteDataset")
def delete_dataset(ctx: RequestContext, request: dict) -> dict:
    arn = request["DatasetArn"]
    for job in children(ctx, get(ctx, DATASET, arn).arn):
        if _status(job) in BUSY:
            raise ResourceInUse(f"The dataset {arn} has the dataset import job {job.arn} in progress.")
    return _delete(ctx, DATASET, arn)


# ------------------------------------------------------------------------------------------------ imports


@provider.operation("CreateDatasetImportJob")
def create_dataset_import_job(ctx: RequestContext, request: dict) -> dict:
    dataset = get(ctx, DATASET, request["DatasetArn"])
    path = request["DataSource"]["S3Config"]["Path"]
    if not path.startswith("s3://"):
        raise InvalidInput(f"The S3 path {path} is not valid: it must start with s3://.")
    if request.get("UseGeolocationForTimeZone") or request.get("GeolocationFormat"):
        _check_geolocation(dataset, request)
    if request.get("DataSource", {}).get("S3Config", {}).get("KMSKeyArn"):
        raise _not_implemented("KMSKeyArn", "objects are read as the gateway's blob store holds them")
    if dataset.spec["DatasetType"] != METADATA:
        check_timestamp_format(request.get("TimestampFormat"), dataset.spec.get("DataFrequency"))
    if request.get("Format") not in (None, "CSV", "PARQUET"):
        raise InvalidInput(f"Format {request['Format']} is not valid; valid formats are CSV and PARQUET.")
    if request.get("TimeZone"):
        training.check_time_zone(request["TimeZone"])
    if any(_status(job) in BUSY for job in children(ctx, dataset.arn)):
        raise ResourceInUse(f"The dataset {dataset.arn} already has a dataset import job in progress.")
    arn = resource_arn(ctx, IMPORT_JOB, dataset.name, request["DatasetImportJobName"])
    _create(ctx, IMPORT_JOB, arn, request["DatasetImportJobName"], request, parent=dataset.arn,
            job_kind=training.IMPORT_KIND)
    return {"DatasetImportJobArn": arn}


def _check_geolocation(dataset: ForecastResource, request: dict) -> None:
    geolocation_format = request.get("GeolocationFormat") or "LAT_LONG"
    if request.get("TimeZone") and request.get("UseGeolocationForTimeZone"):
        raise InvalidInput("TimeZone and UseGeolocationForTimeZone cannot both be given.")
    if not any(attribute["AttributeType"] == "geolocation" for attribute in dataset.spec["Schema"]["Attributes"]):
        raise InvalidInput(f"The dataset {dataset.arn} has no geolocation attribute for GeolocationFormat or "
                           f"UseGeolocationForTimeZone.")
    if geolocation_format not in ("LAT_LONG", "CC_POSTALCODE"):
        raise InvalidInput(f"GeolocationFormat {geolocation_format} is not valid; valid formats are LAT_LONG and "
                           f"CC_POSTALCODE.")
    if geolocation_format == "CC_POSTALCODE" and request.get("UseGeolocationForTimeZone"):
        raise _not_implemented("UseGeolocationForTimeZone with CC_POSTALCODE", "ZIP-code time zones need ZIP code "
                               "data that is not installed here; give locations as LAT_LONG, or a TimeZone")


@provider.operation("DescribeDatasetImportJob")
def describe_dataset_import_job(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, IMPORT_JOB, request["DatasetImportJobArn"])
    _, _, result = row.state()
    spec = row.spec
    out = {"DatasetImportJobName": row.name, "DatasetImportJobArn": row.arn, "DatasetArn": row.parent_arn,
           "DataSource": row.spec["DataSource"], "Format": spec.get("Format", "CSV"),
           "ImportMode": spec.get("ImportMode", "FULL"), **_common(row)}
    dataset = ANY.find(ctx, row.parent_arn)
    if dataset is None or dataset.spec["DatasetType"] != METADATA:
        out["TimestampFormat"] = spec.get("TimestampFormat") or "yyyy-MM-dd HH:mm:ss"
    for member in ("TimeZone", "UseGeolocationForTimeZone", "GeolocationFormat"):
        if member in spec:
            out[member] = spec[member]
    if result:
        out["FieldStatistics"] = result["FieldStatistics"]
        out["DataSize"] = result["DataSize"]
    return out


@provider.operation("ListDatasetImportJobs")
def list_dataset_import_jobs(ctx: RequestContext, request: dict) -> dict:
    rows = _filtered(ctx, IMPORT_JOB, request, {"DatasetArn": lambda row: row.parent_arn, "Status": _status})
    return PAGING.page(ctx, request, rows, lambda row: {
        "DatasetImportJobArn": row.arn, "DatasetImportJobName": row.name, "DataSource": row.spec["DataSource"],
        "ImportMode": row.spec.get("ImportMode", "FULL"), **_common(row)})


@provider.operation("DeleteDatasetImportJob")
def delete_dataset_import_job(ctx: RequestContext, request: dict) -> dict:
    return _delete(ctx, IMPORT_JOB, request["DatasetImportJobArn"])


# ------------------------------------------------------------------------------------------------ predictors


def _check_forecast_types(types: list[str] | None) -> list[str]:
    types = types or DEFAULT_FORECAST_TYPES
    for value in types:
        if value != "mean" and not 0.01 <= float(value) <= 0.99:
            raise InvalidInput(f"Forecast type {value} is not valid: quantiles go from 0.01 to 0.99, or 'mean'.")
    if len(set(types)) != len(types):
        raise InvalidInput("ForecastTypes has a type more than once.")
    return types


def _training_group(ctx: RequestContext, arn: str, frequency: str) -> ForecastResource:
    """The dataset group a predictor trains on: it has a target time series with data at a frequency no finer."""
    group = get(ctx, DATASET_GROUP, arn)
    datasets = [get(ctx, DATASET, dataset_arn) for dataset_arn in group.details["DatasetArns"]
                if ANY.exists(ctx, dataset_arn)]
    target = next((dataset for dataset in datasets if dataset.spec["DatasetType"] == TARGET), None)
    if target is None:
        raise InvalidInput(f"The dataset group {arn} has no TARGET_TIME_SERIES dataset.")
    if not any(_status(job) == "ACTIVE" for job in children(ctx, target.arn)):
        raise InvalidInput(f"The TARGET_TIME_SERIES dataset {target.arn} has no ACTIVE dataset import job: import "
                           f"data before training a predictor.")
    data_frequency = target.spec.get("DataFrequency")
    if data_frequency and finer_than(frequency, data_frequency):
        raise InvalidInput(f"The forecast frequency {frequency} is finer than the data frequency {data_frequency} of "
                           f"{target.arn}.")
    for dataset in datasets:
        if any(_status(job) in BUSY for job in children(ctx, dataset.arn)):
            raise ResourceInUse(f"The dataset {dataset.arn} has a dataset import job in progress.")
    return group


def _check_dimensions(ctx: RequestContext, group: ForecastResource, dimensions: list[str]) -> None:
    target = training.group_datasets(ctx.principal, group)[TARGET]
    domain = DOMAINS[target.spec["Domain"]]
    names = {attribute["AttributeName"] for attribute in target.spec["Schema"]["Attributes"]}
    for dimension in dimensions:
        if dimension not in names or dimension in (domain.item_field, "timestamp", domain.target_field):
            raise InvalidInput(f"Forecast dimension {dimension} is not a string attribute of the target time series "
                               f"dataset besides {domain.item_field}.")


@provider.operation("CreatePredictor")
def create_predictor(ctx: RequestContext, request: dict) -> dict:
    horizon = request["ForecastHorizon"]
    if horizon > MAX_HORIZON:
        raise InvalidInput(f"ForecastHorizon {horizon} is more than the maximum of {MAX_HORIZON}.")
    if request.get("EncryptionConfig"):
        raise _not_implemented("EncryptionConfig", "models are stored in the gateway's own data folder")
    algorithm = request.get("AlgorithmArn")
    if request.get("PerformAutoML"):
        if algorithm:
            raise InvalidInput("AlgorithmArn must not be given with PerformAutoML.")
    elif not algorithm:
        raise InvalidInput("Either AlgorithmArn or PerformAutoML must be given.")
    else:
        training.algorithm_name(algorithm)
    tuning.check_hpo(training.algorithm_name(algorithm) if algorithm else None, request)
    _check_forecast_types(request.get("ForecastTypes"))
    frequency = check_frequency(request["FeaturizationConfig"]["ForecastFrequency"])
    features = request["InputDataConfig"].get("SupplementaryFeatures") or []
    training.check_additional_features([feature["Name"] for feature in features], training.holiday_countries(request),
                                       frequency, None if request.get("PerformAutoML") else
                                       training.algorithm_name(algorithm))
    training.check_evaluation(request.get("EvaluationParameters") or {}, horizon)
    group = _training_group(ctx, request["InputDataConfig"]["DatasetGroupArn"], frequency)
    _check_dimensions(ctx, group, request["FeaturizationConfig"].get("ForecastDimensions") or [])
    training.check_featurizations(request["FeaturizationConfig"].get("Featurizations") or [])
    arn = resource_arn(ctx, PREDICTOR, request["PredictorName"])
    _create(ctx, PREDICTOR, arn, request["PredictorName"], request, parent=group.arn,
            details={"auto": False, "imports": training.active_imports(ctx.principal, group)},
            job_kind=training.PREDICTOR_KIND)
    return {"PredictorArn": arn}


@provider.operation("CreateAutoPredictor")
def create_auto_predictor(ctx: RequestContext, request: dict) -> dict:
    if request.get("EncryptionConfig"):
        raise _not_implemented("EncryptionConfig", "models are stored in the gateway's own data folder")
    reference = request.get("ReferencePredictorArn")
    if reference:  # retrain: the reference's settings on the data as it is now
        base = get(ctx, PREDICTOR, reference)
        if not base.details.get("auto"):
            raise InvalidInput(f"The reference predictor {reference} is not an AutoPredictor.")
        if any(request.get(member) for member in ("ForecastHorizon", "ForecastFrequency", "ForecastTypes",
                                                  "ForecastDimensions", "DataConfig", "TimeAlignmentBoundary")):
            raise InvalidInput("Only PredictorName, Tags and ReferencePredictorArn may be given when retraining a "
                               "predictor.")
        request = {**{key: value for key, value in base.spec.items() if key not in ("PredictorName", "Tags")},
                   **request}
    for member in ("ForecastHorizon", "ForecastFrequency", "DataConfig"):
        if not request.get(member):
            raise InvalidInput(f"{member} is required to create a predictor.")
    horizon = request["ForecastHorizon"]
    if horizon > MAX_HORIZON:
        raise InvalidInput(f"ForecastHorizon {horizon} is more than the maximum of {MAX_HORIZON}.")
    _check_forecast_types(request.get("ForecastTypes"))
    frequency = check_frequency(request["ForecastFrequency"])
    if request.get("TimeAlignmentBoundary"):
        periods.check_time_alignment(request["TimeAlignmentBoundary"], frequency)
    training.check_additional_features(
        [dataset["Name"] for dataset in request["DataConfig"].get("AdditionalDatasets") or []],
        training.holiday_countries(request), frequency, None)
    group = _training_group(ctx, request["DataConfig"]["DatasetGroupArn"], frequency)
    _check_dimensions(ctx, group, request.get("ForecastDimensions") or [])
    training.check_attribute_configs(request["DataConfig"].get("AttributeConfigs") or [])
    arn = resource_arn(ctx, PREDICTOR, request["PredictorName"])
    if request.get("ExplainPredictor") and not explain.attributes(ctx.principal, group, request):
        raise InvalidInput("To enable explainability, the predictor must include at least one of: a related time "
                           "series, item metadata, or an additional dataset such as holidays.")
    predictor = _create(ctx, PREDICTOR, arn, request["PredictorName"], request, parent=group.arn,
                        details={"auto": True, "imports": training.active_imports(ctx.principal, group)},
                        job_kind=training.PREDICTOR_KIND)
    if request.get("MonitorConfig"):
        _create(ctx, MONITOR, resource_arn(ctx, MONITOR, request["MonitorConfig"]["MonitorName"]),
                request["MonitorConfig"]["MonitorName"],
                {"MonitorName": request["MonitorConfig"]["MonitorName"], "ResourceArn": predictor.arn},
                parent=predictor.arn)
    if request.get("ExplainPredictor"):  # its job waits for the predictor's
        name = f"{request['PredictorName']}_explainability"
        _create(ctx, EXPLAINABILITY, resource_arn(ctx, EXPLAINABILITY, name), name,
                {"ExplainabilityName": name, "ResourceArn": predictor.arn,
                 "ExplainabilityConfig": {"TimeSeriesGranularity": "ALL", "TimePointGranularity": "ALL"}},
                parent=predictor.arn, job_kind=explain.EXPLAINABILITY_KIND)
    return {"PredictorArn": arn}


@provider.operation("DescribePredictor")
def describe_predictor(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, PREDICTOR, request["PredictorArn"])
    if row.details.get("auto"):
        raise InvalidInput(f"The predictor {row.arn} was created with CreateAutoPredictor: use "
                           f"DescribeAutoPredictor.")
    spec = row.spec
    _, _, result = row.state()
    out = {"PredictorArn": row.arn, "PredictorName": row.name, "ForecastHorizon": spec["ForecastHorizon"],
           "ForecastTypes": spec.get("ForecastTypes") or DEFAULT_FORECAST_TYPES,
           "PerformAutoML": bool(spec.get("PerformAutoML")), "PerformHPO": bool(spec.get("PerformHPO")),
           "EvaluationParameters": training.evaluation(spec.get("EvaluationParameters") or {},
                                                       spec["ForecastHorizon"]),
           "InputDataConfig": spec["InputDataConfig"], "FeaturizationConfig": spec["FeaturizationConfig"],
           "IsAutoPredictor": False, "DatasetImportJobArns": row.details["imports"], **_common(row)}
    for member in ("AlgorithmArn", "TrainingParameters", "HPOConfig", "OptimizationMetric",
                   "AutoMLOverrideStrategy"):
        if spec.get(member) is not None:
            out[member] = spec[member]
    if result and result.get("parameters"):  # what PerformHPO chose
        out["TrainingParameters"] = result["parameters"]
    if spec.get("PerformAutoML"):
        out["AutoMLAlgorithmArns"] = [training.algorithm_arn(name) for name in training.AUTOML_ALGORITHMS]
        if result:
            out["AlgorithmArn"] = training.algorithm_arn(result["algorithm"])
    if result:
        out["PredictorExecutionDetails"] = {"PredictorExecutions": [
            {**execution, "TestWindows": _windows(execution["TestWindows"])} for execution in result["executions"]]}
    return out


@provider.operation("DescribeAutoPredictor")
def describe_auto_predictor(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, PREDICTOR, request["PredictorArn"])
    spec = row.spec
    if not row.details.get("auto"):
        raise InvalidInput(f"The predictor {row.arn} was created with CreatePredictor: use DescribePredictor.")
    out = {"PredictorArn": row.arn, "PredictorName": row.name, "ForecastHorizon": spec["ForecastHorizon"],
           "ForecastTypes": spec.get("ForecastTypes") or DEFAULT_FORECAST_TYPES,
           "ForecastFrequency": spec["ForecastFrequency"], "DataConfig": spec["DataConfig"],
           "DatasetImportJobArns": row.details["imports"],
           "OptimizationMetric": spec.get("OptimizationMetric") or "AverageWeightedQuantileLoss", **_common(row)}
    if spec.get("ForecastDimensions"):
        out["ForecastDimensions"] = spec["ForecastDimensions"]
    if spec.get("TimeAlignmentBoundary"):
        out["TimeAlignmentBoundary"] = spec["TimeAlignmentBoundary"]
    monitor = monitoring.monitor_of(ctx.principal, row)
    if monitor is not None:
        out["MonitorInfo"] = {"MonitorArn": monitor.arn, "Status": monitor.status}
    explainability = next((child for child in children(ctx, row.arn) if child.kind == EXPLAINABILITY), None)
    if explainability is not None:
        out["ExplainabilityInfo"] = {"ExplainabilityArn": explainability.arn, "Status": _status(explainability)}
    if spec.get("ReferencePredictorArn"):
        reference = spec["ReferencePredictorArn"]
        out["ReferencePredictorSummary"] = {"Arn": reference,
                                            "State": "Active" if ANY.exists(ctx, reference) else "Deleted"}
    return out


def _predictor_summary(row: ForecastResource) -> dict:
    out = {"PredictorArn": row.arn, "PredictorName": row.name, "DatasetGroupArn": row.parent_arn,
           "IsAutoPredictor": bool(row.details.get("auto")), **_common(row)}
    if row.spec.get("ReferencePredictorArn"):
        out["ReferencePredictorSummary"] = {"Arn": row.spec["ReferencePredictorArn"], "State": "Active"}
    return out


@provider.operation("ListPredictors")
def list_predictors(ctx: RequestContext, request: dict) -> dict:
    rows = _filtered(ctx, PREDICTOR, request, {"DatasetGroupArn": lambda row: row.parent_arn, "Status": _status})
    return PAGING.page(ctx, request, rows, _predictor_summary)


@provider.operation("DeletePredictor")
def delete_predictor(ctx: RequestContext, request: dict) -> dict:
    return _delete(ctx, PREDICTOR, request["PredictorArn"])


@provider.operation("GetAccuracyMetrics")
def get_accuracy_metrics(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, PREDICTOR, request["PredictorArn"])
    _need_active(row, "for its accuracy metrics")
    _, _, result = row.state()
    evaluation = [{**entry, "TestWindows": _windows(entry["TestWindows"])} for entry in result["evaluation"]]
    out = {"PredictorEvaluationResults": evaluation, "IsAutoPredictor": bool(row.details.get("auto")),
           "OptimizationMetric": row.spec.get("OptimizationMetric") or "AverageWeightedQuantileLoss"}
    if row.spec.get("AutoMLOverrideStrategy"):
        out["AutoMLOverrideStrategy"] = row.spec["AutoMLOverrideStrategy"]
    return out


# ------------------------------------------------------------------------------------------------ forecasts


@provider.operation("CreateForecast")
def create_forecast(ctx: RequestContext, request: dict) -> dict:
    predictor = get(ctx, PREDICTOR, request["PredictorArn"])
    _need_active(predictor, "to create a forecast")
    check_selector(request.get("TimeSeriesSelector"))
    trained = predictor.spec.get("ForecastTypes") or DEFAULT_FORECAST_TYPES
    types = _check_forecast_types(request.get("ForecastTypes") or trained)
    unknown = [value for value in types if value not in trained]
    if unknown:
        raise InvalidInput(f"Forecast types {', '.join(unknown)} are not among the predictor's "
                           f"({', '.join(trained)}).")
    arn = resource_arn(ctx, FORECAST, request["ForecastName"])
    _create(ctx, FORECAST, arn, request["ForecastName"], {**request, "ForecastTypes": types},
            parent=predictor.arn, details={"group": predictor.parent_arn}, job_kind=training.FORECAST_KIND)
    return {"ForecastArn": arn}


@provider.operation("DescribeForecast")
def describe_forecast(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, FORECAST, request["ForecastArn"])
    out = {"ForecastArn": row.arn, "ForecastName": row.name, "ForecastTypes": row.spec["ForecastTypes"],
           "PredictorArn": row.parent_arn, "DatasetGroupArn": row.details["group"], **_common(row)}
    if row.spec.get("TimeSeriesSelector"):
        out["TimeSeriesSelector"] = row.spec["TimeSeriesSelector"]
    return out


@provider.operation("ListForecasts")
def list_forecasts(ctx: RequestContext, request: dict) -> dict:
    rows = _filtered(ctx, FORECAST, request, {"DatasetGroupArn": lambda row: row.details["group"],
                                              "PredictorArn": lambda row: row.parent_arn, "Status": _status})

    def summary(row: ForecastResource) -> dict:
        predictor = ANY.find(ctx, row.parent_arn)
        return {"ForecastArn": row.arn, "ForecastName": row.name, "PredictorArn": row.parent_arn,
                "CreatedUsingAutoPredictor": bool(predictor and predictor.details.get("auto")),
                "DatasetGroupArn": row.details["group"], **_common(row)}

    return PAGING.page(ctx, request, rows, summary)


@provider.operation("DeleteForecast")
def delete_forecast(ctx: RequestContext, request: dict) -> dict:
    return _delete(ctx, FORECAST, request["ForecastArn"])


# ------------------------------------------------------------------------------------------------ exports


@provider.operation("CreateForecastExportJob")
def create_forecast_export_job(ctx: RequestContext, request: dict) -> dict:
    forecast = get(ctx, FORECAST, request["ForecastArn"])
    _need_active(forecast, "to be exported")
    check_data_path(request["Destination"]["S3Config"]["Path"], request.get("Format"))
    arn = resource_arn(ctx, FORECAST_EXPORT, forecast.name, request["ForecastExportJobName"])
    _create(ctx, FORECAST_EXPORT, arn, request["ForecastExportJobName"], request, parent=forecast.arn,
            job_kind=training.EXPORT_KIND)
    return {"ForecastExportJobArn": arn}


@provider.operation("DescribeForecastExportJob")
def describe_forecast_export_job(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, FORECAST_EXPORT, request["ForecastExportJobArn"])
    return {"ForecastExportJobArn": row.arn, "ForecastExportJobName": row.name, "ForecastArn": row.parent_arn,
            "Destination": row.spec["Destination"], "Format": row.spec.get("Format", "CSV"), **_common(row)}


@provider.operation("ListForecastExportJobs")
def list_forecast_export_jobs(ctx: RequestContext, request: dict) -> dict:
    rows = _filtered(ctx, FORECAST_EXPORT, request, {"ForecastArn": lambda row: row.parent_arn, "Status": _status})
    return PAGING.page(ctx, request, rows, lambda row: {
        "ForecastExportJobArn": row.arn, "ForecastExportJobName": row.name, "Destination": row.spec["Destination"],
        **_common(row)})


@provider.operation("DeleteForecastExportJob")
def delete_forecast_export_job(ctx: RequestContext, request: dict) -> dict:
    return _delete(ctx, FORECAST_EXPORT, request["ForecastExportJobArn"])


@provider.operation("CreatePredictorBacktestExportJob")
def create_predictor_backtest_export_job(ctx: RequestContext, request: dict) -> dict:
    predictor = get(ctx, PREDICTOR, request["PredictorArn"])
    _need_active(predictor, "to export its backtests")
    check_data_path(request["Destination"]["S3Config"]["Path"], request.get("Format"))
    arn = resource_arn(ctx, BACKTEST_EXPORT, predictor.name, request["PredictorBacktestExportJobName"])
    _create(ctx, BACKTEST_EXPORT, arn, request["PredictorBacktestExportJobName"], request, parent=predictor.arn,
            job_kind=training.BACKTEST_EXPORT_KIND)
    return {"PredictorBacktestExportJobArn": arn}


@provider.operation("DescribePredictorBacktestExportJob")
def describe_predictor_backtest_export_job(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, BACKTEST_EXPORT, request["PredictorBacktestExportJobArn"])
    return {"PredictorBacktestExportJobArn": row.arn, "PredictorBacktestExportJobName": row.name,
            "PredictorArn": row.parent_arn, "Destination": row.spec["Destination"],
            "Format": row.spec.get("Format", "CSV"), **_common(row)}


@provider.operation("ListPredictorBacktestExportJobs")
def list_predictor_backtest_export_jobs(ctx: RequestContext, request: dict) -> dict:
    rows = _filtered(ctx, BACKTEST_EXPORT, request, {"PredictorArn": lambda row: row.parent_arn, "Status": _status})
    return PAGING.page(ctx, request, rows, lambda row: {
        "PredictorBacktestExportJobArn": row.arn, "PredictorBacktestExportJobName": row.name,
        "Destination": row.spec["Destination"], **_common(row)})


@provider.operation("DeletePredictorBacktestExportJob")
def delete_predictor_backtest_export_job(ctx: RequestContext, request: dict) -> dict:
    return _delete(ctx, BACKTEST_EXPORT, request["PredictorBacktestExportJobArn"])


# ------------------------------------------------------------------------------------------------ what-if


@provider.operation("CreateWhatIfAnalysis")
def create_what_if_analysis(ctx: RequestContext, request: dict) -> dict:
    forecast = get(ctx, FORECAST, request["ForecastArn"])
    _need_active(forecast, "for a what-if analysis")
    predictor = ANY.find(ctx, forecast.parent_arn)
    if predictor is None or not predictor.details.get("auto"):
        raise InvalidInput(f"The forecast {forecast.arn} was not created with an AutoPredictor: what-if analyses "
                           f"need a forecast of an AutoPredictor.")
    check_selector(request.get("TimeSeriesSelector"))
    arn = resource_arn(ctx, WHATIF_ANALYSIS, request["WhatIfAnalysisName"])
    _create(ctx, WHATIF_ANALYSIS, arn, request["WhatIfAnalysisName"], request, parent=forecast.arn,
            job_kind=whatif.ANALYSIS_KIND)
    return {"WhatIfAnalysisArn": arn}


@provider.operation("DescribeWhatIfAnalysis")
def describe_what_if_analysis(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, WHATIF_ANALYSIS, request["WhatIfAnalysisArn"])
    out = {"WhatIfAnalysisName": row.name, "WhatIfAnalysisArn": row.arn, "ForecastArn": row.parent_arn,
           **_common(row)}
    if row.spec.get("TimeSeriesSelector"):
        out["TimeSeriesSelector"] = row.spec["TimeSeriesSelector"]
    return out


@provider.operation("ListWhatIfAnalyses")
def list_what_if_analyses(ctx: RequestContext, request: dict) -> dict:
    rows = _filtered(ctx, WHATIF_ANALYSIS, request, {"WhatIfAnalysisArn": lambda row: row.arn, "Status": _status})
    return PAGING.page(ctx, request, rows, lambda row: {
        "WhatIfAnalysisArn": row.arn, "WhatIfAnalysisName": row.name, "ForecastArn": row.parent_arn,
        **_common(row)})


@provider.operation("DeleteWhatIfAnalysis")
def delete_what_if_analysis(ctx: RequestContext, request: dict) -> dict:
    return _delete(ctx, WHATIF_ANALYSIS, request["WhatIfAnalysisArn"])


@provider.operation("CreateWhatIfForecast")
def create_what_if_forecast(ctx: RequestContext, request: dict) -> dict:
    analysis = get(ctx, WHATIF_ANALYSIS, request["WhatIfAnalysisArn"])
    _need_active(analysis, "for a what-if forecast")
    forecast = get(ctx, FORECAST, analysis.parent_arn)
    group = get(ctx, DATASET_GROUP, ANY.get(ctx, forecast.parent_arn).parent_arn)
    related = whatif.related_dataset(ctx.principal, group)
    if related is None:
        raise InvalidInput(f"The dataset group {group.arn} has no RELATED_TIME_SERIES dataset for a what-if "
                           f"forecast to change.")
    whatif.check_changes(request.get("TimeSeriesTransformations") or [],
                         request.get("TimeSeriesReplacementsDataSource"), whatif.related_attributes(related))
    arn = resource_arn(ctx, WHATIF_FORECAST, analysis.name, request["WhatIfForecastName"])
    _create(ctx, WHATIF_FORECAST, arn, request["WhatIfForecastName"], request, parent=analysis.arn,
            job_kind=whatif.WHATIF_FORECAST_KIND)
    return {"WhatIfForecastArn": arn}


@provider.operation("DescribeWhatIfForecast")
def describe_what_if_forecast(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, WHATIF_FORECAST, request["WhatIfForecastArn"])
    analysis = ANY.find(ctx, row.parent_arn)
    forecast = ANY.find(ctx, analysis.parent_arn) if analysis is not None else None
    out = {"WhatIfForecastName": row.name, "WhatIfForecastArn": row.arn, "WhatIfAnalysisArn": row.parent_arn,
           **_common(row)}
    for member in ("TimeSeriesTransformations", "TimeSeriesReplacementsDataSource"):
        if row.spec.get(member):
            out[member] = row.spec[member]
    if forecast is not None:
        out["ForecastTypes"] = forecast.spec["ForecastTypes"]
    return out


@provider.operation("ListWhatIfForecasts")
def list_what_if_forecasts(ctx: RequestContext, request: dict) -> dict:
    rows = _filtered(ctx, WHATIF_FORECAST, request, {"WhatIfForecastArn": lambda row: row.arn, "Status": _status})
    return PAGING.page(ctx, request, rows, lambda row: {
        "WhatIfForecastArn": row.arn, "WhatIfForecastName": row.name, "WhatIfAnalysisArn": row.parent_arn,
        **_common(row)})


@provider.operation("DeleteWhatIfForecast")
def delete_what_if_forecast(ctx: RequestContext, request: dict) -> dict:
    return _delete(ctx, WHATIF_FORECAST, request["WhatIfForecastArn"])


@provider.operation("CreateWhatIfForecastExport")
def create_what_if_forecast_export(ctx: RequestContext, request: dict) -> dict:
    forecasts = [get(ctx, WHATIF_FORECAST, arn) for arn in request["WhatIfForecastArns"]]
    for row in forecasts:
        _need_active(row, "to be exported")
    check_data_path(request["Destination"]["S3Config"]["Path"], request.get("Format"))
    arn = resource_arn(ctx, WHATIF_EXPORT, request["WhatIfForecastExportName"])
    # Its parent is the first what-if forecast: deleting that one (or its tree) asks about the export first.
    _create(ctx, WHATIF_EXPORT, arn, request["WhatIfForecastExportName"], request, parent=forecasts[0].arn,
            job_kind=whatif.WHATIF_EXPORT_KIND)
    return {"WhatIfForecastExportArn": arn}


@provider.operation("DescribeWhatIfForecastExport")
def describe_what_if_forecast_export(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, WHATIF_EXPORT, request["WhatIfForecastExportArn"])
    return {"WhatIfForecastExportArn": row.arn, "WhatIfForecastExportName": row.name,
            "WhatIfForecastArns": row.spec["WhatIfForecastArns"], "Destination": row.spec["Destination"],
            "Format": row.spec.get("Format", "CSV"), **_common(row)}


@provider.operation("ListWhatIfForecastExports")
def list_what_if_forecast_exports(ctx: RequestContext, request: dict) -> dict:
    rows = _filtered(ctx, WHATIF_EXPORT, request, {"WhatIfForecastExportArn": lambda row: row.arn,
                                                   "Status": _status})
    return PAGING.page(ctx, request, rows, lambda row: {
        "WhatIfForecastExportArn": row.arn, "WhatIfForecastArns": row.spec["WhatIfForecastArns"],
        "WhatIfForecastExportName": row.name, "Destination": row.spec["Destination"], **_common(row)})


@provider.operation("DeleteWhatIfForecastExport")
def delete_what_if_forecast_export(ctx: RequestContext, request: dict) -> dict:
    return _delete(ctx, WHATIF_EXPORT, request["WhatIfForecastExportArn"])


# ------------------------------------------------------------------------------------------------ explainability


@provider.operation("CreateExplainability")
def create_explainability(ctx: RequestContext, request: dict) -> dict:
    resource_arn_ = checked_arn(ctx, request["ResourceArn"])
    kind = parse_arn(resource_arn_).resource_type
    if kind not in (PREDICTOR, FORECAST):
        raise InvalidInput("ResourceArn must be the ARN of a predictor or a forecast.")
    resource = get(ctx, kind, resource_arn_)
    _need_active(resource, "to be explained")
    predictor = resource if kind == PREDICTOR else get(ctx, PREDICTOR, resource.parent_arn)
    group = get(ctx, DATASET_GROUP, predictor.parent_arn)
    explain.check_request(request, resource, predictor, group, ctx.principal)
    if kind == PREDICTOR and any(child.kind == EXPLAINABILITY for child in children(ctx, resource.arn)):
        raise ResourceAlreadyExists(f"The predictor {resource.arn} already has an explainability: a predictor can "
                                    f"have one.")
    arn = resource_arn(ctx, EXPLAINABILITY, request["ExplainabilityName"])
    _create(ctx, EXPLAINABILITY, arn, request["ExplainabilityName"], request, parent=resource.arn,
            job_kind=explain.EXPLAINABILITY_KIND)
    return {"ExplainabilityArn": arn}


@provider.operation("DescribeExplainability")
def describe_explainability(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, EXPLAINABILITY, request["ExplainabilityArn"])
    out = {"ExplainabilityArn": row.arn, "ExplainabilityName": row.name, "ResourceArn": row.parent_arn,
           "ExplainabilityConfig": row.spec["ExplainabilityConfig"],
           "EnableVisualization": bool(row.spec.get("EnableVisualization")), **_common(row)}
    for member in ("DataSource", "Schema", "StartDateTime", "EndDateTime"):
        if row.spec.get(member):
            out[member] = row.spec[member]
    return out


@provider.operation("ListExplainabilities")
def list_explainabilities(ctx: RequestContext, request: dict) -> dict:
    rows = _filtered(ctx, EXPLAINABILITY, request, {"ResourceArn": lambda row: row.parent_arn, "Status": _status})
    return PAGING.page(ctx, request, rows, lambda row: {
        "ExplainabilityArn": row.arn, "ExplainabilityName": row.name, "ResourceArn": row.parent_arn,
        "ExplainabilityConfig": row.spec["ExplainabilityConfig"], **_common(row)})


@provider.operation("DeleteExplainability")
def delete_explainability(ctx: RequestContext, request: dict) -> dict:
    return _delete(ctx, EXPLAINABILITY, request["ExplainabilityArn"])


@provider.operation("CreateExplainabilityExport")
def create_explainability_export(ctx: RequestContext, request: dict) -> dict:
    explainability = get(ctx, EXPLAINABILITY, request["ExplainabilityArn"])
    _need_active(explainability, "to be exported")
    check_data_path(request["Destination"]["S3Config"]["Path"], request.get("Format"))
    arn = resource_arn(ctx, EXPLAINABILITY_EXPORT, explainability.name, request["ExplainabilityExportName"])
    _create(ctx, EXPLAINABILITY_EXPORT, arn, request["ExplainabilityExportName"], request,
            parent=explainability.arn, job_kind=explain.EXPLAINABILITY_EXPORT_KIND)
    return {"ExplainabilityExportArn": arn}


@provider.operation("DescribeExplainabilityExport")
def describe_explainability_export(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, EXPLAINABILITY_EXPORT, request["ExplainabilityExportArn"])
    return {"ExplainabilityExportArn": row.arn, "ExplainabilityExportName": row.name,
            "ExplainabilityArn": row.parent_arn, "Destination": row.spec["Destination"],
            "Format": row.spec.get("Format", "CSV"), **_common(row)}


@provider.operation("ListExplainabilityExports")
def list_explainability_exports(ctx: RequestContext, request: dict) -> dict:
    rows = _filtered(ctx, EXPLAINABILITY_EXPORT, request, {"ResourceArn": lambda row: row.parent_arn,
                                                           "Status": _status})
    return PAGING.page(ctx, request, rows, lambda row: {
        "ExplainabilityExportArn": row.arn, "ExplainabilityExportName": row.name,
        "Destination": row.spec["Destination"], **_common(row)})


@provider.operation("DeleteExplainabilityExport")
def delete_explainability_export(ctx: RequestContext, request: dict) -> dict:
    return _delete(ctx, EXPLAINABILITY_EXPORT, request["ExplainabilityExportArn"])


# ------------------------------------------------------------------------------------------------ monitors


@provider.operation("CreateMonitor")
def create_monitor(ctx: RequestContext, request: dict) -> dict:
    predictor = get(ctx, PREDICTOR, checked_arn(ctx, request["ResourceArn"], PREDICTOR))
    if not predictor.details.get("auto"):
        raise InvalidInput(f"The predictor {predictor.arn} was not created with CreateAutoPredictor: only "
                           f"AutoPredictors can be monitored.")
    existing = monitoring.monitor_of(ctx.principal, predictor)
    if existing is not None:
        raise ResourceAlreadyExists(f"The predictor {predictor.arn} already has the monitor {existing.arn}.")
    arn = resource_arn(ctx, MONITOR, request["MonitorName"])
    _create(ctx, MONITOR, arn, request["MonitorName"], request, parent=predictor.arn)
    return {"MonitorArn": arn}


@provider.operation("DescribeMonitor")
def describe_monitor(ctx: RequestContext, request: dict) -> dict:
    row = get(ctx, MONITOR, request["MonitorArn"])
    out = {"MonitorName": row.name, "MonitorArn": row.arn, "ResourceArn": row.parent_arn, "Status": row.status,
           "CreationTime": row.created, "LastModificationTime": row.last_modified()}
    predictor = ANY.find(ctx, row.parent_arn)
    if predictor is not None and _status(predictor) == "ACTIVE":
        summary = predictor.state()[2]["evaluation"][0]["TestWindows"][0]["Metrics"]
        out["Baseline"] = {"PredictorBaseline": {"BaselineMetrics": monitoring.metric_values(summary)}}
    evaluations = monitoring.evaluations(ctx.principal, row)
    if evaluations:
        out["LastEvaluationTime"] = dt.datetime.fromtimestamp(evaluations[0]["EvaluationTime"], dt.timezone.utc)
        out["LastEvaluationState"] = evaluations[0]["EvaluationState"]
    return out


@provider.operation("ListMonitors")
def list_monitors(ctx: RequestContext, request: dict) -> dict:
    rows = _filtered(ctx, MONITOR, request, {"Status": lambda row: row.status})
    return PAGING.page(ctx, request, rows, lambda row: {
        "MonitorArn": row.arn, "MonitorName": row.name, "ResourceArn": row.parent_arn, "Status": row.status,
        "CreationTime": row.created, "LastModificationTime": row.last_modified()})


@provider.operation("DeleteMonitor")
def delete_monitor(ctx: RequestContext, request: dict) -> dict:
    return _delete(ctx, MONITOR, request["MonitorArn"])


@provider.operation("ListMonitorEvaluations")
def list_monitor_evaluations(ctx: RequestContext, request: dict) -> dict:
    monitor = get(ctx, MONITOR, request["MonitorArn"])
    entries = monitoring.evaluations(ctx.principal, monitor)
    for condition in request.get("Filters") or []:
        if condition["Key"] != "EvaluationState":
            raise InvalidInput(f"Filter key {condition['Key']} is not valid; the only valid key is EvaluationState.")
        entries = [entry for entry in entries
                   if (entry["EvaluationState"] == condition["Value"]) == (condition["Condition"] == "IS")]

    def shape(entry: dict) -> dict:
        return {key: dt.datetime.fromtimestamp(value, dt.timezone.utc)
                if key in ("EvaluationTime", "WindowStartDatetime", "WindowEndDatetime") else value
                for key, value in entry.items()}

    return PAGING.page(ctx, request, entries, shape)


@provider.operation("ResumeResource")
def resume_resource(ctx: RequestContext, request: dict) -> dict:
    arn = checked_arn(ctx, request["ResourceArn"])
    if parse_arn(arn).resource_type != MONITOR:
        raise InvalidInput("ResumeResource resumes monitors only.")
    row = get(ctx, MONITOR, arn)
    if row.status != monitoring.STOPPED:
        raise InvalidInput(f"The monitor {arn} cannot be resumed: its status is {row.status}.")
    TABLES[MONITOR].update(ctx, arn, status="ACTIVE", modified_at=utcnow())
    return {}


# ------------------------------------------------------------------------------------------------ whole trees


@provider.operation("StopResource")
def stop_resource(ctx: RequestContext, request: dict) -> dict:
    arn = checked_arn(ctx, request["ResourceArn"])
    kind = parse_arn(arn).resource_type
    if kind not in (IMPORT_JOB, PREDICTOR, FORECAST, FORECAST_EXPORT, BACKTEST_EXPORT, WHATIF_ANALYSIS,
                    WHATIF_FORECAST, WHATIF_EXPORT, EXPLAINABILITY, EXPLAINABILITY_EXPORT, MONITOR):
        raise InvalidInput(f"StopResource does not stop {WORDS.get(kind, kind)} resources.")
    row = get(ctx, kind, arn)
    status = _status(row)
    if kind == MONITOR:  # a monitor stops evaluating at once; ResumeResource starts it again
        if status != "ACTIVE":
            raise InvalidInput(f"The monitor {arn} cannot be stopped: its status is {status}.")
        TABLES[MONITOR].update(ctx, arn, status=monitoring.STOPPED, modified_at=utcnow())
        return {}
    if status not in BUSY:
        raise InvalidInput(f"The {WORDS[kind]} {arn} cannot be stopped: its status is {status}.")
    runtime().jobs.store.request_stop(ctx.principal, row.job().kind, row.job_id)
    return {}


@provider.operation("DeleteResourceTree")
def delete_resource_tree(ctx: RequestContext, request: dict) -> dict:
    arn = checked_arn(ctx, request["ResourceArn"])
    kind = parse_arn(arn).resource_type
    if kind not in (DATASET_GROUP, DATASET, PREDICTOR, FORECAST, WHATIF_ANALYSIS, WHATIF_FORECAST):
        raise InvalidInput(f"DeleteResourceTree does not delete {WORDS.get(kind, kind)} resources.")
    root = get(ctx, kind, arn)
    tree = _tree(ctx, root)
    busy = [row for row in tree if _status(row) in BUSY]
    if busy:
        raise ResourceInUse(f"The {WORDS[busy[0].kind]} {busy[0].arn} in the tree is {_status(busy[0])}.")
    for row in reversed(tree):  # children before their parents
        if ANY.exists(ctx, row.arn):
            _remove(ctx, row)
    return {}


def _tree(ctx: RequestContext, root: ForecastResource) -> list[ForecastResource]:
    """The resource and everything made from it, parents first (a dataset group's predictors, their forecasts and
    exports; a dataset's import jobs). Datasets are not part of a dataset group's tree, as in AWS."""
    tree, queue = [], [root]
    while queue:
        row = queue.pop(0)
        tree.append(row)
        queue.extend(children(ctx, row.arn))
    return tree
