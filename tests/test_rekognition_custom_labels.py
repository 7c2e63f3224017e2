"""Amazon Rekognition Custom Labels through boto3 against the running gateway: a material classifier (brick, grass,
gravel) trained from SageMaker Ground Truth manifests of patches of scikit-image's texture photographs — training
patches from the top of each photograph, test and query patches from the bottom, so the model is measured on
pixels it never saw. Projects, datasets and their entries, DistributeDatasetEntries, training as a durable job with
its evaluation files in S3, Start/Stop, DetectCustomLabels, and the errors of each."""

from __future__ import annotations

import io
import time

import orjson
import pytest
from botocore.exceptions import ClientError
from PIL import Image

from tests.helpers import make_bucket, unique
from tests.photos import photo

MATERIALS = ("brick", "grass", "gravel")
SIDE = 128  # patch size (Rekognition's minimum is 80 pixels a side)
TRAIN_AT = [(x, y) for y in (0, 96) for x in (0, 128, 256, 384)]  # 8 patches from the top 224 rows
TEST_AT = [(x, 288) for x in (0, 192, 384)]  # 3 from below
QUERY_AT = (96, 384)  # one more, from the bottom, for DetectCustomLabels


def patch(material: str, x: int, y: int) -> bytes:
    with Image.open(photo(material)) as opened:
        crop = opened.convert("RGB").crop((x, y, x + SIDE, y + SIDE))
    out = io.BytesIO()
    crop.save(out, "PNG")
    return out.getvalue()


def classification_line(bucket: str, key: str, label: str) -> dict:
    return {"source-ref": f"s3://{bucket}/{key}", "material": 1,
            "material-metadata": {"confidence": 1, "job-name": "labeling-job/materials", "class-name": label,
                                  "human-annotated": "yes", "creation-date": "2026-12-01T10:00:00.000",
                                  "type": "groundtruth/image-classification"}}


def manifest(lines: list[dict]) -> bytes:
    return b"\n".join(orjson.dumps(line) for line in lines) + b"\n"


@pytest.fixture(scope="module")
def rekognition(gateway):
    return gateway.client("rekognition", read_timeout=300)


@pytest.fixture(scope="module")
def materials(s3_server):
    """A bucket holding the patches and the training and test manifests: (bucket, train lines, test lines)."""
    s3 = s3_server.client()
    bucket = make_bucket(s3, unique("custom-labels", 12))
    train, test = [], []
    for material in MATERIALS:
        for at, lines, part in ((TRAIN_AT, train, "train"), (TEST_AT, test, "test")):
            for x, y in at:
                key = f"images/{part}/{material}-{x}-{y}.png"
                s3.put_object(Bucket=bucket, Key=key, Body=patch(material, x, y))
                lines.append(classification_line(bucket, key, material))
    s3.put_object(Bucket=bucket, Key="images/not-an-image.png", Body=b"this is not a PNG file")
    broken = [classification_line(bucket, "images/not-an-image.png", "brick"),  # read at training: ERROR_INVALID_IMAGE
              {"material": 1, "material-metadata": {"class-name": "brick",  # no source-ref
                                                    "type": "groundtruth/image-classification"}}]
    s3.put_object(Bucket=bucket, Key="manifests/train.manifest", Body=manifest(train + broken))
    s3.put_object(Bucket=bucket, Key="manifests/test.manifest", Body=manifest(test))
    s3.put_object(Bucket=bucket, Key="manifests/bad.manifest", Body=b'{"source-ref": "s3://x/y.png"}\nnot json\n')
    return bucket, train, test


def error_of(call, **request) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**request)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def wait_for(rekognition, project_arn: str, version: str, wanted: tuple[str, ...], timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        found = rekognition.describe_project_versions(ProjectArn=project_arn, VersionNames=[version])
        description = found["ProjectVersionDescriptions"][0]
        if description["Status"] in wanted or time.monotonic() > deadline:
            return description
        time.sleep(1)


def ground_truth(bucket: str, name: str) -> dict:
    return {"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": name}}}


def test_projects_and_datasets(rekognition, materials):
    bucket, train, _ = materials
    name = unique("materials")
    project = rekognition.create_project(ProjectName=name, Tags={"team": "vision"})["ProjectArn"]
    assert project.startswith(f"arn:aws:rekognition:us-east-1:000000000000:project/{name}/")
    assert error_of(rekognition.create_project, ProjectName=name)[0] == "ResourceInUseException"
    assert rekognition.list_tags_for_resource(ResourceArn=project)["Tags"] == {"team": "vision"}

    dataset = rekognition.create_dataset(ProjectArn=project, DatasetType="TRAIN",
                                         DatasetSource=ground_truth(bucket, "manifests/train.manifest"))["DatasetArn"]
    assert dataset.startswith(f"{project.rsplit('/', 1)[0]}/dataset/train/")
    assert error_of(rekognition.create_dataset, ProjectArn=project, DatasetType="TRAIN")[0] == \
        "ResourceAlreadyExistsException"
    description = rekognition.describe_dataset(DatasetArn=dataset)["DatasetDescription"]
    assert description["Status"] == "CREATE_COMPLETE" and description["StatusMessageCode"] == "SUCCESS"
    # 24 patches and the unreadable image are labeled; the line without a source-ref carries an error.
    assert description["DatasetStats"] == {"LabeledEntries": 26, "TotalEntries": 26, "TotalLabels": 3,
                                           "ErrorEntries": 1}

    labels = rekognition.list_dataset_labels(DatasetArn=dataset)["DatasetLabelDescriptions"]
    assert {item["LabelName"]: item["LabelStats"] for item in labels} == {
        "brick": {"EntryCount": 10, "BoundingBoxCount": 0}, "grass": {"EntryCount": 8, "BoundingBoxCount": 0},
        "gravel": {"EntryCount": 8, "BoundingBoxCount": 0}}
    grass = rekognition.list_dataset_entries(DatasetArn=dataset, ContainsLabels=["grass"])["DatasetEntries"]
    assert len(grass) == 8 and all(orjson.loads(entry)["material-metadata"]["class-name"] == "grass"
                                   for entry in grass)
    errored = [orjson.loads(entry) for entry in
               rekognition.list_dataset_entries(DatasetArn=dataset, HasErrors=True)["DatasetEntries"]]
    assert [line["errors"][0]["code"] for line in errored] == ["ERROR_MISSING_SOURCE_REF"]
    pages = list(rekognition.get_paginator("list_dataset_entries").paginate(
        DatasetArn=dataset, SourceRefContains="/train/", PaginationConfig={"PageSize": 10}))
    assert [len(page["DatasetEntries"]) for page in pages] == [10, 10, 4]

    # UpdateDatasetEntries: a changed line replaces the entry of the same image, a new one is added.
    relabelled = dict(train[0], **{"material-metadata": {**train[0]["material-metadata"], "class-name": "stone"}})
    extra = classification_line(bucket, "images/train/extra.png", "grass")
    rekognition.update_dataset_entries(DatasetArn=dataset, Changes={"GroundTruth": manifest([relabelled, extra])})
    stats = rekognition.describe_dataset(DatasetArn=dataset)["DatasetDescription"]
    assert stats["Status"] == "UPDATE_COMPLETE" and stats["DatasetStats"]["TotalEntries"] == 27
    assert stats["DatasetStats"]["TotalLabels"] == 4

    # An empty test dataset takes 20% of the training entries.
    test = rekognition.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
    assert rekognition.describe_dataset(DatasetArn=test)["DatasetDescription"]["DatasetStats"]["TotalEntries"] == 0
    rekognition.distribute_dataset_entries(Datasets=[{"Arn": dataset}, {"Arn": test}])
    counts = [rekognition.describe_dataset(DatasetArn=arn)["DatasetDescription"] for arn in (dataset, test)]
    assert [c["DatasetStats"]["TotalEntries"] for c in counts] == [22, 5]
    assert all(c["Status"] == "UPDATE_COMPLETE" for c in counts)
    assert error_of(rekognition.distribute_dataset_entries, Datasets=[{"Arn": dataset}, {"Arn": test}])[0] == \
        "InvalidParameterException"  # the test dataset is no longer empty

    described = rekognition.describe_projects(ProjectNames=[name])["ProjectDescriptions"]
    assert len(described) == 1 and described[0]["Status"] == "CREATED" and described[0]["Feature"] == "CUSTOM_LABELS"
    assert {item["DatasetType"]: item["DatasetArn"] for item in described[0]["Datasets"]} == \
        {"TRAIN": dataset, "TEST": test}

    bad_project = rekognition.create_project(ProjectName=unique("bad"))["ProjectArn"]
    bad = rekognition.create_dataset(ProjectArn=bad_project, DatasetType="TRAIN",
                                     DatasetSource=ground_truth(bucket, "manifests/bad.manifest"))
    failed = rekognition.describe_dataset(DatasetArn=bad["DatasetArn"])["DatasetDescription"]
    assert failed["Status"] == "CREATE_FAILED" and failed["StatusMessageCode"] == "CLIENT_ERROR"
    assert failed["StatusMessage"].startswith("ERROR_MANIFEST_INACCESSIBLE_OR_UNSUPPORTED_FORMAT")
    assert error_of(rekognition.create_dataset, ProjectArn=project.replace(name, name + "x"),
                    DatasetType="TRAIN")[0] == "ResourceNotFoundException"
    assert error_of(rekognition.create_dataset, ProjectArn=bad_project, DatasetType="TEST",
                    DatasetSource=ground_truth(bucket, "manifests/missing.manifest"))[0] == "InvalidS3ObjectException"
    assert error_of(rekognition.list_dataset_entries, DatasetArn=bad["DatasetArn"])[0] == "ResourceNotReadyException"

    rekognition.delete_dataset(DatasetArn=test)
    assert error_of(rekognition.describe_dataset, DatasetArn=test)[0] == "ResourceNotFoundException"
    rekognition.delete_project(ProjectArn=project)
    assert rekognition.describe_projects(ProjectNames=[name])["ProjectDescriptions"] == []


def test_train_evaluate_run_and_detect(rekognition, s3, materials):
    bucket, _, _ = materials
    name = unique("materials")
    project = rekognition.create_project(ProjectName=name)["ProjectArn"]
    rekognition.create_dataset(ProjectArn=project, DatasetType="TRAIN",
                               DatasetSource=ground_truth(bucket, "manifests/train.manifest"))
    rekognition.create_dataset(ProjectArn=project, DatasetType="TEST",
                               DatasetSource=ground_truth(bucket, "manifests/test.manifest"))
    output = {"S3Bucket": bucket, "S3KeyPrefix": "output/"}
    version = rekognition.create_project_version(ProjectArn=project, VersionName="v1", OutputConfig=output,
                                                 VersionDescription="three materials")["ProjectVersionArn"]
    assert version.startswith(f"{project.rsplit('/', 1)[0]}/version/v1/")
    assert error_of(rekognition.create_project_version, ProjectArn=project, VersionName="v1",
                    OutputConfig=output)[0] == "ResourceInUseException"
    image = {"Bytes": patch("grass", *QUERY_AT)}
    assert error_of(rekognition.detect_custom_labels, ProjectVersionArn=version, Image=image)[0] == \
        "ResourceNotReadyException"

    trained = wait_for(rekognition, project, "v1", ("TRAINING_COMPLETED", "TRAINING_FAILED"))
    assert trained["Status"] == "TRAINING_COMPLETED", trained.get("StatusMessage")
    assert trained["VersionDescription"] == "three materials" and trained["OutputConfig"] == output
    assert trained["BillableTrainingTimeInSeconds"] >= 0 and "TrainingEndTimestamp" in trained
    assert trained["EvaluationResult"]["F1Score"] >= 0.85, trained["EvaluationResult"]
    summary_object = trained["EvaluationResult"]["Summary"]["S3Object"]
    assert summary_object["Name"] == f"output/EvaluationResultSummary-{name}-v1.json"
    summary = orjson.loads(s3.get_object(Bucket=bucket, Key=summary_object["Name"])["Body"].read())
    assert summary["EvaluationDetails"]["Labels"] == list(MATERIALS)
    assert summary["EvaluationDetails"]["NumberOfTrainingImages"] == 24  # the two broken lines left out
    assert summary["EvaluationDetails"]["NumberOfTestingImages"] == 9
    per_label = {result["Label"]: result for result in summary["LabelEvaluationResults"]}
    assert set(per_label) == set(MATERIALS)
    for result in per_label.values():
        assert result["NumberOfTestingImages"] == 3
        assert set(result["Metrics"]) == {"F1Score", "Precision", "Recall", "Threshold"}
        assert 0 < result["Metrics"]["Threshold"] < 1
    assert abs(summary["AggregatedEvaluationResults"]["F1Score"] - trained["EvaluationResult"]["F1Score"]) < 1e-6
    validation = trained["TrainingDataResult"]["Validation"]["Assets"][0]["GroundTruthManifest"]["S3Object"]
    lines = [orjson.loads(line) for line in
             s3.get_object(Bucket=bucket, Key=validation["Name"])["Body"].read().splitlines()]
    codes = sorted(error["code"] for line in lines for error in line.get("errors", []))
    assert codes == ["ERROR_INVALID_IMAGE", "ERROR_MISSING_SOURCE_REF"]

    assert rekognition.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)["Status"] == "STARTING"
    running = wait_for(rekognition, project, "v1", ("RUNNING", "FAILED"))
    assert running["Status"] == "RUNNING" and running["MinInferenceUnits"] == 1
    for material in MATERIALS:
        labels = rekognition.detect_custom_labels(ProjectVersionArn=version,
                                                  Image={"Bytes": patch(material, *QUERY_AT)})["CustomLabels"]
        assert labels and labels[0]["Name"] == material, (material, labels)
        everything = rekognition.detect_custom_labels(ProjectVersionArn=version, MinConfidence=0,
                                                      Image={"Bytes": patch(material, *QUERY_AT)})["CustomLabels"]
        assert [label["Name"] for label in everything][0] == material and len(everything) == 3
        assert abs(sum(label["Confidence"] for label in everything) - 100) < 0.1  # one label per image: softmax
    s3.put_object(Bucket=bucket, Key="query.png", Body=patch("gravel", *QUERY_AT))
    by_object = rekognition.detect_custom_labels(ProjectVersionArn=version, MaxResults=1,
                                                 Image={"S3Object": {"Bucket": bucket, "Name": "query.png"}})
    assert [label["Name"] for label in by_object["CustomLabels"]] == ["gravel"]
    assert error_of(rekognition.detect_custom_labels, ProjectVersionArn=version,
                    Image={"Bytes": b"not an image"})[0] == "InvalidImageFormatException"

    assert error_of(rekognition.delete_project_version, ProjectVersionArn=version)[0] == "ResourceInUseException"
    assert rekognition.stop_project_version(ProjectVersionArn=version)["Status"] == "STOPPING"
    assert wait_for(rekognition, project, "v1", ("STOPPED",))["Status"] == "STOPPED"
    assert error_of(rekognition.detect_custom_labels, ProjectVersionArn=version, Image=image)[0] == \
        "ResourceNotReadyException"
    assert error_of(rekognition.delete_project, ProjectArn=project)[0] == "ResourceInUseException"
    assert rekognition.delete_project_version(ProjectVersionArn=version)["Status"] == "DELETING"
    assert rekognition.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"] == []
    rekognition.delete_project(ProjectArn=project)


def test_training_from_manifests_with_auto_split_and_failures(rekognition, s3, materials):
    bucket, _, _ = materials
    project = rekognition.create_project(ProjectName=unique("materials"))["ProjectArn"]
    output = {"S3Bucket": bucket, "S3KeyPrefix": "auto"}
    # No datasets in the project and no TrainingData: refused at once.
    assert error_of(rekognition.create_project_version, ProjectArn=project, VersionName="none",
                    OutputConfig=output)[0] == "InvalidParameterException"
    rekognition.create_project_version(
        ProjectArn=project, VersionName="auto", OutputConfig=output,
        TrainingData={"Assets": [ground_truth(bucket, "manifests/train.manifest")]},
        TestingData={"AutoCreate": True})
    # Bounding boxes: an object-detection model, which needs an object detector (none is switched on here).
    boxes = {"source-ref": f"s3://{bucket}/images/train/brick-0-0.png",
             "bounding-box": {"image_size": [{"width": SIDE, "height": SIDE, "depth": 3}],
                              "annotations": [{"class_id": 0, "top": 10, "left": 10, "width": 50, "height": 50}]},
             "bounding-box-metadata": {"objects": [{"confidence": 1}], "class-map": {"0": "crack"},
                                       "type": "groundtruth/object-detection", "human-annotated": "yes"}}
    s3.put_object(Bucket=bucket, Key="manifests/boxes.manifest", Body=manifest([boxes] * 2))
    rekognition.create_project_version(
        ProjectArn=project, VersionName="boxes", OutputConfig=output,
        TrainingData={"Assets": [ground_truth(bucket, "manifests/boxes.manifest")]},
        TestingData={"AutoCreate": True})
    auto = wait_for(rekognition, project, "auto", ("TRAINING_COMPLETED", "TRAINING_FAILED"))
    assert auto["Status"] == "TRAINING_COMPLETED", auto.get("StatusMessage")
    assert auto["TestingDataResult"]["Input"] == {"Assets": [], "AutoCreate": True}
    assert auto["EvaluationResult"]["F1Score"] > 0.7
    failed = wait_for(rekognition, project, "boxes", ("TRAINING_COMPLETED", "TRAINING_FAILED"))
    assert failed["Status"] == "TRAINING_FAILED"
    assert failed["StatusMessage"].startswith("ERROR_DETECTOR_REQUIRED")
    assert error_of(rekognition.start_project_version, ProjectVersionArn=failed["ProjectVersionArn"],
                    MinInferenceUnits=1)[0] == "ResourceInUseException"
    unknown = project.rsplit("/", 1)[0].replace("/project/", "/project/x") + "/version/v/1"
    assert error_of(rekognition.detect_custom_labels, ProjectVersionArn=unknown,
                    Image={"Bytes": patch("brick", 0, 0)})[0] == "ResourceNotFoundException"
    assert error_of(rekognition.copy_project_version, SourceProjectArn=project,
                    SourceProjectVersionArn=auto["ProjectVersionArn"], DestinationProjectArn=project,
                    VersionName="copy", OutputConfig=output)[0] == "NotImplementedException"

