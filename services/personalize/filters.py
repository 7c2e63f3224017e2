"""Amazon Personalize's filter expression language: parsing, filter values, and vectorised evaluation.

A filter is one expression or several joined with `|`:

    INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) | EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("click")
    EXCLUDE ItemID WHERE Items.NUMBER_OF_DOWNLOADS < 20 IF CurrentUser.AGE > 18 AND CurrentUser.AGE < 30
    INCLUDE UserID WHERE Users.MEMBERSHIP_STATUS IN ($MEMBERSHIP)

Grammar (keywords, ItemID/UserID, dataset names and CurrentUser/CurrentItem are case-insensitive; string values,
parameter names and categorical data are case-sensitive, except event types, which match case-insensitively):

    filter      = expression { "|" expression } ;
    expression  = ( "INCLUDE" | "EXCLUDE" ) ( "ItemID" | "UserID" ) "WHERE" where
                  [ "IF" user_cond { "AND" user_cond } ] ;
    where       = condition { ( "AND" | "OR" ) condition } ;          (* AND binds tighter than OR *)
    condition   = dataset "." FIELD test ;                             (* every condition: the first one's dataset *)
    dataset     = "Items" | "Users" | "Interactions" ;
    user_cond   = "CurrentUser" "." FIELD test ;
    test        = "IN" ( "(" list ")" | current_item )
                | "NOT" "IN" "(" STRING { "," STRING } ")"             (* no $parameter with NOT IN *)
                | ( "=" | "!=" | "<" | "<=" | ">" | ">=" ) operand ;
    list        = PARAM | STRING { "," STRING } ;
    operand     = NUMBER | PARAM | "(" ( NUMBER | PARAM ) ")" | current_item
                | STRING ;                                             (* STRING with "=" only *)
    current_item= "CurrentItem" "." FIELD ;                            (* Items conditions of ItemID filters *)
    PARAM       = "$" [A-Za-z0-9_]{1,50} ;  STRING = '"' { char | '\\"' | '\\\\' } '"' ;
    NUMBER      = [ "-" ] digit { digit } [ "." { digit } ] [ exponent ] ;

What reads what: ItemID filters use Items fields, Interactions.EVENT_TYPE (the current user's interactions) and,
in the IF clause only, CurrentUser fields (the Users dataset); UserID filters (user segments) use Users fields and
Interactions.EVENT_TYPE. `"*"` (only for EVENT_TYPE) means any event type. Items.ITEM_ID and Users.USER_ID filter
on the ids themselves.

Evaluation (`FilterExpression.allowed_items` / `allowed_users`) follows the developer guide: each expression is
evaluated on its own; the result is (union of the INCLUDE expressions, or everything if there is none) minus the
union of the EXCLUDE expressions, whatever their order. An expression whose IF clause is false for the current
user (or with no current user / no Users row) is not applied. A candidate with no metadata row (or a null value)
matches no condition on that dataset, NOT IN included. A categorical value "A|B" matches IN when any of its values
is listed and NOT IN when none is. An omitted filter value (allowed for EXCLUDE expressions only) makes the
conditions that use it match nothing, so that part of the expression excludes nothing. Only the 100 most recent
interactions per user per event type count.

Frames are indexed once and cached by identity (they are treated as immutable: build a new frame rather than
editing one in place, or call `clear_cache()`).
"""

from __future__ import annotations

import math
import re
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from services.personalize.errors import InvalidInput

__all__ = [
    "FilterExpression", "Condition", "Expression", "parse_filter", "parse_filter_values", "clear_cache",
    "MAX_EXPRESSION_LENGTH", "MAX_PARAMETERS", "MAX_DISTINCT_FIELDS", "MAX_VALUES_PER_PARAMETER",
    "MAX_FILTER_VALUE_LENGTH", "MAX_INTERACTIONS_PER_EVENT_TYPE",
]

# CreateFilter's filterExpression: 1..2500 characters (botocore model `FilterExpression`).
MAX_EXPRESSION_LENGTH = 2500
# GetRecommendations' filterValues map holds at most 25 entries, so a filter cannot use more parameters than that.
MAX_PARAMETERS = 25
# "The maximum number of distinct dataset fields for a filter, in one expression or multiple expressions chained
# together, is 10." (Filter expression guidelines and requirements)
MAX_DISTINCT_FIELDS = 10
# filterValues keys: [A-Za-z0-9_]+, at most 50 characters; values at most 1000 characters (botocore model).
MAX_PARAMETER_NAME = 50
MAX_FILTER_VALUE_LENGTH = 1000
MAX_VALUES_PER_PARAMETER = 100
# "Amazon Personalize considers up to 100 of the most recent interactions per user per event type."
MAX_INTERACTIONS_PER_EVENT_TYPE = 100

DATASETS = ("Items", "Users", "Interactions")
_DATASET_BY_UPPER = {name.upper(): name for name in DATASETS}
_KEYS = {"Items": "ITEM_ID", "Users": "USER_ID"}
_COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")
_ORDERINGS = ("!=", "<", "<=", ">", ">=")  # numbers only (`=` also matches strings)
_PARAM_NAME = re.compile(r"[A-Za-z0-9_]{1,%d}" % MAX_PARAMETER_NAME)
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _error(message: str) -> InvalidInput:
    return InvalidInput(f"Invalid filter expression: {message}")


# ---------------------------------------------------------------------------------------------------------- lexer

@dataclass(frozen=True)
class _Token:
    kind: str  # word string number param op punct end
    text: str
    pos: int
    value: object = None

    def describe(self) -> str:
        return "end of expression" if self.kind == "end" else repr(self.text)


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)
  | (?P<param>\$[A-Za-z0-9_]*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|!=|<>|==|[=<>])
  | (?P<punct>[.,()|])
""", re.VERBOSE)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _unescape(body: str) -> str:
    return _ESCAPE.sub(lambda m: m.group(1), body)


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos] == '"':
                raise _error(f"expected a closing '\"' for the string that starts at position {pos}")
            raise _error(f"unexpected character {text[pos]!r} at position {pos}")
        kind = m.lastgroup
        chunk = m.group()
        if kind == "string":
            tokens.append(_Token("string", chunk, pos, _unescape(chunk[1:-1])))
        elif kind == "number":
            tokens.append(_Token("number", chunk, pos, float(chunk)))
        elif kind == "param":
            name = chunk[1:]
            if not name:
                raise _error(f"expected a parameter name after '$' at position {pos + 1}")
            if len(name) > MAX_PARAMETER_NAME:
                raise _error(f"parameter ${name[:20]}... at position {pos} is longer than {MAX_PARAMETER_NAME} "
                             f"characters")
            tokens.append(_Token("param", chunk, pos, name))
        elif kind != "ws":
            tokens.append(_Token(kind, chunk, pos))
        pos = m.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# ---------------------------------------------------------------------------------------------------------- model

@dataclass(frozen=True)
class Condition:
    """One test: `dataset.field op operand`. `dataset` is Items, Users, Interactions or CurrentUser."""
    dataset: str
    field: str
    op: str                          # IN, NOT IN, =, <, <=, >, >=
    strings: tuple[str, ...] = ()    # literal strings (IN / NOT IN lists, or the one string of "=")
    number: float | None = None      # literal number of a comparison
    param: str | None = None         # $parameter (name without $)
    current_item: str | None = None  # CurrentItem field the operand reads
    position: int = 0


@dataclass(frozen=True)
class Expression:
    """One `INCLUDE/EXCLUDE ... WHERE ... [IF ...]` of a filter: `where` is an OR of AND groups."""
    action: str                                 # INCLUDE or EXCLUDE
    target: str                                 # ItemID or UserID
    dataset: str                                # the dataset of every WHERE condition
    where: tuple[tuple[Condition, ...], ...]
    when: tuple[Condition, ...]                 # IF CurrentUser conditions (AND)
    position: int


class _Parser:
    def __init__(self, text: str, fields: Mapping[str, Iterable[str]] | None):
        self.text = text
        self.tokens = _lex(text)
        self.i = 0
        self.fields = None if fields is None else {
            name: {str(f).upper(): str(f) for f in columns} for name, columns in fields.items()
            if name in DATASETS and columns is not None}
        self.parameters: list[str] = []
        self.numeric_parameters: set[str] = set()
        self.single_parameters: set[str] = set()
        self.required: list[str] = []
        self.datasets: set[str] = set()
        self.distinct_fields: set[tuple[str, str]] = set()
        self.target: str | None = None

    # -- token helpers
    @property
    def tok(self) -> _Token:
        return self.tokens[self.i]

    def advance(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_word(self, *words: str) -> bool:
        return self.tok.kind == "word" and self.tok.text.upper() in words

    def is_punct(self, char: str) -> bool:
        return self.tok.kind == "punct" and self.tok.text == char

    def fail(self, expected: str, tok: _Token | None = None, note: str = ""):
        tok = tok or self.tok
        raise _error(f"expected {expected} at position {tok.pos} (found {tok.describe()}){note}")

    def expect_punct(self, char: str, expected: str | None = None) -> _Token:
        if not self.is_punct(char):
            self.fail(expected or repr(char))
        return self.advance()

    # -- grammar
    def parse(self) -> list[Expression]:
        expressions = [self.expression()]
        while self.is_punct("|"):
            self.advance()
            expressions.append(self.expression())
        if self.tok.kind != "end":
            after_if = expressions[-1].when
            self.fail("AND, '|' or end of expression" if after_if else "AND, OR, IF, '|' or end of expression")
        return expressions

    def expression(self) -> Expression:
        start = self.tok
        if not self.is_word("INCLUDE", "EXCLUDE"):
            self.fail("INCLUDE or EXCLUDE")
        action = self.advance().text.upper()
        tok = self.tok
        if self.is_word("ACTIONID"):
            raise _error(f"expected ItemID or UserID at position {tok.pos} (found {tok.describe()}): action "
                         f"filters are not supported")
        if not self.is_word("ITEMID", "USERID"):
            self.fail("ItemID or UserID")
        target = "ItemID" if self.advance().text.upper() == "ITEMID" else "UserID"
        if self.target is None:
            self.target = target
        elif target != self.target:
            raise _error(f"expected {self.target} at position {tok.pos} (found {tok.describe()}): every expression "
                         f"of a filter must filter {self.target}")
        if not self.is_word("WHERE"):
            self.fail("WHERE")
        self.advance()
        groups: list[list[Condition]] = [[]]
        first = self.condition(target, None)
        groups[0].append(first)
        while self.is_word("AND", "OR"):
            joiner = self.advance().text.upper()
            cond = self.condition(target, first.dataset)
            if joiner == "AND":
                groups[-1].append(cond)
            else:
                groups.append([cond])
        when: list[Condition] = []
        if self.is_word("IF"):
            tok = self.advance()
            if target == "UserID":
                raise _error(f"IF at position {tok.pos} checks the current user, which user segment (UserID) "
                             f"filters do not have")
            when.append(self.user_condition())
            while self.is_word("AND"):
                self.advance()
                when.append(self.user_condition())
            if self.is_word("OR"):
                self.fail("AND, '|' or end of expression", note=": IF conditions combine with AND only")
            if self.is_word("IF"):
                self.fail("AND, '|' or end of expression", note=": IF can be used only once, at the end of an "
                                                                 "expression")
        if action == "INCLUDE":
            for cond in (*(c for g in groups for c in g), *when):
                if cond.param and cond.param not in self.required:
                    self.required.append(cond.param)
        return Expression(action, target, first.dataset, tuple(tuple(g) for g in groups), tuple(when), start.pos)

    def field_name(self, dataset: str, allowed: str) -> tuple[str, _Token]:
        """`.FIELD` after a dataset word: the field as the schema spells it (when fields are known)."""
        self.expect_punct(".")
        tok = self.tok
        if tok.kind != "word":
            self.fail(f"a field name of {allowed}")
        self.advance()
        name = tok.text
        upper = name.upper()
        if dataset == "Interactions":
            if upper != "EVENT_TYPE":
                raise _error(f"unknown field Interactions.{name} at position {tok.pos}: interactions filters can "
                             f"use only Interactions.EVENT_TYPE")
            name = "EVENT_TYPE"
        elif upper == _KEYS[dataset]:
            name = _KEYS[dataset]
        elif self.fields is not None and dataset in self.fields:
            known = self.fields[dataset]
            if upper not in known:
                raise _error(f"unknown field {allowed}.{name} at position {tok.pos}: the {dataset} dataset's schema "
                             f"has no field {name}")
            name = known[upper]
        self.datasets.add(dataset)
        self.distinct_fields.add((dataset, name.upper()))
        if len(self.distinct_fields) > MAX_DISTINCT_FIELDS:
            raise _error(f"field {allowed}.{name} at position {tok.pos} is one too many: a filter can use at most "
                         f"{MAX_DISTINCT_FIELDS} distinct dataset fields")
        return name, tok

    def add_parameter(self, tok: _Token) -> str:
        name = tok.value
        if name not in self.parameters:
            self.parameters.append(name)
            if len(self.parameters) > MAX_PARAMETERS:
                raise _error(f"parameter {tok.text} at position {tok.pos} is one too many: a filter can use at most "
                             f"{MAX_PARAMETERS} distinct parameters")
        return name

    def condition(self, target: str, dataset: str | None) -> Condition:
        tok = self.tok
        if self.is_word("CURRENTUSER"):
            raise _error(f"expected a field of Items, Users or Interactions at position {tok.pos} (found "
                         f"{tok.describe()}): CurrentUser conditions go in an IF clause at the end of the "
                         f"expression")
        if self.is_word("CURRENTITEM"):
            raise _error(f"expected a field of Items, Users or Interactions at position {tok.pos} (found "
                         f"{tok.describe()}): CurrentItem goes on the right of IN or a comparison")
        if tok.kind != "word":
            self.fail("a field of Items, Users or Interactions (dataset.field)")
        ds = _DATASET_BY_UPPER.get(tok.text.upper())
        if ds is None:
            nxt = self.tokens[self.i + 1]
            if nxt.kind == "punct" and nxt.text == ".":
                raise _error(f"unknown dataset {tok.text!r} at position {tok.pos}: expected Items, Users or "
                             f"Interactions")
            self.fail("a field of Items, Users or Interactions (dataset.field)")
        if target == "ItemID" and ds == "Users":
            raise _error(f"Users fields at position {tok.pos} cannot filter ItemID directly: use an IF "
                         f"CurrentUser.<field> clause at the end of the expression")
        if target == "UserID" and ds == "Items":
            raise _error(f"Items fields at position {tok.pos} cannot filter UserID: user segment filters use Users "
                         f"and Interactions fields")
        if dataset is not None and ds != dataset:
            raise _error(f"found {tok.text}.* at position {tok.pos}, but conditions chained with AND/OR can only use "
                         f"fields of the first condition's dataset ({dataset}); chain another expression with '|'")
        self.advance()
        name, _ = self.field_name(ds, ds)
        return self.test(ds, name, tok.pos, allow_current_item=(ds == "Items" and target == "ItemID"))

    def user_condition(self) -> Condition:
        tok = self.tok
        if not self.is_word("CURRENTUSER"):
            self.fail("CurrentUser", note=": IF checks fields of the current user")
        self.advance()
        name, _ = self.field_name("Users", "CurrentUser")
        return self.test("CurrentUser", name, tok.pos, allow_current_item=False)

    def current_item(self) -> str:
        self.advance()  # CurrentItem
        name, _ = self.field_name("Items", "CurrentItem")
        return name

    def test(self, ds: str, name: str, position: int, allow_current_item: bool) -> Condition:
        tok = self.tok
        if self.is_word("NOT"):
            self.advance()
            if not self.is_word("IN"):
                self.fail("IN after NOT")
            self.advance()
            op = "NOT IN"
        elif self.is_word("IN"):
            self.advance()
            op = "IN"
        elif tok.kind == "op":
            if tok.text not in _COMPARISONS:
                raise _error(f"expected IN, NOT IN, =, !=, <, <=, > or >= at position {tok.pos} (found "
                             f"{tok.describe()}): operator {tok.text} is not supported")
            self.advance()
            op = tok.text
        else:
            self.fail("IN, NOT IN, =, <, <=, > or >=")
        if ds == "Interactions" and op != "IN":
            raise _error(f"expected IN at position {tok.pos} (found {tok.describe()}): Interactions.EVENT_TYPE "
                         f"supports only IN (use EXCLUDE ... IN rather than NOT IN)")
        if op in ("IN", "NOT IN"):
            return self.in_list(ds, name, op, position, allow_current_item)
        return self.comparison(ds, name, op, position, allow_current_item)

    def in_list(self, ds: str, name: str, op: str, position: int, allow_current_item: bool) -> Condition:
        tok = self.tok
        if self.is_word("CURRENTITEM"):
            if not allow_current_item or op != "IN":
                raise _error(f"CurrentItem at position {tok.pos} can only follow IN or a comparison in an Items "
                             f"condition of an ItemID filter")
            return Condition(ds, name, op, current_item=self.current_item(), position=position)
        self.expect_punct("(", "'(' (a list of values)" if not allow_current_item else "'(' or CurrentItem")
        tok = self.tok
        if tok.kind == "param":
            if op == "NOT IN":
                raise _error(f"a $parameter cannot be used with NOT IN (found {tok.text} at position {tok.pos}): "
                             f"use IN with the opposite INCLUDE/EXCLUDE")
            self.advance()
            param = self.add_parameter(tok)
            if self.is_punct(","):
                self.fail("')'", note=": a $parameter must be the only value in its list")
            self.expect_punct(")", "')'")
            return Condition(ds, name, op, param=param, position=position)
        values = [self.string_value()]
        while self.is_punct(","):
            self.advance()
            values.append(self.string_value())
        self.expect_punct(")", "',' or ')'")
        if "*" in values and ds != "Interactions":
            raise _error(f"'*' in the list at position {tok.pos} can be used only with Interactions.EVENT_TYPE")
        return Condition(ds, name, op, strings=tuple(values), position=position)

    def string_value(self) -> str:
        tok = self.tok
        if tok.kind == "string":
            self.advance()
            return tok.value
        if tok.kind == "param":
            self.fail("a quoted string", note=": a $parameter must be the only value in its list")
        if tok.kind == "number":
            self.fail("a quoted string", note=": IN and NOT IN compare strings, so quote numbers (\"1\")")
        self.fail("a quoted string")

    def comparison(self, ds: str, name: str, op: str, position: int, allow_current_item: bool) -> Condition:
        tok = self.tok
        expected = "a number or a $parameter" if op != "=" else "a number, a quoted string or a $parameter"
        if tok.kind == "number":
            self.advance()
            return Condition(ds, name, op, number=tok.value, position=position)
        if tok.kind == "param":
            self.advance()
            return self._param_comparison(ds, name, op, tok, position)
        if tok.kind == "string":
            if op != "=":
                self.fail("a number or a $parameter", note=f": {op} compares numbers")
            self.advance()
            return Condition(ds, name, op, strings=(tok.value,), position=position)
        if self.is_punct("("):
            self.advance()
            inner = self.tok
            if inner.kind == "number":
                self.advance()
                cond = Condition(ds, name, op, number=inner.value, position=position)
            elif inner.kind == "param":
                self.advance()
                cond = self._param_comparison(ds, name, op, inner, position)
            else:
                self.fail("a number or a $parameter")
            self.expect_punct(")", "')'")
            return cond
        if self.is_word("CURRENTITEM"):
            if not allow_current_item:
                raise _error(f"CurrentItem at position {tok.pos} can only follow IN or a comparison in an Items "
                             f"condition of an ItemID filter")
            return Condition(ds, name, op, current_item=self.current_item(), position=position)
        self.fail(expected)

    def _param_comparison(self, ds: str, name: str, op: str, tok: _Token, position: int) -> Condition:
        param = self.add_parameter(tok)
        self.single_parameters.add(param)
        if op in _ORDERINGS:
            self.numeric_parameters.add(param)
        return Condition(ds, name, op, param=param, position=position)


def parse_filter(text: str, fields: Mapping[str, Iterable[str]] | None = None) -> "FilterExpression":
    """Parse a filter expression; `fields` ({"Items": {...}, "Users": {...}, "Interactions": {...}}) checks field
    names against the datasets' schemas (a dataset missing from `fields` is not checked). Raises InvalidInput."""
    if not isinstance(text, str) or not text.strip():
        raise _error("the expression is empty: expected INCLUDE or EXCLUDE at position 0")
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise _error(f"the expression is {len(text)} characters long; at most {MAX_EXPRESSION_LENGTH} are allowed")
    parser = _Parser(text, fields)
    expressions = parser.parse()
    return FilterExpression(text, tuple(expressions), tuple(parser.parameters), parser.target,
                            frozenset(parser.datasets), tuple(parser.required),
                            frozenset(parser.numeric_parameters), frozenset(parser.single_parameters))


# ---------------------------------------------------------------------------------------------------- filter values

def _split_values(key: str, raw: str) -> list[str]:
    """`"a","b"` -> ["a", "b"]: double-quoted values (\\" and \\\\ escapes) separated by commas; a bare number is
    accepted too."""
    out: list[str] = []
    pos, n = 0, len(raw)

    def fail(what: str, at: int):
        found = "end of value" if at >= n else repr(raw[at])
        raise InvalidInput(f"Invalid filter value for {key}: expected {what} at position {at} (found {found}); "
                           f'write each value in double quotes, separated by commas: "\\"a\\",\\"b\\""')

    while True:
        while pos < n and raw[pos].isspace():
            pos += 1
        if pos < n and raw[pos] == '"':
            start = pos
            pos += 1
            buf: list[str] = []
            while pos < n and raw[pos] != '"':
                if raw[pos] == "\\" and pos + 1 < n:
                    pos += 1
                buf.append(raw[pos])
                pos += 1
            if pos >= n:
                raise InvalidInput(f"Invalid filter value for {key}: the value that starts at position {start} has "
                                   f"no closing '\"'")
            pos += 1
            out.append("".join(buf))
        else:
            m = _NUMBER.match(raw, pos)
            if m is None:
                fail("a double-quoted value", pos)
            out.append(m.group())
            pos = m.end()
        while pos < n and raw[pos].isspace():
            pos += 1
        if pos >= n:
            return out
        if raw[pos] != ",":
            fail("',' or end of value", pos)
        pos += 1


def _as_number(value: str) -> float | None:
    if _NUMBER.fullmatch(value.strip()):
        return float(value)
    return None


def parse_filter_values(expr: "FilterExpression", filter_values: Mapping[str, str] | None) -> dict[str, list[str]]:
    """Personalize's filterValues map -> {parameter: [values]}, checked against the expression's parameters.

    Keys must be parameters of the expression (matching case); every parameter of an INCLUDE expression needs a
    value; EXCLUDE-only parameters may be omitted (their conditions then match nothing)."""
    fv = {} if filter_values is None else filter_values
    if not isinstance(fv, Mapping):
        raise InvalidInput("filterValues must be a map of parameter names to values")
    if len(fv) > MAX_PARAMETERS:
        raise InvalidInput(f"filterValues has {len(fv)} entries; at most {MAX_PARAMETERS} are allowed")
    known = ", ".join(f"${p}" for p in expr.parameters) or "none"
    out: dict[str, list[str]] = {}
    for key, raw in fv.items():
        if not isinstance(key, str) or not _PARAM_NAME.fullmatch(key):
            raise InvalidInput(f"Invalid filterValues key {key!r}: keys are parameter names of at most "
                               f"{MAX_PARAMETER_NAME} characters from [A-Za-z0-9_]")
        if key not in expr.parameters:
            raise InvalidInput(f"filterValues key {key} is not a parameter of the filter expression (its "
                               f"parameters: {known})")
        if not isinstance(raw, str):
            raise InvalidInput(f"Invalid filter value for {key}: expected a string")
        if len(raw) > MAX_FILTER_VALUE_LENGTH:
            raise InvalidInput(f"Invalid filter value for {key}: {len(raw)} characters; at most "
                               f"{MAX_FILTER_VALUE_LENGTH} are allowed")
        values = _split_values(key, raw)
        if len(values) > MAX_VALUES_PER_PARAMETER:
            raise InvalidInput(f"Invalid filter value for {key}: {len(values)} values; at most "
                               f"{MAX_VALUES_PER_PARAMETER} are allowed")
        if key in expr.single_parameters and len(values) != 1:
            raise InvalidInput(f"Invalid filter value for {key}: ${key} is compared with =, <, <=, > or >=, so it "
                               f"takes exactly one value (got {len(values)})")
        if key in expr.numeric_parameters and _as_number(values[0]) is None:
            raise InvalidInput(f"Invalid filter value for {key}: ${key} is compared with <, <=, > or >=, so its "
                               f"value must be a number (got {values[0]!r})")
        out[key] = values
    missing = [p for p in expr.required_parameters if p not in out]
    if missing:
        names = ", ".join(f"${p}" for p in missing)
        raise InvalidInput(f"Missing filter values for {names}: an INCLUDE expression needs a value for each of its "
                           f"parameters")
    return out


# ------------------------------------------------------------------------------------------------- frame indexing

class _Column:
    """One column of a frame, prepared for vectorised tests: categorical values split on '|' (CSR by row) and a
    numeric view."""

    def __init__(self, series: pd.Series):
        n = len(series)
        self.n = n
        self._series = series
        self._numeric: np.ndarray | None = None
        raw = series.to_numpy(dtype=object, na_value=None)
        if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
            present = ~pd.isna(series.to_numpy())
            text = np.array([_number_text(v) for v in raw[present]], dtype=object)
            rows = np.flatnonzero(present)
            self.token_rows, self.codes, self.uniques = self._factorize(rows, text)
        else:
            present = ~pd.isna(raw) if n else np.zeros(0, bool)
            rows = np.flatnonzero(present)
            parts = pd.Series(raw[present], index=rows, dtype=object).astype(str).str.split("|").explode()
            keep = parts.notna().to_numpy() & (parts.to_numpy(dtype=object) != "")
            parts = parts[keep]
            self.token_rows, self.codes, self.uniques = self._factorize(
                parts.index.to_numpy(dtype=np.int64), parts.to_numpy(dtype=object))
        self.has_value = np.zeros(n, dtype=bool)
        self.has_value[self.token_rows] = True
        # CSR offsets (token_rows is sorted by row)
        self.row_start = np.searchsorted(self.token_rows, np.arange(n + 1))
        self._masks: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _factorize(rows: np.ndarray, tokens: np.ndarray):
        if len(tokens) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), pd.Index([], dtype=object)
        codes, uniques = pd.factorize(tokens)
        return rows.astype(np.int64), codes.astype(np.int64), pd.Index(uniques, dtype=object)

    @property
    def numeric(self) -> np.ndarray:
        if self._numeric is None:
            s = self._series
            if pd.api.types.is_bool_dtype(s.dtype):
                self._numeric = s.astype(float).to_numpy()
            else:
                self._numeric = pd.to_numeric(s, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return self._numeric

    def any_in(self, strings: tuple[str, ...]) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        if strings and len(self.uniques):
            hit = self.uniques.isin(list(strings))
            if hit.any():
                out[self.token_rows[hit[self.codes]]] = True
        return out

    def mask(self, op: str, strings: tuple[str, ...] | None, number: float | None) -> np.ndarray:
        key = (op, strings, number)
        cached = self._masks.get(key)
        if cached is not None:
            return cached
        if op == "IN":
            m = self.any_in(strings or ())
        elif op == "NOT IN":
            m = self.has_value & ~self.any_in(strings or ())
        elif op == "=":
            m = np.zeros(self.n, dtype=bool)
            if number is not None:
                m |= self.numeric == number
            if strings:
                m |= self.any_in(strings)
        else:
            m = _compare(self.numeric, op, number) if number is not None else np.zeros(self.n, dtype=bool)
        m.setflags(write=False)
        with self._lock:
            self._masks[key] = m
            if len(self._masks) > 256:
                self._masks.popitem(last=False)
        return m

    def row_tokens(self, row: int) -> set[str]:
        lo, hi = self.row_start[row], self.row_start[row + 1]
        return set(self.uniques[self.codes[lo:hi]]) if hi > lo else set()


def _number_text(v) -> str:
    f = float(v)
    return str(int(f)) if f.is_integer() and abs(f) < 2 ** 63 else repr(f)


def _compare(values, op: str, number: float):
    with np.errstate(invalid="ignore"):
        if op == "<":
            return values < number
        if op == "<=":
            return values <= number
        if op == ">":
            return values > number
        if op == ">=":
            return values >= number
        if op == "!=":
            return (values != number) & ~np.isnan(values)  # a missing value matches no condition
        return values == number


class _Frame:
    """An Items or Users frame indexed by its id column."""

    def __init__(self, df: pd.DataFrame, key: str):
        self.shape = df.shape
        self.columns = tuple(df.columns)
        self.by_upper = {}
        for c in df.columns:
            self.by_upper.setdefault(str(c).upper(), c)
        key_col = self.by_upper.get(key)
        self._df = weakref.ref(df)  # the cache must not keep the frame alive
        if key_col is None:
            self.index = pd.Index([], dtype=object)
            self.rows = np.zeros(0, np.int64)
        else:
            ids = pd.Index(df[key_col].astype(str).to_numpy(dtype=object))
            if ids.is_unique:
                self.index, self.rows = ids, np.arange(len(ids), dtype=np.int64)
            else:  # the last row of an id wins, as a later import updates an item
                keep = ~ids.duplicated(keep="last")
                self.index, self.rows = ids[keep], np.flatnonzero(keep)
        self._columns: dict[str, _Column | None] = {}
        self._lock = threading.Lock()

    def column(self, field: str) -> _Column | None:
        col = self._columns.get(field)
        if col is None and field not in self._columns:
            name = self.by_upper.get(field.upper())
            df = self._df()
            col = None if name is None or df is None else _Column(df[name].reset_index(drop=True))
            with self._lock:
                self._columns[field] = col
        return col

    def positions(self, ids: np.ndarray) -> np.ndarray:
        """Row positions of `ids` (-1 when absent)."""
        found = self.index.get_indexer(ids)
        return np.where(found >= 0, self.rows[np.maximum(found, 0)], -1) if len(self.rows) else found

    def position(self, id_: str) -> int:
        try:
            loc = self.index.get_loc(id_)
        except KeyError:
            return -1
        return int(self.rows[loc])


class _Interactions:
    """An Interactions frame grouped by user, with lower-cased event types."""

    def __init__(self, df: pd.DataFrame):
        self.shape = df.shape
        self.columns = tuple(df.columns)
        by_upper = {}
        for c in df.columns:
            by_upper.setdefault(str(c).upper(), c)
        n = len(df)

        def col(name):
            c = by_upper.get(name)
            return None if c is None else df[c]

        users, items = col("USER_ID"), col("ITEM_ID")
        self.users = (users.astype(str).to_numpy(dtype=object) if users is not None
                      else np.full(n, None, dtype=object))
        self.items = (items.astype(str).to_numpy(dtype=object) if items is not None
                      else np.full(n, None, dtype=object))
        et = col("EVENT_TYPE")
        if et is None:
            self.event_types = np.full(n, "", dtype=object)
        else:
            self.event_types = et.astype(object).where(et.notna(), "").astype(str).str.lower().to_numpy(dtype=object)
        ts = col("TIMESTAMP")
        self.timestamps = (pd.to_numeric(ts, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                           if ts is not None else np.zeros(n))
        codes, uniques = pd.factorize(self.users)
        self.user_codes = codes
        self.user_index = pd.Index(uniques, dtype=object)
        self.order = np.argsort(codes, kind="stable")
        self.starts = np.searchsorted(codes[self.order], np.arange(len(uniques) + 1))
        self._event_codes, self._event_uniques = pd.factorize(self.event_types)
        self._user_masks: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def user_rows(self, user_id: str) -> np.ndarray:
        """The rows of `user_id`'s interactions that filters consider: the 100 most recent per event type."""
        try:
            u = self.user_index.get_loc(user_id)
        except KeyError:
            return np.zeros(0, np.int64)
        rows = self.order[self.starts[u]:self.starts[u + 1]]
        if len(rows) <= MAX_INTERACTIONS_PER_EVENT_TYPE:
            return rows
        ev = self._event_codes[rows]
        ts = np.nan_to_num(self.timestamps[rows], nan=-np.inf)
        srt = np.lexsort((-ts, ev))
        ev_sorted = ev[srt]
        group_start = np.r_[0, np.flatnonzero(np.diff(ev_sorted)) + 1]
        first = np.repeat(group_start, np.diff(np.r_[group_start, len(ev_sorted)]))
        rank = np.arange(len(ev_sorted)) - first
        return rows[srt[rank < MAX_INTERACTIONS_PER_EVENT_TYPE]]

    def event_hit(self, rows: np.ndarray | None, types: tuple[str, ...]) -> np.ndarray:
        ev = self.event_types if rows is None else self.event_types[rows]
        if "*" in types:
            return np.ones(len(ev), dtype=bool)
        wanted = {t.lower() for t in types}
        if rows is None:
            hit = np.fromiter((u in wanted for u in self._event_uniques), bool, len(self._event_uniques))
            return hit[self._event_codes] if len(hit) else np.zeros(len(ev), bool)
        return np.fromiter((e in wanted for e in ev), bool, len(ev))

    def users_with(self, types: tuple[str, ...]) -> pd.Index:
        key = tuple(sorted(types))
        cached = self._user_masks.get(key)
        if cached is None:
            hit = self.event_hit(None, types)
            cached = pd.Index(pd.unique(self.users[hit]), dtype=object)
            with self._lock:
                self._user_masks[key] = cached
                if len(self._user_masks) > 64:
                    self._user_masks.popitem(last=False)
        return cached


_CACHE: dict[tuple[int, str], tuple[weakref.ref, object]] = {}
_CACHE_LOCK = threading.Lock()


def clear_cache() -> None:
    """Forget every indexed frame (after editing a frame in place)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _indexed(df: pd.DataFrame, kind: str):
    key = (id(df), kind)
    entry = _CACHE.get(key)
    if entry is not None:
        ref, built = entry
        if ref() is df and built.shape == df.shape and built.columns == tuple(df.columns):
            return built
    built = _Interactions(df) if kind == "Interactions" else _Frame(df, _KEYS[kind])

    def forget(_ref, key=key):
        with _CACHE_LOCK:
            if _CACHE.get(key, (None,))[0] is _ref:
                del _CACHE[key]

    with _CACHE_LOCK:
        _CACHE[key] = (weakref.ref(df, forget), built)
    return built


# ------------------------------------------------------------------------------------------------------ evaluation

def _ids(values) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype != object:
        arr = arr.astype(str).astype(object)
    return arr


class _Context:
    def __init__(self, candidates, items, interactions, users, user_id, values, current_item):
        self.candidates = _ids(candidates)
        self.n = len(self.candidates)
        self.items = items
        self.interactions = interactions
        self.users = users
        self.user_id = None if user_id is None else str(user_id)
        self.values = values or {}
        self.current_item = None if current_item is None else str(current_item)
        self._positions: dict[str, np.ndarray] = {}
        self._cand_index: pd.Index | None = None
        self._user_rows: np.ndarray | None = None

    @property
    def cand_index(self) -> pd.Index:
        if self._cand_index is None:
            self._cand_index = pd.Index(self.candidates, dtype=object)
        return self._cand_index

    def frame(self, dataset: str) -> _Frame | None:
        df = self.items if dataset == "Items" else self.users
        return None if df is None else _indexed(df, dataset)

    def positions(self, dataset: str, frame: _Frame) -> np.ndarray:
        pos = self._positions.get(dataset)
        if pos is None:
            pos = self._positions[dataset] = frame.positions(self.candidates)
        return pos

    # -- operands
    def operand(self, cond: Condition) -> tuple[tuple[str, ...] | None, float | None] | None:
        """(strings, number) a condition tests against, or None when it can match nothing (an omitted parameter,
        a CurrentItem without a value)."""
        if cond.param is not None:
            vals = self.values.get(cond.param)
            if not vals:
                return None
            if cond.op in ("IN", "NOT IN"):
                return tuple(vals), None
            number = _as_number(vals[0])
            if cond.op in _ORDERINGS:
                if number is None:
                    raise InvalidInput(f"Invalid filter value for {cond.param}: ${cond.param} is compared with "
                                       f"{cond.op}, so its value must be a number (got {vals[0]!r})")
                return None, number
            return (vals[0],), number
        if cond.current_item is not None:
            return self.current_item_operand(cond)
        if cond.op in ("IN", "NOT IN"):
            return cond.strings, None
        return (cond.strings or None), cond.number

    def current_item_operand(self, cond: Condition):
        if self.current_item is None:
            raise InvalidInput("This filter uses CurrentItem, which needs the item of a related-items request "
                               "(an itemId)")
        frame = self.frame("Items")
        if frame is None:
            return None
        if cond.current_item.upper() == "ITEM_ID":
            tokens, number = {self.current_item}, _as_number(self.current_item)
        else:
            row = frame.position(self.current_item)
            column = frame.column(cond.current_item)
            if row < 0 or column is None:
                return None
            tokens, number = column.row_tokens(row), column.numeric[row]
            number = None if math.isnan(number) else float(number)
        if cond.op in ("IN", "NOT IN"):
            return (tuple(sorted(tokens)), None) if tokens else None
        if cond.op == "=":
            return (tuple(sorted(tokens)) or None, number) if (tokens or number is not None) else None
        return (None, number) if number is not None else None

    # -- conditions over candidates
    def match(self, cond: Condition, target: str) -> np.ndarray:
        operand = self.operand(cond)
        if operand is None:
            return np.zeros(self.n, dtype=bool)
        strings, number = operand
        if cond.dataset == "Interactions":
            return self.interactions_match(strings or (), target)
        if cond.field == _KEYS[cond.dataset]:  # Items.ITEM_ID / Users.USER_ID: the candidates' own ids
            return self.id_match(cond.op, strings, number)
        frame = self.frame(cond.dataset)
        if frame is None:
            return np.zeros(self.n, dtype=bool)
        column = frame.column(cond.field)
        if column is None:
            return np.zeros(self.n, dtype=bool)
        rows = self.positions(cond.dataset, frame)
        mask = column.mask(cond.op, strings, number)
        return np.where(rows >= 0, mask[np.maximum(rows, 0)], False) if len(mask) else np.zeros(self.n, bool)

    def id_match(self, op: str, strings, number) -> np.ndarray:
        if op == "IN":
            return self.cand_index.isin(list(strings or ()))
        if op == "NOT IN":
            return ~self.cand_index.isin(list(strings or ()))
        out = np.zeros(self.n, dtype=bool)
        if number is not None:
            out |= _compare(pd.to_numeric(pd.Series(self.candidates), errors="coerce").to_numpy(float), op, number)
        if op == "=" and strings:
            out |= self.cand_index.isin(list(strings))
        return out

    def interactions_match(self, types: tuple[str, ...], target: str) -> np.ndarray:
        if self.interactions is None or not types:
            return np.zeros(self.n, dtype=bool)
        inter = _indexed(self.interactions, "Interactions")
        if target == "UserID":
            return self.cand_index.isin(inter.users_with(types))
        if self.user_id is None:
            return np.zeros(self.n, dtype=bool)
        if self._user_rows is None:
            self._user_rows = inter.user_rows(self.user_id)
        rows = self._user_rows
        if not len(rows):
            return np.zeros(self.n, dtype=bool)
        hit = inter.event_hit(rows, types)
        return self.cand_index.isin(pd.unique(inter.items[rows[hit]]))

    # -- IF CurrentUser
    def user_condition(self, cond: Condition) -> bool:
        operand = self.operand(cond)
        if operand is None or self.user_id is None or self.users is None:
            return False
        strings, number = operand
        if cond.field == "USER_ID":
            tokens, value = {self.user_id}, _as_number(self.user_id)
        else:
            frame = self.frame("Users")
            row = frame.position(self.user_id)
            column = frame.column(cond.field)
            if row < 0 or column is None:
                return False
            tokens = column.row_tokens(row)
            value = float(column.numeric[row])
            value = None if math.isnan(value) else value
        return _scalar_test(cond.op, tokens, value, strings, number)


def _scalar_test(op: str, tokens: set[str], value: float | None, strings, number) -> bool:
    """The single-row twin of `_Column.mask`."""
    if op == "IN":
        return bool(tokens.intersection(strings or ()))
    if op == "NOT IN":
        return bool(tokens) and not tokens.intersection(strings or ())
    if op == "=":
        return (number is not None and value is not None and value == number) or bool(
            strings and tokens.intersection(strings))
    if number is None or value is None:
        return False
    return bool(_compare(value, op, number))


class FilterExpression:
    """A parsed filter: `parameters`, `target`, `datasets`, and the masks it allows."""

    def __init__(self, text: str, expressions: tuple[Expression, ...], parameters: tuple[str, ...], target: str,
                 datasets: frozenset[str], required_parameters: tuple[str, ...],
                 numeric_parameters: frozenset[str], single_parameters: frozenset[str]):
        self.text = text
        self.expressions = expressions
        self._parameters = parameters
        self.target = target
        self._datasets = datasets
        self.required_parameters = required_parameters
        self.numeric_parameters = numeric_parameters
        self.single_parameters = single_parameters

    @property
    def parameters(self) -> list[str]:
        """The $NAMES the filter uses, without the $, in order of first use."""
        return list(self._parameters)

    @property
    def datasets(self) -> set[str]:
        """The datasets the filter reads (CurrentUser reads Users, CurrentItem reads Items)."""
        return set(self._datasets)

    @property
    def uses_current_item(self) -> bool:
        return any(c.current_item is not None for e in self.expressions for g in e.where for c in g)

    def __repr__(self) -> str:
        return f"FilterExpression({self.text!r})"

    def __str__(self) -> str:
        return self.text

    def allowed_items(self, candidates, items: pd.DataFrame | None = None, interactions: pd.DataFrame | None = None,
                      users: pd.DataFrame | None = None, user_id: str | None = None,
                      values: Mapping[str, list[str]] | None = None, *, current_item: str | None = None) -> np.ndarray:
        """Boolean mask over `candidates` (item ids) of the items the filter lets through for `user_id`."""
        if self.target != "ItemID":
            raise InvalidInput(f"The filter filters {self.target}, not items: it applies to user segments only")
        ctx = _Context(candidates, items, interactions, users, user_id, values, current_item)
        return self._evaluate(ctx)

    def allowed_users(self, candidates, items: pd.DataFrame | None = None, interactions: pd.DataFrame | None = None,
                      users: pd.DataFrame | None = None, values: Mapping[str, list[str]] | None = None) -> np.ndarray:
        """Boolean mask over `candidates` (user ids) of the users a user segment filter keeps."""
        if self.target != "UserID":
            raise InvalidInput(f"The filter filters {self.target}, not users: it applies to item recommendations only")
        ctx = _Context(candidates, items, interactions, users, None, values, None)
        return self._evaluate(ctx)

    def _evaluate(self, ctx: _Context) -> np.ndarray:
        for p in self.required_parameters:
            if not ctx.values.get(p):
                raise InvalidInput(f"Missing filter values for ${p}: an INCLUDE expression needs a value for each of "
                                   f"its parameters")
        include: np.ndarray | None = None
        exclude = np.zeros(ctx.n, dtype=bool)
        for e in self.expressions:
            if e.when and not all(ctx.user_condition(c) for c in e.when):
                continue  # the IF clause does not hold: the expression is not applied
            m = np.zeros(ctx.n, dtype=bool)
            for group in e.where:
                g = ctx.match(group[0], e.target)
                for cond in group[1:]:
                    if not g.any():
                        break
                    g = g & ctx.match(cond, e.target)
                m |= g
            if e.action == "INCLUDE":
                include = m if include is None else include | m
            else:
                exclude |= m
        allowed = np.ones(ctx.n, dtype=bool) if include is None else include
        return allowed & ~exclude
