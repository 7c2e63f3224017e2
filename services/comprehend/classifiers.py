"""Custom classification: CreateDocumentClassifier reads a labelled CSV (COMPREHEND_CSV: `label,text` rows;
MULTI_LABEL mode splits the label on LabelDelimiter, default `|`) and trains TF-IDF + logistic regression
(one-vs-rest for multi-label) as a job; 10% of the documents (or TestS3Uri) are held out for the metrics
DescribeDocumentClassifier shows, and per-label precision/recall/F1 and the confusion matrix go to `output.tar.gz`
under OutputDataConfig. Trained classifiers serve ClassifyDocument (endpoints.py) and document classification
jobs (CLASSIFICATION below)."""

from __future__ import annotations

import csv
import io
import pickle
from collections import Counter

import orjson

from services.comprehend.custom import (
    CLASSIFIER,
    CustomModel,
    check_trained,
    create_model,
    model_times,
    read_prefix,
    run_training,
    split,
    trained_model,
    training_request,
    update_model,
)
from services.comprehend.errors import InvalidRequest
from services.comprehend.jobs import QUEUE, JobType, write_archive
from services.gateway.context import Principal, RequestContext
from services.gateway.jobs import JobRun, job_kind
from services.gateway.kit.arns import parse_arn

TRAINING_KIND = "comprehend.train-classifier"


def create_classifier(ctx: RequestContext, request: dict) -> str:
    """CreateDocumentClassifier's checks, the classifier's row and its training job; returns its ARN."""
    if request.get("Mode", "MULTI_CLASS") not in ("MULTI_CLASS", "MULTI_LABEL"):
        raise InvalidRequest("Mode must be MULTI_CLASS or MULTI_LABEL.")
    config = request["InputDataConfig"]
    if config.get("DataFormat", "COMPREHEND_CSV") != "COMPREHEND_CSV" or not config.get("S3Uri"):
        raise InvalidRequest("Only DataFormat COMPREHEND_CSV with InputDataConfig.S3Uri is supported here.")
    return create_model(ctx, request, CLASSIFIER, request["DocumentClassifierName"], TRAINING_KIND)


def classifier_properties(row: CustomModel) -> dict:
    request = row.request
    props = {
        "DocumentClassifierArn": row.arn, "LanguageCode": row.language, "Status": row.status,
        "Message": row.message, **model_times(row), "InputDataConfig": request["InputDataConfig"],
        "OutputDataConfig": request.get("OutputDataConfig"), "ClassifierMetadata": row.metadata_,
        "DataAccessRoleArn": request.get("DataAccessRoleArn"), "Mode": request.get("Mode", "MULTI_CLASS"),
        "VersionName": row.version, "VolumeKmsKeyId": request.get("VolumeKmsKeyId"),
        "VpcConfig": request.get("VpcConfig"), "ModelKmsKeyId": request.get("ModelKmsKeyId"),
    }
    return {key: value for key, value in props.items() if value is not None}


# ---------------------------------------------------------------------------------------------------------------
# Training
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


def train_classifier(principal: Principal, arn: str) -> dict:
    """Train the classifier `arn` from its Create* request; stores the fitted model, returns its metadata."""
    account_id = principal.account_id
    request = training_request(principal, CLASSIFIER, arn)
    config = request["InputDataConfig"]
    if config.get("DataFormat", "COMPREHEND_CSV") != "COMPREHEND_CSV":
        raise InvalidRequest("Only DataFormat COMPREHEND_CSV is supported here.")
    if not config.get("S3Uri"):
        raise InvalidRequest("InputDataConfig.S3Uri is required.")
    multi_label = request.get("Mode", "MULTI_CLASS") == "MULTI_LABEL"
    delimiter = config.get("LabelDelimiter") or "|"
    rows = [row for _, text in read_prefix(account_id, config["S3Uri"])
            for row in _labelled_rows(text, multi_label, delimiter)]
    if config.get("TestS3Uri"):
        train = rows
        test = [row for _, text in read_prefix(account_id, config["TestS3Uri"])
                for row in _labelled_rows(text, multi_label, delimiter)]
    else:
        train, test = split(rows, arn)
    labels = sorted({label for labels, _ in train for label in labels})
    if len(labels) < 2:
        raise InvalidRequest(f"The training data must have at least 2 labels; found {len(labels)}.")
    counts = Counter(label for labels_, _ in train for label in labels_)
    if min(counts.values()) < 1 or len(train) < 2 * len(labels):
        raise InvalidRequest("Not enough training documents: at least 2 per label are needed.")
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
    update_model(principal, CLASSIFIER, arn, model=pickle.dumps(model), metadata_=metadata)
    return metadata


def _write_training_output(account_id: str, prefix: str, arn: str, members: dict[str, bytes]) -> None:
    folder = prefix.rstrip("/") + f"/{account_id}-{parse_arn(arn).path[-1]}"
    write_archive(account_id, folder + "/output/output.tar.gz", members)



@job_kind(TRAINING_KIND, QUEUE)
def run_train_classifier(run: JobRun) -> dict:
    return run_training(run, CLASSIFIER, train_classifier)


# ---------------------------------------------------------------------------------------------------------------
# Inference: classification jobs (StartDocumentClassificationJob)
# ---------------------------------------------------------------------------------------------------------------


def classify_many(arn: str, principal: Principal, texts: list[str]) -> list[dict]:
    """The caller's trained classifier `arn` on `texts`."""
    return trained_model(principal, CLASSIFIER, arn).classify(texts)


def _check_classification_job(request: dict, ctx: RequestContext) -> None:
    if not request.get("DocumentClassifierArn"):
        raise InvalidRequest("DocumentClassifierArn is required.")
    check_trained(ctx, CLASSIFIER, request["DocumentClassifierArn"])


CLASSIFICATION = JobType(
    kind="comprehend.document-classification",
    arn_resource="document-classification-job",
    output_tag="CLN",
    properties_key="DocumentClassificationJobProperties",
    analyze=lambda texts, request, principal: classify_many(request["DocumentClassifierArn"], principal, texts),
    check_request=_check_classification_job,
)
