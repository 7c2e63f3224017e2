"""Custom entity recognition: CreateEntityRecognizer learns from an entity list (`Text,Type` CSV: a
case-insensitive phrase matcher) or from annotations (`File,Line,Begin Offset,End Offset,Type` CSV over the
Documents: a spaCy NER model trained on them, plus the annotated phrases as patterns), as a job; precision/recall/F1
per type are measured on held-out documents. Trained recognizers serve DetectEntities with an EndpointArn
(endpoints.py) and StartEntitiesDetectionJob with an EntityRecognizerArn (job_types.py)."""

from __future__ import annotations

import csv
import io
import pickle
import random
import threading
from collections import Counter, defaultdict

from services.comprehend.custom import (
    RECOGNIZER,
    CustomModel,
    create_model,
    model_times,
    read_prefix,
    read_text,
    run_training,
    split,
    trained_model,
    training_request,
    update_model,
)
from services.comprehend.errors import InvalidRequest
from services.comprehend.jobs import QUEUE
from services.gateway.context import Principal, RequestContext
from services.gateway.jobs import JobRun, job_kind

TRAINING_KIND = "comprehend.train-recognizer"


def create_recognizer(ctx: RequestContext, request: dict) -> str:
    """CreateEntityRecognizer's checks, the recognizer's row and its training job; returns its ARN."""
    config = request["InputDataConfig"]
    if not config.get("EntityList") and not config.get("Annotations"):
        raise InvalidRequest("InputDataConfig needs EntityList or Annotations.")
    if not config.get("Documents"):
        raise InvalidRequest("InputDataConfig.Documents is required.")
    return create_model(ctx, request, RECOGNIZER, request["RecognizerName"], TRAINING_KIND)


def recognizer_properties(row: CustomModel) -> dict:
    request = row.request
    props = {
        "EntityRecognizerArn": row.arn, "LanguageCode": row.language, "Status": row.status, "Message": row.message,
        **model_times(row), "InputDataConfig": request["InputDataConfig"], "RecognizerMetadata": row.metadata_,
        "DataAccessRoleArn": request.get("DataAccessRoleArn"), "VersionName": row.version,
        "VolumeKmsKeyId": request.get("VolumeKmsKeyId"), "VpcConfig": request.get("VpcConfig"),
        "ModelKmsKeyId": request.get("ModelKmsKeyId"),
    }
    return {key: value for key, value in props.items() if value is not None}


# ---------------------------------------------------------------------------------------------------------------
# The model and its training
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
    for name, text in read_prefix(account_id, documents["S3Uri"]):
        if per_line:
            found.extend((name, number, line) for number, line in enumerate(text.split("\n")))
        else:
            found.append((name, None, text))
    return found


def _annotations(account_id: str, uri: str) -> dict[tuple[str, int | None], list[tuple[int, int, str]]]:
    found: dict[tuple[str, int | None], list[tuple[int, int, str]]] = defaultdict(list)
    for _, text in read_prefix(account_id, uri):
        for record in csv.DictReader(io.StringIO(text)):
            try:
                key = (record["File"].strip(), int(record["Line"]) if record.get("Line", "").strip() else None)
                found[key].append((int(record["Begin Offset"]), int(record["End Offset"]), record["Type"].strip()))
            except (KeyError, ValueError, AttributeError):
                raise InvalidRequest("Annotations must be a CSV with the columns File, Line, Begin Offset, End Offset, "
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


def train_recognizer(principal: Principal, arn: str) -> dict:
    """Train the recognizer `arn` from its Create* request; stores the fitted model, returns its metadata."""
    account_id = principal.account_id
    request = training_request(principal, RECOGNIZER, arn)
    config = request["InputDataConfig"]
    if config.get("DataFormat", "COMPREHEND_CSV") != "COMPREHEND_CSV":
        raise InvalidRequest("Only DataFormat COMPREHEND_CSV is supported here.")
    types = [item["Type"] for item in config["EntityTypes"]]
    if not config.get("Documents"):
        raise InvalidRequest("InputDataConfig.Documents is required.")
    documents = _documents(account_id, config)
    examples: list[tuple[str, list[tuple[int, int, str]]]] = []
    phrases: dict[str, str] = {}
    ner_bytes = None
    if config.get("EntityList"):
        for record in csv.DictReader(io.StringIO(read_text(account_id, config["EntityList"]["S3Uri"]))):
            text, kind = (record.get("Text") or "").strip(), (record.get("Type") or "").strip()
            if text and kind:
                if kind not in types:
                    raise InvalidRequest(f"Entity list type {kind} is not in EntityTypes.")
                phrases[text.lower()] = kind
        if not phrases:
            raise InvalidRequest("The entity list has no Text,Type rows.")
        # Metrics: how the list's phrases are found in the documents (mentions = exact case-insensitive matches).
        model = EntityRecognizerModel(types, phrases)
        texts = [text for _, _, text in documents if text.strip()]
        examples = [(text, [(p["BeginOffset"], p["EndOffset"], p["Type"]) for p in found])
                    for text, found in zip(texts, model.recognize(texts))]
        train, test = split(examples, arn)
    elif config.get("Annotations"):
        annotations = _annotations(account_id, config["Annotations"]["S3Uri"])
        for name, line, text in documents:
            spans = annotations.get((name, line), []) or annotations.get((name, None), [])
            if not text.strip():
                continue
            for begin, end, kind in spans:
                if kind not in types:
                    raise InvalidRequest(f"Annotation type {kind} is not in EntityTypes.")
                if not (0 <= begin < end <= len(text)):
                    raise InvalidRequest(f"Annotation {begin}-{end} is outside {name}.")
            examples.append((text, spans))
        if not any(spans for _, spans in examples):
            raise InvalidRequest("No annotation matches a training document.")
        train, test = split(examples, arn)
        ner_bytes = _train_ner(train, types, arn)
        for text, spans in train:
            for begin, end, kind in spans:
                phrases.setdefault(text[begin:end].lower(), kind)
        model = EntityRecognizerModel(types, phrases, ner_bytes)
    else:
        raise InvalidRequest("InputDataConfig needs EntityList or Annotations.")
    overall, per_type = _recognizer_metrics(model, test or train, types)
    mentions = Counter(kind for _, spans in train for _, _, kind in spans)
    for item in per_type:
        item["NumberOfTrainMentions"] = mentions[item["Type"]]
    metadata = {"NumberOfTrainedDocuments": len(train), "NumberOfTestDocuments": len(test),
                "EvaluationMetrics": overall, "EntityTypes": per_type}
    update_model(principal, RECOGNIZER, arn, model=pickle.dumps(model), metadata_=metadata)
    return metadata



@job_kind(TRAINING_KIND, QUEUE)
def run_train_recognizer(run: JobRun) -> dict:
    return run_training(run, RECOGNIZER, train_recognizer)


def recognize_many(arn: str, principal: Principal, texts: list[str]) -> list[list[dict]]:
    """The caller's trained recognizer `arn` on `texts` (entities detection jobs)."""
    return trained_model(principal, RECOGNIZER, arn).recognize(texts)
