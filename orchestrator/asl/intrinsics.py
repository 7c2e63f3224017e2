"""The `States.*` intrinsic functions of JSONPath-mode ASL: a small parser for `States.Fn(arg, ...)` (string
literals in single quotes with `\\'`, `\\{`, `\\}`, `\\\\` escapes, numbers, booleans, null, paths `$.x`, `$$.x`,
variables `$var`, nested calls) and the functions themselves, failing with States.IntrinsicFailure as AWS does."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
import uuid
from functools import lru_cache
from typing import Any, Callable

from orchestrator.asl.errors import intrinsic_failure

FUNCTIONS: dict[str, Callable[..., Any]] = {}


def function(name: str):
    def register(fn):
        FUNCTIONS[name] = fn
        return fn
    return register


class Call:
    __slots__ = ("name", "args")

    def __init__(self, name: str, args: list):
        self.name, self.args = name, args


class PathArg:
    __slots__ = ("path",)

    def __init__(self, path: str):
        self.path = path


class Literal:
    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


_NAME = re.compile(r"States\.[A-Za-z0-9]+")
_NUMBER = re.compile(r"-?\d+(\.\d+)?([eE][+-]?\d+)?")
_PATH = re.compile(r"\$[^,)\s]*")


def is_intrinsic(text: Any) -> bool:
    return isinstance(text, str) and text.startswith("States.") and "(" in text


@lru_cache(maxsize=2048)
def parse(text: str) -> Call:
    parser = _Parser(text)
    call = parser.call()
    parser.skip()
    if parser.pos != len(text):
        raise ValueError(f"unexpected text at position {parser.pos} in {text!r}")
    return call


class _Parser:
    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\n":
            self.pos += 1

    def call(self) -> Call:
        self.skip()
        match = _NAME.match(self.text, self.pos)
        if not match:
            raise ValueError(f"expected an intrinsic function name at position {self.pos} in {self.text!r}")
        name = match.group()
        if name not in FUNCTIONS:
            raise ValueError(f"unknown intrinsic function {name}")
        self.pos = match.end()
        self.skip()
        if self.text[self.pos:self.pos + 1] != "(":
            raise ValueError(f"expected '(' after {name}")
        self.pos += 1
        args: list = []
        self.skip()
        if self.text[self.pos:self.pos + 1] == ")":
            self.pos += 1
            return Call(name, args)
        while True:
            args.append(self.argument())
            self.skip()
            char = self.text[self.pos:self.pos + 1]
            self.pos += 1
            if char == ")":
                return Call(name, args)
            if char != ",":
                raise ValueError(f"expected ',' or ')' in {self.text!r}")

    def argument(self):
        self.skip()
        char = self.text[self.pos:self.pos + 1]
        if char == "'":
            return Literal(self.string())
        if self.text.startswith("States.", self.pos):
            return self.call()
        if char == "$":
            match = _PATH.match(self.text, self.pos)
            self.pos = match.end()
            return PathArg(match.group())
        for word, value in (("null", None), ("true", True), ("false", False)):
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return Literal(value)
        match = _NUMBER.match(self.text, self.pos)
        if match:
            self.pos = match.end()
            text = match.group()
            return Literal(float(text) if any(c in text for c in ".eE") else int(text))
        raise ValueError(f"unexpected argument at position {self.pos} in {self.text!r}")

    def string(self) -> str:
        self.pos += 1
        out = []
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "\\" and self.pos + 1 < len(self.text):
                escaped = self.text[self.pos + 1]
                # Braces stay escaped for States.Format, which must not read them as a placeholder.
                out.append("\\" + escaped if escaped in "{}" else escaped)
                self.pos += 2
                continue
            if char == "'":
                self.pos += 1
                return "".join(out)
            out.append(char)
            self.pos += 1
        raise ValueError(f"unterminated string in {self.text!r}")


def evaluate(text: str, resolve: Callable[[str], Any]) -> Any:
    """Run an intrinsic; `resolve(path)` gives the value of `$.x` / `$$.x` / `$var` arguments."""
    try:
        call = parse(text)
    except ValueError as error:
        raise intrinsic_failure(f"Invalid intrinsic function {text!r}: {error}") from None
    return _run(call, resolve)


def _run(call: Call, resolve: Callable[[str], Any]) -> Any:
    args = []
    for position, arg in enumerate(call.args):
        if isinstance(arg, Literal):
            value = arg.value
            if isinstance(value, str) and "\\" in value and not (call.name == "States.Format" and position == 0):
                value = value.replace("\\{", "{").replace("\\}", "}")
            args.append(value)
        elif isinstance(arg, PathArg):
            args.append(resolve(arg.path))
        else:
            args.append(_run(arg, resolve))
    try:
        return FUNCTIONS[call.name](*args)
    except TypeError as error:
        raise intrinsic_failure(f"Invalid arguments in {call.name}: {error}") from None


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise intrinsic_failure(message)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) or (isinstance(value, float) and value.is_integer())


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@function("States.Format")
def _format(template, *values):
    _need(isinstance(template, str), "The first argument of States.Format must be a string")
    out, index, pos = [], 0, 0
    while pos < len(template):
        char = template[pos]
        if char == "\\" and template[pos + 1:pos + 2] in ("{", "}"):
            out.append(template[pos + 1])
            pos += 2
            continue
        if char == "{" and template[pos + 1:pos + 2] == "}":
            _need(index < len(values), "Number of arguments in States.Format does not match the template")
            value = values[index]
            out.append(value if isinstance(value, str) else _dumps(value))
            index += 1
            pos += 2
            continue
        out.append(char)
        pos += 1
    _need(index == len(values), "Number of arguments in States.Format does not match the template")
    return "".join(out)


@function("States.StringToJson")
def _string_to_json(text):
    _need(isinstance(text, str), "States.StringToJson needs a string")
    try:
        return json.loads(text)
    except ValueError as error:
        raise intrinsic_failure(f"States.StringToJson could not parse {text!r}: {error}") from None


@function("States.JsonToString")
def _json_to_string(value):
    return _dumps(value)


@function("States.Array")
def _array(*values):
    return list(values)


@function("States.ArrayPartition")
def _array_partition(array, size):
    _need(isinstance(array, list), "The first argument of States.ArrayPartition must be an array")
    _need(_is_int(size) and size > 0, "The chunk size of States.ArrayPartition must be a positive integer")
    size = int(size)
    return [array[i:i + size] for i in range(0, len(array), size)]


@function("States.ArrayContains")
def _array_contains(array, value):
    _need(isinstance(array, list), "The first argument of States.ArrayContains must be an array")
    return value in array


@function("States.ArrayRange")
def _array_range(start, end, step):
    _need(all(_is_int(v) for v in (start, end, step)), "States.ArrayRange needs integer arguments")
    start, end, step = int(start), int(end), int(step)
    _need(step != 0, "The step of States.ArrayRange must not be 0")
    values = list(range(start, end + (1 if step > 0 else -1), step))
    _need(len(values) <= 1000, "States.ArrayRange cannot make more than 1000 items")
    return values


@function("States.ArrayGetItem")
def _array_get_item(array, index):
    _need(isinstance(array, list), "The first argument of States.ArrayGetItem must be an array")
    _need(_is_int(index) and 0 <= index < len(array), f"Index {index} is out of bounds in States.ArrayGetItem")
    return array[int(index)]


@function("States.ArrayLength")
def _array_length(array):
    _need(isinstance(array, list), "The argument of States.ArrayLength must be an array")
    return len(array)


@function("States.ArrayUnique")
def _array_unique(array):
    _need(isinstance(array, list), "The argument of States.ArrayUnique must be an array")
    seen, out = set(), []
    for item in array:
        key = _dumps(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


@function("States.Base64Encode")
def _b64encode(text):
    _need(isinstance(text, str) and len(text) <= 10000, "States.Base64Encode needs a string of at most 10000 characters")
    return base64.b64encode(text.encode()).decode()


@function("States.Base64Decode")
def _b64decode(text):
    _need(isinstance(text, str) and len(text) <= 10000, "States.Base64Decode needs a string of at most 10000 characters")
    try:
        return base64.b64decode(text, validate=True).decode()
    except Exception:
        raise intrinsic_failure(f"States.Base64Decode could not decode {text!r}") from None


_HASHES = {"MD5": "md5", "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512"}


@function("States.Hash")
def _hash(data, algorithm):
    _need(algorithm in _HASHES, f"States.Hash: unknown algorithm {algorithm!r}; use one of {', '.join(_HASHES)}")
    text = data if isinstance(data, str) else _dumps(data)
    _need(len(text) <= 10000, "States.Hash input is longer than 10000 characters")
    return hashlib.new(_HASHES[algorithm], text.encode()).hexdigest()


@function("States.JsonMerge")
def _json_merge(left, right, deep):
    _need(isinstance(left, dict) and isinstance(right, dict), "States.JsonMerge needs two JSON objects")
    _need(deep is False, "States.JsonMerge supports only shallow merges (false as the third argument)")
    return {**left, **right}


@function("States.MathRandom")
def _math_random(start, end, seed=None):
    _need(_is_int(start) and _is_int(end), "States.MathRandom needs integer bounds")
    generator = random.Random(seed) if seed is not None else random
    return generator.randint(int(start), int(end))


@function("States.MathAdd")
def _math_add(left, right):
    _need(all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right)),
          "States.MathAdd needs two numbers")
    total = left + right
    return int(total) if isinstance(total, float) and total.is_integer() and _is_int(left) and _is_int(right) else total


@function("States.StringSplit")
def _string_split(text, separators):
    _need(isinstance(text, str) and isinstance(separators, str), "States.StringSplit needs two strings")
    if not separators:
        return [text]
    parts = re.split("[" + re.escape(separators) + "]", text)
    return [part for part in parts if part != ""]


@function("States.UUID")
def _uuid():
    return str(uuid.uuid4())


