"""JSONata in ASL: a string `{% expr %}` is an expression evaluated with `$states` (input, result, errorOutput,
context) and the execution's variables bound, plus the functions Step Functions adds ($partition, $range, $hash,
$random, $uuid, $parse).

Every evaluation runs within a budget, since the expressions (and the data they walk) come from the caller: a wall-
clock limit and a limit on evaluation steps (each node jsonata-python evaluates is one), so an endless loop or an
infinitely (tail-)recursive function fails fast instead of spinning and growing memory; a depth limit for non-tail
recursion; regular expressions on the `regex` module with the time left as its timeout (it releases the GIL while it
matches, so other requests keep being served); and ranges built by $range capped in length. Whatever is exceeded
fails the state with States.QueryEvaluationError."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import time
import uuid
from functools import lru_cache
from typing import Any

from orchestrator.asl.errors import StatesError

_local = threading.local()

# Defaults of the budget; the gateway's settings (stepfunctions_jsonata_*) override them.
TIMEOUT_SECONDS = 5.0
MAX_STEPS = 500_000
MAX_DEPTH = 400
MAX_RANGE = 10_000_000  # what JSONata's own range operator allows (D2014)
_CHECK_EVERY = 64  # steps between clock readings


class BudgetExceeded(Exception):
    """Raised inside an evaluation that went past its budget (caught by evaluate, never leaves this module)."""


def _limits() -> tuple[float, int, int]:
    try:
        from services.gateway.runtime import runtime

        settings = runtime().settings
    except Exception:  # outside a running gateway (unit use): the defaults
        return TIMEOUT_SECONDS, MAX_STEPS, MAX_DEPTH
    return (getattr(settings, "stepfunctions_jsonata_timeout_s", TIMEOUT_SECONDS),
            getattr(settings, "stepfunctions_jsonata_max_steps", MAX_STEPS),
            getattr(settings, "stepfunctions_jsonata_max_depth", MAX_DEPTH))


class _Budget:
    __slots__ = ("deadline", "timeout", "steps", "max_steps", "depth", "max_depth", "exceeded")

    def __init__(self, timeout: float, max_steps: int, max_depth: int):
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout
        self.steps = 0
        self.max_steps = max_steps
        self.depth = 0
        self.max_depth = max_depth
        self.exceeded: str | None = None

    def fail(self, reason: str) -> None:
        self.exceeded = self.exceeded or reason
        raise BudgetExceeded(reason)

    def left(self) -> float:
        return self.deadline - time.monotonic()


def _budget() -> _Budget | None:
    return getattr(_local, "budget", None)


def _entry(expr, input, env) -> None:
    budget = _budget()
    if budget is None:
        return
    if budget.exceeded:
        raise BudgetExceeded(budget.exceeded)
    budget.steps += 1
    budget.depth += 1
    if budget.steps > budget.max_steps:
        budget.fail(f"it exceeded the maximum number of evaluation steps ({budget.max_steps})")
    if budget.depth > budget.max_depth:
        budget.fail(f"it exceeded the maximum evaluation depth ({budget.max_depth}): too much recursion")
    if budget.steps % _CHECK_EVERY == 0 and time.monotonic() > budget.deadline:
        budget.fail(f"it ran longer than the time limit of {budget.timeout:g} seconds")


def _exit(expr, input, env, result) -> None:
    budget = _budget()
    if budget is not None:
        budget.depth -= 1


class _BoundedPattern:
    """A compiled regular expression (the `regex` module: it releases the GIL while matching) whose every match is
    bounded by the time left to the evaluation; the interface jsonata-python expects of a regex engine."""

    def __init__(self, pattern: str, flags: int):
        import regex

        self._regex = regex
        self._compiled = regex.compile(pattern, flags | regex.VERSION0)
        self.pattern = pattern

    def _timeout(self) -> float:
        budget = _budget()
        if budget is None:
            return TIMEOUT_SECONDS
        left = budget.left()
        if left <= 0:
            budget.fail(f"it ran longer than the time limit of {budget.timeout:g} seconds")
        return left

    def _timed_out(self) -> None:
        budget = _budget()
        limit = f"{budget.timeout:g}" if budget else f"{TIMEOUT_SECONDS:g}"
        if budget is not None:
            budget.fail(f"a regular expression ran longer than the time limit of {limit} seconds")
        raise BudgetExceeded(f"a regular expression ran longer than the time limit of {limit} seconds")

    def search(self, string, *args, **kwargs):
        try:
            return self._compiled.search(string, *args, timeout=self._timeout(), **kwargs)
        except TimeoutError:
            self._timed_out()

    def match(self, string, *args, **kwargs):
        try:
            return self._compiled.match(string, *args, timeout=self._timeout(), **kwargs)
        except TimeoutError:
            self._timed_out()

    def fullmatch(self, string, *args, **kwargs):
        try:
            return self._compiled.fullmatch(string, *args, timeout=self._timeout(), **kwargs)
        except TimeoutError:
            self._timed_out()

    def finditer(self, string, *args, **kwargs):
        iterator = self._compiled.finditer(string, *args, timeout=self._timeout(), **kwargs)
        while True:
            try:
                found = next(iterator)
            except StopIteration:
                return
            except TimeoutError:
                self._timed_out()
            yield found

    def sub(self, repl, string, count=0, *args, **kwargs):
        try:
            return self._compiled.sub(repl, string, count, *args, timeout=self._timeout(), **kwargs)
        except TimeoutError:
            self._timed_out()
        except self._regex.error as error:
            # jsonata-python repairs "$12"-style group references from the stdlib's wording of this error.
            if "invalid group reference" in str(error) and isinstance(repl, str):
                import re

                re.compile(self.pattern).sub(repl, "")  # raises re.error with the wording jsonata-python reads
            raise

    def split(self, string, maxsplit=0, *args, **kwargs):
        try:
            return self._compiled.split(string, maxsplit, *args, timeout=self._timeout(), **kwargs)
        except TimeoutError:
            self._timed_out()


def _regex_engine(pattern: str, flags) -> _BoundedPattern:
    import regex

    value = 0
    if flags.case_insensitive:
        value |= regex.IGNORECASE
    if flags.multiline:
        value |= regex.MULTILINE
    return _BoundedPattern(pattern, value)


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


@lru_cache(maxsize=2048)
def _source(text: str) -> str:
    return text[2:-2].strip()


def _charge(count: int) -> None:
    """Count `count` steps at once (what builds a sequence of that length)."""
    budget = _budget()
    if budget is not None and count > 0:
        budget.steps += count
        if budget.steps > budget.max_steps:
            budget.fail(f"it exceeded the maximum number of evaluation steps ({budget.max_steps})")


def _patch_range(jsonata) -> None:
    """The range operator `[a..b]` builds its sequence in one evaluation step: charge its length to the budget."""
    cls = jsonata.Jsonata
    if getattr(cls.evaluate_range_expression, "_aigate_bounded", False):
        return
    original = cls.evaluate_range_expression

    def evaluate_range_expression(self, lhs, rhs):
        if isinstance(lhs, int) and isinstance(rhs, int) and not isinstance(lhs, bool) and not isinstance(rhs, bool):
            _charge(rhs - lhs + 1)
        return original(self, lhs, rhs)

    evaluate_range_expression._aigate_bounded = True
    cls.evaluate_range_expression = evaluate_range_expression


def _compiled(text: str):
    import jsonata

    _patch_range(jsonata)

    cache = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    expression = cache.get(text)
    if expression is None:
        try:
            expression = jsonata.Jsonata(_source(text), _regex_engine)
        except Exception as error:
            raise StatesError("States.QueryEvaluationError", f"Invalid JSONata expression {text!r}: {error}") from None
        _register_functions(expression)
        expression.environment.set_evaluate_entry_callback(_entry)
        expression.environment.set_evaluate_exit_callback(_exit)
        if len(cache) > 2048:
            cache.clear()
        cache[text] = expression
    return expression


def _register_functions(expression) -> None:
    def partition(array, size):
        size = int(size)
        return [array[i:i + size] for i in range(0, len(array), size)]

    def range_(start, end, step):
        start, end, step = int(start), int(end), int(step)
        values = range(start, end + (1 if step > 0 else -1), step)
        if len(values) > MAX_RANGE:
            raise StatesError("States.QueryEvaluationError", f"The $range function would return {len(values)} "
                                                             f"numbers: at most {MAX_RANGE} are allowed")
        _charge(len(values))
        return list(values)

    algorithms = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}

    def hash_(data, algorithm):
        return hashlib.new(algorithms[algorithm], str(data).encode()).hexdigest()

    for name, fn, signature in (
        ("partition", partition, "<an:a>"),
        ("range", range_, "<nnn:a>"),
        ("hash", hash_, "<ss:s>"),
        ("random", lambda seed=None: random.Random(seed).random() if seed is not None else random.random(), "<n?:n>"),
        ("uuid", lambda: str(uuid.uuid4()), "<:s>"),
        ("parse", lambda text: json.loads(text), "<s:x>"),
    ):
        try:
            expression.register_lambda(name, fn)
        except Exception:  # older jsonata-python: skip the extra function rather than fail every expression
            pass


def evaluate(text: str, states: dict, variables: dict) -> Any:
    expression = _compiled(text)
    bindings = dict(variables)
    bindings["states"] = states
    outer = _budget()
    budget = _Budget(*_limits()) if outer is None else outer  # a nested evaluation ($eval) shares its caller's
    _local.budget = budget
    try:
        return expression.evaluate(None, bindings)
    except StatesError:
        raise
    except RecursionError:
        raise StatesError("States.QueryEvaluationError", f"The JSONata expression {_shown(text)} failed: it exceeded "
                                                         f"the maximum evaluation depth: too much recursion") from None
    except Exception as error:
        if budget.exceeded:
            raise StatesError("States.QueryEvaluationError",
                              f"The JSONata expression {_shown(text)} failed: {budget.exceeded}") from None
        raise StatesError("States.QueryEvaluationError", f"The JSONata expression {text!r} failed: {error}") from None
    finally:
        _local.budget = outer


def _shown(text: str, limit: int = 200) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


def resolve(template: Any, states: dict, variables: dict) -> Any:
    """Evaluate every `{% %}` string inside a JSON template (objects and arrays are walked)."""
    if isinstance(template, str):
        return evaluate(template, states, variables) if is_expression(template) else template
    if isinstance(template, dict):
        return {key: resolve(value, states, variables) for key, value in template.items()}
    if isinstance(template, list):
        return [resolve(value, states, variables) for value in template]
    return template
