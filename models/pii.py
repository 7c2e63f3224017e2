"""PII detection: Microsoft Presidio's analyzer (MIT) with the spaCy English pipeline of the `spacy` engine, plus
pattern recognizers for identifiers Presidio has no recognizer for (AWS keys, card CVV/expiry, PINs, ages,
passwords, user names, SWIFT codes, vehicle identification numbers).

Results keep Presidio's entity names; mapping them to another vocabulary (Comprehend's) is the service's job.
"""

from __future__ import annotations

import logging
import regex as re
from typing import TYPE_CHECKING

from models.weights import ResolvedWeights

if TYPE_CHECKING:
    from models.settings import ModelSettings

log = logging.getLogger(__name__)

# Entities of the spaCy-based recognizer that mislabel identifiers ("SSN", "IBAN" as ORGANIZATION): left out.
DROPPED = {"ORGANIZATION", "NRP"}


def _patch_tldextract() -> None:
    """Presidio's email/URL recognizers call `tldextract.extract`, which downloads the public suffix list on first
    use: make them use the snapshot bundled in the wheel instead (no network)."""
    import tldextract

    offline = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    tldextract.extract = offline
    try:
        import tldextract.tldextract as module

        module.TLD_EXTRACTOR = offline
    except Exception:  # pragma: no cover - layout differs between versions
        pass


def _extra_recognizers() -> list:
    from presidio_analyzer import Pattern, PatternRecognizer

    def rec(entity: str, patterns: list[tuple[str, str, float]], context: list[str] | None = None) -> PatternRecognizer:
        # Case-sensitive (Presidio's default ignores case, which would read "password" as a SWIFT code).
        return PatternRecognizer(supported_entity=entity, name=f"aigate_{entity.lower()}",
                                 patterns=[Pattern(name, regex, score) for name, regex, score in patterns],
                                 context=context, global_regex_flags=re.DOTALL | re.MULTILINE)

    return [
        rec("AWS_ACCESS_KEY", [("akid", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b", 0.9)]),
        rec("AWS_SECRET_KEY", [("secret", r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])", 0.3)],
            ["secret", "aws", "key", "access"]),
        rec("CREDIT_DEBIT_CVV", [("cvv", r"(?i)(?<=\b(?:cvv|cvc|cvv2|security code)[:\s#]{1,3})\d{3,4}\b", 0.8)]),
        rec("CREDIT_DEBIT_EXPIRY", [("expiry", r"\b(?:0[1-9]|1[0-2])\s?/\s?(?:\d{2}|20\d{2})\b", 0.3)],
            ["exp", "expiry", "expires", "expiration", "valid", "thru", "card"]),
        rec("PIN", [("pin", r"(?i)(?<=\bpin(?: code| number)?[:\s#]{1,3}(?:is )?)\d{4,6}\b", 0.8)]),
        rec("AGE", [("age", r"(?i)\b\d{1,3}(?=[- ]years?[- ]old\b)", 0.8),
                    ("aged", r"(?i)(?<=\baged? )\d{1,3}\b", 0.6)]),
        rec("PASSWORD", [("password", r"(?i)(?<=\b(?:password|passwd|pwd|passcode)(?: is)?[:=\s]{1,3})\S{3,63}(?<![.,;:!?)\x22\x27])", 0.8)]),
        rec("USERNAME", [("username", r"(?i)(?<=\b(?:user ?name|login|user id|userid|handle)(?: is)?[:=\s]{1,3})[\w.@-]{2,63}\w", 0.7)]),
        rec("SWIFT_CODE", [("swift", r"\b[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?\b", 0.2)],
            ["swift", "bic", "bank"]),
        rec("VEHICLE_IDENTIFICATION_NUMBER", [("vin", r"\b[A-HJ-NPR-Z0-9]{17}\b", 0.2)], ["vin", "vehicle", "chassis"]),
    ]


class PiiEngine:
    def __init__(self, analyzer, nlp_engine, weights: ResolvedWeights) -> None:
        self.analyzer = analyzer
        self.nlp_engine = nlp_engine
        self.weights = weights
        from models.spacy_nlp import lock_for

        self._lock = lock_for(nlp_engine.nlp["en"])  # shared with the entity engine's use of the same pipeline

    @classmethod
    def load(cls, weights: ResolvedWeights, settings: ModelSettings | None = None, spacy_nlp=None) -> PiiEngine:
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import SpacyNlpEngine

        _patch_tldextract()
        if spacy_nlp is None:
            from models.spacy_nlp import load_pipeline

            spacy_nlp = load_pipeline(weights.path)
        nlp_engine = SpacyNlpEngine(models=[{"lang_code": "en", "model_name": str(weights.path)}])
        nlp_engine.nlp = {"en": spacy_nlp}  # the pipeline already loaded, not a second copy
        registry = RecognizerRegistry(supported_languages=["en"])
        registry.load_predefined_recognizers(languages=["en"], nlp_engine=nlp_engine)
        # Phone numbers: accept every *possible* number (right length for its region), not only numbers whose
        # area code phonenumbers knows to be assigned — PII detection must not miss a number for being unusual.
        from presidio_analyzer.predefined_recognizers import PhoneRecognizer

        registry.remove_recognizer("PhoneRecognizer")
        registry.add_recognizer(PhoneRecognizer(leniency=0))
        for recognizer in _extra_recognizers():
            registry.add_recognizer(recognizer)
        analyzer = AnalyzerEngine(registry=registry, nlp_engine=nlp_engine, supported_languages=["en"])
        return cls(analyzer, nlp_engine, weights)

    def entity_names(self) -> list[str]:
        return sorted(set(self.analyzer.get_supported_entities("en")) - DROPPED)

    def analyze_many(self, texts: list[str], entities: list[str] | None = None,
                     threshold: float = 0.0) -> list[list[tuple[str, int, int, float]]]:
        """Per text: (presidio entity, start, end, score) with character offsets, overlaps resolved by Presidio."""
        wanted = entities or self.entity_names()
        with self._lock:
            artifacts = [artifact for _, artifact in self.nlp_engine.process_batch(texts, language="en")]
        results = []
        for text, nlp_artifacts in zip(texts, artifacts):
            found = self.analyzer.analyze(text=text, language="en", entities=wanted, nlp_artifacts=nlp_artifacts,
                                          score_threshold=threshold)
            results.append(sorted(((r.entity_type, r.start, r.end, float(r.score)) for r in found
                                   if r.entity_type not in DROPPED), key=lambda item: (item[1], -item[2])))
        return results
