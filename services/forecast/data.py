"""Dataset data: import files read and checked against the schema, kept as Parquet, and read back as series.

An import job reads every CSV (or Parquet) object under its S3 path — columns in the schema's order, an optional
header row that names them — parses each value as its attribute's type, and writes one Parquet file. A row that
does not parse fails the job with its line number. A dataset's data is its latest FULL import and every
INCREMENTAL one after it (a later row for the same series and time replaces an earlier one).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.forecast.errors import InvalidInput
from services.gateway.errors import ServiceError
from services.gateway.kit.inputs import list_input_objects
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError

MAX_IMPORT_BYTES = 1024 ** 3  # one object; AWS's limit is far larger, this gateway keeps a file in memory
MAX_IMPORT_ROWS = 20_000_000
MAX_REPORTED_ROWS = 5  # bad rows named in the failure message
DEFAULT_TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss"

# Java DateTimeFormatter letters (what TimestampFormat is written in) to strptime's.
_JAVA_TO_STRPTIME = [("yyyy", "%Y"), ("MM", "%m"), ("dd", "%d"), ("HH", "%H"), ("mm", "%M"), ("ss", "%S")]


class ImportFailed(ServiceError):
    """The import's data does not match its schema: the job ends CREATE_FAILED with this message."""

    def __init__(self, message: str):
        super().__init__("InvalidInputException", message, 400)


def strptime_format(timestamp_format: str) -> str:
    """A TimestampFormat ("yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd'T'HH:mm:ss", ...) as a strptime format."""
    if timestamp_format == "epoch":
        return timestamp_format
    text = re.sub(r"'([^']*)'", lambda match: match.group(1).replace("%", "%%"), timestamp_format)
    for java, python in _JAVA_TO_STRPTIME:
        text = text.replace(java, python)
    if re.search(r"[a-zA-Z]", re.sub(r"%[YmdHMS%]", "", text).replace("T", "")):
        raise InvalidInput(f"TimestampFormat {timestamp_format!r} is not supported: use yyyy, MM, dd, HH, mm and ss "
                           f"(e.g. yyyy-MM-dd HH:mm:ss) or epoch.")
    return text


def check_timestamp_format(timestamp_format: str | None, frequency: str | None) -> str:
    fmt = timestamp_format or DEFAULT_TIMESTAMP_FORMAT
    strptime_format(fmt)
    if fmt != "epoch" and "HH" not in fmt and frequency not in (None, "Y", "M", "W", "D"):
        raise InvalidInput(f"TimestampFormat {fmt} has no time of day, which {frequency} data needs "
                           f"(use yyyy-MM-dd HH:mm:ss).")
    return fmt


@dataclass(frozen=True)
class ImportSpec:
    attributes: list[dict]  # the dataset's schema
    path: str  # S3Config.Path
    file_format: str  # CSV or PARQUET
    timestamp_format: str
    time_zone: str | None
    geolocation_format: str | None = None  # LAT_LONG: each row's local time zone from its geolocation attribute


def read_import(account_id: str, spec: ImportSpec) -> pd.DataFrame:
    """Every object under the path, parsed and checked; ImportFailed naming the first bad rows."""
    uris = list_input_objects(
        account_id, spec.path,
        unreadable=lambda error: ImportFailed(f"Could not read {spec.path}: {error}"),
        empty=lambda uri: ImportFailed(f"No data files were found at {uri}."))
    frames = []
    for uri in uris:
        try:
            raw = runtime().blobs.read(uri, account_id, max_bytes=MAX_IMPORT_BYTES)
        except BlobError as error:
            raise ImportFailed(f"Could not read {uri}: {error}") from None
        frames.append(parse_file(raw, uri, spec))
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(frame) > MAX_IMPORT_ROWS:
        raise ImportFailed(f"The import has {len(frame)} rows; this gateway imports at most {MAX_IMPORT_ROWS}.")
    return frame


def parse_file(raw: bytes, uri: str, spec: ImportSpec) -> pd.DataFrame:
    names = [attribute["AttributeName"] for attribute in spec.attributes]
    if spec.file_format == "PARQUET":
        try:
            table = pd.read_parquet(io.BytesIO(raw))
        except Exception as error:  # noqa: BLE001 - any unreadable file is the user's data problem
            raise ImportFailed(f"{uri} is not a readable Parquet file: {error}") from None
        missing = [name for name in names if name not in table.columns]
        if missing:
            raise ImportFailed(f"{uri} lacks the schema's columns {', '.join(missing)}.")
        text = table[names].astype("string")
        first_line = 1
    else:
        try:
            text = pd.read_csv(io.BytesIO(raw), header=None, dtype=str, keep_default_na=False,
                               skip_blank_lines=True, on_bad_lines="error", engine="python")
        except pd.errors.EmptyDataError:
            raise ImportFailed(f"{uri} is empty.") from None
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
            raise ImportFailed(f"{uri} is not a valid CSV file: {error}") from None
        if text.shape[1] != len(names):
            raise ImportFailed(f"{uri} has {text.shape[1]} columns; the dataset's schema has {len(names)} "
                               f"({', '.join(names)}).")
        text.columns = names
        first_line = 1
        if [str(value).strip() for value in text.iloc[0]] == names:  # a header row naming the schema's columns
            text = text.iloc[1:].reset_index(drop=True)
            first_line = 2
    return typed(text, uri, spec, first_line)


def typed(text: pd.DataFrame, uri: str, spec: ImportSpec, first_line: int) -> pd.DataFrame:
    out = {}
    bad: list[str] = []
    for attribute in spec.attributes:
        name, kind = attribute["AttributeName"], attribute["AttributeType"]
        column = text[name].astype("string").str.strip()
        empty = column.isna() | (column == "")
        if kind in ("integer", "float"):
            values = pd.to_numeric(column.where(~empty), errors="coerce")
            wrong = values.isna() & ~empty
            if kind == "integer":
                wrong |= values.notna() & (values != np.floor(values.fillna(0)))
            out[name] = values.astype("float64")
        elif kind == "timestamp":
            values = parse_timestamps(column.where(~empty), spec.timestamp_format, spec.time_zone)
            wrong = values.isna() & ~empty
            wrong |= empty  # a row needs its timestamp
            out[name] = values
        else:
            out[name] = column.where(~empty)
            wrong = pd.Series(False, index=column.index)
            if kind == "geolocation":
                wrong = ~empty & ~column.fillna("").str.match(r"^(-?\d+(\.\d+)?_-?\d+(\.\d+)?|[A-Z]{2}_\S+)$")
        for index in np.flatnonzero(wrong.to_numpy())[:MAX_REPORTED_ROWS - len(bad)]:
            bad.append(f"line {index + first_line}: {text[name].iloc[index]!r} is not a valid {kind} for {name}")
        if len(bad) >= MAX_REPORTED_ROWS:
            break
    if not bad and spec.geolocation_format:
        bad = _localize_by_location(out, spec.attributes, text, first_line)
    if bad:
        raise ImportFailed(f"{uri} has values that do not match the schema: " + "; ".join(bad) + ".")
    return pd.DataFrame(out)


def _localize_by_location(columns: dict, attributes: list[dict], text: pd.DataFrame, first_line: int) -> list[str]:
    """UseGeolocationForTimeZone with LAT_LONG: each row's timestamp is a local time of the zone at its
    latitude_longitude (tzfpy's offline time zone boundaries), stored as UTC. The bad rows, by line."""
    import tzfpy

    location = next(attribute["AttributeName"] for attribute in attributes
                    if attribute["AttributeType"] == "geolocation")
    stamp = next(attribute["AttributeName"] for attribute in attributes if attribute["AttributeType"] == "timestamp")
    bad: list[str] = []
    zones = []
    for index, value in enumerate(columns[location]):
        zone = None
        if isinstance(value, str) and re.match(r"^-?\d+(\.\d+)?_-?\d+(\.\d+)?$", value):
            latitude, longitude = (float(part) for part in value.split("_"))
            if -90 <= latitude <= 90 and -180 <= longitude <= 180:
                zone = tzfpy.get_tz(longitude, latitude)
        if not zone and len(bad) < MAX_REPORTED_ROWS:
            bad.append(f"line {index + first_line}: {text[location].iloc[index]!r} is not a LAT_LONG location "
                       f"(latitude_longitude, e.g. 47.61_-122.33)")
        zones.append(zone)
    if bad:
        return bad
    local = columns[stamp]
    utc = pd.Series(pd.NaT, index=local.index, dtype="datetime64[ns]")
    for zone, rows in pd.Series(zones, index=local.index).groupby(zones).groups.items():
        utc[rows] = local[rows].dt.tz_localize(zone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC") \
            .dt.tz_localize(None)
    for index in np.flatnonzero(utc.isna().to_numpy() & local.notna().to_numpy())[:MAX_REPORTED_ROWS]:
        bad.append(f"line {index + first_line}: {text[stamp].iloc[index]!r} does not exist in its local time zone "
                   f"{zones[index]} (a daylight-saving change)")
    columns[stamp] = utc
    return bad


def parse_timestamps(column: pd.Series, timestamp_format: str, time_zone: str | None) -> pd.Series:
    if timestamp_format == "epoch":
        values = pd.to_datetime(pd.to_numeric(column, errors="coerce"), unit="s", errors="coerce")
    else:
        values = pd.to_datetime(column, format=strptime_format(timestamp_format), errors="coerce")
    if time_zone:  # local times of that zone, stored as UTC
        try:
            values = values.dt.tz_localize(time_zone, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC") \
                .dt.tz_localize(None)
        except Exception as error:  # noqa: BLE001 - an unknown zone name
            raise ImportFailed(f"TimeZone {time_zone!r} is not valid: {error}") from None
    return values


def field_statistics(frame: pd.DataFrame, attributes: list[dict]) -> dict:
    """DescribeDatasetImportJob's FieldStatistics: per attribute counts, and for numbers min/max/avg/stddev."""
    statistics = {}
    for attribute in attributes:
        name, kind = attribute["AttributeName"], attribute["AttributeType"]
        column = frame[name]
        count, nulls = int(column.notna().sum()), int(column.isna().sum())
        entry = {"Count": count, "CountDistinct": int(column.nunique()), "CountNull": nulls, "CountNan": 0,
                 "CountLong": count, "CountDistinctLong": int(column.nunique()), "CountNullLong": nulls,
                 "CountNanLong": 0}
        if kind in ("integer", "float") and count:
            entry.update(Min=_number(column.min()), Max=_number(column.max()), Avg=float(column.mean()),
                         Stddev=float(column.std()) if count > 1 else 0.0)
        elif kind == "timestamp" and count:
            entry.update(Min=column.min().strftime("%Y-%m-%dT%H:%M:%SZ"),
                         Max=column.max().strftime("%Y-%m-%dT%H:%M:%SZ"))
        statistics[name] = entry
    return statistics


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def data_size_gb(frame: pd.DataFrame) -> float:
    return float(frame.memory_usage(deep=True).sum()) / 1024 ** 3
