"""AnalyzeID: the fields of a US driver's licence or a passport, read from the page's lines. Rules, not a learned
model (no identity-document model installs here):

- A passport's machine-readable zone (ICAO 9303 TD3: two lines of 44 characters) is parsed by position and each
  field checked by its check digit (weights 7-3-1); a field whose digit fails is retried with the OCR confusions
  of its character class (a letter O, I, S, B, Z, G read for 0, 1, 5, 8, 2, 6), kept only when exactly one mend
  agrees with the digit, and otherwise reported as read at a low confidence. The zone gives names, document
  number, dates of birth and expiry and ID_TYPE PASSPORT; the visual zone's printed date is the Text where it means
  the same day.
- Labelled fields are read from the printed labels of licences and passports, with or without AAMVA's field
  numbers ("4d DLN", "3 DOB", "4b EXP", "1" family name, "2" given names, "8" address): the value follows the label
  on its line, or is the next line when the label stands alone. Several labels on one line split it.
- The city, state and ZIP come from a "CITY, ST 12345" line; STATE_NAME from a US state's name on the card.

Every field AWS answers is present, with "" when the card does not show it (as Textract answers); dates carry a
NormalizedValue (`YYYY-MM-DDT00:00:00`, ValueType `Date`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from services.textract.page import Page

FIELDS = ("FIRST_NAME", "LAST_NAME", "MIDDLE_NAME", "SUFFIX", "CITY_IN_ADDRESS", "ZIP_CODE_IN_ADDRESS",
          "STATE_IN_ADDRESS", "STATE_NAME", "DOCUMENT_NUMBER", "EXPIRATION_DATE", "DATE_OF_BIRTH", "DATE_OF_ISSUE",
          "ID_TYPE", "ENDORSEMENTS", "VETERAN", "RESTRICTIONS", "CLASS", "ADDRESS", "COUNTY", "PLACE_OF_BIRTH")
DATE_FIELDS = frozenset({"EXPIRATION_DATE", "DATE_OF_BIRTH", "DATE_OF_ISSUE"})
ABSENT_CONFIDENCE = 90.0  # a field the card does not show: confident it is empty, not certain


@dataclass
class Found:
    text: str
    confidence: float
    day: date | None = None  # dates: the day meant


# ---------------------------------------------------------------------- the machine-readable zone

_MRZ_LINE = re.compile(r"^[A-Z0-9<]{30,48}$")
_TO_DIGIT = str.maketrans("OQDIlLSBZGT", "00011158267")
# A letter read for a digit, the usual OCR confusion in the zone's font (the other way round is rare, and each extra
# candidate is one more chance of a wrong mend agreeing with the digit by accident).
_CONFUSIONS = {"O": "0", "I": "1", "S": "5", "B": "8", "Z": "2", "G": "6"}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def check_digit(field: str) -> str:
    """ICAO 9303's check digit: digits as themselves, A-Z as 10-35, '<' as 0, weighted 7, 3, 1."""
    total = 0
    for position, character in enumerate(field):
        value = int(character) if character.isdigit() else (ord(character) - 55 if character.isalpha() else 0)
        total += value * (7, 3, 1)[position % 3]
    return str(total % 10)


def _checked(field: str, digit: str, numeric: bool) -> tuple[str, bool]:
    """`field` made to agree with its check digit where exactly one OCR confusion explains the difference (two
    explanations are a guess: the field is left as read)."""
    if numeric:
        field, digit = field.translate(_TO_DIGIT), digit.translate(_TO_DIGIT)
    if check_digit(field) == digit:
        return field, True
    if numeric:
        return field, False
    mended = set()
    for position, character in enumerate(field):
        if character in _CONFUSIONS:
            candidate = field[:position] + _CONFUSIONS[character] + field[position + 1:]
            if check_digit(candidate) == digit:
                mended.add(candidate)
    if len(mended) == 1:
        return mended.pop(), True
    return field, False


def _mrz_date(text: str, future: bool) -> date | None:
    try:
        year, month, day = int(text[0:2]), int(text[2:4]), int(text[4:6])
        today = date.today()
        # A birth is in the past; an expiry within the next few decades.
        century = 2000 if (year <= today.year % 100 or future) else 1900
        return date(century + year, month, day)
    except ValueError:
        return None


def read_mrz(texts: list[tuple[str, float]]) -> dict[str, Found]:
    """The fields of a TD3 zone among `texts` (line text, confidence); {} when there is none."""
    lines = [(text.replace(" ", "").replace("«", "<<").upper(), confidence) for text, confidence in texts]
    for (first, first_confidence), (second, second_confidence) in zip(lines, lines[1:]):
        if not (_MRZ_LINE.match(first) and _MRZ_LINE.match(second) and first.startswith("P") and "<<" in first):
            continue
        if len(second) < 28:
            continue
        fields: dict[str, Found] = {"MRZ_CODE": Found(f"{first}\n{second}", min(first_confidence, second_confidence))}
        names = first[5:].rstrip("<").split("<<", 1)
        surname = names[0].replace("<", " ").strip()
        given = names[1].replace("<", " ").split() if len(names) > 1 else []
        fields["LAST_NAME"] = Found(surname, first_confidence)
        if given:
            fields["FIRST_NAME"] = Found(given[0], first_confidence)
            fields["MIDDLE_NAME"] = Found(" ".join(given[1:]), first_confidence)
        number, ok = _checked(second[0:9], second[9], numeric=False)
        fields["DOCUMENT_NUMBER"] = Found(number.rstrip("<"), second_confidence if ok else second_confidence * 0.6)
        for name, start, future in (("DATE_OF_BIRTH", 13, False), ("EXPIRATION_DATE", 21, True)):
            digits, ok = _checked(second[start:start + 6], second[start + 6], numeric=True)
            day = _mrz_date(digits, future)
            if day is not None:
                text = f"{day.day:02d} {_MONTHS[day.month - 1].title()} {day.year}"
                fields[name] = Found(text, second_confidence if ok else second_confidence * 0.6, day)
        fields["ID_TYPE"] = Found("PASSPORT", first_confidence)
        return fields
    return {}


# ---------------------------------------------------------------------- printed labels

_LABELS: dict[str, str] = {
    "DOCUMENT_NUMBER": r"DLN|DL\s?(?:NO\.?|#)?|LIC(?:ENSE)?\s?(?:NO\.?|#)|LICENSE\s+NUMBER|PASSPORT\s+NO\.?|"
                       r"DOCUMENT\s+(?:NO\.?|NUMBER)|ID\s?(?:NO\.?|#)",
    "DATE_OF_BIRTH": r"DOB|DATE\s+OF\s+BIRTH|BIRTH\s?DATE",
    "EXPIRATION_DATE": r"EXP(?:IRES)?|DATE\s+OF\s+EXPIR(?:ATION|Y)|EXPIRATION(?:\s+DATE)?",
    "DATE_OF_ISSUE": r"ISS(?:UED)?|DATE\s+OF\s+ISSUE|ISSUE\s+DATE",
    "LAST_NAME": r"LN|LAST\s+NAME|SURNAME|FAMILY\s+NAME",
    "FIRST_NAME": r"FN|FIRST\s+NAME|GIVEN\s+NAMES?",
    "CLASS": r"CLASS",
    "ENDORSEMENTS": r"ENDORSEMENTS|END",
    "RESTRICTIONS": r"RESTRICTIONS|RESTR?",
    "PLACE_OF_BIRTH": r"PLACE\s+OF\s+BIRTH",
    "COUNTY": r"COUNTY",
}
_LABEL = re.compile(r"(?<![A-Za-z0-9/.-])(?:\d{1,2}[a-d]?\s+)?(?P<label>" + "|".join(
    f"(?P<{name}>{pattern})" for name, pattern in _LABELS.items()) + r")(?![A-Za-z])\s*[:.]?\s*", re.IGNORECASE)
_FIELD_NUMBER_TAIL = re.compile(r"\s+\d{1,2}[a-d]?$")
# AAMVA's numbered fields printed without words: 1 family name, 2 given names, 8 address.
_NUMBERED = {"1": "LAST_NAME", "2": "FIRST_NAME", "8": "ADDRESS"}
_NUMBERED_LINE = re.compile(r"^([128])\s+(\S.*)$")
_CITY_LINE = re.compile(r"^([A-Z][A-Za-z .'-]+?),?\s+([A-Z]{2})\s+(\d{5})(?:-\d{4})?$")
_STREET = re.compile(r"^\d+\s+\S")
_SUFFIXES = frozenset({"JR", "SR", "II", "III", "IV"})
_DATE = re.compile(r"\b(\d{1,2})[/-](\d{1,2})[/-](\d{2,4})\b|\b(\d{4})-(\d{2})-(\d{2})\b|"
                   r"\b(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*(?:\s*/\s*[A-Za-z]+)?\.?\s+(\d{4})\b")
US_STATES = {
    "ALABAMA": "AL", "ALASKA": "AK", "ARIZONA": "AZ", "ARKANSAS": "AR", "CALIFORNIA": "CA", "COLORADO": "CO",
    "CONNECTICUT": "CT", "DELAWARE": "DE", "DISTRICT OF COLUMBIA": "DC", "FLORIDA": "FL", "GEORGIA": "GA",
    "HAWAII": "HI", "IDAHO": "ID", "ILLINOIS": "IL", "INDIANA": "IN", "IOWA": "IA", "KANSAS": "KS",
    "KENTUCKY": "KY", "LOUISIANA": "LA", "MAINE": "ME", "MARYLAND": "MD", "MASSACHUSETTS": "MA", "MICHIGAN": "MI",
    "MINNESOTA": "MN", "MISSISSIPPI": "MS", "MISSOURI": "MO", "MONTANA": "MT", "NEBRASKA": "NE", "NEVADA": "NV",
    "NEW HAMPSHIRE": "NH", "NEW JERSEY": "NJ", "NEW MEXICO": "NM", "NEW YORK": "NY", "NORTH CAROLINA": "NC",
    "NORTH DAKOTA": "ND", "OHIO": "OH", "OKLAHOMA": "OK", "OREGON": "OR", "PENNSYLVANIA": "PA", "RHODE ISLAND": "RI",
    "SOUTH CAROLINA": "SC", "SOUTH DAKOTA": "SD", "TENNESSEE": "TN", "TEXAS": "TX", "UTAH": "UT", "VERMONT": "VT",
    "VIRGINIA": "VA", "WASHINGTON": "WA", "WEST VIRGINIA": "WV", "WISCONSIN": "WI", "WYOMING": "WY"}
_STATE_NAME = re.compile(r"\b(" + "|".join(sorted(US_STATES, key=len, reverse=True)) + r")\b", re.IGNORECASE)


def parse_date(text: str, day_first: bool = False) -> tuple[str, date] | None:
    """The first date in `text`: (its text as printed, the day). Numeric dates are US order unless `day_first`."""
    for match in _DATE.finditer(text):
        try:
            if match.group(1):
                first, second, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
                year += (2000 if year <= date.today().year % 100 + 10 else 1900) if year < 100 else 0
                month, day = (second, first) if day_first else (first, second)
                return match.group(0), date(year, month, day)
            if match.group(4):
                return match.group(0), date(int(match.group(4)), int(match.group(5)), int(match.group(6)))
            month = _MONTHS.index(match.group(8).upper()) + 1
            return match.group(0), date(int(match.group(9)), month, int(match.group(7)))
        except ValueError:
            continue  # not a calendar day (13/45/2020, "Sep" misread): look further
    return None


def _value(name: str, raw: str, confidence: float) -> Found | None:
    raw = _FIELD_NUMBER_TAIL.sub("", raw.strip()).strip(" :").lstrip(".")
    if not raw:
        return None
    if name in DATE_FIELDS:
        parsed = parse_date(raw)
        return Found(parsed[0], confidence, parsed[1]) if parsed else None
    if name == "DOCUMENT_NUMBER":
        # The first run of words holding digits ("D12345678", "S000 0000 0000"), not the words around it.
        run: list[str] = []
        for word in raw.upper().split():
            if any(c.isdigit() for c in word) and re.fullmatch(r"[A-Z0-9-]+", word):
                run.append(word)
            elif run:
                break
        text = " ".join(run)
        return Found(text, confidence) if sum(c.isalnum() for c in text) >= 4 else None
    if name in ("CLASS", "ENDORSEMENTS", "RESTRICTIONS"):
        return Found(raw.split()[0].upper(), confidence)
    return Found(raw, confidence)


def read_labels(texts: list[tuple[str, float]]) -> dict[str, Found]:
    """The labelled fields among `texts` (line text, confidence), the first occurrence of each."""
    fields: dict[str, Found] = {}

    def put(name: str, found: Found | None) -> None:
        if found is not None and name not in fields:
            fields[name] = found

    for number, (text, confidence) in enumerate(texts):
        if _MRZ_LINE.match(text.replace(" ", "").upper()) and "<" in text:
            continue
        matches = list(_LABEL.finditer(text))
        if not matches:
            numbered = _NUMBERED_LINE.match(text.strip())
            if numbered:
                put(_NUMBERED[numbered.group(1)], Found(numbered.group(2).strip(), confidence))
            continue
        for position, match in enumerate(matches):
            name = next(key for key in _LABELS if match.group(key))
            end = matches[position + 1].start() if position + 1 < len(matches) else len(text)
            raw = text[match.end():end]
            if not raw.strip() and position + 1 == len(matches) and number + 1 < len(texts):
                following, following_confidence = texts[number + 1]
                if not _LABEL.search(following):
                    raw, confidence = following, following_confidence  # the label stands over its value
            put(name, _value(name, raw, confidence))
    return fields


def _address(texts: list[tuple[str, float]], fields: dict[str, Found]) -> None:
    for number, (text, confidence) in enumerate(texts):
        city = _CITY_LINE.match(text.strip())
        if not city or city.group(2) not in US_STATES.values():
            continue
        fields.setdefault("CITY_IN_ADDRESS", Found(city.group(1).strip().upper(), confidence))
        fields.setdefault("STATE_IN_ADDRESS", Found(city.group(2), confidence))
        fields.setdefault("ZIP_CODE_IN_ADDRESS", Found(city.group(3), confidence))
        if "ADDRESS" not in fields and number > 0:
            street, street_confidence = texts[number - 1]
            street = _NUMBERED_LINE.sub(lambda m: m.group(2) if m.group(1) == "8" else m.group(0), street.strip())
            if _STREET.match(street):
                fields["ADDRESS"] = Found(street, street_confidence)
        return


def _names(fields: dict[str, Found]) -> None:
    """Given names split into first and middle; a generational suffix taken off the end."""
    for name in ("FIRST_NAME", "LAST_NAME"):
        if name in fields:
            words = fields[name].text.replace(",", " ").split()
            if len(words) > 1 and words[-1].upper().rstrip(".") in _SUFFIXES:
                fields.setdefault("SUFFIX", Found(words[-1].rstrip("."), fields[name].confidence))
                words = words[:-1]
            if name == "FIRST_NAME" and len(words) > 1:
                fields.setdefault("MIDDLE_NAME", Found(" ".join(words[1:]), fields[name].confidence))
                words = words[:1]
            fields[name] = Found(" ".join(words), fields[name].confidence)


def identity_fields(page: Page) -> dict[str, Found]:
    texts = [(line.text(page), line.confidence) for line in page.lines]
    fields = read_mrz(texts)
    printed = read_labels(texts)
    for name, found in printed.items():
        zone = fields.get(name)
        if zone is None:
            fields[name] = found
        elif zone.day is not None and found.day == zone.day:
            fields[name] = Found(found.text, max(found.confidence, zone.confidence), zone.day)  # the printed form
    _names(fields)
    _address(texts, fields)
    whole = " ".join(text for text, _ in texts).upper()
    if "STATE_NAME" not in fields and "ID_TYPE" not in fields:
        state = _STATE_NAME.search(whole)
        if state:
            fields["STATE_NAME"] = Found(state.group(1).upper(), 90.0)
    if "ID_TYPE" not in fields and "DRIVER" in whole and "LICEN" in whole:
        fields["ID_TYPE"] = Found("DRIVER LICENSE FRONT", 90.0)
    if re.search(r"\bVETERAN\b", whole):
        fields.setdefault("VETERAN", Found("VETERAN", 90.0))
    return fields


def identity_document(page: Page, index: int, blocks: list[dict]) -> dict:
    """One IdentityDocument: every field AWS answers, in its order (MRZ_CODE last, where a zone was read)."""
    fields = identity_fields(page)
    names = FIELDS + (("MRZ_CODE",) if "MRZ_CODE" in fields else ())
    answered = []
    for name in names:
        found = fields.get(name)
        detection: dict = {"Text": found.text if found else ""}
        if found and found.day is not None:
            detection["NormalizedValue"] = {"Value": f"{found.day.isoformat()}T00:00:00", "ValueType": "Date"}
        detection["Confidence"] = round(float(found.confidence), 4) if found else ABSENT_CONFIDENCE
        answered.append({"Type": {"Text": name}, "ValueDetection": detection})
    return {"DocumentIndex": index, "IdentityDocumentFields": answered, "Blocks": blocks}
