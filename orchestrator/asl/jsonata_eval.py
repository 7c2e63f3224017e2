"""JSONata in ASL: a string `{% expr %}` is an expression evaluated with `$states` (input, result, errorOutput,
context) and the execution's variables bound, plus the functions Step Functions adds ($partition, $range, $hash,
$random, $uuid, $parse)."""

from __future__ import annotations

import hashlib
import json
import random
import threading
import uuid
from functools import lru_cache
from typing import Any

from orchestrator.asl.errors import StatesError

_local = threading.local()


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("{%") and value.endswith("%}")


@lru_cache(maxsize=2048)
def _source(text: str) -> str:
    return text[2:-2].strip()


def _compiled(text: str):
    import jsonata

    cache = getattr(_local, "cache", None)
    if cache is None:
        cache = _local.cache = {}
    expression = cache.get(text)
    if expression is None:
        try:
            expression = jsonata.Jsonata(_source(text))
        except Exception as error:
            raise StatesError("States.QueryEvaluationError", f"Invalid JSONata expression {text!r}: {error}") from None
        _register_functions(expression)
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
        return list(range(start, end + (1 if step > 0 else -1), step))

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
    try:
        return expression.evaluate(None, bindings)
    except StatesError:
        raise
    except Exception as error:
        raise StatesError("States.QueryEvaluationError", f"The JSONata expression {text!r} failed: {error}") from None


def resolve(template: Any, states: dict, variables: dict) -> Any:
    """Evaluate every `{% %}` string inside a JSON template (objects and arrays are walked)."""
    if isinstance(template, str):
        return evaluate(template, states, variables) if is_expression(template) else template
    if isinstance(template, dict):
        return {key: resolve(value, states, variables) for key, value in template.items()}
    if isinstance(template, list):
        return [resolve(value, states, variables) for value in template]
    return template
