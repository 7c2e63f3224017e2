"""TimeSeriesSelector (of CreateForecast and CreateWhatIfAnalysis): the series to keep, named by a CSV or Parquet file
of the item field and the forecast dimensions, read with its own Schema."""

from __future__ import annotations

import models.forecasting as engines
from services.forecast.data import ImportSpec, read_import
from services.forecast.errors import InvalidInput, TrainingFailed
from services.gateway.context import Principal

MAX_SELECTED = 100_000


def check_selector(selector: dict | None) -> None:
    if not selector:
        return
    identifiers = selector.get("TimeSeriesIdentifiers") or {}
    if not identifiers.get("DataSource") or not identifiers.get("Schema"):
        raise InvalidInput("TimeSeriesIdentifiers needs a DataSource and a Schema.")
    check_data_path(identifiers["DataSource"]["S3Config"]["Path"], identifiers.get("Format"))


def check_data_path(path: str, file_format: str | None) -> None:
    if not path.startswith("s3://"):
        raise InvalidInput(f"The S3 path {path} is not valid: it must start with s3://.")
    if file_format not in (None, "CSV", "PARQUET"):
        raise InvalidInput(f"Format {file_format} is not valid; valid formats are CSV and PARQUET.")


def selected_keys(principal: Principal, selector: dict | None, keys: list[str]) -> list[list[str]] | None:
    """The keys (item field, then dimensions) the selector names, or None to keep every series."""
    if not selector:
        return None
    identifiers = selector["TimeSeriesIdentifiers"]
    attributes = identifiers["Schema"]["Attributes"]
    names = [attribute["AttributeName"] for attribute in attributes]
    missing = [key for key in keys if key not in names]
    if missing:
        raise TrainingFailed(f"The TimeSeriesIdentifiers schema lacks {', '.join(missing)}: it must name "
                             f"the item field and every forecast dimension ({', '.join(keys)}).")
    frame = read_import(principal.account_id, ImportSpec(
        attributes=attributes, path=identifiers["DataSource"]["S3Config"]["Path"],
        file_format=identifiers.get("Format") or "CSV", timestamp_format="yyyy-MM-dd", time_zone=None))
    chosen = frame[keys].fillna("").astype(str).drop_duplicates()
    if len(chosen) > MAX_SELECTED:
        raise TrainingFailed(f"TimeSeriesIdentifiers names {len(chosen)} series; at most {MAX_SELECTED}.")
    return chosen.to_numpy().tolist()


def keep(series: list[engines.Series], chosen: list[list[str]] | None) -> list[engines.Series]:
    if chosen is None:
        return series
    wanted = {tuple(key) for key in chosen}
    kept = [item for item in series if item.key in wanted]
    if not kept:
        raise TrainingFailed("None of the series that TimeSeriesIdentifiers names is in the dataset group.")
    return kept
