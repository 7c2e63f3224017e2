"""Automatic training (performAutoTraining): when a solution's next automatic solution version is due.

As AWS documents it: the first automatic training starts within an hour after the solution is ACTIVE (or after an
update turns automatic training on), and is skipped when a solution version was created by hand within that hour;
then one every `rate(N days)` (solutionConfig.autoTrainingConfig.schedulingExpression, 1 to 30 days, default 7).
Here the slots are `anchor + delay + k × N days`; each slot gets one automatic version, started by the first
periodic tick (services/gateway/jobs.py `periodic`) that finds it due while no version of the solution is training.
"""

from __future__ import annotations

import datetime as dt
import re

from services.personalize.errors import InvalidInput

AUTOMATIC, MANUAL = "AUTOMATIC", "MANUAL"  # a solution version's trainingType
DEFAULT_SCHEDULE = "rate(7 days)"
_RATE = re.compile(r"rate\((\d+) days?\)")


def schedule_days(config: dict | None) -> int:
    """The days between automatic trainings that an autoTrainingConfig asks for."""
    expression = (config or {}).get("schedulingExpression") or DEFAULT_SCHEDULE
    match = _RATE.fullmatch(expression)
    if match is None or not 1 <= int(match.group(1)) <= 30:
        raise InvalidInput(f"The schedulingExpression {expression} is not valid: give rate(value days) with a value "
                           "from 1 to 30.")
    return int(match.group(1))


def due_slot(anchor: dt.datetime, days: int, delay_s: float, versions: list[tuple[dt.datetime, str]],
             now: dt.datetime) -> dt.datetime | None:
    """The slot whose automatic training should start now, or None. `versions`: (created, trainingType) of the
    solution's versions."""
    first = anchor + dt.timedelta(seconds=delay_s)
    if now < first:
        return None
    period = dt.timedelta(days=days)
    k = int((now - first) / period)
    slot = first + k * period
    if k == 0 and any(anchor <= created < first and kind == MANUAL for created, kind in versions):
        return None  # trained by hand within the first hour: the first automatic training is skipped
    if any(created >= slot and kind == AUTOMATIC for created, kind in versions):
        return None  # this slot's training has started already
    return slot
