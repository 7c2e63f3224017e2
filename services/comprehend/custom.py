"""Custom classification and custom entity recognition: models users train on their own labelled data.

- CreateDocumentClassifier reads a labelled CSV (COMPREHEND_CSV: `label,text` rows; MULTI_LABEL mode splits the
  label on LabelDelimiter, default `|`) and trains TF-IDF + logistic regression (one-vs-rest for multi-label) as a
  job; 10% of the documents (or TestS3Uri) are held out for the metrics DescribeDocumentClassifier shows, and
  per-label precision/recall/F1 and the confusion matrix go to `output.tar.gz` under OutputDataConfig.
- CreateEntityRecognizer learns from an entity list (`Text,Type` CSV: a case-insensitive phrase matcher) or from
  annotations (`File,Line,Begin Offset,End Offset,Type` CSV over the Documents: a spaCy NER model trained on them,
  plus the annotated phrases as patterns); precision/recall/F1 per type are measured on held-out documents.
- Models run behind endpoints (CreateEndpoint → ClassifyDocument / DetectEntities with EndpointArn) and in
  StartDocumentClassificationJob / StartEntitiesDetectionJob with the model's ARN.

Fitted models are stored in the metadata database (they are small), so every gateway and worker sharing the
database can serve them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import pickle
import random
import re
import threading
from collections import Counter, defaultdict

import orjson
from sqlalchemy import JSON, DateTime, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column

from services.comprehend import analysis
from services.comprehend.jobs import JobType, list_inputs, relative_name, register as register_job_type
from services.comprehend.tags import drop_tags, set_tags
from services.gateway.context import RequestContext
from services.gateway.db import Base
from services.gateway.errors import ServiceError
from services.gateway.jobs import JobRun, job_kind
from services.gateway.runtime import runtime
from services.gateway.storage import BlobError

log = logging.getLogger(__name__)

CLASSIFIER, RECOGNIZER = "document-classifier", "entity-recognizer"
ENDPOINT_KINDS = {CLASSIFIER: "document-classifier-endpoint", RECOGNIZER: "entity-recognizer-endpoint"}
MAX_TRAINING_BYTES = 100 * 1024 * 1024
TEST_FRACTION = 0.1


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


class CustomModel(Base):
    """A custom classifier or entity recognizer (one row per version)."""

    __tablename__ = "comprehend_custom_models"

    arn: Mapped[str] = mapped_column(String(400), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(32))  # document-classifier | entity-recognizer
    name: Mapped[str] = mapped_column(String(256))
    version: Mapped[str | None] = mapped_column(String(256))
    status: Mapped[str] = mapped_column(String(32))
    message: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(16))
    request: Mapped[dict] = mapped_column(JSON)
    metadata_: Mapped[dict | None] = mapped_column("metadata", JSON)
    model: Mapped[bytes | None] = mapped_column(LargeBinary)
    job_id: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    training_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    training_ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Endpoint(Base):
    __tablename__ = "comprehend_endpoints"

    arn: Mapped[str] = mapped_column(String(400), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(12), index=True)
    region: Mapped[str] = mapped_column(String(32))
    model_arn: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(32))
    inference_units: Mapped[int] = mapped_column()
    role_arn: Mapped[str | None] = mapped_column(String(400))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    modified_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


# ---------------------------------------------------------------------------------------------------------------
# Storage helpers
# ---------------------------------------------------------------------------------------------------------------


def _model_arn(ctx: RequestContext, kind: str, name: str, version: str | None) -> str:
    resource = f"{kind}/{name}" + (f"/version/{version}" if version else "")
    return ctx.arn("comprehend", resource)


def _get_model(account_id: str, region: str, arn: str, kind: str) -> CustomModel:
    with runtime().db.session() as session:
        row = session.get(CustomModel, arn)
    if row is None or row.account_id != account_id or row.region != region or row.kind != kind:
        label = "Document classifier" if kind == CLASSIFIER else "Entity recognizer"
        raise ServiceError("ResourceNotFoundException", f"{label} {arn} does not exist.")
    return row


def _update_model(arn: str, **fields) -> None:
    with runtime().db.session() as session:
        row = session.get(CustomModel, arn)
        if row is not None:
            for key, value in fields.items():
                setattr(row, key, value)


_loaded: dict[str, tuple[dt.datetime | None, object]] = {}
_loaded_lock = threading.Lock()


def _fitted(row: CustomModel):
    """The unpickled model of a TRAINED row, cached per ARN and training time."""
    if row.status != "TRAINED" or row.model is None:
        raise ServiceError("ResourceUnavailableException", f"Model {row.arn} is not trained (status {row.status}).")
    with _loaded_lock:
        cached = _loaded.get(row.arn)
        if cached is not None and cached[0] == row.training_ended_at:
            return cached[1]
    model = pickle.loads(row.model)
    with _loaded_lock:
        _loaded[row.arn] = (row.training_ended_at, model)
    return model


def _read_text(account_id: str, uri: str) -> str:
    try:
        data = runtime().blobs.read(uri, account_id, max_bytes=MAX_TRAINING_BYTES)
    except BlobError as error:
        raise ServiceError("InvalidRequestException", f"NO_READ_ACCESS_TO_INPUT: {error}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServiceError("InvalidRequestException", f"INVALID_ENCODING: {uri} is not UTF-8 text") from None


def _read_prefix(account_id: str, uri: str) -> list[tuple[str, str]]:
    """(relative name, text) of every object under a prefix (or the one object `uri` names)."""
    return [(relative_name(uri, found), _read_text(account_id, found)) for found in list_inputs(account_id, uri)]


def _split(items: list, seed: str) -> tuple[list, list]:
    """A reproducible 90/10 train/test split (at least one test item when there are 10 or more)."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    test_count = int(len(items) * TEST_FRACTION) if len(items) >= 10 else 0
    test = {order[i] for i in range(test_count)}
    return [x for i, x in enumerate(items) if i not in test], [x for i, x in enumerate(items) if i in test]


# ---------------------------------------------------------------------------------------------------------------
# Document classifiers
# ---------------------------------------------------------------------------------------------------------------


def _labelled_rows(text: str, multi_label: bool, delimiter: str) -> list[tuple[list[str], str]]:
    rows = []
    for record in csv.reader(io.StringIO(text)):
        if len(record) < 2 or not record[0].strip():
            continue
        label, document = record[0].strip(), ",".join(record[1:]).strip()
        if not document:
            continue
        labels = [part.strip() for part in label.split(delimiter)] if multi_label else [label]
        rows.append(([label for label in labels if label], document))
    return rows


class TextClassifier:
    """TF-IDF (words + characters) and logistic regression; one-vs-rest for multi-label."""

    def __init__(self, multi_label: bool):
        self.multi_label = multi_label
        self.pipeline = None
        self.labels: list[str] = []
        self.binarizer = None

    def _features(self):
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_union

        return make_union(TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
                          TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2))

    def fit(self, texts: list[str], labels: list[list[str]]) -> "TextClassifier":
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import MultiLabelBinarizer

        if self.multi_label:
            self.binarizer = MultiLabelBinarizer()
            y = self.binarizer.fit_transform(labels)
            self.labels = list(self.binarizer.classes_)
            self.pipeline = make_pipeline(self._features(),
                                          OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=2000)))
            self.pipeline.fit(texts, y)
        else:
            y = [label[0] for label in labels]
            self.pipeline = make_pipeline(self._features(), LogisticRegression(C=10.0, max_iter=2000))
            self.pipeline.fit(texts, y)
            self.labels = [str(label) for label in self.pipeline.classes_]
        return self

    def scores(self, texts: list[str]):
        return self.pipeline.predict_proba(texts)

    def classify(self, texts: list[str]) -> list[dict]:
        results = []
        for row in self.scores(texts):
            ranked = sorted(zip(self.labels, (float(p) for p in row)), key=lambda item: -item[1])
            if self.multi_label:
                results.append({"Labels": [{"Name": name, "Score": round(score, 6)} for name, score in ranked]})
            else:
                results.append({"Classes": [{"Name": name, "Score": round(score, 6)} for name, score in ranked[:3]]})
        return results

    def predict_sets(self, texts: list[str]) -> list[set[str]]:
        if self.multi_label:
            return [{name for name, p in zip(self.labels, row) if p >= 0.5} for row in self.scores(texts)]
        return [{str(label)} for label in self.pipeline.predict(texts)]


def classifier_metrics(truth: list[set[str]], predicted: list[set[str]], labels: list[str],
                       multi_label: bool) -> tuple[dict, dict, dict]:
    """(EvaluationMetrics as Comprehend reports them, per-label metrics, confusion matrix)."""
    per_label = {}
    tp_all = fp_all = fn_all = 0
    for label in labels:
        tp = sum(1 for t, p in zip(truth, predicted) if label in t and label in p)
        fp = sum(1 for t, p in zip(truth, predicted) if label not in t and label in p)
        fn = sum(1 for t, p in zip(truth, predicted) if label in t and label not in p)
        tp_all, fp_all, fn_all = tp_all + tp, fp_all + fp, fn_all + fn
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_label[label] = {"Precision": precision, "Recall": recall, "F1Score": f1,
                            "Support": sum(1 for t in truth if label in t)}
    present = [label for label in labels if per_label[label]["Support"]] or labels
    macro = {key: sum(per_label[label][key] for label in present) / len(present)
             for key in ("Precision", "Recall", "F1Score")}
    micro_p = tp_all / (tp_all + fp_all) if tp_all + fp_all else 0.0
    micro_r = tp_all / (tp_all + fn_all) if tp_all + fn_all else 0.0
    accuracy = sum(1 for t, p in zip(truth, predicted) if t == p) / len(truth) if truth else 0.0
    metrics = {"Accuracy": accuracy, **macro, "MicroPrecision": micro_p, "MicroRecall": micro_r,
               "MicroF1Score": 2 * micro_p * micro_r / (micro_p + micro_r) if micro_p + micro_r else 0.0}
    if multi_label:
        wrong = sum(len(t ^ p) for t, p in zip(truth, predicted))
        metrics["HammingLoss"] = wrong / (len(truth) * len(labels)) if truth and labels else 0.0
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    if not multi_label:
        for t, p in zip(truth, predicted):
            matrix[index[next(iter(t))]][index[next(iter(p))]] += 1
    confusion = {"type": "multi_label" if multi_label else "multi_class", "labels": labels,
                 "confusion_matrix": matrix, "all_labels": labels}
    return {key: round(value, 6) for key, value in metrics.items()}, per_label, confusion


def train_classifier(account_id: str, arn: str) -> dict:
    with runtime().db.session() as session:
        row = session.get(CustomModel, arn)
        request = row.request
    config = request["InputDataConfig"]
    if config.get("DataFormat", "COMPREHEND_CSV") != "COMPREHEND_CSV":
        raise ServiceError("InvalidRequestException", "Only DataFormat COMPREHEND_CSV is supported here.")
    if not config.get("S3Uri"):
        raise ServiceError("InvalidRequestException", "InputDataConfig.S3Uri is required.")
    multi_label = request.get("Mode", "MULTI_CLASS") == "MULTI_LABEL"
    delimiter = config.get("LabelDelimiter") or "|"
    rows = [row for _, text in _read_prefix(account_id, config["S3Uri"])
            for row in _labelled_rows(text, multi_label, delimiter)]
    if config.get("TestS3Uri"):
        train = rows
        test = [row for _, text in _read_prefix(account_id, config["TestS3Uri"])
                for row in _labelled_rows(text, multi_label, delimiter)]
    else:
        train, test = _split(rows, arn)
    labels = sorted({label for labels, _ in train for label in labels})
    if len(labels) < 2:
        raise ServiceError("InvalidRequestException",
                           f"The training data must have at least 2 labels; found {len(labels)}.")
    counts = Counter(label for labels_, _ in train for label in labels_)
    if min(counts.values()) < 1 or len(train) < 2 * len(labels):
        raise ServiceError("InvalidRequestException",
                           "Not enough training documents: at least 2 per label are needed.")
    model = TextClassifier(multi_label).fit([text for _, text in train], [labels_ for labels_, _ in train])
    evaluated = test or train
    truth = [set(labels_) for labels_, _ in evaluated]
    predicted = model.predict_sets([text for _, text in evaluated])
    metrics, per_label, confusion = classifier_metrics(truth, predicted, model.labels, multi_label)
    metadata = {"NumberOfLabels": len(model.labels), "NumberOfTrainedDocuments": len(train),
                "NumberOfTestDocuments": len(test), "EvaluationMetrics": metrics}
    output = request.get("OutputDataConfig", {}).get("S3Uri")
    if output:
        confusion["per_label_metrics"] = per_label
        _write_training_output(account_id, output, arn, {"confusion_matrix.json": orjson.dumps(confusion)})
    _update_model(arn, model=pickle.dumps(model), metadata_=metadata)
    return metadata


def _write_training_output(account_id: str, prefix: str, arn: str, members: dict[str, bytes]) -> None:
    from services.comprehend.jobs import _write_archive

    folder = prefix.rstrip("/") + f"/{account_id}-{arn.rsplit('/', 1)[-1]}"
    _write_archive(account_id, folder + "/output/output.tar.gz", members)


# ---------------------------------------------------------------------------------------------------------------
# Entity recognizers
# ---------------------------------------------------------------------------------------------------------------


class EntityRecognizerModel:
    """Phrases (case-insensitive, longest match first) plus, when trained from annotations, a spaCy NER model."""

    def __init__(self, types: list[str], phrases: dict[str, str], ner_bytes: bytes | None = None):
        self.types = types
        self.phrases = phrases  # lower-cased phrase -> type
        self.ner_bytes = ner_bytes
        self._nlp = None
        self._matcher = None
        self._lock = threading.Lock()

    def __getstate__(self):
        return {"types": self.types, "phrases": self.phrases, "ner_bytes": self.ner_bytes}

    def __setstate__(self, state):
        self.__init__(state["types"], state["phrases"], state["ner_bytes"])

    def _pipeline(self):
        import spacy
        from spacy.matcher import PhraseMatcher

        if self._nlp is None:
            if self.ner_bytes:
                nlp = spacy.blank("en")
                nlp.add_pipe("ner")
                nlp.from_bytes(self.ner_bytes)
            else:
                nlp = spacy.blank("en")
            matcher = PhraseMatcher(nlp.vocab, attr="LOWER")
            by_type = defaultdict(list)
            for phrase, kind in self.phrases.items():
                by_type[kind].append(nlp.make_doc(phrase))
            for kind, docs in by_type.items():
                matcher.add(kind, docs)
            self._nlp, self._matcher = nlp, matcher
        return self._nlp, self._matcher

    def recognize(self, texts: list[str]) -> list[list[dict]]:
        with self._lock:
            nlp, matcher = self._pipeline()
            docs = list(nlp.pipe(texts))
            results = []
            for doc in docs:
                spans = []
                for match_id, start, end in matcher(doc):
                    span = doc[start:end]
                    spans.append((span.start_char, span.end_char, nlp.vocab.strings[match_id], 0.99))
                for ent in doc.ents:
                    spans.append((ent.start_char, ent.end_char, ent.label_, 0.8))
                spans.sort(key=lambda s: (-(s[1] - s[0]), -s[3], s[0]))
                kept: list[tuple[int, int, str, float]] = []
                for span in spans:
                    if all(span[1] <= other[0] or span[0] >= other[1] for other in kept):
                        kept.append(span)
                kept.sort()
                results.append([{"Score": score, "Type": kind, "Text": doc.text[begin:end], "BeginOffset": begin,
                                 "EndOffset": end} for begin, end, kind, score in kept])
        return results


def _documents(account_id: str, config: dict) -> list[tuple[str, int | None, str]]:
    """(file, line or None, text) of the training documents."""
    documents = config["Documents"]
    per_line = documents.get("InputFormat", "ONE_DOC_PER_LINE") == "ONE_DOC_PER_LINE"
    found = []
    for name, text in _read_prefix(account_id, documents["S3Uri"]):
        if per_line:
            found.extend((name, number, line) for number, line in enumerate(text.split("\n")))
        else:
            found.append((name, None, text))
    return found


def _annotations(account_id: str, uri: str) -> dict[tuple[str, int | None], list[tuple[int, int, str]]]:
    found: dict[tuple[str, int | None], list[tuple[int, int, str]]] = defaultdict(list)
    for _, text in _read_prefix(account_id, uri):
        for record in csv.DictReader(io.StringIO(text)):
            try:
                key = (record["File"].strip(), int(record["Line"]) if record.get("Line", "").strip() else None)
                found[key].append((int(record["Begin Offset"]), int(record["End Offset"]), record["Type"].strip()))
            except (KeyError, ValueError, AttributeError):
                raise ServiceError("InvalidRequestException",
                                   "Annotations must be a CSV with the columns File, Line, Begin Offset, End Offset, "
                                   "Type.") from None
    return found


def _train_ner(examples: list[tuple[str, list[tuple[int, int, str]]]], types: list[str], seed: str) -> bytes:
    import spacy
    from spacy.training import Example

    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    for kind in types:
        ner.add_label(kind)
    data = []
    for text, spans in examples:
        doc = nlp.make_doc(text)
        entities = []
        for begin, end, kind in spans:
            if doc.char_span(begin, end, label=kind, alignment_mode="contract") is not None:
                entities.append((begin, end, kind))
        data.append(Example.from_dict(doc, {"entities": entities}))
    optimizer = nlp.initialize(lambda: data)
    rng = random.Random(seed)
    for _ in range(30):
        rng.shuffle(data)
        for start in range(0, len(data), 8):
            nlp.update(data[start:start + 8], sgd=optimizer, drop=0.2)
    return nlp.to_bytes()


def _recognizer_metrics(model: EntityRecognizerModel, test: list[tuple[str, list[tuple[int, int, str]]]],
                        types: list[str]) -> tuple[dict, list[dict]]:
    found = model.recognize([text for text, _ in test]) if test else []
    tp, fp, fn = Counter(), Counter(), Counter()
    for (text, gold), predicted in zip(test, found):
        gold_set = {(b, e, k) for b, e, k in gold}
        pred_set = {(p["BeginOffset"], p["EndOffset"], p["Type"]) for p in predicted}
        for item in pred_set:
            (tp if item in gold_set else fp)[item[2]] += 1
        for item in gold_set - pred_set:
            fn[item[2]] += 1

    def prf(t: int, f_p: int, f_n: int) -> dict:
        precision = t / (t + f_p) if t + f_p else 0.0
        recall = t / (t + f_n) if t + f_n else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"Precision": round(precision * 100, 4), "Recall": round(recall * 100, 4), "F1Score": round(f1 * 100, 4)}

    overall = prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return overall, [{"Type": kind, "EvaluationMetrics": prf(tp[kind], fp[kind], fn[kind])} for kind in types]


def train_recognizer(account_id: str, arn: str) -> dict:
    with runtime().db.session() as session:
        request = session.get(CustomModel, arn).request
    config = request["InputDataConfig"]
    if config.get("DataFormat", "COMPREHEND_CSV") != "COMPREHEND_CSV":
        raise ServiceError("InvalidRequestException", "Only DataFormat COMPREHEND_CSV is supported here.")
    types = [item["Type"] for item in config["EntityTypes"]]
    if not config.get("Documents"):
        raise ServiceError("InvalidRequestException", "InputDataConfig.Documents is required.")
    documents = _documents(account_id, config)
    examples: list[tuple[str, list[tuple[int, int, str]]]] = []
    phrases: dict[str, str] = {}
    ner_bytes = None
    if config.get("EntityList"):
        for record in csv.DictReader(io.StringIO(_read_text(account_id, config["EntityList"]["S3Uri"]))):
            text, kind = (record.get("Text") or "").strip(), (record.get("Type") or "").strip()
            if text and kind:
                if kind not in types:
                    raise ServiceError("InvalidRequestException", f"Entity list type {kind} is not in EntityTypes.")
                phrases[text.lower()] = kind
        if not phrases:
            raise ServiceError("InvalidRequestException", "The entity list has no Text,Type rows.")
        # Metrics: how the list's phrases are found in the documents (mentions = exact case-insensitive matches).
        model = EntityRecognizerModel(types, phrases)
        texts = [text for _, _, text in documents if text.strip()]
        examples = [(text, [(p["BeginOffset"], p["EndOffset"], p["Type"]) for p in found])
                    for text, found in zip(texts, model.recognize(texts))]
        train, test = _split(examples, arn)
    elif config.get("Annotations"):
        annotations = _annotations(account_id, config["Annotations"]["S3Uri"])
        for name, line, text in documents:
            spans = annotations.get((name, line), []) or annotations.get((name, None), [])
            if not text.strip():
                continue
            for begin, end, kind in spans:
                if kind not in types:
                    raise ServiceError("InvalidRequestException", f"Annotation type {kind} is not in EntityTypes.")
                if not (0 <= begin < end <= len(text)):
                    raise ServiceError("InvalidRequestException", f"Annotation {begin}-{end} is outside {name}.")
            examples.append((text, spans))
        if not any(spans for _, spans in examples):
            raise ServiceError("InvalidRequestException", "No annotation matches a training document.")
        train, test = _split(examples, arn)
        ner_bytes = _train_ner(train, types, arn)
        for text, spans in train:
            for begin, end, kind in spans:
                phrases.setdefault(text[begin:end].lower(), kind)
        model = EntityRecognizerModel(types, phrases, ner_bytes)
    else:
        raise ServiceError("InvalidRequestException", "InputDataConfig needs EntityList or Annotations.")
    overall, per_type = _recognizer_metrics(model, test or train, types)
    mentions = Counter(kind for _, spans in train for _, _, kind in spans)
    for item in per_type:
        item["NumberOfTrainMentions"] = mentions[item["Type"]]
    metadata = {"NumberOfTrainedDocuments": len(train), "NumberOfTestDocuments": len(test),
                "EvaluationMetrics": overall, "EntityTypes": per_type}
    _update_model(arn, model=pickle.dumps(model), metadata_=metadata)
    return metadata


# ---------------------------------------------------------------------------------------------------------------
# Training jobs
# ---------------------------------------------------------------------------------------------------------------


def _mark_training(arn: str) -> str:
    with runtime().db.session() as session:
        row = session.get(CustomModel, arn)
        if row is None:
            return "DELETED"
        if row.status in ("STOP_REQUESTED", "STOPPED"):
            row.status, row.ended_at = "STOPPED", utcnow()
            return "STOPPED"
        row.status, row.training_started_at = "TRAINING", row.training_started_at or utcnow()
        return "TRAINING"


def _finish_training(arn: str, status: str, message: str | None) -> None:
    now = utcnow()
    fields = {"status": status, "message": message, "ended_at": now}
    if status == "TRAINED":
        fields["training_ended_at"] = now
    _update_model(arn, **fields)


def _run_training(run: JobRun, train) -> dict:
    arn = run.request["ModelArn"]
    if run.step(_mark_training, arn, name="mark-training") != "TRAINING":
        return {"ModelArn": arn}
    try:
        metadata = run.step(train, run.principal.account_id, arn, name="train")
    except ServiceError as error:
        run.step(_finish_training, arn, "IN_ERROR", error.message, name="finish")
        raise
    except Exception as error:
        run.step(_finish_training, arn, "IN_ERROR", f"Internal error: {type(error).__name__}: {error}", name="finish")
        raise
    with runtime().db.session() as session:
        row = session.get(CustomModel, arn)
        stopped = row is not None and row.status == "STOP_REQUESTED"
    run.step(_finish_training, arn, "STOPPED" if stopped else "TRAINED", None, name="finish")
    return {"ModelArn": arn, **metadata}


@job_kind("comprehend.train-classifier", "comprehend")
def run_train_classifier(run: JobRun) -> dict:
    return _run_training(run, train_classifier)


@job_kind("comprehend.train-recognizer", "comprehend")
def run_train_recognizer(run: JobRun) -> dict:
    return _run_training(run, train_recognizer)


# ---------------------------------------------------------------------------------------------------------------
# Inference used by jobs and endpoints
# ---------------------------------------------------------------------------------------------------------------


def _model_by_arn(account_id: str, arn: str, kind: str) -> CustomModel:
    region = arn.split(":")[3] if arn.count(":") >= 5 else runtime().settings.region
    return _get_model(account_id, region, arn, kind)


def classify_many(arn: str, account_id: str, texts: list[str]) -> list[dict]:
    return _fitted(_model_by_arn(account_id, arn, CLASSIFIER)).classify(texts)


def recognize_many(arn: str, account_id: str, texts: list[str]) -> list[list[dict]]:
    return _fitted(_model_by_arn(account_id, arn, RECOGNIZER)).recognize(texts)


def _endpoint_model(ctx: RequestContext, endpoint_arn: str, kind: str) -> CustomModel:
    with runtime().db.session() as session:
        endpoint = session.get(Endpoint, endpoint_arn)
    if endpoint is None or endpoint.account_id != ctx.account_id or endpoint.region != ctx.region:
        raise ServiceError("ResourceNotFoundException", f"Endpoint {endpoint_arn} does not exist.")
    if f":{ENDPOINT_KINDS[kind]}/" not in endpoint_arn:
        raise ServiceError("InvalidRequestException", f"Endpoint {endpoint_arn} does not serve a {kind}.")
    if endpoint.status != "IN_SERVICE":
        raise ServiceError("ResourceUnavailableException", f"Endpoint {endpoint_arn} is {endpoint.status}.")
    return _get_model(ctx.account_id, ctx.region, endpoint.model_arn, kind)


async def detect_entities_with_endpoint(ctx: RequestContext, request: dict) -> dict:
    if request.get("Bytes") is not None:
        raise ServiceError("InvalidRequestException", "Bytes input (semi-structured documents) is not supported here.")
    text = request.get("Text")
    if not text:
        raise ServiceError("InvalidRequestException", "Text is required.")
    analysis.check_size("DetectEntities", text)
    from starlette.concurrency import run_in_threadpool

    def work() -> dict:
        row = _endpoint_model(ctx, request["EndpointArn"], RECOGNIZER)
        return {"Entities": _fitted(row).recognize([text])[0]}

    return await run_in_threadpool(work)


# ---------------------------------------------------------------------------------------------------------------
# Operations
# ---------------------------------------------------------------------------------------------------------------


def _check_name(name: str) -> None:
    if not re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9])*", name):
        raise ServiceError("InvalidRequestException", f"Invalid name {name!r}.")


def _create_model(ctx: RequestContext, request: dict, kind: str, name: str, job_kind_name: str) -> str:
    _check_name(name)
    language = request["LanguageCode"]
    if language != "en":
        raise ServiceError("UnsupportedLanguageException",
                           f"Custom models for language {language!r} are not supported on this gateway (English only).")
    version = request.get("VersionName")
    arn = _model_arn(ctx, kind, name, version)
    stored = orjson.loads(orjson.dumps({k: v for k, v in request.items() if k not in ("ClientRequestToken", "Tags")}))
    with runtime().db.session() as session:
        existing = session.get(CustomModel, arn)
        if existing is not None:
            raise ServiceError("ResourceInUseException", f"{arn} already exists.")
        session.add(CustomModel(arn=arn, account_id=ctx.account_id, region=ctx.region, kind=kind, name=name,
                                version=version, status="SUBMITTED", language=language, request=stored,
                                submitted_at=utcnow()))
    job = runtime().jobs.submit(ctx.principal, job_kind_name, {"ModelArn": arn}, name=name)
    _update_model(arn, job_id=job.job_id)
    set_tags(ctx.principal, arn, request.get("Tags"))
    return arn


def _model_times(row: CustomModel) -> dict:
    return {"SubmitTime": _aware(row.submitted_at), "EndTime": _aware(row.ended_at),
            "TrainingStartTime": _aware(row.training_started_at), "TrainingEndTime": _aware(row.training_ended_at)}


def classifier_properties(row: CustomModel) -> dict:
    request = row.request
    props = {
        "DocumentClassifierArn": row.arn, "LanguageCode": row.language, "Status": row.status,
        "Message": row.message, **_model_times(row), "InputDataConfig": request["InputDataConfig"],
        "OutputDataConfig": request.get("OutputDataConfig"), "ClassifierMetadata": row.metadata_,
        "DataAccessRoleArn": request.get("DataAccessRoleArn"), "Mode": request.get("Mode", "MULTI_CLASS"),
        "VersionName": row.version, "VolumeKmsKeyId": request.get("VolumeKmsKeyId"),
        "VpcConfig": request.get("VpcConfig"), "ModelKmsKeyId": request.get("ModelKmsKeyId"),
    }
    return {key: value for key, value in props.items() if value is not None}


def recognizer_properties(row: CustomModel) -> dict:
    request = row.request
    props = {
        "EntityRecognizerArn": row.arn, "LanguageCode": row.language, "Status": row.status, "Message": row.message,
        **_model_times(row), "InputDataConfig": request["InputDataConfig"], "RecognizerMetadata": row.metadata_,
        "DataAccessRoleArn": request.get("DataAccessRoleArn"), "VersionName": row.version,
        "VolumeKmsKeyId": request.get("VolumeKmsKeyId"), "VpcConfig": request.get("VpcConfig"),
        "ModelKmsKeyId": request.get("ModelKmsKeyId"),
    }
    return {key: value for key, value in props.items() if value is not None}


def _list_models(ctx: RequestContext, kind: str, request: dict, name_key: str) -> tuple[list[CustomModel], str | None]:
    found = request.get("Filter", {})
    if "SubmitTimeBefore" in found and "SubmitTimeAfter" in found:
        raise ServiceError("InvalidFilterException", "Specify SubmitTimeBefore or SubmitTimeAfter, not both.")
    query = select(CustomModel).where(CustomModel.account_id == ctx.account_id, CustomModel.region == ctx.region,
                                      CustomModel.kind == kind)
    if found.get("Status"):
        query = query.where(CustomModel.status == found["Status"])
    if found.get(name_key):
        query = query.where(CustomModel.name == found[name_key])
    if found.get("SubmitTimeBefore"):
        query = query.where(CustomModel.submitted_at < found["SubmitTimeBefore"])
    if found.get("SubmitTimeAfter"):
        query = query.where(CustomModel.submitted_at > found["SubmitTimeAfter"])
    with runtime().db.session() as session:
        rows = list(session.scalars(query.order_by(CustomModel.submitted_at.desc(), CustomModel.arn)))
    return _page(rows, request)


def _page(rows: list, request: dict) -> tuple[list, str | None]:
    start = 0
    if request.get("NextToken"):
        try:
            start = int(request["NextToken"])
        except ValueError:
            raise ServiceError("InvalidRequestException", "Invalid NextToken.") from None
    size = request.get("MaxResults") or 100
    page = rows[start:start + size]
    return page, (str(start + size) if start + size < len(rows) else None)


def _summaries(rows: list[CustomModel], name_key: str) -> list[dict]:
    by_name: dict[str, list[CustomModel]] = defaultdict(list)
    for row in rows:
        by_name[row.name].append(row)
    summaries = []
    for name, versions in sorted(by_name.items()):
        latest = max(versions, key=lambda r: _aware(r.submitted_at))
        summaries.append({name_key: name, "NumberOfVersions": len(versions),
                          "LatestVersionCreatedAt": _aware(latest.submitted_at),
                          **({"LatestVersionName": latest.version} if latest.version else {}),
                          "LatestVersionStatus": latest.status})
    return summaries


def _delete_model(ctx: RequestContext, arn: str, kind: str) -> None:
    row = _get_model(ctx.account_id, ctx.region, arn, kind)
    with runtime().db.session() as session:
        in_use = session.scalar(select(Endpoint).where(Endpoint.model_arn == arn))
        if in_use is not None:
            raise ServiceError("ResourceInUseException", f"{arn} is used by endpoint {in_use.arn}.")
        if row.status in ("SUBMITTED", "TRAINING"):
            raise ServiceError("ResourceInUseException", f"{arn} is training; stop the training first.")
        session.delete(session.get(CustomModel, arn))
    drop_tags(arn)
    with _loaded_lock:
        _loaded.pop(arn, None)


def _stop_training(ctx: RequestContext, arn: str, kind: str) -> None:
    row = _get_model(ctx.account_id, ctx.region, arn, kind)
    if row.status == "SUBMITTED":
        _update_model(arn, status="STOPPED", ended_at=utcnow())
    elif row.status == "TRAINING":
        _update_model(arn, status="STOP_REQUESTED")
    else:
        raise ServiceError("InvalidRequestException", f"{arn} is not training (status {row.status}).")


def endpoint_properties(row: Endpoint) -> dict:
    return {"EndpointArn": row.arn, "Status": row.status, "ModelArn": row.model_arn, "DesiredModelArn": row.model_arn,
            "DesiredInferenceUnits": row.inference_units, "CurrentInferenceUnits": row.inference_units,
            "CreationTime": _aware(row.created_at), "LastModifiedTime": _aware(row.modified_at),
            **({"DataAccessRoleArn": row.role_arn} if row.role_arn else {})}


def _classification_job_analyze(texts: list[str], request: dict) -> list[dict]:
    return classify_many(request["DocumentClassifierArn"], request["_account"], texts)


def check_trained(ctx: RequestContext, arn: str, kind: str) -> None:
    """For Start*Job with a custom model: the model must exist (ResourceNotFoundException) and be trained
    (ResourceUnavailableException), as AWS checks before accepting the job."""
    row = _get_model(ctx.account_id, ctx.region, arn, kind)
    if row.status != "TRAINED":
        raise ServiceError("ResourceUnavailableException", f"Model {arn} is not trained (status {row.status}).")


def _check_classification_job(request: dict, ctx: RequestContext) -> None:
    if not request.get("DocumentClassifierArn"):
        raise ServiceError("InvalidRequestException", "DocumentClassifierArn is required.")
    check_trained(ctx, request["DocumentClassifierArn"], CLASSIFIER)


CLASSIFICATION = register_job_type(JobType(
    kind="comprehend.document-classification",
    arn_resource="document-classification-job",
    output_tag="CLN",
    properties_key="DocumentClassificationJobProperties",
    analyze=_classification_job_analyze,
    check_request=_check_classification_job,
))


def register(provider) -> None:
    """Register the custom-model operations on the Comprehend provider."""
    from services.comprehend.provider import register_job_operations

    op = provider.operation

    @op("CreateDocumentClassifier")
    def create_document_classifier(ctx: RequestContext, request: dict) -> dict:
        if request.get("Mode", "MULTI_CLASS") not in ("MULTI_CLASS", "MULTI_LABEL"):
            raise ServiceError("InvalidRequestException", "Mode must be MULTI_CLASS or MULTI_LABEL.")
        config = request["InputDataConfig"]
        if config.get("DataFormat", "COMPREHEND_CSV") != "COMPREHEND_CSV" or not config.get("S3Uri"):
            raise ServiceError("InvalidRequestException",
                               "Only DataFormat COMPREHEND_CSV with InputDataConfig.S3Uri is supported here.")
        arn = _create_model(ctx, request, CLASSIFIER, request["DocumentClassifierName"], "comprehend.train-classifier")
        return {"DocumentClassifierArn": arn}

    @op("DescribeDocumentClassifier")
    def describe_document_classifier(ctx: RequestContext, request: dict) -> dict:
        row = _get_model(ctx.account_id, ctx.region, request["DocumentClassifierArn"], CLASSIFIER)
        return {"DocumentClassifierProperties": classifier_properties(row)}

    @op("ListDocumentClassifiers")
    def list_document_classifiers(ctx: RequestContext, request: dict) -> dict:
        rows, token = _list_models(ctx, CLASSIFIER, request, "DocumentClassifierName")
        return {"DocumentClassifierPropertiesList": [classifier_properties(row) for row in rows], "NextToken": token}

    @op("ListDocumentClassifierSummaries")
    def list_document_classifier_summaries(ctx: RequestContext, request: dict) -> dict:
        rows, _ = _list_models(ctx, CLASSIFIER, {}, "DocumentClassifierName")
        page, token = _page(_summaries(rows, "DocumentClassifierName"), request)
        return {"DocumentClassifierSummariesList": page, "NextToken": token}

    @op("DeleteDocumentClassifier")
    def delete_document_classifier(ctx: RequestContext, request: dict) -> dict:
        _delete_model(ctx, request["DocumentClassifierArn"], CLASSIFIER)
        return {}

    @op("StopTrainingDocumentClassifier")
    def stop_training_document_classifier(ctx: RequestContext, request: dict) -> dict:
        _stop_training(ctx, request["DocumentClassifierArn"], CLASSIFIER)
        return {}

    @op("CreateEntityRecognizer")
    def create_entity_recognizer(ctx: RequestContext, request: dict) -> dict:
        config = request["InputDataConfig"]
        if not config.get("EntityList") and not config.get("Annotations"):
            raise ServiceError("InvalidRequestException", "InputDataConfig needs EntityList or Annotations.")
        if not config.get("Documents"):
            raise ServiceError("InvalidRequestException", "InputDataConfig.Documents is required.")
        arn = _create_model(ctx, request, RECOGNIZER, request["RecognizerName"], "comprehend.train-recognizer")
        return {"EntityRecognizerArn": arn}

    @op("DescribeEntityRecognizer")
    def describe_entity_recognizer(ctx: RequestContext, request: dict) -> dict:
        row = _get_model(ctx.account_id, ctx.region, request["EntityRecognizerArn"], RECOGNIZER)
        return {"EntityRecognizerProperties": recognizer_properties(row)}

    @op("ListEntityRecognizers")
    def list_entity_recognizers(ctx: RequestContext, request: dict) -> dict:
        rows, token = _list_models(ctx, RECOGNIZER, request, "RecognizerName")
        return {"EntityRecognizerPropertiesList": [recognizer_properties(row) for row in rows], "NextToken": token}

    @op("ListEntityRecognizerSummaries")
    def list_entity_recognizer_summaries(ctx: RequestContext, request: dict) -> dict:
        rows, _ = _list_models(ctx, RECOGNIZER, {}, "RecognizerName")
        page, token = _page(_summaries(rows, "RecognizerName"), request)
        return {"EntityRecognizerSummariesList": page, "NextToken": token}

    @op("DeleteEntityRecognizer")
    def delete_entity_recognizer(ctx: RequestContext, request: dict) -> dict:
        _delete_model(ctx, request["EntityRecognizerArn"], RECOGNIZER)
        return {}

    @op("StopTrainingEntityRecognizer")
    def stop_training_entity_recognizer(ctx: RequestContext, request: dict) -> dict:
        _stop_training(ctx, request["EntityRecognizerArn"], RECOGNIZER)
        return {}

    # --- endpoints ---

    @op("CreateEndpoint")
    def create_endpoint(ctx: RequestContext, request: dict) -> dict:
        model_arn = request.get("ModelArn")
        if not model_arn:
            raise ServiceError("InvalidRequestException", "ModelArn is required.")
        kind = CLASSIFIER if f":{CLASSIFIER}/" in model_arn else RECOGNIZER if f":{RECOGNIZER}/" in model_arn else None
        if kind is None:
            raise ServiceError("InvalidRequestException", f"{model_arn} is not a custom model ARN.")
        row = _get_model(ctx.account_id, ctx.region, model_arn, kind)
        if row.status != "TRAINED":
            raise ServiceError("ResourceUnavailableException", f"{model_arn} is not trained (status {row.status}).")
        _check_name(request["EndpointName"])
        arn = ctx.arn("comprehend", f"{ENDPOINT_KINDS[kind]}/{request['EndpointName']}")
        now = utcnow()
        with runtime().db.session() as session:
            if session.get(Endpoint, arn) is not None:
                raise ServiceError("ResourceInUseException", f"Endpoint {arn} already exists.")
            session.add(Endpoint(arn=arn, account_id=ctx.account_id, region=ctx.region, model_arn=model_arn,
                                 status="IN_SERVICE", inference_units=request["DesiredInferenceUnits"],
                                 role_arn=request.get("DataAccessRoleArn"), created_at=now, modified_at=now))
        set_tags(ctx.principal, arn, request.get("Tags"))
        return {"EndpointArn": arn, "ModelArn": model_arn}

    def _endpoint(ctx: RequestContext, arn: str) -> Endpoint:
        with runtime().db.session() as session:
            row = session.get(Endpoint, arn)
        if row is None or row.account_id != ctx.account_id or row.region != ctx.region:
            raise ServiceError("ResourceNotFoundException", f"Endpoint {arn} does not exist.")
        return row

    @op("DescribeEndpoint")
    def describe_endpoint(ctx: RequestContext, request: dict) -> dict:
        return {"EndpointProperties": endpoint_properties(_endpoint(ctx, request["EndpointArn"]))}

    @op("ListEndpoints")
    def list_endpoints(ctx: RequestContext, request: dict) -> dict:
        found = request.get("Filter", {})
        query = select(Endpoint).where(Endpoint.account_id == ctx.account_id, Endpoint.region == ctx.region)
        if found.get("ModelArn"):
            query = query.where(Endpoint.model_arn == found["ModelArn"])
        if found.get("Status"):
            query = query.where(Endpoint.status == found["Status"])
        if found.get("CreationTimeBefore"):
            query = query.where(Endpoint.created_at < found["CreationTimeBefore"])
        if found.get("CreationTimeAfter"):
            query = query.where(Endpoint.created_at > found["CreationTimeAfter"])
        with runtime().db.session() as session:
            rows = list(session.scalars(query.order_by(Endpoint.created_at.desc())))
        page, token = _page(rows, request)
        return {"EndpointPropertiesList": [endpoint_properties(row) for row in page], "NextToken": token}

    @op("UpdateEndpoint")
    def update_endpoint(ctx: RequestContext, request: dict) -> dict:
        _endpoint(ctx, request["EndpointArn"])
        with runtime().db.session() as session:
            row = session.get(Endpoint, request["EndpointArn"])
            if request.get("DesiredModelArn"):
                kind = CLASSIFIER if f":{CLASSIFIER}/" in row.model_arn else RECOGNIZER
                model = _get_model(ctx.account_id, ctx.region, request["DesiredModelArn"], kind)
                if model.status != "TRAINED":
                    raise ServiceError("ResourceUnavailableException", f"{model.arn} is not trained.")
                row.model_arn = model.arn
            if request.get("DesiredInferenceUnits"):
                row.inference_units = request["DesiredInferenceUnits"]
            row.modified_at = utcnow()
        return {"DesiredModelArn": row.model_arn}

    @op("DeleteEndpoint")
    def delete_endpoint(ctx: RequestContext, request: dict) -> dict:
        _endpoint(ctx, request["EndpointArn"])
        with runtime().db.session() as session:
            session.delete(session.get(Endpoint, request["EndpointArn"]))
        drop_tags(request["EndpointArn"])
        return {}

    @op("ClassifyDocument")
    def classify_document(ctx: RequestContext, request: dict) -> dict:
        if request.get("Bytes") is not None:
            raise ServiceError("InvalidRequestException",
                               "Bytes input (semi-structured documents) is not supported here; send Text.")
        text = request.get("Text")
        if not text:
            raise ServiceError("InvalidRequestException", "Text is required.")
        analysis.check_size("ClassifyDocument", text)
        row = _endpoint_model(ctx, request["EndpointArn"], CLASSIFIER)
        return _fitted(row).classify([text])[0]

    register_job_operations("DocumentClassification", CLASSIFICATION)
