"""Forecast's long work, as durable jobs on queue "forecast": dataset imports, predictor training with backtests
(and PerformHPO's trials), forecasts, forecast exports and predictor backtest exports.

Series are built from a dataset group's data the way Forecast documents it
(https://docs.aws.amazon.com/forecast/latest/dg/howitworks-missing-values.html): the target is aggregated (sum)
to the forecast frequency per item and forecast dimensions, every series runs from its first observation to the
last timestamp of the whole dataset, gaps inside a series are filled by `middlefill` (default zero) and the tail
after its last observation by `backfill` (default zero). Related time series are averaged to the frequency and
must reach `horizon` steps past the end, or be extended by `futurefill`.

Model fits run in the gateway's model worker processes when it has them (series split across them), else here.
"""

from __future__ import annotations

import functools
import io
import json
import threading
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pandas as pd

import models.forecasting as engines
from services.forecast.data import ImportSpec, data_size_gb, field_statistics, read_import
from services.forecast import monitoring, periods, tuning
from services.forecast.errors import InvalidInput, NotImplemented_, TrainingFailed
from services.forecast.selection import keep, selected_keys
from services.forecast.schema import DOMAINS, FREQUENCIES, METADATA, RELATED, TARGET
from services.forecast.store import ANY, IMPORT_JOB, ForecastResource, children, data_path
from services.gateway.context import Principal
from services.gateway.jobs import JobRun, job_kind
from services.gateway.kit.times import utcnow
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError

QUEUE = "forecast"
IMPORT_KIND, PREDICTOR_KIND = "forecast.dataset-import", "forecast.predictor"
FORECAST_KIND, EXPORT_KIND = "forecast.forecast", "forecast.forecast-export"
BACKTEST_EXPORT_KIND = "forecast.predictor-backtest-export"

ALGORITHM_PREFIX = "arn:aws:forecast:::algorithm/"
AUTOML_ALGORITHMS = ("ETS", "ARIMA", "NPTS")  # what PerformAutoML chooses among (the fast ones)
GLOBAL_ALGORITHMS = ("Deep_AR_Plus", "CNN-QR")  # one model over all series: not split across workers
FILL_METHODS = ("zero", "nan", "value", "median", "mean", "min", "max")
MAX_SERIES = 100_000


# ------------------------------------------------------------------------------------------------ checks


def algorithm_name(arn: str) -> str:
    name = arn[len(ALGORITHM_PREFIX):] if arn.startswith(ALGORITHM_PREFIX) else None
    if name not in engines.ALGORITHMS:
        raise InvalidInput(f"AlgorithmArn {arn} is not valid; valid algorithms are "
                           f"{', '.join(ALGORITHM_PREFIX + name for name in engines.ALGORITHMS)}.")
    if name not in engines.AVAILABLE:
        raise NotImplemented_(f"The {name} algorithm is not implemented by this gateway yet; use one of "
                              f"{', '.join(ALGORITHM_PREFIX + name for name in engines.AVAILABLE)}.")
    return name


def algorithm_arn(name: str) -> str:
    return ALGORITHM_PREFIX + name


def check_time_zone(zone: str) -> None:
    try:
        pd.Timestamp("2020-01-01").tz_localize(zone)
    except Exception:  # noqa: BLE001 - pytz/zoneinfo raise several kinds
        raise InvalidInput(f"TimeZone {zone} is not a valid time zone name.") from None


def evaluation(parameters: dict, horizon: int) -> dict:
    return {"NumberOfBacktestWindows": parameters.get("NumberOfBacktestWindows", 1),
            "BackTestWindowOffset": parameters.get("BackTestWindowOffset", horizon)}


def check_evaluation(parameters: dict, horizon: int) -> None:
    windows = evaluation(parameters, horizon)
    if not 1 <= windows["NumberOfBacktestWindows"] <= 5:
        raise InvalidInput("NumberOfBacktestWindows must be from 1 to 5.")
    if windows["BackTestWindowOffset"] < horizon:
        raise InvalidInput(f"BackTestWindowOffset ({windows['BackTestWindowOffset']}) must be at least the "
                           f"ForecastHorizon ({horizon}).")


def _fill_parameters(parameters: dict, where: str) -> dict:
    for method in ("middlefill", "backfill", "futurefill", "frontfill"):
        value = parameters.get(method)
        if value is None:
            continue
        if method == "frontfill" and value != "none":
            raise InvalidInput(f"{where}: frontfill can only be none.")
        if method != "frontfill" and value not in FILL_METHODS:
            raise InvalidInput(f"{where}: {method} {value!r} is not valid; valid methods are "
                               f"{', '.join(FILL_METHODS)}.")
        if value == "value":
            try:
                float(parameters[f"{method}_value"])
            except (KeyError, ValueError):
                raise InvalidInput(f"{where}: {method} value needs a numeric {method}_value.") from None
    aggregation = parameters.get("aggregation")
    if aggregation is not None and aggregation not in ("sum", "avg", "first", "min", "max"):
        raise InvalidInput(f"{where}: aggregation {aggregation!r} is not valid; valid methods are sum, avg, first, "
                           f"min and max.")
    return parameters


def check_featurizations(featurizations: list[dict]) -> None:
    for featurization in featurizations:
        for method in featurization.get("FeaturizationPipeline") or []:
            _fill_parameters(method.get("FeaturizationMethodParameters") or {},
                             f"Featurization of {featurization['AttributeName']}")


def check_attribute_configs(configs: list[dict]) -> None:
    for config in configs:
        _fill_parameters(config["Transformations"], f"AttributeConfig of {config['AttributeName']}")


# ------------------------------------------------------------------------------------------------ data


def group_datasets(principal: Principal, group: ForecastResource) -> dict[str, ForecastResource]:
    """The dataset group's datasets that exist, by dataset type."""
    found = {}
    for arn in group.details["DatasetArns"]:
        dataset = ANY.find(principal, arn)
        if dataset is not None:
            found[dataset.spec["DatasetType"]] = dataset
    return found


def active_imports(principal: Principal, group: ForecastResource) -> list[str]:
    """The import jobs whose data the group's datasets hold now: per dataset, its latest ACTIVE FULL import and
    every ACTIVE INCREMENTAL one after it."""
    arns = []
    for dataset in group_datasets(principal, group).values():
        jobs = [job for job in children(principal, dataset.arn) if job.kind == IMPORT_JOB
                and job.state()[0] == "ACTIVE"]
        start = max((index for index, job in enumerate(jobs) if job.spec.get("ImportMode", "FULL") == "FULL"),
                    default=0)
        arns.extend(job.arn for job in jobs[start:])
    return arns


def dataset_frame(principal: Principal, dataset: ForecastResource, imports: list[str]) -> pd.DataFrame | None:
    parts = [pd.read_parquet(path) for arn in imports
             if (job := ANY.find(principal, arn)) is not None and job.parent_arn == dataset.arn
             and (path := data_path(principal.account_id, arn, "parquet")).exists()]
    if not parts:
        return None
    return pd.concat(parts, ignore_index=True)


def remove_data(row: ForecastResource) -> None:
    data_path(row.account_id, row.arn, "parquet").unlink(missing_ok=True)
    if row.kind == "predictor":
        for name in (*engines.ALGORITHMS, "auto"):
            backtest_path(row.account_id, row.arn, name).unlink(missing_ok=True)


_AGGREGATIONS = {"sum": "sum", "avg": "mean", "first": "first", "min": "min", "max": "max"}


def _fill(values: np.ndarray, method: str, parameters: dict, name: str, observed: np.ndarray) -> np.ndarray:
    if method == "nan":
        return values
    if method == "zero":
        return np.zeros_like(values)
    if method == "value":
        return np.full_like(values, float(parameters[f"{name}_value"]))
    present = observed[~np.isnan(observed)]
    if present.size == 0:
        return np.zeros_like(values)
    return np.full_like(values, {"median": np.median, "mean": np.mean, "min": np.min, "max": np.max}[method](present))


def _filled(values: np.ndarray, parameters: dict, future: int = 0) -> np.ndarray:
    """middlefill between the first and last observation, backfill after the last, futurefill past the end."""
    values = values.copy()
    known = np.flatnonzero(~np.isnan(values[:len(values) - future] if future else values))
    if known.size == 0:
        return np.zeros_like(values) if parameters.get("backfill", "zero") != "nan" else values
    last = known[-1]
    middle = np.isnan(values[:last + 1])
    if middle.any():
        method = parameters.get("middlefill", "zero")
        values[:last + 1][middle] = _fill(values[:last + 1][middle], method, parameters, "middlefill", values)
    end = len(values) - future
    if last + 1 < end:
        values[last + 1:end] = _fill(values[last + 1:end], parameters.get("backfill", "zero"), parameters,
                                     "backfill", values[:end])
    if future:
        tail = values[end:]
        missing = np.isnan(tail)
        if missing.any():
            if "futurefill" not in parameters:
                raise TrainingFailed("The related time series does not cover the forecast horizon: extend it, or "
                                     "set futurefill for its attributes.")
            tail[missing] = _fill(tail[missing], parameters["futurefill"], parameters, "futurefill", values[:end])
    return values


def _fill_settings(spec: dict) -> dict[str, dict]:
    """{attribute: filling and aggregation parameters} from Featurizations or AttributeConfigs."""
    settings = {}
    for featurization in (spec.get("FeaturizationConfig") or {}).get("Featurizations") or []:
        for method in featurization.get("FeaturizationPipeline") or []:
            settings[featurization["AttributeName"]] = dict(method.get("FeaturizationMethodParameters") or {})
    for config in (spec.get("DataConfig") or {}).get("AttributeConfigs") or []:
        settings[config["AttributeName"]] = dict(config["Transformations"])
    return settings


def predictor_settings(spec: dict) -> dict:
    """A predictor's forecasting settings, from CreatePredictor's or CreateAutoPredictor's request."""
    featurization = spec.get("FeaturizationConfig") or {}
    return {"horizon": spec["ForecastHorizon"],
            "frequency": featurization.get("ForecastFrequency") or spec.get("ForecastFrequency"),
            "dimensions": featurization.get("ForecastDimensions") or spec.get("ForecastDimensions") or [],
            "types": spec.get("ForecastTypes") or ["0.1", "0.5", "0.9"],
            "fill": _fill_settings(spec),
            "holidays": holiday_countries(spec),
            "boundary": spec.get("TimeAlignmentBoundary") or {}}


def holiday_countries(spec: dict) -> list[str]:
    """The country calendars a predictor asked for: CreatePredictor's SupplementaryFeatures
    [{"Name": "holiday", "Value": "US"}], CreateAutoPredictor's AdditionalDatasets
    [{"Name": "holiday", "Configuration": {"CountryCode": ["US"]}}]."""
    codes = [feature["Value"] for feature in (spec.get("InputDataConfig") or {}).get("SupplementaryFeatures") or []
             if feature["Name"] == "holiday"]
    for dataset in (spec.get("DataConfig") or {}).get("AdditionalDatasets") or []:
        if dataset["Name"] == "holiday":
            codes.extend((dataset.get("Configuration") or {}).get("CountryCode") or [])
    return codes


def check_additional_features(names: list[str], codes: list[str], frequency: str, algorithm: str | None) -> None:
    """Holidays by country (the `holidays` package's calendars, offline); weather needs data this gateway has
    not got."""
    import holidays

    for name in names:
        if name == "weather":
            raise NotImplemented_("The weather index is not available in this gateway: it needs weather data that "
                                  "is not installed here.")
        if name != "holiday":
            raise InvalidInput(f"Additional dataset {name} is not valid; valid names are holiday and weather.")
    if not codes:
        if "holiday" in names:
            raise InvalidInput("The holiday feature needs a country code.")
        return
    supported = holidays.list_supported_countries()
    for code in codes:
        if code not in supported:
            raise InvalidInput(f"Country code {code} is not supported for holidays.")
    if frequency in ("Y", "1min"):  # holidays.html: "a minimum forecast frequency of 5 minutes and a maximum of 1 month"
        raise InvalidInput(f"The holiday feature supports forecast frequencies from 5min to M, not {frequency}.")
    if algorithm == "ETS":
        raise NotImplemented_("ETS takes no related series here, so it cannot use holidays; use ARIMA, Prophet, "
                              "NPTS, Deep_AR_Plus, CNN-QR or an AutoPredictor.")


def _holiday_values(codes: list[str], index: pd.DatetimeIndex, settings: dict) -> dict[str, np.ndarray]:
    """Per country, 1 where a step is a holiday (for weekly and monthly steps, the share of their days that are),
    on the steps' real dates (moved by the TimeAlignmentBoundary)."""
    frequency = settings["frequency"]
    starts = index + periods.alignment(settings)
    out = {}
    for code in codes:
        days = _holiday_days(code, starts[0].year, starts[-1].year + 1)
        if frequency in ("W", "M"):
            ends = (index + pd.tseries.frequencies.to_offset(FREQUENCIES[frequency]) + periods.alignment(settings))
            first = starts.to_numpy().astype("datetime64[D]")
            after = ends.to_numpy().astype("datetime64[D]")
            count = np.searchsorted(days, after) - np.searchsorted(days, first)
            values = count / (after - first).astype("int64")
        else:
            values = np.isin(starts.to_numpy().astype("datetime64[D]"), days)
        out[f"holiday_{code}"] = np.asarray(values, dtype="float64")
    return out


@functools.lru_cache(maxsize=64)
def _holiday_days(code: str, first_year: int, last_year: int) -> np.ndarray:
    """A country's holidays over the years, sorted (the `holidays` package's calendar, offline)."""
    import holidays

    calendar = holidays.country_holidays(code, years=range(first_year, last_year + 1))
    return np.array(sorted(calendar.keys()), dtype="datetime64[D]")


# The last series built, by what they are built from: a predictor job's steps (data check, then each candidate's
# backtests) and its forecast build the same series in turn. Series are never changed in place.
_LAST_SERIES: dict[tuple, tuple[list[engines.Series], list[str]]] = {}
_LAST_SERIES_LOCK = threading.Lock()


def build_series(principal: Principal, group: ForecastResource, imports: list[str], settings: dict
                 ) -> tuple[list[engines.Series], list[str]]:
    """The series to train or forecast on, and the names of their key fields (item field, then dimensions)."""
    datasets = group_datasets(principal, group)
    files = [data_path(principal.account_id, arn, "parquet") for arn in imports]
    source = (principal.account_id, tuple(sorted((kind, dataset.arn) for kind, dataset in datasets.items())),
              tuple((str(path), path.stat().st_mtime_ns if path.exists() else None) for path in files),
              json.dumps(settings, sort_keys=True, default=str))
    with _LAST_SERIES_LOCK:
        built = _LAST_SERIES.get(source)
    if built is None:
        built = _build_series(principal, group, datasets, imports, settings)
        with _LAST_SERIES_LOCK:
            _LAST_SERIES.clear()
            _LAST_SERIES[source] = built
    return list(built[0]), list(built[1])


def _build_series(principal: Principal, group: ForecastResource, datasets: dict[str, ForecastResource],
                  imports: list[str], settings: dict) -> tuple[list[engines.Series], list[str]]:
    target_set = datasets.get(TARGET)
    if target_set is None:
        raise TrainingFailed(f"The dataset group {group.arn} has no TARGET_TIME_SERIES dataset.")
    domain = DOMAINS[target_set.spec["Domain"]]
    frame = dataset_frame(principal, target_set, imports)
    if frame is None or frame.empty:
        raise TrainingFailed(f"The dataset {target_set.arn} has no imported data.")
    keys = [domain.item_field, *settings["dimensions"]]
    frequency, horizon = settings["frequency"], settings["horizon"]
    target_fill = settings["fill"].get(domain.target_field, {})
    frame = frame.dropna(subset=["timestamp"])
    frame = frame.assign(timestamp=periods.bucket(frame["timestamp"], frequency, periods.alignment(settings)))
    for key in keys:
        frame[key] = frame[key].fillna("")
    aggregation = _AGGREGATIONS[target_fill.get("aggregation", "sum")]
    frame = frame.drop_duplicates(subset=[*keys, "timestamp"], keep="last") if aggregation == "first" else frame
    grouped = frame.groupby([*keys, "timestamp"], sort=True)[domain.target_field].agg(aggregation)
    counts = frame.groupby([*keys, "timestamp"], sort=True)[domain.target_field].count()
    grouped = grouped.where(counts > 0)  # a bucket with only missing values stays missing
    end = grouped.index.get_level_values("timestamp").max()
    related = _related_frame(principal, datasets.get(RELATED), imports, keys, frequency, settings)
    metadata = _metadata(principal, datasets.get(METADATA), imports, domain.item_field)
    series = []
    for key, values in grouped.groupby(level=list(range(len(keys))), sort=True):
        key = key if isinstance(key, tuple) else (key,)
        values = values.droplevel(list(range(len(keys))))
        first = values.index.min()
        future = engines.steps(first, engines.step_count(first, end, frequency) + horizon, frequency)
        index = future[:len(future) - horizon]
        target = _filled(values.reindex(index).to_numpy(dtype="float64"), target_fill)
        features = _related_values(related, key, future, horizon, settings)
        if settings["holidays"]:
            features = {**(features or {}), **_holiday_values(settings["holidays"], future, settings)}
        series.append(engines.Series(key=tuple(str(part) for part in key), start=index[0], target=target,
                                     related=features, static=metadata.get(str(key[0]))))
        if len(series) > MAX_SERIES:
            raise TrainingFailed(f"The dataset has more than {MAX_SERIES} series; this gateway trains at most "
                                 f"{MAX_SERIES}.")
    return series, keys


def _related_frame(principal: Principal, dataset: ForecastResource | None, imports: list[str], keys: list[str],
                   frequency: str, settings: dict) -> tuple[pd.DataFrame, list[str]] | None:
    if dataset is None:
        return None
    frame = dataset_frame(principal, dataset, imports)
    if frame is None or frame.empty:
        return None
    numeric = [attribute["AttributeName"] for attribute in dataset.spec["Schema"]["Attributes"]
               if attribute["AttributeType"] in ("integer", "float")]
    join = [key for key in keys if key in frame.columns]
    frame = frame.dropna(subset=["timestamp"]).assign(
        timestamp=lambda f: periods.bucket(f["timestamp"], frequency, periods.alignment(settings)))
    for key in join:
        frame[key] = frame[key].fillna("").astype(str)
    aggregated = frame.groupby([*join, "timestamp"])[numeric].agg(
        {name: _AGGREGATIONS[settings["fill"].get(name, {}).get("aggregation", "avg")] for name in numeric})
    return aggregated, join


def rows_of(frame: pd.DataFrame, key: tuple[str, ...]) -> pd.DataFrame:
    """The rows of a frame indexed by (key fields..., timestamp) for one key, indexed by timestamp (KeyError if
    none). A one-field key is looked up by its value: pandas reads a string given with a list of levels as a
    sequence of keys."""
    if len(key) == 1:
        return frame.xs(key[0], level=0)
    return frame.xs(key, level=list(range(len(key))))


def _related_values(related: tuple[pd.DataFrame, list[str]] | None, key: tuple, index: pd.DatetimeIndex,
                    horizon: int, settings: dict) -> dict[str, np.ndarray] | None:
    if related is None:
        return None
    frame, join = related
    lookup = tuple(str(part) for part in key[:len(join)])
    try:
        rows = rows_of(frame, lookup) if join else frame
    except KeyError:
        rows = frame.iloc[0:0].droplevel(list(range(len(join)))) if join else frame.iloc[0:0]
    out = {}
    for name in frame.columns:
        values = rows[name].reindex(index).to_numpy(dtype="float64")
        parameters = settings["fill"].get(name, {})
        out[name] = _filled(values, parameters, future=horizon)
    return out


def _metadata(principal: Principal, dataset: ForecastResource | None, imports: list[str], item_field: str
              ) -> dict[str, dict[str, str]]:
    if dataset is None:
        return {}
    frame = dataset_frame(principal, dataset, imports)
    if frame is None:
        return {}
    frame = frame.drop_duplicates(subset=[item_field], keep="last").set_index(item_field)
    return {str(item): {column: str(value) for column, value in row.items() if pd.notna(value)}
            for item, row in frame.iterrows()}


# ------------------------------------------------------------------------------------------------ model fits


def fit(algorithm: str, series: list[engines.Series], settings: dict, parameters: dict | None = None,
        auto: bool = False) -> tuple[list[engines.SeriesForecast], dict]:
    """Fit and forecast, across the model worker processes when there are some (series split among them)."""
    pool = runtime().model_workers
    horizon, frequency, types = settings["horizon"], settings["frequency"], settings["types"]
    if pool is None or len(series) < 2 * pool.processes or algorithm in GLOBAL_ALGORITHMS:
        return _fit_part(algorithm, series, horizon, frequency, types, parameters, auto)
    size = -(-len(series) // pool.processes)
    futures: list[Future] = [pool.submit(_fit_part, algorithm, series[start:start + size], horizon, frequency,
                                         types, parameters, auto) for start in range(0, len(series), size)]
    forecasts, info = [], {}
    for future in futures:
        part, part_info = future.result()
        forecasts.extend(part)
        for name, share in (part_info.get("algorithms") or {}).items():
            info.setdefault("algorithms", {}).setdefault(name, 0.0)
            info["algorithms"][name] += share * len(part) / len(series)
    return forecasts, info


def _fit_part(algorithm: str, series: list[engines.Series], horizon: int, frequency: str, types: list[str],
              parameters: dict | None, auto: bool) -> tuple[list[engines.SeriesForecast], dict]:
    try:
        if auto:
            return engines.auto_forecast(series, horizon, frequency, types)
        return engines.fit_and_forecast(algorithm, series, horizon, frequency, types, parameters), {}
    except engines.ForecastInputError as error:
        raise TrainingFailed(str(error)) from None


def _cut(series: list[engines.Series], cut: int, horizon: int, frequency: str, minimum: int
         ) -> tuple[list[engines.Series], list[np.ndarray], list[np.ndarray]]:
    """The series as they were `cut` steps before their end, with the `horizon` points after as the truth."""
    trains, truths, histories = [], [], []
    for item in series:
        end = len(item.target) - cut
        if end < minimum or end + horizon > len(item.target):
            continue
        related = None
        if item.related:
            related = {name: values[:end + horizon] for name, values in item.related.items()}
        trains.append(engines.Series(item.key, item.start, item.target[:end], related, item.static))
        truths.append(item.target[end:end + horizon])
        histories.append(item.target[:end])
    return trains, truths, histories


def backtest(algorithm: str, series: list[engines.Series], settings: dict, parameters: dict | None,
             windows: dict, auto: bool) -> tuple[list[dict], pd.DataFrame]:
    """WindowSummary entries (COMPUTED per window, then a SUMMARY averaging them) for one algorithm, and the
    backtests' forecasts beside the actual values (what a predictor backtest export writes)."""
    horizon, frequency, types = settings["horizon"], settings["frequency"], settings["types"]
    season = engines.season_length(frequency)
    offset = FREQUENCIES[frequency]
    computed, frames = [], []
    for window in range(windows["NumberOfBacktestWindows"]):
        cut = windows["BackTestWindowOffset"] + window * horizon
        trains, truths, histories = _cut(series, cut, horizon, frequency, minimum=3)
        if not trains:
            raise TrainingFailed(f"No series is long enough for backtest window {window + 1}: each needs more than "
                                 f"{cut} points before the window.")
        forecasts, _ = fit(algorithm, trains, settings, parameters, auto)
        metrics = engines.accuracy_metrics(truths, [forecast.quantiles for forecast in forecasts], histories, types,
                                           season)
        starts = [train.start + len(train.target) * pd.tseries.frequencies.to_offset(offset) for train in trains]
        start = min(starts)
        end = start + horizon * pd.tseries.frequencies.to_offset(offset) + periods.alignment(settings)
        start = start + periods.alignment(settings)
        # Times as epoch seconds: the job's result is stored as JSON (the handlers turn them back into times).
        computed.append({"TestWindowStart": start.tz_localize("UTC").timestamp(),
                         "TestWindowEnd": end.tz_localize("UTC").timestamp(),
                         "ItemCount": len(trains), "EvaluationType": "COMPUTED", "Metrics": _wire(metrics)})
        for train, truth, forecast in zip(trains, truths, forecasts):
            frames.append(pd.DataFrame({
                "key": ["\x1f".join(train.key)] * horizon, "window": window + 1,
                "window_start": start, "window_end": end,
                "timestamp": periods.dates(forecast.start, horizon, settings), "actual": truth,
                **{forecast_type: np.asarray(forecast.quantiles[forecast_type], dtype="float64")
                   for forecast_type in types}}))
    summary = {"EvaluationType": "SUMMARY", "Metrics": _average([window["Metrics"] for window in computed])}
    return [summary, *computed], pd.concat(frames, ignore_index=True)


def _wire(metrics: dict) -> dict:
    out = dict(metrics)
    error_metrics = out.get("ErrorMetrics") or []
    if error_metrics and "RMSE" not in out and "RMSE" in error_metrics[0]:
        out["RMSE"] = error_metrics[0]["RMSE"]
    return out


def _average(windows: list[dict]) -> dict:
    """The SUMMARY window: each metric's mean over the computed windows."""
    if len(windows) == 1:
        return windows[0]

    def mean(values: list[float]) -> float:
        return float(np.mean(values))

    out: dict = {}
    if all("RMSE" in window for window in windows):
        out["RMSE"] = mean([window["RMSE"] for window in windows])
    losses = windows[0].get("WeightedQuantileLosses") or []
    out["WeightedQuantileLosses"] = [
        {"Quantile": loss["Quantile"],
         "LossValue": mean([window["WeightedQuantileLosses"][index]["LossValue"] for window in windows])}
        for index, loss in enumerate(losses)]
    out["ErrorMetrics"] = [
        {"ForecastType": entry["ForecastType"],
         **{name: mean([window["ErrorMetrics"][index][name] for window in windows])
            for name in ("WAPE", "RMSE", "MASE", "MAPE")
            if all(name in window["ErrorMetrics"][index] for window in windows)}}
        for index, entry in enumerate(windows[0].get("ErrorMetrics") or [])]
    if all("AverageWeightedQuantileLoss" in window for window in windows):
        out["AverageWeightedQuantileLoss"] = mean([window["AverageWeightedQuantileLoss"] for window in windows])
    return out


def _metric(windows: list[dict], name: str) -> float:
    metrics = windows[0]["Metrics"]  # the SUMMARY
    if name == "AverageWeightedQuantileLoss":
        return metrics.get(name, float("inf"))
    entries = metrics.get("ErrorMetrics") or []
    return next((entry[name] for entry in entries if name in entry), float("inf"))


# ------------------------------------------------------------------------------------------------ runners


def _resource(run: JobRun) -> ForecastResource:
    row = ANY.find(run.principal, run.details["arn"])
    if row is None:
        raise TrainingFailed("The resource was deleted.")
    return row


@job_kind(IMPORT_KIND, QUEUE)
def run_import(run: JobRun) -> dict:
    return run.step(_import, run.principal, run.details["arn"])


def _import(principal: Principal, arn: str) -> dict:
    row = ANY.get(principal, arn)
    dataset = ANY.get(principal, row.parent_arn)
    spec = ImportSpec(attributes=dataset.spec["Schema"]["Attributes"],
                      path=row.spec["DataSource"]["S3Config"]["Path"], file_format=row.spec.get("Format", "CSV"),
                      timestamp_format=row.spec.get("TimestampFormat") or "yyyy-MM-dd HH:mm:ss",
                      time_zone=row.spec.get("TimeZone"),
                      geolocation_format=(row.spec.get("GeolocationFormat") or "LAT_LONG")
                      if row.spec.get("UseGeolocationForTimeZone") else None)
    frame = read_import(principal.account_id, spec)
    frame.to_parquet(data_path(principal.account_id, arn, "parquet"), index=False)
    return {"FieldStatistics": field_statistics(frame, spec.attributes), "DataSize": data_size_gb(frame)}


@job_kind(PREDICTOR_KIND, QUEUE)
def run_predictor(run: JobRun) -> dict:
    """One checkpointed step per candidate algorithm's backtests (and per PerformHPO trial before them); a stop
    request takes effect between them."""
    arn = run.details["arn"]
    candidates = run.step(_candidates, run.principal, arn)
    row = ANY.get(run.principal, arn)
    tuned = None
    if row.spec.get("PerformHPO"):
        plan = run.step(_hpo_plan, run.principal, arn)
        scores = []
        for index, trial in enumerate(plan):
            scores.append(run.step(_tune, run.principal, arn, candidates[0], trial, name=f"forecast.tune.{index}"))
            run.progress(index + 1, len(plan) + 1)
        tuned = plan[int(np.argmin(scores))]
    evaluated = []
    for index, name in enumerate(candidates):
        evaluated.append(run.step(_evaluate, run.principal, arn, name, tuned, name=f"forecast.evaluate.{name}"))
        run.progress(index + 1, len(candidates))
    if row.details.get("auto"):
        return {"algorithm": None, "evaluation": [{"TestWindows": evaluated[0]}], "executions": []}
    metric = row.spec.get("OptimizationMetric") or "AverageWeightedQuantileLoss"
    results = [{"AlgorithmArn": algorithm_arn(name), "TestWindows": windows}
               for name, windows in zip(candidates, evaluated)]
    executions = [{"AlgorithmArn": algorithm_arn(name), "TestWindows": [
        {"TestWindowStart": window["TestWindowStart"], "TestWindowEnd": window["TestWindowEnd"], "Status": "ACTIVE"}
        for window in windows if window["EvaluationType"] == "COMPUTED"]} for name, windows in zip(candidates, evaluated)]
    best = min(range(len(candidates)), key=lambda index: _metric(evaluated[index], metric))
    return {"algorithm": candidates[best], "evaluation": results, "executions": executions, "parameters": tuned}


def _hpo_plan(principal: Principal, arn: str) -> list[dict]:
    row = ANY.get(principal, arn)
    return tuning.trials(algorithm_name(row.spec["AlgorithmArn"]), row.spec, arn)


def _tune(principal: Principal, arn: str, name: str, parameters: dict) -> float:
    """One HPO trial's score: the OptimizationMetric on the first backtest window."""
    row = ANY.get(principal, arn)
    series, settings = _training_series(principal, row)
    offset = evaluation(row.spec.get("EvaluationParameters") or {}, settings["horizon"])["BackTestWindowOffset"]
    results, _ = backtest(name, series, settings, parameters,
                          {"NumberOfBacktestWindows": 1, "BackTestWindowOffset": offset}, auto=False)
    return _metric(results, row.spec.get("OptimizationMetric") or "AverageWeightedQuantileLoss")


def _training_series(principal: Principal, row: ForecastResource) -> tuple[list[engines.Series], dict]:
    settings = predictor_settings(row.spec)
    series, _ = build_series(principal, ANY.get(principal, row.parent_arn), row.details["imports"], settings)
    _check_horizon(series, settings["horizon"])
    return series, settings


def _candidates(principal: Principal, arn: str) -> list[str]:
    """The algorithms to backtest (the data is checked here first, so bad data fails before any training)."""
    row = ANY.get(principal, arn)
    _training_series(principal, row)
    if row.details.get("auto"):
        return ["auto"]
    if row.spec.get("PerformAutoML"):
        return list(AUTOML_ALGORITHMS)
    return [algorithm_name(row.spec["AlgorithmArn"])]


def _evaluate(principal: Principal, arn: str, name: str, tuned: dict | None = None) -> list[dict]:
    """One algorithm's backtest windows (with the tuned hyperparameters when PerformHPO found them); its backtest
    forecasts are kept beside the predictor for exports."""
    row = ANY.get(principal, arn)
    series, settings = _training_series(principal, row)
    windows = evaluation(row.spec.get("EvaluationParameters") or {}, settings["horizon"])
    parameters = None if name == "auto" else tuned or row.spec.get("TrainingParameters")
    results, frame = backtest(name, series, settings, parameters, windows, auto=name == "auto")
    frame.to_parquet(backtest_path(principal.account_id, arn, name), index=False)
    return results


def backtest_path(account_id: str, arn: str, algorithm: str) -> Path:
    return data_path(account_id, f"{arn}#backtest/{algorithm}", "parquet")


def _check_horizon(series: list[engines.Series], horizon: int) -> None:
    longest = max(len(item.target) for item in series)
    if horizon > max(1, longest // 3):
        raise TrainingFailed(f"The forecast horizon {horizon} is more than a third of the longest series "
                             f"({longest} points); the maximum horizon is the lesser of 500 and a third of the "
                             f"target time series.")


@job_kind(FORECAST_KIND, QUEUE)
def run_forecast(run: JobRun) -> dict:
    return run.step(_forecast, run.principal, run.details["arn"])


def _forecast(principal: Principal, arn: str) -> dict:
    row = ANY.get(principal, arn)
    predictor = ANY.get(principal, row.parent_arn)
    group = ANY.get(principal, predictor.parent_arn)
    settings = predictor_settings(predictor.spec)
    settings["types"] = row.spec["ForecastTypes"]
    trained = predictor.state()[2] or {}
    imports = active_imports(principal, group)
    series, keys = build_series(principal, group, imports, settings)
    selected = selected_keys(principal, row.spec.get("TimeSeriesSelector"), keys)
    series = keep(series, selected)
    if predictor.details.get("auto"):
        forecasts, info = fit("auto", series, settings, auto=True)
    else:
        forecasts, info = fit(trained["algorithm"], series, settings,
                              trained.get("parameters") or predictor.spec.get("TrainingParameters"))
    forecast_table(forecasts, keys, settings).to_parquet(data_path(principal.account_id, arn, "parquet"), index=False)
    return {"keys": keys, "series": len(forecasts), "algorithms": info.get("algorithms"), "imports": imports,
            "selected": selected, "evaluation": monitoring.evaluate(principal, predictor, row, series, settings,
                                                                    imports)}


def forecast_table(forecasts: list[engines.SeriesForecast], keys: list[str], settings: dict) -> pd.DataFrame:
    """Forecasts as stored: the key fields, `date`, a column per forecast type."""
    columns: dict[str, list] = {key: [] for key in keys}
    columns["date"] = []
    for forecast_type in settings["types"]:
        columns[forecast_type] = []
    for forecast in forecasts:
        times = periods.dates(forecast.start, settings["horizon"], settings)
        for position, key in enumerate(keys):
            columns[key].extend([forecast.key[position]] * len(times))
        columns["date"].extend(times)
        for forecast_type in settings["types"]:
            columns[forecast_type].extend(np.asarray(forecast.quantiles[forecast_type], dtype="float64"))
    return pd.DataFrame(columns)


def forecast_frame(account_id: str, arn: str) -> pd.DataFrame:
    return pd.read_parquet(data_path(account_id, arn, "parquet"))


def type_column(forecast_type: str) -> str:
    """How exports and queries name a forecast type: "0.1" -> "p10", "0.05" -> "p5", "mean" -> "mean"."""
    if forecast_type == "mean":
        return "mean"
    return f"p{round(float(forecast_type) * 100):d}"


@job_kind(EXPORT_KIND, QUEUE)
def run_export(run: JobRun) -> dict:
    return run.step(_export, run.principal, run.details["arn"])


def _export(principal: Principal, arn: str) -> dict:
    row = ANY.get(principal, arn)
    forecast = ANY.get(principal, row.parent_arn)
    frame = forecast_frame(forecast.account_id, forecast.arn)
    types = forecast.spec["ForecastTypes"]
    frame = frame.rename(columns={forecast_type: type_column(forecast_type) for forecast_type in types})
    frame["date"] = pd.to_datetime(frame["date"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    folder = row.spec["Destination"]["S3Config"]["Path"].rstrip("/")
    return {"files": [write_part(principal, row, folder, frame)]}


def write_part(principal: Principal, row: ForecastResource, folder: str, frame: pd.DataFrame) -> str:
    """An export's one part file, `<folder>/<job name>_<time>_part0.csv` (or .parquet), and `_SUCCESS` beside it."""
    file_format = row.spec.get("Format") or "CSV"
    uri = f"{folder}/{row.name}_{utcnow():%Y-%m-%dT%H-%M-%SZ}_part0.{'csv' if file_format == 'CSV' else 'parquet'}"
    buffer = io.BytesIO()
    if file_format == "CSV":
        frame.to_csv(buffer, index=False)
    else:
        frame.to_parquet(buffer, index=False)
    try:
        runtime().blobs.write(uri, buffer.getvalue(), principal.account_id)
        runtime().blobs.write(f"{folder}/_SUCCESS", b"", principal.account_id)
    except BlobError as error:
        raise TrainingFailed(f"Could not write the export to {folder}: {error}") from None
    return uri


@job_kind(BACKTEST_EXPORT_KIND, QUEUE)
def run_backtest_export(run: JobRun) -> dict:
    return run.step(_backtest_export, run.principal, run.details["arn"])


def _backtest_export(principal: Principal, arn: str) -> dict:
    """AWS's two folders under the destination: forecasted-values (each backtest forecast beside the actual
    value) and accuracy-metrics-values (each item's metrics per backtest window)."""
    row = ANY.get(principal, arn)
    predictor = ANY.get(principal, row.parent_arn)
    chosen = (predictor.state()[2] or {}).get("algorithm") or "auto"
    frame = pd.read_parquet(backtest_path(principal.account_id, predictor.arn, chosen))
    settings = predictor_settings(predictor.spec)
    names = _key_names(principal, ANY.get(principal, predictor.parent_arn), settings)
    parts = frame["key"].str.split("\x1f", expand=True)
    types = settings["types"]
    values = pd.DataFrame({name: parts[index] for index, name in enumerate(names)})
    values["timestamp"] = frame["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    values["target_value"] = frame["actual"]
    values["backtestwindow_start_time"] = frame["window_start"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    values["backtestwindow_end_time"] = frame["window_end"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    for forecast_type in types:
        values[type_column(forecast_type)] = frame[forecast_type]
    season = engines.season_length(settings["frequency"])
    metrics = []
    for (key, window), part in frame.groupby(["key", "window"], sort=True):
        scores = engines.accuracy_metrics([part["actual"].to_numpy()], [{t: part[t].to_numpy() for t in types}],
                                          [part["actual"].to_numpy()], types, season)
        entry = {name: value for name, value in zip(names, key.split("\x1f"))}
        entry.update(backtest_window=f"Computed-{window}",
                     backtestwindow_start_time=part["window_start"].iloc[0].strftime("%Y-%m-%dT%H:%M:%SZ"),
                     backtestwindow_end_time=part["window_end"].iloc[0].strftime("%Y-%m-%dT%H:%M:%SZ"))
        for loss in scores.get("WeightedQuantileLosses") or []:
            entry[f"wQL[{loss['Quantile']}]"] = loss["LossValue"]
        point = next(iter(scores.get("ErrorMetrics") or []), {})
        for name in ("RMSE", "WAPE", "MAPE"):
            if name in point:
                entry[name] = point[name]
        metrics.append(entry)
    path = row.spec["Destination"]["S3Config"]["Path"].rstrip("/")
    return {"files": [write_part(principal, row, f"{path}/forecasted-values", values),
                      write_part(principal, row, f"{path}/accuracy-metrics-values", pd.DataFrame(metrics))]}


def _key_names(principal: Principal, group: ForecastResource, settings: dict) -> list[str]:
    target = group_datasets(principal, group)[TARGET]
    return [DOMAINS[target.spec["Domain"]].item_field, *settings["dimensions"]]
