"""Personalize's long work, as durable jobs on queue "personalize": dataset imports, solution versions (training,
tuning, the AWS metrics) and batch inference jobs.

Each job is a few checkpointed steps: a kill -9 mid-training resumes at the first step not finished. Anything the
data cannot do (too few interactions, rows that do not match the schema) fails the job with a failureReason that
names the problem.
"""

from __future__ import annotations

import io
import json
import time

import pandas as pd

from models.recommend import DEFAULT_HYPERPARAMETERS, HPO_RANGES, METRIC_NAMES, evaluate_aws, train, tune
from services.gateway.context import Principal
from services.gateway.jobs import JobRun, job_kind
from services.gateway.kit.inputs import list_input_objects, relative_name
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError
from services.personalize import attribution, datasets, serving
from services.personalize.data import read_csv, write_csv
from services.personalize.errors import InvalidInput, TrainingFailed
from services.personalize.recipes import DOMAIN_EVENT_TYPES, PERSONALIZED_ACTIONS, USER_SEGMENTATION, Recipe, recipe
from services.personalize.store import (
    ANY, DATASET, IMPORT_JOB, METRIC_ATTRIBUTION, RECOMMENDER, SOLUTION_VERSION, PersonalizeResource, children,
    data_path, model_path,
)

QUEUE = "personalize"
IMPORT_KIND = "personalize.dataset-import"
SOLUTION_VERSION_KIND = "personalize.solution-version"
BATCH_INFERENCE_KIND = "personalize.batch-inference"
BATCH_SEGMENT_KIND = "personalize.batch-segment"
EXPORT_KIND = "personalize.dataset-export"
DATA_DELETION_KIND = "personalize.data-deletion"

MAX_IMPORT_BYTES = 2 * 1024**3
MAX_IMPORT_ROWS = 20_000_000
MAX_BATCH_INPUT_BYTES = 1024**3
MAX_BATCH_LINES = 500_000
# AWS's training minimums (Personalize's service quotas).
MIN_INTERACTIONS = 1000
MIN_USERS = 25  # with at least 2 interactions each
BAD_ROWS_SHOWN = 5
# performHPO's trials (hpoResourceConfig.maxNumberOfTrainingJobs): AWS's default and the most this gateway runs.
# They run one after another: maxParallelTrainingJobs can only be 1 here.
DEFAULT_HPO_JOBS = 8
MAX_HPO_JOBS = 40


# ------------------------------------------------------------------------------------------------ hyperparameters


def default_hyperparameters(algorithm: str) -> dict[str, str]:
    return dict(DEFAULT_HYPERPARAMETERS.get(algorithm, {}))


def hyperparameter_ranges(algorithm: str) -> dict:
    """DescribeAlgorithm's defaultHyperParameterRanges: the ranges performHPO searches."""
    return HPO_RANGES.get(algorithm) or {"integerHyperParameterRanges": [], "continuousHyperParameterRanges": [],
                                         "categoricalHyperParameterRanges": []}


def check_hpo_config(hpo: dict) -> None:
    """CreateSolution's hpoConfig: numbers where numbers go, within what this gateway runs."""
    resources = hpo.get("hpoResourceConfig") or {}
    for member, limit in (("maxNumberOfTrainingJobs", MAX_HPO_JOBS), ("maxParallelTrainingJobs", 1)):
        value = resources.get(member)
        if value is None:
            continue
        if not value.isdigit() or not 1 <= int(value) <= limit:
            raise InvalidInput(f"hpoResourceConfig.{member} must be a whole number from 1 to {limit}; it is {value}"
                               + (" (trials run one at a time here)." if member == "maxParallelTrainingJobs" else "."))
    objective = hpo.get("hpoObjective") or {}
    if objective.get("metricName") and objective["metricName"] not in METRIC_NAMES:
        raise InvalidInput(f"hpoObjective.metricName {objective['metricName']} is not valid; valid names are "
                           f"{', '.join(METRIC_NAMES)}.")
    if objective.get("type") not in (None, "Maximize"):
        raise InvalidInput(f"hpoObjective.type {objective['type']} is not valid: every metric here is maximized.")


def check_hyperparameters(algorithm: str, given: dict[str, str]) -> None:
    """algorithmHyperParameters: known names, numbers for numeric ones, a listed value for categorical ones."""
    known = set(DEFAULT_HYPERPARAMETERS.get(algorithm, {}))
    categorical = {entry["name"]: entry["values"] for entry in
                   hyperparameter_ranges(algorithm)["categoricalHyperParameterRanges"]}
    for name, value in given.items():
        if name not in known:
            raise InvalidInput(f"The hyperparameter {name} is not valid for {algorithm}; valid ones are "
                               f"{', '.join(sorted(known)) or 'none'}.")
        if name in categorical:
            if value not in categorical[name]:
                raise InvalidInput(f"The hyperparameter {name} has the value {value}; valid values are "
                                   f"{', '.join(categorical[name])}.")
            continue
        try:
            float(value)
        except ValueError:
            if value.lower() not in ("true", "false"):
                raise InvalidInput(f"The hyperparameter {name} has the value {value}, which is not a number.") \
                    from None


# ------------------------------------------------------------------------------------------------ imports


def _resource(principal: Principal, arn: str) -> PersonalizeResource:
    row = ANY.find(principal, arn)
    if row is None:
        raise TrainingFailed("The resource was deleted.")
    return row


@job_kind(IMPORT_KIND, QUEUE)
def run_import(run: JobRun) -> dict:
    result = run.step(_import, run.principal, run.details["arn"])
    if run.request.get("publishAttributionMetricsToS3"):
        # The time is its own step: a report step run again after a crash rewrites the same object.
        stamp = int(run.step(time.time, name="personalize.attribution.time"))
        result = {**result, **run.step(_attribution_report, run.principal, run.details["arn"], stamp)}
    return result


def _import(principal: Principal, arn: str) -> dict:
    job = _resource(principal, arn)
    dataset = _resource(principal, job.parent_arn)
    schema = datasets.schema_of(principal, dataset)
    location = job.spec["dataSource"]["dataLocation"]
    uris = list_input_objects(
        principal.account_id, location,
        unreadable=lambda error: TrainingFailed(f"Could not read {location}: {error}"),
        empty=lambda uri: TrainingFailed(f"No data files were found at {uri}."))
    frames = []
    for uri in uris:
        try:
            raw = runtime().blobs.read(uri, principal.account_id, max_bytes=MAX_IMPORT_BYTES)
        except BlobError as error:
            raise TrainingFailed(f"Could not read {uri}: {error}") from None
        try:
            frame, bad_rows = read_csv(raw, schema, dataset.spec["datasetType"], max_rows=MAX_IMPORT_ROWS)
        except InvalidInput as error:
            raise TrainingFailed(f"{relative_name(location, uri)}: {error.message}") from None
        if bad_rows:
            shown = "; ".join(f"line {row.line}: {row.reason}" for row in bad_rows[:BAD_ROWS_SHOWN])
            raise TrainingFailed(f"{relative_name(location, uri)} has {len(bad_rows)} rows that do not match the "
                                 f"schema: {shown}.")
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if job.spec.get("publishAttributionMetricsToS3"):  # the report counts this import's rows, kept for its step
        frame.to_parquet(_attribution_rows(principal, arn), index=False)
    if job.spec["importMode"] == "INCREMENTAL":
        stored = datasets.stored_frame(dataset)
        if stored is not None:
            frame = pd.concat([stored, frame], ignore_index=True)
    id_column = datasets.ID_COLUMNS[dataset.spec["datasetType"]]
    if id_column is not None:
        frame = frame.drop_duplicates(id_column, keep="last").reset_index(drop=True)
    if len(frame) > MAX_IMPORT_ROWS:
        raise TrainingFailed(f"The dataset would have {len(frame)} rows; this gateway keeps at most "
                             f"{MAX_IMPORT_ROWS}.")
    path = datasets.stored_path(dataset)
    partial = path.with_suffix(".partial")
    frame.to_parquet(partial, index=False)
    partial.replace(path)  # a reader sees the old rows or the new ones, never half
    return {"rows": len(frame)}


def _attribution_rows(principal: Principal, arn: str):
    """Where a publishing import keeps its own rows between its import step and its report step."""
    return data_path(principal.account_id, arn, "attribution.parquet")


def _attribution_report(principal: Principal, arn: str, stamp: int) -> dict:
    """publishAttributionMetricsToS3: the group's metric attribution applied to this import's rows, written as one
    new object under its s3DataDestination (attribution.py). CreateDatasetImportJob checked that there was one; if
    it was deleted or lost its S3 path since, the import stands and no report is written."""
    job = _resource(principal, arn)
    dataset = _resource(principal, job.parent_arn)
    kept = _attribution_rows(principal, arn)
    found = children(principal, dataset.parent_arn, METRIC_ATTRIBUTION)
    destination = ((found[0].spec["metricsOutputConfig"].get("s3DataDestination") or {}).get("path")
                   if found else None)
    if not destination or not kept.exists():
        kept.unlink(missing_ok=True)
        return {}
    metrics = found[0].spec["metrics"]
    group = datasets.datasets(principal, dataset.parent_arn)
    schemas = {kind: datasets.schema_of(principal, row) for kind, row in group.items()
               if kind in attribution.SUMMABLE}
    try:
        expressions = [attribution.parse_expression(metric, schemas) for metric in metrics]
    except InvalidInput as error:  # a dataset changed since the attribution was made
        raise TrainingFailed(f"The metric attribution {found[0].arn} no longer fits the data: {error.message}") \
            from None
    items = datasets.metadata_frame(principal, group.get("Items")) \
        if any(expression.dataset == "Items" for expression in expressions) else None
    body = attribution.report_csv(pd.read_parquet(kept), items, metrics, expressions)
    uri = _folder(destination) + attribution.report_name(job.spec["importMode"], stamp)
    _write(principal, uri, body)
    kept.unlink(missing_ok=True)
    return {"attributionReport": uri}


# ------------------------------------------------------------------------------------------------ solution versions


def _recipes_of(snapshot: dict) -> list[Recipe]:
    if snapshot.get("performAutoML"):
        return [recipe(arn) for arn in snapshot["solutionConfig"]["autoMLConfig"]["recipeList"]]
    return [recipe(snapshot["recipeArn"])]


def _event_filters(snapshot: dict, item: Recipe) -> tuple[str | None, float | None]:
    threshold = (snapshot.get("solutionConfig") or {}).get("eventValueThreshold")
    event_type = snapshot.get("eventType") or DOMAIN_EVENT_TYPES.get(item.name)
    return event_type, float(threshold) if threshold is not None else None


def check_minimums(data, item: Recipe, event_type: str | None, threshold: float | None) -> None:
    """AWS's minimums for training: 1,000 interactions, 25 users with 2 or more each (after the event filters)."""
    frame = data.interactions
    if event_type is not None and "EVENT_TYPE" in frame:
        frame = frame[frame["EVENT_TYPE"] == event_type]
    if threshold is not None and "EVENT_VALUE" in frame:
        frame = frame[frame["EVENT_VALUE"] >= threshold]
    counts = frame["USER_ID"].value_counts()
    users = int((counts >= 2).sum())
    if len(frame) < MIN_INTERACTIONS or users < MIN_USERS:
        raise TrainingFailed(f"Insufficient data: training needs at least {MIN_INTERACTIONS} interactions from at "
                             f"least {MIN_USERS} users with 2 or more interactions each; the dataset group has "
                             f"{len(frame)} interactions and {users} such users.")


@job_kind(SOLUTION_VERSION_KIND, QUEUE)
def run_solution_version(run: JobRun) -> dict:
    """Tuning (performHPO), one training and its metrics per candidate recipe, then the best one's model."""
    arn = run.details["arn"]
    started = run.step(time.time, name="personalize.started")  # recorded: a resumed job counts from the start
    version = _resource(run.principal, arn)
    snapshot = version.spec["snapshot"]
    candidates = _recipes_of(snapshot)
    # Every later step trains on this copy, so an import finishing mid-way cannot change the data between them.
    run.step(_copy_data, run.principal, arn, candidates[0].arn, name="personalize.data")
    evaluated = []
    for index, item in enumerate(candidates):
        hyperparameters = run.step(_hyperparameters, run.principal, arn, item.arn, name=f"personalize.tune.{index}")
        run.progress(2 * index + 1, 2 * len(candidates) + 1)
        metrics = run.step(_metrics, run.principal, arn, item.arn, hyperparameters,
                           name=f"personalize.metrics.{index}")
        run.progress(2 * index + 2, 2 * len(candidates) + 1)
        evaluated.append((item, hyperparameters, metrics))
    objective = ((snapshot.get("solutionConfig") or {}).get("autoMLConfig") or {}).get("metricName") or \
        "normalized_discounted_cumulative_gain_at_10"
    best = max(evaluated, key=lambda entry: entry[2].get(objective, 0.0))
    item, hyperparameters, metrics = best
    run.step(_train_model, run.principal, arn, item.arn, hyperparameters)
    datasets.remove_copy(data_path(run.principal.account_id, arn, "data"))
    return {"metrics": metrics, "hyperparameters": hyperparameters, "recipeArn": item.arn,
            "trainingHours": round((time.time() - started) / 3600, 6)}


def _copy_data(principal: Principal, arn: str, recipe_arn: str) -> None:
    version = _resource(principal, arn)
    group_arn = version.details["datasetGroupArn"]
    data = datasets.action_data(principal, group_arn) if recipe(recipe_arn).recipe_type == PERSONALIZED_ACTIONS \
        else datasets.group_data(principal, group_arn)
    datasets.save_copy(data, data_path(principal.account_id, arn, "data"))


def _prepared(principal: Principal, arn: str, recipe_arn: str):
    version = _resource(principal, arn)
    item = recipe(recipe_arn)
    data = datasets.load_copy(data_path(principal.account_id, arn, "data"))
    event_type, threshold = _event_filters(version.spec["snapshot"], item)
    check_minimums(data, item, event_type, threshold)
    return version, item, data, event_type, threshold


def _given_hyperparameters(version: PersonalizeResource, item: Recipe) -> dict[str, str]:
    given = (version.spec["snapshot"].get("solutionConfig") or {}).get("algorithmHyperParameters") or {}
    return {**default_hyperparameters(item.algorithm), **given}


def _hyperparameters(principal: Principal, arn: str, recipe_arn: str) -> dict[str, str]:
    version, item, data, event_type, threshold = _prepared(principal, arn, recipe_arn)
    given = _given_hyperparameters(version, item)
    if not version.spec["snapshot"].get("performHPO"):
        return given
    hpo = (version.spec["snapshot"].get("solutionConfig") or {}).get("hpoConfig") or {}
    objective = (hpo.get("hpoObjective") or {}).get("metricName") or "normalized_discounted_cumulative_gain_at_10"
    jobs = int((hpo.get("hpoResourceConfig") or {}).get("maxNumberOfTrainingJobs") or DEFAULT_HPO_JOBS)
    ranges = hpo.get("algorithmHyperParameterRanges") or None
    fixed = (version.spec["snapshot"].get("solutionConfig") or {}).get("algorithmHyperParameters") or {}
    try:
        best, _ = tune(item.algorithm, data, seed=0, hpo_objective=objective, max_jobs=jobs, ranges=ranges,
                       hyperparameters=fixed, event_type=event_type, event_value_threshold=threshold)
    except ValueError as error:
        raise TrainingFailed(str(error)) from None
    return {**given, **best}


def _metrics(principal: Principal, arn: str, recipe_arn: str, hyperparameters: dict[str, str]) -> dict:
    _, item, data, event_type, threshold = _prepared(principal, arn, recipe_arn)
    if item.recipe_type == USER_SEGMENTATION:
        return {}
    try:
        metrics = evaluate_aws(item.algorithm, data, hyperparameters, seed=0, event_type=event_type,
                               event_value_threshold=threshold)
    except ValueError as error:
        raise TrainingFailed(str(error)) from None
    return {name: round(float(value), 4) for name, value in metrics.items()}


def _train_model(principal: Principal, arn: str, recipe_arn: str, hyperparameters: dict[str, str]) -> None:
    version, item, data, event_type, threshold = _prepared(principal, arn, recipe_arn)
    try:
        model = train(item.algorithm, data, hyperparameters, seed=0, event_type=event_type,
                      event_value_threshold=threshold)
    except ValueError as error:
        raise TrainingFailed(str(error)) from None
    path = model_path(version)
    partial = path.with_suffix(".partial")
    model.save(str(partial))
    partial.replace(path)


# ------------------------------------------------------------------------------------------------ batch inference


@job_kind(BATCH_INFERENCE_KIND, QUEUE)
def run_batch_inference(run: JobRun) -> dict:
    return run.step(_batch_inference, run.principal, run.details["arn"])


def _batch_inference(principal: Principal, arn: str) -> dict:
    return _json_lines_job(principal, arn, serving.batch_line)


def _json_lines_job(principal: Principal, arn: str, answer) -> dict:
    """A batch job: each JSON line of each input file answered by `answer`, written to `<output>/<file>.out` as
    AWS writes them ({"input", "output", "error"} per line; a line that is not a JSON object gets its error)."""
    job = _resource(principal, arn)
    version = _resource(principal, job.spec["solutionVersionArn"])
    model = serving.served_model(principal, version,
                                 (job.spec.get("batchInferenceJobConfig") or {}).get("itemExplorationConfig"))
    filter_row = ANY.find(principal, job.spec["filterArn"]) if job.spec.get("filterArn") else None
    source, destination = job.spec["jobInput"]["s3DataSource"]["path"], job.spec["jobOutput"]["s3DataDestination"]["path"]
    lines_done = 0
    for uri, raw in _input_files(principal, source):
        out = []
        for number, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), start=1):
            if not line.strip():
                continue
            lines_done += 1
            if lines_done > MAX_BATCH_LINES:
                raise TrainingFailed(f"The input has more than {MAX_BATCH_LINES} lines.")
            try:
                given = json.loads(line)
            except ValueError:
                given = None
            if isinstance(given, dict):
                entry = answer(principal, version, model, filter_row, job.spec, given)
            else:
                entry = {"input": line, "output": None, "error": f"Line {number} is not a JSON object."}
            out.append(json.dumps(entry))
        _write(principal, _folder(destination) + relative_name(source, uri) + ".out", ("\n".join(out) + "\n").encode())
    return {"lines": lines_done}


def _input_files(principal: Principal, source: str) -> list[tuple[str, bytes]]:
    uris = list_input_objects(principal.account_id, source,
                              unreadable=lambda error: TrainingFailed(f"Could not read {source}: {error}"),
                              empty=lambda uri: TrainingFailed(f"No input files were found at {uri}."))
    files = []
    for uri in uris:
        try:
            files.append((uri, runtime().blobs.read(uri, principal.account_id, max_bytes=MAX_BATCH_INPUT_BYTES)))
        except BlobError as error:
            raise TrainingFailed(f"Could not read {uri}: {error}") from None
    return files


def _write(principal: Principal, uri: str, data: bytes) -> None:
    try:
        runtime().blobs.write(uri, data, principal.account_id)
    except BlobError as error:
        raise TrainingFailed(f"Could not write {uri}: {error}") from None


def _folder(path: str) -> str:
    return path if path.endswith("/") else path + "/"


@job_kind(BATCH_SEGMENT_KIND, QUEUE)
def run_batch_segment(run: JobRun) -> dict:
    return run.step(_batch_segment, run.principal, run.details["arn"])


def _batch_segment(principal: Principal, arn: str) -> dict:
    return _json_lines_job(principal, arn, serving.segment_line)


@job_kind(EXPORT_KIND, QUEUE)
def run_export(run: JobRun) -> dict:
    return run.step(_export, run.principal, run.details["arn"])


def _export(principal: Principal, arn: str) -> dict:
    """The dataset's rows as CSV with the schema's header: BULK what imports stored, PUT what personalize-events
    recorded, ALL both; written to <path>/<jobName>/part-00000.csv."""
    job = _resource(principal, arn)
    dataset = _resource(principal, job.parent_arn)
    schema = datasets.schema_of(principal, dataset)
    mode = job.spec["ingestionMode"]
    frames = []
    if mode in ("BULK", "ALL"):
        stored = datasets.stored_frame(dataset)
        if stored is not None:
            frames.append(stored)
    if mode in ("PUT", "ALL"):
        if dataset.spec["datasetType"] == "Interactions":
            frames.append(datasets.events_frame(principal, dataset.parent_arn))
        else:
            recorded = datasets.records_frame(principal, dataset)
            if recorded is not None:
                frames.append(recorded)
    columns = [field.key for field in schema.fields]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    frame = frame.reindex(columns=columns)
    _write(principal, _folder(job.spec["jobOutput"]["s3DataDestination"]["path"]) + f"{job.name}/part-00000.csv",
           write_csv(frame, schema))
    return {"rows": len(frame)}


@job_kind(DATA_DELETION_KIND, QUEUE)
def run_data_deletion(run: JobRun) -> dict:
    return run.step(_data_deletion, run.principal, run.details["arn"])


def _data_deletion(principal: Principal, arn: str) -> dict:
    """Every record of the users the CSV lists (a USER_ID column): their imported and recorded interactions and
    their Users rows. Models trained before keep what they learnt until the next training, as on AWS."""
    job = _resource(principal, arn)
    users: set[str] = set()
    for uri, raw in _input_files(principal, job.spec["dataSource"]["dataLocation"]):
        try:
            frame = pd.read_csv(io.BytesIO(raw), dtype=str)
        except (ValueError, UnicodeDecodeError) as error:
            raise TrainingFailed(f"{uri} is not a readable CSV file: {error}") from None
        column = next((name for name in frame.columns if name.upper() == "USER_ID"), None)
        if column is None:
            raise TrainingFailed(f"{uri} has no USER_ID column.")
        users.update(frame[column].dropna())
    deleted = 0
    found = datasets.datasets(principal, job.parent_arn)
    for kind in ("Interactions", "Users"):
        dataset = found.get(kind)
        stored = datasets.stored_frame(dataset) if dataset is not None else None
        if stored is not None:
            keep = ~stored["USER_ID"].astype(str).isin(users)
            deleted += int((~keep).sum())
            path = datasets.stored_path(dataset)
            partial = path.with_suffix(".partial")
            stored[keep].reset_index(drop=True).to_parquet(partial, index=False)
            partial.replace(path)
    deleted += datasets.forget_users(principal, job.parent_arn, found.get("Users"), users)
    return {"numDeleted": deleted}


# ------------------------------------------------------------------------------------------------ removal


def remove_data(row: PersonalizeResource) -> None:
    if row.kind == IMPORT_JOB:
        data_path(row.account_id, row.arn, "attribution.parquet").unlink(missing_ok=True)
    elif row.kind == DATASET:
        datasets.stored_path(row).unlink(missing_ok=True)
    elif row.kind in (SOLUTION_VERSION, RECOMMENDER):
        model_path(row).unlink(missing_ok=True)
        datasets.remove_copy(data_path(row.account_id, row.arn, "data"))

