"""JSONPath as ASL uses it: Paths select values (InputPath, OutputPath, `.$` keys, ItemsPath...), Reference Paths
address one node and can be written to (ResultPath). Plain paths (`$.a.b[0]['c']`) are compiled once into a list
of steps and walked directly; paths with filters, wildcards, slices or recursive descent go through jsonpath-ng."""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from typing import Any

from orchestrator.asl.errors import runtime_error

_MISSING = object()
_SIMPLE = re.compile(r"""\.([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[(-\d+)\]|\['((?:[^'\\]|\\.)*)'\]|\["((?:[^"\\]|\\.)*)"\]""")


@lru_cache(maxsize=4096)
def compile_simple(path: str) -> tuple | None:
    """Steps of a plain path (`$`, `.name`, `['name']`, `[index]`), or None when it needs the full engine."""
    if not path.startswith("$"):
        return None
    steps: list[Any] = []
    position = 1
    while position < len(path):
        match = _SIMPLE.match(path, position)
        if match is None:
            return None
        name, index, negative, quoted, dquoted = match.groups()
        if name is not None:
            steps.append(name)
        elif index is not None or negative is not None:
            steps.append(int(index if index is not None else negative))
        else:
            steps.append(quoted if quoted is not None else dquoted)
        position = match.end()
    return tuple(steps)


REGEX_TIMEOUT_SECONDS = 5.0  # the longest one `=~` filter match may take


def _bounded_regex_filter(value: Any, pattern: Any) -> bool:
    """jsonpath-ng's `=~` filter operator on the `regex` module (which releases the GIL while it matches) with a
    timeout: a pattern that backtracks catastrophically fails the state (States.Runtime) instead of holding the
    process."""
    import regex

    if not isinstance(value, str):
        return False
    try:
        return regex.search(str(pattern), value, timeout=REGEX_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        raise runtime_error(f"The regular expression {str(pattern)[:200]!r} of a JSONPath filter ran longer than "
                            f"{REGEX_TIMEOUT_SECONDS:g} seconds") from None
    except regex.error as error:
        raise runtime_error(f"Invalid regular expression {str(pattern)[:200]!r} in a JSONPath filter: {error}") from None


def _bound_regex_filter() -> None:
    from jsonpath_ng.ext import filter as ng_filter

    ng_filter.OPERATOR_MAP["=~"] = _bounded_regex_filter


@lru_cache(maxsize=1024)
def _compiled_ng(path: str):
    from jsonpath_ng.ext import parse

    _bound_regex_filter()

    try:
        return parse(path)
    except Exception as error:  # jsonpath-ng raises assorted exceptions on bad syntax
        raise ValueError(f"Invalid JSONPath {path!r}: {error}") from None


def is_valid_path(path: str) -> bool:
    if not isinstance(path, str) or not path.startswith("$"):
        return False
    if compile_simple(path) is not None:
        return True
    try:
        _compiled_ng(path)
        return True
    except ValueError:
        return False


def is_reference_path(path: str) -> bool:
    return isinstance(path, str) and compile_simple(path) is not None


def is_definite(path: str) -> bool:
    return compile_simple(path) is not None


def select(data: Any, path: str, what: str = "path") -> Any:
    """The value at `path` in `data`; a path that matches nothing is a States.Runtime error, as in AWS."""
    steps = compile_simple(path)
    if steps is not None:
        value = data
        for step in steps:
            value = _child(value, step)
            if value is _MISSING:
                raise runtime_error(f"The JSONPath '{path}' specified for the field '{what}' could not be found in the input '{_short(data)}'")
        return value
    try:
        matches = [match.value for match in _compiled_ng(path).find(data)]
    except ValueError as error:
        raise runtime_error(str(error)) from None
    return matches


def try_select(data: Any, path: str) -> Any:
    """Like select, but `_MISSING`-free: returns (found, value)."""
    steps = compile_simple(path)
    if steps is not None:
        value = data
        for step in steps:
            value = _child(value, step)
            if value is _MISSING:
                return False, None
        return True, value
    matches = [match.value for match in _compiled_ng(path).find(data)]
    return bool(matches), matches


def _child(value: Any, step: Any) -> Any:
    if isinstance(step, int):
        if isinstance(value, list) and -len(value) <= step < len(value):
            return value[step]
        return _MISSING
    if isinstance(value, dict):
        return value.get(step, _MISSING)
    return _MISSING


def assign(data: Any, path: str, value: Any) -> Any:
    """ResultPath: `data` with `value` placed at `path` (a copy; `$` replaces the whole input)."""
    steps = compile_simple(path)
    if steps is None:
        raise runtime_error(f"Invalid ResultPath {path!r}: a reference path is required")
    if not steps:
        return value
    if not isinstance(data, dict):
        raise runtime_error(f"Unable to apply ResultPath '{path}' to input '{_short(data)}': the input is not a JSON object")
    root = copy.copy(data)
    node = root
    for position, step in enumerate(steps):
        last = position == len(steps) - 1
        if isinstance(step, int):
            raise runtime_error(f"Unable to apply ResultPath '{path}': array indexes are not supported")
        if last:
            node[step] = value
            break
        child = node.get(step)
        if child is None:
            child = {}
        elif not isinstance(child, dict):
            raise runtime_error(f"Unable to apply step \"{step}\" to input {_short(child)}")
        else:
            child = copy.copy(child)
        node[step] = child
        node = child
    return root


def _short(value: Any) -> str:
    import json

    text = json.dumps(value, separators=(",", ":"), default=str)
    return text if len(text) <= 256 else text[:253] + "..."
