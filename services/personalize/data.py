"""Dataset import files read into DataFrames by their schema, and DataFrames written back for dataset exports.

A bulk import file is CSV in UTF-8 (a UTF-8 byte order mark is allowed), its first row a header naming the
schema's fields: in any order, matched case-insensitively for required fields and reserved keywords; a header
column the schema doesn't have, a duplicated column or a missing non-nullable field fails the file, and a
missing nullable field is null in every row. Values are converted by their field's type: int and long to
int64 (Int64 where the field is nullable), float and double to float64, boolean (true/false, 1/0) to bool
(boolean where nullable), string kept as str (multi-value categorical values stay one string, `a|b|c`). An empty
cell is null, which only a nullable field may be. Quoting is standard CSV: a quoted value may hold commas,
quotes (doubled) and newlines.

A row that doesn't parse — the wrong number of columns, a value that isn't of its field's type, null in a
non-nullable field, an ID over 256 characters, a categorical or other string over 1,000 — is left out of the
frame and reported as a BadRow with the line it starts on (the header is line 1); the service decides what a
bad row does to the job. Textual values over 20,000 characters are truncated to 20,000 (Personalize truncates
them too). Whatever stops the file as a whole (not UTF-8, empty, header only, header not matching the schema,
more rows than `max_rows`, too many distinct event types) raises InvalidInput.

pandas' C parser reads a file without quote characters; a quoted file, or one where the fast read finds any
problem, is read again with the csv module, record by record, which knows each record's line.
"""

from __future__ import annotations

import csv
import io
import os
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from services.personalize.errors import InvalidInput
from services.personalize.schemas import (
    ID_KEYS, MAX_INTERACTION_METADATA_AND_EVENT_TYPES, Field, Schema, dataset_type_name,
    interaction_budget_fields)

MAX_ID_LENGTH = 256  # USER_ID, ITEM_ID, ACTION_ID values
MAX_STRING_LENGTH = 1000  # categorical values, impressions and other non-textual strings
MAX_TEXTUAL_LENGTH = 20_000  # textual values past it are truncated
_BOM = b"\xef\xbb\xbf"
_INT_RANGES = {"int": (-2 ** 31, 2 ** 31 - 1), "long": (-2 ** 63, 2 ** 63 - 1)}
_TRUE, _FALSE = ("true", "1"), ("false", "0")

if csv.field_size_limit() < 64 * 1024 * 1024:  # textual values and long impression lists exceed csv's 128 KiB
    csv.field_size_limit(64 * 1024 * 1024)


@dataclass(frozen=True)
class BadRow:
    line: int  # the line of the file the record starts on; the header is line 1
    reason: str


def read_csv(source, schema: Schema, dataset_type: str,
             max_rows: int | None = None) -> tuple[pd.DataFrame, list[BadRow]]:
    """The file's good rows as a frame (columns: the schema's field keys, in the schema's order) and its bad rows."""
    kind = dataset_type_name(dataset_type)
    raw = _read_source(source)
    body = raw[len(_BOM):] if raw.startswith(_BOM) else raw
    text = _decode(body)
    if not text.strip():
        raise InvalidInput("The data file is empty: it needs a header row naming the schema's fields, then one "
                           "record per line.")
    header = _header(text)
    columns = _match_header(header, schema)
    result = _read_fast(body, len(header), columns, max_rows) if b'"' not in body else None
    if result is None:
        result = _read_exact(text, len(header), columns, max_rows)
    frame, bad_rows = result
    if kind == "Interactions":
        _check_event_types(frame, schema)
    return frame, bad_rows


def write_csv(frame: pd.DataFrame, schema: Schema) -> bytes:
    """The frame as CSV (UTF-8): a header row of the schema's field names, then the rows in the schema's order."""
    out = {}
    for field in schema.fields:
        name = field.key if field.key in frame.columns else field.name if field.name in frame.columns else None
        if name is None:
            out[field.name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
            continue
        column = frame[name]
        if field.type == "boolean":
            column = column.map(lambda value: "" if pd.isna(value) else "true" if value else "false")
        out[field.name] = column
    table = pd.DataFrame(out, index=frame.index, columns=[field.name for field in schema.fields])
    return table.to_csv(index=False, lineterminator="\n", na_rep="").encode("utf-8")


# ---- the file as text and its header ---------------------------------------------------------------------------

def _read_source(source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return handle.read()
    data = source.read()
    return data.encode("utf-8") if isinstance(data, str) else bytes(data)


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        line = body.count(b"\n", 0, error.start) + 1
        raise InvalidInput(f"The data file is not UTF-8: byte 0x{body[error.start]:02x} on line {line} isn't valid "
                           f"UTF-8. Save the CSV file in UTF-8.") from None


def _header(text: str) -> list[str]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            if row:
                return [name.strip() for name in row]
    except csv.Error as error:
        raise InvalidInput(f"The data file's header row is not valid CSV: {error}.") from None
    raise InvalidInput("The data file is empty: it needs a header row naming the schema's fields.")


def _match_header(header: list[str], schema: Schema) -> list[tuple[Field, int | None]]:
    """Each schema field with its column in the file (None: a nullable field the file leaves out)."""
    by_name = {field.name: field for field in schema.fields}
    by_folded = {field.name.lower(): field for field in schema.fields}
    positions: dict[str, int] = {}
    unknown = []
    for position, name in enumerate(header):
        if not name:
            raise InvalidInput(f"Column {position + 1} of the data file's header has no name.")
        field = by_name.get(name) or by_folded.get(name.lower())
        if field is None:
            unknown.append(name)
        elif field.name in positions:
            raise InvalidInput(f"The data file's header names the field {field.name} twice (columns "
                               f"{positions[field.name] + 1} and {position + 1}).")
        else:
            positions[field.name] = position
    if unknown:
        raise InvalidInput(f"The data file's header doesn't match the schema: column(s) {', '.join(unknown)} "
                           f"aren't fields of the schema (its fields are {', '.join(by_name)}).")
    missing = [field.name for field in schema.fields if field.name not in positions and not field.nullable]
    if missing:
        raise InvalidInput(f"The data file's header doesn't match the schema: it lacks the column(s) "
                           f"{', '.join(missing)}, which the schema has and doesn't allow to be null.")
    return [(field, positions.get(field.name)) for field in schema.fields]


# ---- reading the records ---------------------------------------------------------------------------------------

def _read_fast(body: bytes, width: int, columns: list[tuple[Field, int | None]],
               max_rows: int | None) -> tuple[pd.DataFrame, list[BadRow]] | None:
    """pandas' C parser on a file without quotes; None where the file needs the exact read (any bad row)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = pd.read_csv(io.BytesIO(body), header=0, dtype=str, keep_default_na=False, na_filter=False,
                                skip_blank_lines=True, engine="c", encoding="utf-8",
                                nrows=None if max_rows is None else max_rows + 1)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
        return None
    _check_max_rows(len(table), max_rows)
    if table.shape[1] != width or not isinstance(table.index, pd.RangeIndex):
        return None
    # pandas fails a row with too many fields but pads one with too few: every record has width - 1 commas.
    if body.count(b",") != (width - 1) * (len(table) + 1):
        return None
    if table.empty:
        raise _header_only()
    frame, problems = _typed([(field, None if position is None else table.iloc[:, position])
                              for field, position in columns], len(table))
    return None if problems else (frame, [])


def _read_exact(text: str, width: int, columns: list[tuple[Field, int | None]],
                max_rows: int | None) -> tuple[pd.DataFrame, list[BadRow]]:
    """The csv module, record by record: every record's first line, so every bad row's."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[list[str]] = []
    lines: list[int] = []
    bad_rows: list[BadRow] = []
    seen_header = False
    count = 0
    previous = 0
    while True:
        start = previous + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as error:  # a quote out of place, or one never closed
            bad_rows.append(BadRow(start, f"the row is not valid CSV: {error}"))
            previous = reader.line_num
            continue
        previous = reader.line_num
        if not row:  # a blank line
            continue
        if not seen_header:
            seen_header = True
            continue
        count += 1
        _check_max_rows(count, max_rows)
        if len(row) != width:
            bad_rows.append(BadRow(start, f"the row has {len(row)} columns; the header has {width}"))
            continue
        records.append(row)
        lines.append(start)
    if not records and not bad_rows:
        raise _header_only()
    frame, problems = _typed([(field, None if position is None else
                               pd.Series([record[position] for record in records], dtype=object))
                              for field, position in columns], len(records))
    bad_rows += [BadRow(lines[index], "; ".join(reasons)) for index, reasons in problems.items()]
    bad_rows.sort(key=lambda bad_row: bad_row.line)
    return frame, bad_rows


def _check_max_rows(count: int, max_rows: int | None) -> None:
    if max_rows is not None and count > max_rows:
        raise InvalidInput(f"The data file has more than {max_rows} records, the most one import takes.")


def _header_only() -> InvalidInput:
    return InvalidInput("The data file has a header row but no records.")


# ---- values by type --------------------------------------------------------------------------------------------

def _typed(columns: list[tuple[Field, pd.Series | None]], count: int) -> tuple[pd.DataFrame, dict[int, list[str]]]:
    """The good rows converted by their fields' types, and the bad rows' reasons by row index."""
    out: dict[str, object] = {}
    problems: dict[int, list[str]] = {}

    def report(mask: np.ndarray, values: pd.Series | None, reason) -> None:
        for index in np.flatnonzero(mask):
            problems.setdefault(int(index), []).append(reason(None if values is None else values.iat[index]))

    for field, column in columns:
        if column is None:  # a nullable field the file leaves out
            out[field.key] = _nulls(field, count)
            continue
        column = column.reset_index(drop=True)
        empty = (column == "").to_numpy(dtype=bool)
        if not field.nullable:
            report(empty, None, lambda _, field=field: f"{field.name} is empty, and its schema type doesn't allow "
                                                        f"null")
        if field.type == "string":
            out[field.key] = _strings(field, column, empty, report)
        elif field.type in ("int", "long"):
            out[field.key] = _integers(field, column, empty, report)
        elif field.type in ("float", "double"):
            out[field.key] = _floats(field, column, empty, report)
        else:  # boolean
            folded = column.str.strip().str.lower()
            true, false = folded.isin(_TRUE).to_numpy(dtype=bool), folded.isin(_FALSE).to_numpy(dtype=bool)
            report(~empty & ~true & ~false, column, lambda value, field=field:
                   f"{field.name}: {_shown(value)} is not a valid boolean (use true or false)")
            out[field.key] = pd.arrays.BooleanArray(true, empty.copy()) if field.nullable else true
    frame = pd.DataFrame(out, index=pd.RangeIndex(count))
    if problems:
        keep = np.ones(count, dtype=bool)
        keep[list(problems)] = False
        frame = frame[keep].reset_index(drop=True)
    return frame, dict(sorted(problems.items()))


def _nulls(field: Field, count: int):
    if field.type in ("int", "long"):
        return pd.array([None] * count, dtype="Int64")
    if field.type in ("float", "double"):
        return np.full(count, np.nan)
    if field.type == "boolean":
        return pd.array([None] * count, dtype="boolean")
    return pd.Series([None] * count, dtype=object)


def _strings(field: Field, column: pd.Series, empty: np.ndarray, report) -> pd.Series:
    texts = column.to_numpy()
    longest = max(map(len, texts), default=0)
    if field.key in ID_KEYS:
        if longest > MAX_ID_LENGTH:
            report(column.str.len().to_numpy() > MAX_ID_LENGTH, None,
                   lambda _: f"{field.name} is longer than {MAX_ID_LENGTH} characters")
    elif field.textual:
        if longest > MAX_TEXTUAL_LENGTH:
            column = column.str.slice(0, MAX_TEXTUAL_LENGTH)
    elif longest > MAX_STRING_LENGTH:
        report(column.str.len().to_numpy() > MAX_STRING_LENGTH, None,
               lambda _: f"{field.name} has a value longer than {MAX_STRING_LENGTH} characters")
    if empty.any():
        column = column.where(~empty, None)
    return column.astype(object)


def _integers(field: Field, column: pd.Series, empty: np.ndarray, report):
    low, high = _INT_RANGES[field.type]
    texts = column.to_numpy()
    values = np.zeros(len(column), dtype=np.int64)
    present = texts[~empty]
    joined = "".join(present)
    if joined.isascii() and joined.isdigit() and max(map(len, present), default=0) <= 18:
        values[~empty] = present.astype(np.int64)  # only unsigned digits, none past 64 bits: the common case
        ok = ~empty
    else:
        values, ok = _integers_exactly(column, empty, low, high)
    if field.type == "int":
        ok &= (values >= low) & (values <= high)
    report(~empty & ~ok, column, lambda value: f"{field.name}: {_shown(value)} is not a valid {field.type}")
    if field.nullable:
        return pd.arrays.IntegerArray(values, empty | ~ok)
    return values


def _integers_exactly(column: pd.Series, empty: np.ndarray, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    stripped = column.str.strip()
    ok = stripped.str.fullmatch(r"[+-]?[0-9]+").to_numpy(dtype=bool) & ~empty
    values = np.zeros(len(column), dtype=np.int64)
    long_digits = ok & (stripped.str.len().to_numpy() > 18)
    short = ok & ~long_digits
    if short.any():
        values[short] = stripped.to_numpy()[short].astype(np.int64)
    for index in np.flatnonzero(long_digits):  # past 18 digits: may not fit in 64 bits
        number = int(stripped.iat[index])
        if low <= number <= high:
            values[index] = number
        else:
            ok[index] = False
    return values, ok


def _floats(field: Field, column: pd.Series, empty: np.ndarray, report) -> np.ndarray:
    values = np.full(len(column), np.nan)
    try:
        values[~empty] = column.to_numpy()[~empty].astype(np.float64)
        if np.isnan(values[~empty]).any():  # "nan" written out is not a number either
            raise ValueError
    except ValueError:  # some value isn't a number: pandas' parser says which
        values = pd.to_numeric(column.where(~empty), errors="coerce").to_numpy(dtype=np.float64)
        report(~empty & np.isnan(values), column, lambda value: f"{field.name}: {_shown(value)} is not a valid "
                                                                f"{field.type}")
    return values


def _shown(value: str) -> str:
    return repr(value if len(value) <= 60 else value[:57] + "...")


# ---- whole-file limits -----------------------------------------------------------------------------------------

def _check_event_types(frame: pd.DataFrame, schema: Schema) -> None:
    """Item interactions: EVENT_TYPE, EVENT_VALUE and metadata fields, with the distinct event types, at most 10."""
    if "EVENT_TYPE" not in frame.columns:
        return
    distinct = int(frame["EVENT_TYPE"].dropna().nunique())
    fields = interaction_budget_fields(schema)
    if distinct + len(fields) > MAX_INTERACTION_METADATA_AND_EVENT_TYPES:
        raise InvalidInput(
            f"The data has {distinct} distinct event types; with the schema's {len(fields)} optional metadata "
            f"fields ({', '.join(field.name for field in fields)}) that is {distinct + len(fields)}, and an Item "
            f"interactions dataset can have at most {MAX_INTERACTION_METADATA_AND_EVENT_TYPES}.")
