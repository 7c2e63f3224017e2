"""SSML <say-as> expansions into words (English), and X-SAMPA -> IPA for <phoneme> and lexicons."""

from __future__ import annotations

import re

from num2words import num2words

SUPPORTED = {"characters", "spell-out", "digits", "cardinal", "number", "ordinal", "date", "time", "telephone",
             "fraction", "unit", "expletive", "address", "interjection"}

_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"]


def _number(text: str) -> int | float:
    cleaned = text.replace(",", "").strip()
    if not re.fullmatch(r"[+-]?\d+(\.\d+)?", cleaned):
        raise ValueError(f"{text!r} is not a number")
    return float(cleaned) if "." in cleaned else int(cleaned)


def _year(value: int) -> str:
    if 2000 <= value <= 2009 or value < 1000 or value % 100 == 0 and value % 1000 == 0:
        return num2words(value)
    return num2words(value, to="year")


def _date(text: str, fmt: str | None) -> str:
    fmt = (fmt or "mdy").lower()
    if fmt == "yyyymmdd":
        digits = re.sub(r"\D", "", text)
        if len(digits) != 8:
            raise ValueError(f"{text!r} is not a yyyymmdd date")
        parts = [digits[:4], digits[4:6], digits[6:]]
        fmt = "ymd"
    else:
        parts = [p for p in re.split(r"[-/. ]+", text.strip()) if p]
    if len(parts) != len(fmt) or not all(p.isdigit() or p == "?" for p in parts):
        raise ValueError(f"{text!r} does not match the date format {fmt!r}")
    fields = dict(zip(fmt, parts))
    words = []
    month = fields.get("m")
    day = fields.get("d")
    if month and month != "?":
        if not 1 <= int(month) <= 12:
            raise ValueError(f"month {month} is out of range")
        words.append(_MONTHS[int(month) - 1])
    if day and day != "?":
        if not 1 <= int(day) <= 31:
            raise ValueError(f"day {day} is out of range")
        words.append(num2words(int(day), to="ordinal"))
    year = fields.get("y")
    if year and year != "?":
        if words:
            words[-1] += ","
        words.append(_year(int(year)))
    return " ".join(words)


def _time(text: str) -> str:
    match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([aApP]\.?[mM]\.?)?\s*", text)
    if match:
        hours, minutes = int(match.group(1)), int(match.group(2))
        words = [num2words(hours)]
        if minutes == 0:
            words.append("o'clock" if not match.group(4) else "")
        elif minutes < 10:
            words.append("oh " + num2words(minutes))
        else:
            words.append(num2words(minutes))
        if match.group(4):
            words.append("a m" if match.group(4).lower().startswith("a") else "p m")
        return " ".join(w for w in words if w)
    match = re.fullmatch(r"\s*(?:(\d+)')?\s*(?:(\d+(?:\.\d+)?)\")?\s*", text)
    if match and (match.group(1) or match.group(2)):
        words = []
        if match.group(1):
            n = int(match.group(1))
            words.append(f"{num2words(n)} minute{'s' if n != 1 else ''}")
        if match.group(2):
            n = _number(match.group(2))
            words.append(f"{num2words(n)} second{'s' if n != 1 else ''}")
        return " ".join(words)
    raise ValueError(f"{text!r} is not a time such as 10:30, 4:15pm or 1'21\"")


def expand(kind: str, text: str, fmt: str | None = None, detail: str | None = None) -> str:
    if kind in ("characters", "spell-out"):
        return " ".join(c if c.isalnum() else "" for c in text if not c.isspace()).replace("  ", " ").strip()
    if kind == "digits":
        digits = [_DIGITS[int(c)] for c in text if c.isdigit()]
        if not digits:
            raise ValueError(f"{text!r} has no digits")
        return " ".join(digits)
    if kind in ("cardinal", "number"):
        return num2words(_number(text))
    if kind == "ordinal":
        cleaned = re.sub(r"(st|nd|rd|th)$", "", text.strip())
        return num2words(int(_number(cleaned)), to="ordinal")
    if kind == "date":
        return _date(text, fmt)
    if kind == "time":
        return _time(text)
    if kind == "telephone":
        groups = [g for g in re.split(r"[^\d+]+", text) if g]
        if not groups:
            raise ValueError(f"{text!r} is not a telephone number")
        spoken = []
        for group in groups:
            spoken.append(" ".join("plus" if c == "+" else _DIGITS[int(c)] for c in group) + ",")
        return " ".join(spoken).rstrip(",")
    if kind == "fraction":
        match = re.fullmatch(r"\s*(?:(\d+)\s*\+\s*)?(\d+)\s*/\s*(\d+)\s*", text)
        if not match:
            raise ValueError(f"{text!r} is not a fraction such as 3/4 or 2+1/2")
        numerator, denominator = int(match.group(2)), int(match.group(3))
        words = f"{num2words(numerator)} {_denominator(denominator, numerator)}"
        return f"{num2words(int(match.group(1)))} and {words}" if match.group(1) else words
    if kind == "unit":
        match = re.fullmatch(r"\s*([\d.,]+)\s*(\S+)\s*", text)
        if not match:
            raise ValueError(f"{text!r} is not a number with a unit")
        return f"{num2words(_number(match.group(1)))} {match.group(2)}"
    if kind == "expletive":
        return "beep"
    return text  # address, interjection: read as written


def _denominator(denominator: int, numerator: int) -> str:
    names = {2: "half", 4: "quarter"}
    word = names.get(denominator) or num2words(denominator, to="ordinal")
    if numerator != 1:
        word = "halves" if denominator == 2 else word + "s"
    return word


# X-SAMPA -> IPA (longest symbols first)
_XSAMPA = {
    "tS": "tʃ", "dZ": "dʒ", "@`": "ɚ", "3`": "ɝ", "r\\": "ɹ", "4": "ɾ", "A": "ɑ", "{": "æ", "6": "ɐ", "Q": "ɒ",
    "E": "ɛ", "@": "ə", "3": "ɜ", "I": "ɪ", "O": "ɔ", "2": "ø", "9": "œ", "&": "ɶ", "U": "ʊ", "}": "ʉ", "V": "ʌ",
    "Y": "ʏ", "B": "β", "C": "ç", "D": "ð", "G": "ɣ", "L": "ʎ", "J": "ɲ", "N": "ŋ", "R": "ʁ", "S": "ʃ", "T": "θ",
    "H": "ɥ", "Z": "ʒ", "?": "ʔ", ":": "ː", "\"": "ˈ", "%": "ˌ", "1": "ɨ", "M": "ɯ", "7": "ɤ", "8": "ɵ", "P": "ʋ",
    "x": "x", "h\\": "ɦ", "K": "ɬ", "W": "ʍ", "X": "χ", "j\\": "ʝ", "z`": "ʐ", "s`": "ʂ", "n`": "ɳ", "l`": "ɭ",
    "g": "ɡ", "'": "ʲ", "~": "̃", "=": "̩", ".": ".",
}
_XSAMPA_KEYS = sorted(_XSAMPA, key=len, reverse=True)


def xsampa_to_ipa(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        for key in _XSAMPA_KEYS:
            if text.startswith(key, i):
                out.append(_XSAMPA[key])
                i += len(key)
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
