"""The analysis job types run by the document-job framework (services.comprehend.jobs): what each analyses, where
it writes, and how it checks its Start* request. (DocumentClassification is in classifiers.py.)"""

from __future__ import annotations

import csv
import io

import orjson

from services.comprehend import analysis
from services.comprehend.custom import RECOGNIZER, check_trained
from services.comprehend.errors import InvalidRequest, UnsupportedLanguage
from services.comprehend.jobs import JobType
from services.comprehend.language import detect_languages_many
from services.comprehend.recognizers import recognize_many
from services.gateway.context import Principal

# Per-document limits of the asynchronous jobs, UTF-8 bytes.
SENTIMENT_DOCUMENT_BYTES = 5_000
DOCUMENT_BYTES = 1_000_000


def _language_check(operation: str) -> callable:
    def check(request: dict, ctx=None) -> None:
        language = request.get("LanguageCode", "en")
        try:
            analysis.check_language(operation, language)
        except UnsupportedLanguage as error:
            raise InvalidRequest(error.message) from None

    return check


def _entities(texts: list[str], request: dict, principal: Principal) -> list[dict]:
    arn = request.get("EntityRecognizerArn")
    if arn:
        return [{"Entities": found} for found in recognize_many(arn, principal, texts)]
    language = request.get("LanguageCode", "en")
    return [{"Entities": found} for found in analysis.spacy_many("entities", texts, language)]


def _check_entities(request: dict, ctx) -> None:
    if request.get("EntityRecognizerArn"):
        check_trained(ctx, RECOGNIZER, request["EntityRecognizerArn"])
        return
    _language_check("DetectEntities")(request)


DOMINANT_LANGUAGE = JobType(
    kind="comprehend.dominant-language",
    arn_resource="dominant-language-detection-job",
    output_tag="LANGUAGE",
    properties_key="DominantLanguageDetectionJobProperties",
    analyze=lambda texts, request, principal: [{"Languages": found} for found in detect_languages_many(texts)],
)

SENTIMENT = JobType(
    kind="comprehend.sentiment",
    arn_resource="sentiment-detection-job",
    output_tag="SENTIMENT",
    properties_key="SentimentDetectionJobProperties",
    analyze=lambda texts, request, principal: analysis.sentiment_many(texts),
    max_document_bytes=SENTIMENT_DOCUMENT_BYTES,
    check_request=_language_check("DetectSentiment"),
)

TARGETED_SENTIMENT = JobType(
    kind="comprehend.targeted-sentiment",
    arn_resource="targeted-sentiment-detection-job",
    output_tag="TARGETED_SENTIMENT",
    properties_key="TargetedSentimentDetectionJobProperties",
    analyze=lambda texts, request, principal: [{"Entities": found} for found in analysis.targeted_many(texts)],
    max_document_bytes=SENTIMENT_DOCUMENT_BYTES,
    check_request=_language_check("DetectTargetedSentiment"),
)

ENTITIES = JobType(
    kind="comprehend.entities",
    arn_resource="entities-detection-job",
    output_tag="NER",
    properties_key="EntitiesDetectionJobProperties",
    analyze=_entities,
    max_document_bytes=DOCUMENT_BYTES,
    check_request=_check_entities,
)

KEY_PHRASES = JobType(
    kind="comprehend.key-phrases",
    arn_resource="key-phrases-detection-job",
    output_tag="KP",
    properties_key="KeyPhrasesDetectionJobProperties",
    analyze=lambda texts, request, principal: [{"KeyPhrases": found} for found in
                                    analysis.spacy_many("key_phrases", texts, request.get("LanguageCode", "en"))],
    max_document_bytes=DOCUMENT_BYTES,
    check_request=_language_check("DetectKeyPhrases"),
)


# --- PII: labels (offsets) or redacted copies, one `<file>.out` per input file ---------------------------------


def _pii_analyze(texts: list[str], request: dict, principal: Principal) -> list[dict]:
    found = analysis.pii_many(texts)
    if request.get("Mode") == "ONLY_REDACTION":
        config = request.get("RedactionConfig") or {}
        types = set(config.get("PiiEntityTypes") or ["ALL"])
        mode = config.get("MaskMode", "MASK")
        character = config.get("MaskCharacter", "*")
        return [{"RedactedText": analysis.redact(text, entities, mode, character, types)}
                for text, entities in zip(texts, found)]
    return [{"Entities": entities} for entities in found]


def _pii_file(request: dict, name: str, input_format: str, items: list[tuple[dict, str, dict]]) -> bytes:
    if request.get("Mode") == "ONLY_REDACTION":
        if input_format == "ONE_DOC_PER_LINE":
            return ("\n".join(result["RedactedText"] for _, _, result in items) + "\n").encode()
        return items[0][2]["RedactedText"].encode()
    lines = [orjson.dumps({**result, **key}).decode() for key, _, result in items]
    return ("\n".join(lines) + "\n").encode()


def _check_pii(request: dict, ctx=None) -> None:
    _language_check("DetectPiiEntities")(request)
    if request["Mode"] == "ONLY_REDACTION" and not request.get("RedactionConfig"):
        raise InvalidRequest("RedactionConfig is required when Mode is ONLY_REDACTION.")


PII = JobType(
    kind="comprehend.pii",
    arn_resource="pii-entities-detection-job",
    output_tag="PII",
    properties_key="PiiEntitiesDetectionJobProperties",
    analyze=_pii_analyze,
    max_document_bytes=DOCUMENT_BYTES,
    per_file_output=_pii_file,
    check_request=_check_pii,
)


# --- Topics: LDA over the whole corpus -------------------------------------------------------------------------

TERMS_PER_TOPIC = 10
MIN_PROPORTION = 0.01


def _docname(key: dict) -> str:
    return f"{key['File']}:{key['Line']}" if "Line" in key else key["File"]


def topics_output(request: dict, documents: list[tuple[dict, str]]) -> dict[str, bytes]:
    """Latent Dirichlet allocation with NumberOfTopics topics (default 10): `topic-terms.csv` (topic, term,
    weight: the top terms of each topic, weights normalised per topic) and `doc-topics.csv` (docname, topic,
    proportion), as AWS writes them in output.tar.gz."""
    from sklearn.decomposition import LatentDirichletAllocation
    from sklearn.feature_extraction.text import CountVectorizer

    topics = int(request.get("NumberOfTopics") or 10)
    texts = [text for _, text in documents]
    min_df = 2 if len(texts) >= 20 else 1
    vectorizer = CountVectorizer(stop_words="english", max_df=0.95 if len(texts) >= 20 else 1.0, min_df=min_df,
                                 token_pattern=r"(?u)\b[^\W\d_][^\W\d_]{2,}\b", lowercase=True)
    try:
        counts = vectorizer.fit_transform(texts)
    except ValueError:
        raise InvalidRequest("The documents hold no words to model topics from.") from None
    lda = LatentDirichletAllocation(n_components=topics, learning_method="batch", max_iter=50, random_state=0)
    proportions = lda.fit_transform(counts)
    terms = vectorizer.get_feature_names_out()

    topic_terms = io.StringIO()
    writer = csv.writer(topic_terms, lineterminator="\n")
    writer.writerow(["topic", "term", "weight"])
    for topic, weights in enumerate(lda.components_):
        distribution = weights / weights.sum()
        for index in distribution.argsort()[::-1][:TERMS_PER_TOPIC]:
            writer.writerow([f"{topic:03d}", terms[index], f"{distribution[index]:.6f}"])

    doc_topics = io.StringIO()
    writer = csv.writer(doc_topics, lineterminator="\n")
    writer.writerow(["docname", "topic", "proportion"])
    for (key, _), row in zip(documents, proportions):
        for topic in row.argsort()[::-1]:
            if row[topic] < MIN_PROPORTION:
                break
            writer.writerow([_docname(key), f"{topic:03d}", f"{row[topic]:.6f}"])
    return {"topic-terms.csv": topic_terms.getvalue().encode(), "doc-topics.csv": doc_topics.getvalue().encode()}


TOPICS = JobType(
    kind="comprehend.topics",
    arn_resource="topics-detection-job",
    output_tag="TOPICS",
    properties_key="TopicsDetectionJobProperties",
    analyze=lambda texts, request, principal: [{} for _ in texts],
    max_document_bytes=DOCUMENT_BYTES,
    corpus_output=topics_output,
)
