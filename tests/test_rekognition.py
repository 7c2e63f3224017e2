"""Amazon Rekognition through boto3 against the running gateway, on real photos that ship in packages
(tests/photos.py): faces found, compared, indexed and searched in collections and users; labels, moderation, text;
the errors of bad images and unknown resources."""

from __future__ import annotations

import io
import re
import struct
import zlib

import pytest
from botocore.exceptions import ClientError

from tests.helpers import unique
from tests.photos import photo_bytes


@pytest.fixture(scope="module")
def rekognition(gateway):
    return gateway.client("rekognition", read_timeout=300)


def error_of(call, **request) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**request)
    error = caught.value.response
    return error["Error"]["Code"], error["Error"]["Message"], error["ResponseMetadata"]["HTTPStatusCode"]


def image(name: str) -> dict:
    return {"Bytes": photo_bytes(name)}


def center_of(box: dict) -> tuple[float, float]:
    return box["Left"] + box["Width"] / 2, box["Top"] + box["Height"] / 2


@pytest.fixture(scope="module")
def collection(rekognition):
    """A collection holding obama (ExternalImageId obama-1) and biden."""
    collection_id = unique("faces")
    rekognition.create_collection(CollectionId=collection_id)
    indexed = {}
    for name in ("obama", "biden"):
        answer = rekognition.index_faces(CollectionId=collection_id, Image=image(name), ExternalImageId=f"{name}-1")
        assert len(answer["FaceRecords"]) == 1, answer
        indexed[name] = answer["FaceRecords"][0]["Face"]
    yield collection_id, indexed
    rekognition.delete_collection(CollectionId=collection_id)


# ------------------------------------------------------------------ faces


def test_detect_faces_default_and_all_attributes(rekognition):
    group = rekognition.detect_faces(Image=image("group"))["FaceDetails"]
    assert len(group) == 6
    for face in group:
        assert set(face) >= {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"}
        assert "AgeRange" not in face  # DEFAULT attributes only
        assert len(face["Landmarks"]) == 30
        x, y = center_of(face["BoundingBox"])
        assert 0 < x < 1 and 0 < y < 1
    areas = [face["BoundingBox"]["Width"] * face["BoundingBox"]["Height"] for face in group]
    assert areas == sorted(areas, reverse=True)  # largest first

    [astronaut] = rekognition.detect_faces(Image=image("astronaut"), Attributes=["ALL"])["FaceDetails"]
    assert astronaut["Gender"]["Value"] == "Female"
    assert astronaut["AgeRange"]["Low"] <= astronaut["AgeRange"]["High"]
    assert astronaut["Smile"]["Value"] is True
    assert astronaut["Emotions"][0]["Type"] == "HAPPY"
    assert {"Eyeglasses", "Sunglasses", "EyesOpen", "MouthOpen", "Beard", "Mustache"} <= set(astronaut)

    assert rekognition.detect_faces(Image=image("chelsea"))["FaceDetails"] == []  # a cat


def test_compare_faces_same_and_different_people(rekognition):
    same = rekognition.compare_faces(SourceImage=image("obama"), TargetImage=image("obama2"))
    assert len(same["FaceMatches"]) == 1 and same["UnmatchedFaces"] == []
    assert same["FaceMatches"][0]["Similarity"] >= 80
    assert set(same["SourceImageFace"]) == {"BoundingBox", "Confidence"}

    different = rekognition.compare_faces(SourceImage=image("obama"), TargetImage=image("biden"))
    assert different["FaceMatches"] == [] and len(different["UnmatchedFaces"]) == 1

    # A threshold of 0 matches everyone; the group photo has six faces, none of them the source.
    loose = rekognition.compare_faces(SourceImage=image("obama"), TargetImage=image("group"), SimilarityThreshold=0)
    assert len(loose["FaceMatches"]) == 6
    similarities = [match["Similarity"] for match in loose["FaceMatches"]]
    assert similarities == sorted(similarities, reverse=True) and max(similarities) < 80

    code, message, status = error_of(rekognition.compare_faces, SourceImage=image("chelsea"),
                                     TargetImage=image("obama"))
    assert (code, status) == ("InvalidParameterException", 400)


def test_collection_lifecycle_and_errors(rekognition):
    collection_id = unique("lifecycle")
    created = rekognition.create_collection(CollectionId=collection_id, Tags={"team": "vision"})
    assert created["StatusCode"] == 200
    assert re.fullmatch(rf"arn:aws:rekognition:us-east-1:\d{{12}}:collection/{collection_id}", created["CollectionArn"])
    assert rekognition.list_tags_for_resource(ResourceArn=created["CollectionArn"])["Tags"] == {"team": "vision"}
    described = rekognition.describe_collection(CollectionId=collection_id)
    assert described["FaceCount"] == 0 and described["UserCount"] == 0
    assert described["CollectionARN"] == created["CollectionArn"]

    assert error_of(rekognition.create_collection, CollectionId=collection_id) == (
        "ResourceAlreadyExistsException", f"The collection id: {collection_id} already exists", 400)

    other = unique("lifecycle")
    rekognition.create_collection(CollectionId=other)
    listed = rekognition.list_collections(MaxResults=1)
    assert len(listed["CollectionIds"]) == 1 and len(listed["FaceModelVersions"]) == 1 and "NextToken" in listed
    everything = [cid for page in rekognition.get_paginator("list_collections").paginate(PaginationConfig={"PageSize": 1})
                  for cid in page["CollectionIds"]]
    assert {collection_id, other} <= set(everything) and len(everything) == len(set(everything))

    for cid in (collection_id, other):
        assert rekognition.delete_collection(CollectionId=cid)["StatusCode"] == 200
    missing = ("ResourceNotFoundException", f"The collection id: {collection_id} does not exist", 400)
    assert error_of(rekognition.describe_collection, CollectionId=collection_id) == missing
    assert error_of(rekognition.delete_collection, CollectionId=collection_id) == missing
    assert error_of(rekognition.index_faces, CollectionId=collection_id, Image=image("obama")) == missing
    assert error_of(rekognition.list_faces, CollectionId=collection_id) == missing
    code, _, _ = error_of(rekognition.list_collections, NextToken="not-a-token")
    assert code == "InvalidPaginationTokenException"


def test_index_faces_max_faces_and_quality_reasons(rekognition):
    collection_id = unique("group")
    rekognition.create_collection(CollectionId=collection_id)
    try:
        answer = rekognition.index_faces(CollectionId=collection_id, Image=image("group"), MaxFaces=2,
                                         ExternalImageId="group-photo", DetectionAttributes=["ALL"])
        assert len(answer["FaceRecords"]) == 2
        assert len(answer["UnindexedFaces"]) == 4
        assert all("EXCEEDS_MAX_FACES" in face["Reasons"] or face["Reasons"] for face in answer["UnindexedFaces"])
        record = answer["FaceRecords"][0]
        assert record["Face"]["ExternalImageId"] == "group-photo"
        assert "Gender" in record["FaceDetail"]  # DetectionAttributes ALL
        assert record["Face"]["ImageId"] == answer["FaceRecords"][1]["Face"]["ImageId"]  # one image, one ImageId
        assert rekognition.describe_collection(CollectionId=collection_id)["FaceCount"] == 2

        pages = list(rekognition.get_paginator("list_faces").paginate(
            CollectionId=collection_id, PaginationConfig={"PageSize": 1}))
        listed = [face["FaceId"] for page in pages for face in page["Faces"]]
        assert sorted(listed) == sorted(r["Face"]["FaceId"] for r in answer["FaceRecords"])

        nothing = rekognition.index_faces(CollectionId=collection_id, Image=image("chelsea"))
        assert nothing["FaceRecords"] == [] and nothing["UnindexedFaces"] == []
    finally:
        rekognition.delete_collection(CollectionId=collection_id)


def test_search_faces_by_image_and_by_id(rekognition, collection):
    collection_id, indexed = collection
    found = rekognition.search_faces_by_image(CollectionId=collection_id, Image=image("obama2"))
    assert [match["Face"]["FaceId"] for match in found["FaceMatches"]] == [indexed["obama"]["FaceId"]]
    assert found["FaceMatches"][0]["Similarity"] >= 80
    assert found["FaceMatches"][0]["Face"]["ExternalImageId"] == "obama-1"
    assert 0 < found["SearchedFaceBoundingBox"]["Width"] < 1

    by_id = rekognition.search_faces(CollectionId=collection_id, FaceId=indexed["obama"]["FaceId"])
    assert by_id["SearchedFaceId"] == indexed["obama"]["FaceId"]
    assert by_id["FaceMatches"] == []  # the face itself is not a match, and biden is someone else
    everyone = rekognition.search_faces(CollectionId=collection_id, FaceId=indexed["obama"]["FaceId"],
                                        FaceMatchThreshold=0)
    assert [match["Face"]["FaceId"] for match in everyone["FaceMatches"]] == [indexed["biden"]["FaceId"]]

    code, message, _ = error_of(rekognition.search_faces_by_image, CollectionId=collection_id, Image=image("chelsea"))
    assert (code, message) == ("InvalidParameterException", "There are no faces in the image. Should be at least 1.")


def test_users_associate_search_and_delete(rekognition):
    collection_id = unique("users")
    rekognition.create_collection(CollectionId=collection_id)
    try:
        face_ids = {}
        for name in ("obama", "obama3", "biden"):
            record = rekognition.index_faces(CollectionId=collection_id, Image=image(name))["FaceRecords"][0]
            face_ids[name] = record["Face"]["FaceId"]
        rekognition.create_user(CollectionId=collection_id, UserId="barack")
        assert rekognition.list_users(CollectionId=collection_id)["Users"] == [
            {"UserId": "barack", "UserStatus": "CREATED"}]
        assert error_of(rekognition.create_user, CollectionId=collection_id, UserId="barack")[0] == "ConflictException"

        associated = rekognition.associate_faces(CollectionId=collection_id, UserId="barack",
                                                 FaceIds=[face_ids["obama"], face_ids["obama3"]])
        assert {face["FaceId"] for face in associated["AssociatedFaces"]} == {face_ids["obama"], face_ids["obama3"]}
        assert associated["UserStatus"] == "ACTIVE"
        refused = rekognition.associate_faces(CollectionId=collection_id, UserId="barack",
                                              FaceIds=[face_ids["biden"], "11111111-2222-3333-4444-555555555555"])
        reasons = {face["FaceId"]: face["Reasons"] for face in refused["UnsuccessfulFaceAssociations"]}
        assert reasons == {face_ids["biden"]: ["LOW_MATCH_CONFIDENCE"],
                           "11111111-2222-3333-4444-555555555555": ["FACE_NOT_FOUND"]}

        by_image = rekognition.search_users_by_image(CollectionId=collection_id, Image=image("obama2"))
        assert [match["User"]["UserId"] for match in by_image["UserMatches"]] == ["barack"]
        assert "FaceDetail" in by_image["SearchedFace"]
        assert rekognition.search_users_by_image(CollectionId=collection_id, Image=image("biden"))["UserMatches"] == []
        by_face = rekognition.search_users(CollectionId=collection_id, FaceId=face_ids["obama"])
        assert [match["User"]["UserId"] for match in by_face["UserMatches"]] == ["barack"]

        listed = rekognition.list_faces(CollectionId=collection_id, UserId="barack")["Faces"]
        assert {face["FaceId"] for face in listed} == {face_ids["obama"], face_ids["obama3"]}
        assert all(face["UserId"] == "barack" for face in listed)

        kept = rekognition.delete_faces(CollectionId=collection_id, FaceIds=[face_ids["obama"], face_ids["biden"]])
        assert kept["DeletedFaces"] == [face_ids["biden"]]
        assert kept["UnsuccessfulFaceDeletions"] == [{"FaceId": face_ids["obama"], "UserId": "barack",
                                                      "Reasons": ["ASSOCIATED_TO_AN_EXISTING_USER"]}]
        released = rekognition.disassociate_faces(CollectionId=collection_id, UserId="barack",
                                                  FaceIds=[face_ids["obama"], face_ids["obama3"]])
        assert len(released["DisassociatedFaces"]) == 2 and released["UserStatus"] == "CREATED"
        rekognition.delete_user(CollectionId=collection_id, UserId="barack")
        assert rekognition.list_users(CollectionId=collection_id)["Users"] == []
        assert error_of(rekognition.delete_user, CollectionId=collection_id, UserId="barack")[0] == \
            "ResourceNotFoundException"
    finally:
        rekognition.delete_collection(CollectionId=collection_id)


def test_recognize_celebrities_answers_every_face_unrecognized(rekognition):
    answer = rekognition.recognize_celebrities(Image=image("obama"))
    assert answer["CelebrityFaces"] == [] and len(answer["UnrecognizedFaces"]) == 1


# ------------------------------------------------------------------ labels, moderation, text


def test_detect_labels_on_photos(rekognition):
    coffee = rekognition.detect_labels(Image=image("coffee"))
    names = {label["Name"] for label in coffee["Labels"]}
    assert names & {"Coffee Cup", "Cup", "Beverage", "Coffee"}, names
    assert all(label["Confidence"] >= 55 for label in coffee["Labels"])
    assert coffee["LabelModelVersion"]

    cat = rekognition.detect_labels(Image=image("chelsea"), MaxLabels=3)
    assert len(cat["Labels"]) <= 3
    assert "Cat" in {label["Name"] for label in rekognition.detect_labels(Image=image("chelsea"))["Labels"]}
    for label in cat["Labels"]:
        assert set(label) >= {"Name", "Confidence", "Instances", "Parents", "Aliases", "Categories"}

    people = rekognition.detect_labels(Image=image("zidane"))
    assert "Person" in {label["Name"] for label in people["Labels"]}  # proven by the face detector

    properties = rekognition.detect_labels(Image=image("coffee"), Features=["IMAGE_PROPERTIES"])
    assert "Labels" not in properties or properties["Labels"] == []
    colors = properties["ImageProperties"]["DominantColors"]
    assert colors and abs(sum(color["PixelPercent"] for color in colors) - 100) < 1.5
    assert 0 <= properties["ImageProperties"]["Quality"]["Brightness"] <= 100


def test_moderation_of_safe_photos_and_unsupported_options(rekognition):
    for name in ("coffee", "zidane", "group"):
        labels = rekognition.detect_moderation_labels(Image=image(name))
        assert "ModerationModelVersion" in labels
        assert not [label for label in labels["ModerationLabels"] if label["Name"] == "Explicit"], (name, labels)
    code, message, status = error_of(rekognition.detect_moderation_labels, Image=image("coffee"),
                                     HumanLoopConfig={"HumanLoopName": "review", "FlowDefinitionArn":
                                                      "arn:aws:sagemaker:us-east-1:000000000000:flow-definition/x"})
    assert (code, status) == ("NotImplementedException", 501) and "Augmented AI" in message


def rendered_text(lines: list[str], size=(640, 240)) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    picture = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(picture)
    font = ImageFont.load_default(size=36)
    for n, line in enumerate(lines):
        draw.text((30, 40 + 90 * n), line, fill="black", font=font)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def test_detect_text_lines_and_words(rekognition):
    answer = rekognition.detect_text(Image={"Bytes": rendered_text(["ACME COFFEE ROASTERS", "Open daily 7am"])})
    lines = [d for d in answer["TextDetections"] if d["Type"] == "LINE"]
    words = [d for d in answer["TextDetections"] if d["Type"] == "WORD"]
    assert [line["DetectedText"] for line in lines] == ["ACME COFFEE ROASTERS", "Open daily 7am"]
    assert [word["DetectedText"] for word in words] == ["ACME", "COFFEE", "ROASTERS", "Open", "daily", "7am"]
    line_ids = {line["Id"] for line in lines}
    assert all(word["ParentId"] in line_ids for word in words)
    assert len(words[0]["Geometry"]["Polygon"]) == 4


# ------------------------------------------------------------------ bad input


def png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` (a decompression bomb's shape) with one tiny data chunk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + \
        chunk(b"IEND", b"")


def small_image(kind: str, size: tuple[int, int]) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, "gray").save(buffer, format=kind)
    return buffer.getvalue()


def test_bad_images_get_the_aws_errors(rekognition, s3, bucket):
    invalid_format = ("InvalidImageFormatException", "Request has invalid image format", 400)
    assert error_of(rekognition.detect_labels, Image={"Bytes": b"this is not an image"}) == invalid_format
    assert error_of(rekognition.detect_faces, Image={"Bytes": photo_bytes("obama")[:4000]}) == invalid_format
    assert error_of(rekognition.detect_labels, Image={"Bytes": small_image("GIF", (200, 200))}) == invalid_format
    assert error_of(rekognition.detect_faces, Image={"Bytes": png_header(60000, 60000)})[0] == "ImageTooLargeException"
    code, message, _ = error_of(rekognition.detect_faces, Image={"Bytes": png_header(12000, 200)})
    assert (code, message) == ("ImageTooLargeException",
                               "Input image dimensions 12000 x 200 exceed maximum dimension size of 10000 pixels")
    assert error_of(rekognition.detect_text, Image={"Bytes": small_image("PNG", (60, 60))}) == (
        "InvalidParameterException", "Request has invalid parameters", 400)
    too_big = b"\xff\xd8\xff" + b"\0" * (5 * 1024 * 1024 + 10)
    code, message, _ = error_of(rekognition.detect_labels, Image={"Bytes": too_big})
    # AWS's front end refuses Bytes over 5 MB from the model's length constraint, before Rekognition sees them.
    assert code == "ValidationException" and message.endswith(
        "at 'image.bytes' failed to satisfy constraint: Member must have length less than or equal to 5242880")

    s3.put_object(Bucket=bucket, Key="photos/obama.jpg", Body=photo_bytes("obama"))
    from_s3 = rekognition.detect_faces(Image={"S3Object": {"Bucket": bucket, "Name": "photos/obama.jpg"}})
    assert len(from_s3["FaceDetails"]) == 1
    assert error_of(rekognition.detect_faces, Image={"S3Object": {"Bucket": bucket, "Name": "photos/none.jpg"}})[0] \
        == "InvalidS3ObjectException"

    code, message, status = error_of(rekognition.list_stream_processors)
    assert (code, status) == ("NotImplementedException", 501) and "Kinesis Video" in message
