"""A predictor's periods: data bucketed to the forecast frequency, aligned to its TimeAlignmentBoundary
(https://docs.aws.amazon.com/forecast/latest/dg/data-aggregation.html).

Series are modelled on calendar periods (the default boundaries: minute, hour, midnight, Monday, the 1st, 1 January).
A custom boundary moves every input time back by `alignment` before bucketing, and every time written out forward
by it again, so a monthly predictor aligned on day 15 reads the 15th to the 14th as a month and forecasts the 15ths.
"""

from __future__ import annotations

import pandas as pd

import models.forecasting as engines
from services.forecast.errors import InvalidInput
from services.forecast.schema import FREQUENCIES

# TimeAlignmentBoundary's unit for each forecast frequency it can align: one unit finer than the frequency's
# (https://docs.aws.amazon.com/forecast/latest/dg/data-aggregation.html#specifying-time-boundary).
BOUNDARY_UNITS = {"Y": "Month", "M": "DayOfMonth", "W": "DayOfWeek", "D": "Hour"}
_MONTHS = ("JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST", "SEPTEMBER", "OCTOBER",
           "NOVEMBER", "DECEMBER")
_WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


def check_time_alignment(boundary: dict, frequency: str) -> None:
    given = sorted(unit for unit, value in boundary.items() if value is not None)
    unit = BOUNDARY_UNITS.get(frequency)
    if unit is None:
        raise InvalidInput(f"TimeAlignmentBoundary is valid only with a forecast frequency of Y, M, W or D, not "
                           f"{frequency}.")
    if given != [unit]:
        raise InvalidInput(f"The TimeAlignmentBoundary of a forecast frequency of {frequency} takes {unit} and "
                           f"nothing else; got {', '.join(given) or 'nothing'}.")


def alignment(settings: dict) -> pd.DateOffset | pd.Timedelta:
    """How far the predictor's periods start after the calendar's (its TimeAlignmentBoundary)."""
    boundary = settings.get("boundary") or {}
    if boundary.get("Month"):
        return pd.DateOffset(months=_MONTHS.index(boundary["Month"]))
    if boundary.get("DayOfMonth"):
        return pd.Timedelta(days=boundary["DayOfMonth"] - 1)
    if boundary.get("DayOfWeek"):
        return pd.Timedelta(days=_WEEKDAYS.index(boundary["DayOfWeek"]))
    return pd.Timedelta(hours=boundary.get("Hour") or 0)


def dates(start: pd.Timestamp, periods: int, settings: dict) -> pd.DatetimeIndex:
    """The times a predictor writes for `periods` steps from a series' start (aligned to its boundary)."""
    return engines.steps(start, periods, settings["frequency"]) + alignment(settings)


def bucket(timestamps: pd.Series, frequency: str, shift: pd.DateOffset | pd.Timedelta | None = None) -> pd.Series:
    """Each timestamp's period start at the forecast frequency (weeks start on Monday), after moving it back by a
    TimeAlignmentBoundary's `shift`."""
    if shift is not None:
        timestamps = timestamps - shift
    if frequency == "Y":
        return timestamps.dt.to_period("Y").dt.start_time
    if frequency == "M":
        return timestamps.dt.to_period("M").dt.start_time
    if frequency == "W":
        days = timestamps.dt.normalize()
        return days - pd.to_timedelta(days.dt.weekday, unit="D")
    return timestamps.dt.floor(FREQUENCIES[frequency])
